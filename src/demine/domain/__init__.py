"""The mine action data model's rules: code lists, validation, accreditation and status logic.

Nothing in this package does I/O; it is shared by every layer above it.
"""
