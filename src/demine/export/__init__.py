"""Exporting the register to the files people use: GeoPackage, GeoJSON, Shapefile, CSV, XLSX, KML.

``export_layer(conn, kind, path, ...)`` writes one kind of record (hazard, remaining,
release, find, accident, admin, team, victim) with code-list labels beside the codes, areas
in m², an optional ``--where`` filter (:mod:`demine.export.where`, parsed, never passed to
SQL as text) and no personal data unless the caller's role allows it.
"""

from demine.export.layers import LAYERS
from demine.export.write import (
    FORMATS,
    PERSONAL_DATA_ROLES,
    ExportResult,
    PersonalDataRefused,
    export_layer,
    may_see_personal_data,
)

__all__ = [
    "FORMATS",
    "LAYERS",
    "PERSONAL_DATA_ROLES",
    "ExportResult",
    "PersonalDataRefused",
    "export_layer",
    "may_see_personal_data",
]
