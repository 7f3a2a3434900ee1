"""Importing hazards, releases, finds, accidents and admin areas from the files operators send.

``plan_import`` opens a file (any GDAL vector format, CSV, XLSX) and checks the options;
``import_file`` runs it in one transaction and returns an :class:`ImportResult` in which
every feature read has exactly one outcome. See ``run.py`` for the flow, ``geometries.py``
for the geometry rules and repairs, ``store.py`` for duplicates and re-imports, and
``report.py`` for the reason codes and the rejection file.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from demine.ingest.reasons import REASONS
    from demine.ingest.report import ImportResult, Rejection
    from demine.ingest.run import ImportOptions, ImportPlan, import_file, import_into, plan_import

# Loaded on first use, so that importing one light submodule (demine.ingest.reasons) does not
# load GDAL, shapely and SQLAlchemy with the whole importer.
_HOMES = {
    "REASONS": "demine.ingest.reasons",
    "ImportResult": "demine.ingest.report",
    "Rejection": "demine.ingest.report",
    "ImportOptions": "demine.ingest.run",
    "ImportPlan": "demine.ingest.run",
    "import_file": "demine.ingest.run",
    "import_into": "demine.ingest.run",
    "plan_import": "demine.ingest.run",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'demine.ingest' has no attribute {name!r}")


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
