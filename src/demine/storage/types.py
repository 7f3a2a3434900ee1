"""SQLAlchemy column type for GeoPackage geometry columns.

The declared SQL type is the geometry type name (``MULTIPOLYGON``, ``POINT`` ...), as the
GeoPackage standard requires; values are shapely geometries in Python and GeoPackage blobs
in the file. Already-encoded ``bytes`` pass through, so bulk writers can encode in one go.
"""

from __future__ import annotations

from typing import Any

import shapely
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import UserDefinedType

from demine.storage import gpkg_blob


class Geometry(UserDefinedType):
    """A WGS 84 geometry column stored as a GeoPackage blob."""

    cache_ok = True

    def __init__(self, geometry_type: str = "GEOMETRY") -> None:
        self.geometry_type = geometry_type.upper()

    def get_col_spec(self, **kw: Any) -> str:
        return self.geometry_type

    def bind_processor(self, dialect: Any) -> Any:
        def process(value: Any) -> bytes | None:
            if value is None or isinstance(value, bytes | bytearray | memoryview):
                return value
            if isinstance(value, shapely.Geometry):
                return gpkg_blob.encode(value)
            raise TypeError(f"cannot store {type(value).__name__} in a geometry column")

        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        return gpkg_blob.decode

    def __repr__(self) -> str:
        return f"Geometry({self.geometry_type!r})"


# GeoPackage stores DATETIME as ISO 8601 in UTC with a 'T' and a 'Z' (OGC 12-128r18
# §1.1.1.1.1); SQLAlchemy's SQLite default ("2026-01-31 12:00:00.000000") makes GDAL warn
# about every row.
_GPKG_DATETIME = sqlite.DATETIME(
    storage_format="%(year)04d-%(month)02d-%(day)02dT%(hour)02d:%(minute)02d:%(second)02dZ",
    regexp=r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.\d+)?Z?",
)
Timestamp = DateTime().with_variant(_GPKG_DATETIME, "sqlite")


class utcnow(FunctionElement):
    """The current UTC time, as the database writes it (GeoPackage format on SQLite)."""

    type = DateTime()
    inherit_cache = True


@compiles(utcnow, "sqlite")
def _utcnow_sqlite(element: utcnow, compiler: Any, **kw: Any) -> str:
    return "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"


@compiles(utcnow)
def _utcnow_default(element: utcnow, compiler: Any, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"
