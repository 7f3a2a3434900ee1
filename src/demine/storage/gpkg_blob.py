"""GeoPackage binary geometry encoding (OGC 12-128r18 §2.1.3): a small header plus WKB.

Header: magic ``GP``, version 0, a flags byte (little-endian, envelope [minx,maxx,miny,maxy]
or none for empty geometries), the SRS id, the envelope, then ISO WKB.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import shapely

WGS84_SRS_ID = 4326

_FLAG_LITTLE_ENDIAN = 0b0000_0001
_FLAG_ENVELOPE_XY = 0b0000_0010
_FLAG_EMPTY = 0b0001_0000
_ENVELOPE_SIZES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def encode(geom: shapely.Geometry | None, srs_id: int = WGS84_SRS_ID) -> bytes | None:
    """GeoPackage blob of a geometry (None stays None)."""
    if geom is None:
        return None
    # shapely (and numpy) load on first use: a command that reads no geometry never pays for them.
    import shapely

    wkb = shapely.to_wkb(geom, byte_order=1, flavor="iso", include_srid=False)
    if geom.is_empty:
        return struct.pack("<2sBBi", b"GP", 0, _FLAG_LITTLE_ENDIAN | _FLAG_EMPTY, srs_id) + wkb
    minx, miny, maxx, maxy = geom.bounds
    header = struct.pack(
        "<2sBBi4d",
        b"GP",
        0,
        _FLAG_LITTLE_ENDIAN | _FLAG_ENVELOPE_XY,
        srs_id,
        minx,
        maxx,
        miny,
        maxy,
    )
    return header + wkb


def _wkb_offset(blob: bytes) -> int:
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob (missing 'GP' magic)")
    envelope_kind = (blob[3] >> 1) & 0b111
    return 8 + _ENVELOPE_SIZES[envelope_kind]


def wkb_of(blob: bytes) -> bytes:
    """The WKB of a GeoPackage blob; plain WKB (what PostGIS's ``ST_AsBinary`` gives) as it is."""
    blob = bytes(blob)
    if blob[:2] != b"GP":
        return blob
    return blob[_wkb_offset(blob) :]


def decode(blob: bytes | None) -> shapely.Geometry | None:
    """Geometry from a GeoPackage blob (None stays None)."""
    if blob is None:
        return None
    import shapely

    return shapely.from_wkb(bytes(blob[_wkb_offset(blob) :]))


def is_empty(blob: bytes | None) -> bool:
    """True when the blob is NULL or flagged empty (used by the R-tree triggers)."""
    return blob is None or bool(blob[3] & _FLAG_EMPTY)


def envelope(blob: bytes) -> tuple[float, float, float, float]:
    """(minx, maxx, miny, maxy), read from the header when present, else from the WKB."""
    kind = (blob[3] >> 1) & 0b111
    if kind:
        byte_order = "<" if blob[3] & _FLAG_LITTLE_ENDIAN else ">"
        return struct.unpack(byte_order + "4d", blob[8:40])
    minx, miny, maxx, maxy = decode(blob).bounds
    return minx, maxx, miny, maxy
