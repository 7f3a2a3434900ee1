"""SQLAlchemy column type for GeoPackage geometry columns.

The declared SQL type is the geometry type name (``MULTIPOLYGON``, ``POINT`` ...), as the
GeoPackage standard requires; values are shapely geometries in Python and GeoPackage blobs
in the file. Already-encoded ``bytes`` pass through, so bulk writers can encode in one go.
"""

from __future__ import annotations

from typing import Any

import shapely
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
