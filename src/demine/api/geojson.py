"""Rows to JSON and GeoJSON, fast: geometries are decoded and written by shapely in bulk.

A map view of a few hundred hazards is one vectorised WKB decode and one vectorised GeoJSON
write; properties go through ``json.dumps``. The response body is assembled as text, so no
intermediate dict of coordinates is ever built.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import shapely
from sqlalchemy import Date, DateTime
from sqlalchemy.sql.elements import ColumnElement

from demine.storage.types import raw_geometry as stored_geometry
from demine.storage.types import stored_text

# GeoPackage blob header: 8 bytes, then an envelope whose size the flags byte gives.
_ENVELOPE_BYTES = (0, 32, 48, 48, 64, 0, 0, 0)


def _wkb(blob: bytes) -> bytes:
    if blob[:2] != b"GP":  # plain WKB: PostGIS's ST_AsBinary
        return bytes(blob)
    return bytes(blob[8 + _ENVELOPE_BYTES[(blob[3] >> 1) & 0b111] :])


def default(value: Any) -> Any:
    """``json.dumps`` fallback: ISO dates, UTC timestamps with a Z, bytes as hex."""
    if isinstance(value, datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, shapely.Geometry):
        return shapely.geometry.mapping(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays (forecast results)
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


# One encoder for the process: json.dumps(..., default=...) would build a new one per call,
# which costs more than encoding a feature's properties.
_ENCODER = json.JSONEncoder(default=default, ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> str:
    """Compact JSON with demine's types."""
    return _ENCODER.encode(value)


def raw_geometry(column: ColumnElement) -> ColumnElement:
    """Select a geometry column as its GeoPackage blob, or WKB on PostGIS (decoded later in bulk)."""
    return stored_geometry(column).label("geom")


def as_stored(column: ColumnElement) -> ColumnElement:
    """A column as the JSON it becomes: dates and timestamps as their stored ISO text.

    The GeoPackage stores dates as ``YYYY-MM-DD`` and timestamps as ``YYYY-MM-DDTHH:MM:SS.SSSZ``,
    exactly what the API sends; parsing them into Python objects and formatting them back
    would be most of the work of a large page.
    """
    if isinstance(column.type, Date | DateTime):
        return stored_text(column).label(column.name)
    return column


def decode_blobs(blobs: Sequence[bytes | None]) -> list[shapely.Geometry | None]:
    """Shapely geometries from GeoPackage blobs, in one vectorised WKB parse."""
    wkbs = [_wkb(b) if b is not None else None for b in blobs]
    return list(shapely.from_wkb(wkbs)) if wkbs else []


def geojson_texts(geoms: Sequence[shapely.Geometry | None]) -> list[str]:
    """GeoJSON text of each geometry ('null' for none)."""
    if not geoms:
        return []
    texts = shapely.to_geojson(list(geoms))
    return [t if t is not None else "null" for t in texts]


def feature_texts(rows: Iterable[dict[str, Any]], id_key: str = "id") -> list[str]:
    """GeoJSON Feature texts of rows whose ``geom`` holds a GeoPackage blob."""
    rows = list(rows)
    geoms = decode_blobs([r.pop("geom") for r in rows])
    texts = geojson_texts(geoms)
    return [
        f'{{"type":"Feature","id":{dumps(r[id_key])},"geometry":{g},"properties":{dumps(r)}}}'
        for r, g in zip(rows, texts, strict=True)
    ]


def feature_collection(
    features: list[str], number_matched: int | None, links: list[dict[str, str]], extra: dict | None = None
) -> str:
    """A GeoJSON FeatureCollection (with OGC API paging members) from feature texts."""
    head = {"type": "FeatureCollection"}
    if number_matched is not None:
        head["numberMatched"] = number_matched
    head["numberReturned"] = len(features)
    head |= extra or {}
    head["links"] = links
    return dumps(head)[:-1] + ',"features":[' + ",".join(features) + "]}"
