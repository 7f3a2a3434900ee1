"""Importing hazards, releases, finds, accidents and admin areas from the files operators send.

``plan_import`` opens a file (any GDAL vector format, CSV, XLSX) and checks the options;
``import_file`` runs it in one transaction and returns an :class:`ImportResult` in which
every feature read has exactly one outcome. See ``run.py`` for the flow, ``geometries.py``
for the geometry rules and repairs, ``store.py`` for duplicates and re-imports, and
``report.py`` for the reason codes and the rejection file.
"""

from demine.ingest.report import REASONS, ImportResult, Rejection
from demine.ingest.run import ImportOptions, ImportPlan, import_file, import_into, plan_import

__all__ = [
    "REASONS",
    "ImportOptions",
    "ImportPlan",
    "ImportResult",
    "Rejection",
    "import_file",
    "import_into",
    "plan_import",
]
