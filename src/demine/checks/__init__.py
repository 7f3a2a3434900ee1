"""Geometry and consistency checks of the register (GICHD geocheck's rules and more), and safe repairs.

``run_checks(conn)`` reads every feature layer into shapely arrays and returns findings, each
naming a rule of :mod:`demine.checks.rules`, a record and what is wrong; ``repair_findings``
fixes the safely repairable ones in the caller's transaction, recording each change in the
audit log.
"""
