"""The register: adding, validating and reading the records of a mine action programme."""
