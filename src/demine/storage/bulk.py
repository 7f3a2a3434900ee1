"""Writing many polygons at once: geometry work on arrays, rows in one statement, R*Tree after.

The register's bulk writers (:func:`demine.register.hazards.insert_hazards`, which the
importer calls once per batch) used to encode, measure and insert each polygon on its own:
a shapely call per step, a SQLAlchemy parameter dict per row, and on SQLite five Python
``ST_*`` calls per row from each R*Tree trigger. Here the same results come from whole
arrays:

* :func:`multipolygons` is :func:`demine.geometry.polygons.as_multipolygon` over an array;
* :func:`geodesic_areas` is :func:`demine.geometry.area.geodesic_area` over an array: the
  same Karney algorithm (pyproj's ``Geod``), called on slices of one coordinate array, so
  the areas are bit-for-bit the ones measured one polygon at a time;
* :func:`gpkg_blobs` is :func:`demine.storage.gpkg_blob.encode` over an array (one
  ``to_wkb`` call and a packed header array);
* :func:`insert_rows` writes a table's rows with one ``executemany`` on SQLite, with the
  layer's R*Tree insert trigger set aside meanwhile and the index filled from the envelopes
  already computed (the committed file has the same rows, R*Tree and triggers as before);
  on PostgreSQL with ``COPY``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from pyproj import Geod
from sqlalchemy import Connection, Table

from demine.geometry.area import WGS84
from demine.geometry.polygons import as_multipolygon
from demine.storage.gpkg_blob import WGS84_SRS_ID
from demine.storage.types import Geometry

_POLYGON, _MULTIPOLYGON = 3, 6

# Header of a GeoPackage blob with an XY envelope (gpkg_blob.encode): magic, version, flags
# (little-endian, envelope [minx, maxx, miny, maxy]), SRS id, envelope.
_HEADER = np.dtype(
    [("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs_id", "<i4"), ("envelope", "<f8", (4,))]
)
_FLAGS_ENVELOPE_XY = 0b0000_0011


def multipolygons(geoms: Sequence[shapely.Geometry | None] | np.ndarray) -> np.ndarray:
    """Each geometry's polygonal part as a MultiPolygon (None where nothing areal is left)."""
    geoms = np.asarray(geoms, dtype=object)
    out = np.full(len(geoms), None, dtype=object)
    if not len(geoms):
        return out
    types = shapely.get_type_id(geoms)
    polygons = np.flatnonzero((types == _POLYGON) & ~shapely.is_empty(geoms))
    if len(polygons):
        out[polygons] = shapely.multipolygons(geoms[polygons], indices=np.arange(len(polygons)))
    multi = np.flatnonzero(types == _MULTIPOLYGON)
    if len(multi):
        # A MultiPolygon is kept as it is unless as_multipolygon would drop an empty part.
        parts, owner = shapely.get_parts(geoms[multi], return_index=True)
        has_empty = np.zeros(len(multi), dtype=bool)
        np.logical_or.at(has_empty, owner, shapely.is_empty(parts))
        whole = ~has_empty & (shapely.get_num_geometries(geoms[multi]) > 0)
        out[multi[whole]] = geoms[multi[whole]]
        for i in multi[~whole]:
            out[i] = as_multipolygon(geoms[i])
    for i in np.flatnonzero((types != _POLYGON) & (types != _MULTIPOLYGON) & (types >= 0)):
        out[i] = as_multipolygon(geoms[i])
    return out


def geodesic_areas(geoms: np.ndarray, geod: Geod = WGS84) -> np.ndarray:
    """Areas in m² of (multi)polygons in WGS 84 lon/lat, exactly as ``geodesic_area`` gives them.

    Each polygon part adds its shell's area and takes off its holes'; None, empty and
    non-areal geometries measure 0.
    """
    geoms = np.asarray(geoms, dtype=object)
    areas = np.zeros(len(geoms))
    if not len(geoms):
        return areas
    parts, part_owner = shapely.get_parts(geoms, return_index=True)
    polygons = shapely.get_type_id(parts) == _POLYGON
    parts, part_owner = parts[polygons], part_owner[polygons]
    if not len(parts):
        return areas
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    if not len(rings):
        return areas
    shell = np.ones(len(rings), dtype=bool)
    shell[1:] = ring_part[1:] != ring_part[:-1]  # get_rings gives each part's shell first
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    ends = np.cumsum(np.bincount(ring_of, minlength=len(rings)))
    starts = ends - np.bincount(ring_of, minlength=len(rings))
    lon = np.ascontiguousarray(coords[:, 0])
    lat = np.ascontiguousarray(coords[:, 1])
    # Geod.polygon_area_perimeter without its argument copying: the same C call on each ring.
    measure = geod._polygon_area_perimeter
    ring_areas = np.fromiter(
        (
            abs(measure(lon[s:e], lat[s:e], False)[0])
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
        ),
        dtype=float,
        count=len(rings),
    )
    # bincount adds in ring order from 0.0, as geodesic_area does part by part.
    signed = np.where(shell, ring_areas, -ring_areas)
    return np.bincount(part_owner[ring_part], weights=signed, minlength=len(geoms))


def gpkg_blobs(geoms: np.ndarray, bounds: np.ndarray | None = None) -> list[bytes | None]:
    """GeoPackage blobs of WGS 84 geometries, as ``gpkg_blob.encode`` makes them one by one.

    ``bounds`` (``shapely.bounds`` of ``geoms``) may be given when the caller has them.
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    if not n:
        return []
    from demine.storage import gpkg_blob

    if bounds is None:
        bounds = shapely.bounds(geoms)
    present = ~shapely.is_missing(geoms)
    plain = present & ~shapely.is_empty(geoms)
    header = np.zeros(n, dtype=_HEADER)
    header["magic"] = b"GP"
    header["flags"] = _FLAGS_ENVELOPE_XY
    header["srs_id"] = WGS84_SRS_ID
    header["envelope"] = bounds[:, [0, 2, 1, 3]]
    raw = header.tobytes()
    size = _HEADER.itemsize
    wkb = shapely.to_wkb(geoms, byte_order=1, flavor="iso", include_srid=False)
    blobs: list[bytes | None] = [
        raw[i * size : (i + 1) * size] + w if ok else None
        for i, (w, ok) in enumerate(zip(wkb.tolist(), plain.tolist(), strict=True))
    ]
    for i in np.flatnonzero(present & ~plain):  # empty geometries: no envelope in the header
        blobs[i] = gpkg_blob.encode(geoms[i])
    return blobs


def ewkb_hex(geoms: np.ndarray) -> list[str | None]:
    """Hex EWKB with SRID 4326, as PostGIS reads it (what the Geometry type binds on PostgreSQL)."""
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return []
    out = shapely.to_wkb(
        shapely.set_srid(geoms, WGS84_SRS_ID), hex=True, include_srid=True, flavor="extended"
    )
    return out.tolist()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_SHADOWS = ("node", "rowid", "parent")  # the tables in which SQLite's R*Tree module keeps an index


def same_rtrees(conn: Connection, first: str, second: str, most: int) -> bool:
    """Whether two GeoPackage R*Tree indexes (``rtree_<table>_<column>``) of at most ``most``
    entries each are identical, node for node.

    The R*Tree module is deterministic: two identical trees given the same entries in the
    same order stay identical, so the second can then be copied from the first (see
    :func:`insert_rows`' ``rtree_copy_of``) instead of inserted into again. Comparing and
    copying cost as much as the trees are large, so a caller about to insert ``n`` entries
    asks with ``most=n``: larger trees are not compared (False).
    """
    if conn.dialect.name != "sqlite":
        return False
    entries = conn.exec_driver_sql(f"SELECT count(*) FROM {_quoted(first + '_rowid')}").scalar()
    if entries > most:
        return False
    for shadow in _SHADOWS:
        a, b = _quoted(f"{first}_{shadow}"), _quoted(f"{second}_{shadow}")
        counts = conn.exec_driver_sql(f"SELECT (SELECT count(*) FROM {a}), (SELECT count(*) FROM {b})").one()
        if counts[0] != counts[1]:
            return False
        differing = conn.exec_driver_sql(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT SELECT * FROM {b})")
        if differing.scalar():
            return False
    return True


def insert_rows(
    conn: Connection,
    table: Table,
    values: dict[str, Sequence[Any]],
    rtree: tuple[str, np.ndarray] | None = None,
    rtree_copy_of: str | None = None,
) -> None:
    """Insert rows given column by column (``values``: column name -> one value per row).

    Values go through their column type's bind processing (dates as the store writes them),
    except geometries, which must already be what the database stores: GeoPackage blobs on
    SQLite, hex EWKB on PostgreSQL (:func:`gpkg_blobs`, :func:`ewkb_hex`).

    ``rtree`` is ``(geometry column, envelopes)`` for a GeoPackage layer on SQLite, the
    envelopes as ``shapely.bounds`` rows (NaN where a row has no geometry), and ``values``
    must hold the ``id`` column. The R*Tree insert trigger is set aside for the statement and
    the index filled from the envelopes, which is what the trigger would have written; the
    trigger is put back, verbatim, even when the insert fails.

    ``rtree_copy_of`` names another R*Tree that was identical to this layer's before the
    same ids and envelopes were inserted into it (:func:`same_rtrees`): this layer's index is
    then made a copy of it, node for node, which is what inserting would have built.
    """
    names = list(values)
    columns = []
    for name in names:
        column = values[name]
        kind = table.c[name].type
        process = None if isinstance(kind, Geometry) else kind._cached_bind_processor(conn.dialect)
        if process is not None:
            # Columns of dates and flags repeat a few values: process each distinct one once.
            try:
                keys = {(type(v), v): v for v in column}  # typed: True == 1
                done = {key: process(v) for key, v in keys.items()}
                column = [done[type(v), v] for v in column]
            except TypeError:  # an unhashable value
                column = [process(v) for v in column]
        columns.append(column)
    rows = list(zip(*columns, strict=True))
    if not rows:
        return
    quoted = ", ".join(_quoted(c) for c in names)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {_quoted(table.name)} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    statement = f"INSERT INTO {_quoted(table.name)} ({quoted}) VALUES ({', '.join('?' * len(names))})"
    trigger = None
    if rtree is not None:
        column, envelopes = rtree
        index = f"rtree_{table.name}_{column}"
        trigger = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (f"{index}_insert",)
        ).scalar()
    if trigger is None:
        conn.exec_driver_sql(statement, rows)
        return
    conn.exec_driver_sql(f"DROP TRIGGER {_quoted(index + '_insert')}")
    try:
        conn.exec_driver_sql(statement, rows)
        if rtree_copy_of is not None:
            for shadow in _SHADOWS:
                target, source = _quoted(f"{index}_{shadow}"), _quoted(f"{rtree_copy_of}_{shadow}")
                conn.exec_driver_sql(f"DELETE FROM {target}")
                conn.exec_driver_sql(f"INSERT INTO {target} SELECT * FROM {source}")
            return
        keep = np.isfinite(envelopes).all(axis=1)
        ids = [i for i, ok in zip(values["id"], keep.tolist(), strict=True) if ok]
        box = envelopes[keep][:, [0, 2, 1, 3]].tolist()  # R*Tree order: minx, maxx, miny, maxy
        conn.exec_driver_sql(
            f"INSERT OR REPLACE INTO {_quoted(index)} VALUES (?, ?, ?, ?, ?)",
            [(i, *b) for i, b in zip(ids, box, strict=True)],
        )
    finally:
        conn.exec_driver_sql(trigger)
