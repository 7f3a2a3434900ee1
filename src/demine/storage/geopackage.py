"""The GeoPackage side of the store: core tables, feature-table registration, R*Tree index.

A GeoPackage is a SQLite file with ``application_id`` 'GPKG', the three core tables
(``gpkg_spatial_ref_sys``, ``gpkg_contents``, ``gpkg_geometry_columns``) and, for each
spatial index, an ``rtree_<table>_<column>`` virtual table kept in step by triggers
(the ``gpkg_rtree_index`` extension, OGC 12-128r18 annex F.3).

The triggers call ``ST_MinX`` ... ``ST_IsEmpty``; GDAL provides these, and
:func:`register_sql_functions` provides them on demine's own connections.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from demine.storage import gpkg_blob

APPLICATION_ID = 0x47504B47  # "GPKG"
# GeoPackage 1.3.0: demine uses nothing of 1.4, and GDAL before 3.8 (Debian 12 ships 3.6) warns
# "may only be partially supported" on every open of a 1.4 file.
USER_VERSION = 10300

WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)

CORE_DDL = [
    """CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
        organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT)""",
    """CREATE TABLE IF NOT EXISTS gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
        description TEXT DEFAULT '',
        last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
        CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
        table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
        srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
        CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
        CONSTRAINT uk_gc_table_name UNIQUE (table_name),
        CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
        CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_extensions (
        table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
        definition TEXT NOT NULL, scope TEXT NOT NULL,
        CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))""",
]

SRS_ROWS = [
    (
        "Undefined cartesian SRS",
        -1,
        "NONE",
        -1,
        "undefined",
        "undefined cartesian coordinate reference system",
    ),
    (
        "Undefined geographic SRS",
        0,
        "NONE",
        0,
        "undefined",
        "undefined geographic coordinate reference system",
    ),
    (
        "WGS 84 geodetic",
        4326,
        "EPSG",
        4326,
        WGS84_WKT,
        "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid",
    ),
]


def create_core(execute: Any) -> None:
    """Make the file a GeoPackage: pragmas, core tables and the required SRS rows."""
    execute(f"PRAGMA application_id = {APPLICATION_ID}")
    execute(f"PRAGMA user_version = {USER_VERSION}")
    for ddl in CORE_DDL:
        execute(ddl)
    for row in SRS_ROWS:
        values = ", ".join(_quote(v) for v in row)
        execute(
            "INSERT OR IGNORE INTO gpkg_spatial_ref_sys (srs_name, srs_id, organization, "
            f"organization_coordsys_id, definition, description) VALUES ({values})"
        )


def _quote(value: object) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def register_feature_table(
    execute: Any,
    table: str,
    column: str,
    geometry_type: str,
    description: str = "",
    pk: str = "id",
) -> None:
    """Declare ``table.column`` as a WGS 84 feature layer with an R*Tree spatial index."""
    execute(
        "INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, description, srs_id, "
        "min_x, min_y, max_x, max_y) "
        f"VALUES ({_quote(table)}, 'features', {_quote(table)}, {_quote(description)}, 4326, "
        "-180, -90, 180, 90)"
    )
    execute(
        "INSERT OR REPLACE INTO gpkg_geometry_columns VALUES "
        f"({_quote(table)}, {_quote(column)}, {_quote(geometry_type.upper())}, 4326, 0, 0)"
    )
    execute(
        "INSERT OR REPLACE INTO gpkg_extensions VALUES "
        f"({_quote(table)}, {_quote(column)}, 'gpkg_rtree_index', "
        "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')"
    )
    rtree = f"rtree_{table}_{column}"
    execute(f'CREATE VIRTUAL TABLE "{rtree}" USING rtree(id, minx, maxx, miny, maxy)')
    for ddl in _rtree_triggers(table, column, pk, rtree):
        execute(ddl)


def register_attribute_table(execute: Any, table: str, description: str = "") -> None:
    """Declare a non-spatial table, so GDAL and QGIS list it as an attribute table."""
    execute(
        "INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, description) "
        f"VALUES ({_quote(table)}, 'attributes', {_quote(table)}, {_quote(description)})"
    )


def _rtree_triggers(t: str, c: str, i: str, rtree: str) -> list[str]:
    # The six triggers of GeoPackage 1.3 annex F.3, verbatim apart from names.
    box = f'ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")'
    return [
        f"""CREATE TRIGGER "{rtree}_insert" AFTER INSERT ON "{t}"
        WHEN (NEW."{c}" NOT NULL AND NOT ST_IsEmpty(NEW."{c}"))
        BEGIN INSERT OR REPLACE INTO "{rtree}" VALUES (NEW."{i}", {box}); END""",
        f"""CREATE TRIGGER "{rtree}_update1" AFTER UPDATE OF "{c}" ON "{t}"
        WHEN OLD."{i}" = NEW."{i}" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
        BEGIN INSERT OR REPLACE INTO "{rtree}" VALUES (NEW."{i}", {box}); END""",
        f"""CREATE TRIGGER "{rtree}_update2" AFTER UPDATE OF "{c}" ON "{t}"
        WHEN OLD."{i}" = NEW."{i}" AND (NEW."{c}" ISNULL OR ST_IsEmpty(NEW."{c}"))
        BEGIN DELETE FROM "{rtree}" WHERE id = OLD."{i}"; END""",
        f"""CREATE TRIGGER "{rtree}_update3" AFTER UPDATE ON "{t}"
        WHEN OLD."{i}" != NEW."{i}" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
        BEGIN DELETE FROM "{rtree}" WHERE id = OLD."{i}";
              INSERT OR REPLACE INTO "{rtree}" VALUES (NEW."{i}", {box}); END""",
        f"""CREATE TRIGGER "{rtree}_update4" AFTER UPDATE ON "{t}"
        WHEN OLD."{i}" != NEW."{i}" AND (NEW."{c}" ISNULL OR ST_IsEmpty(NEW."{c}"))
        BEGIN DELETE FROM "{rtree}" WHERE id IN (OLD."{i}", NEW."{i}"); END""",
        f"""CREATE TRIGGER "{rtree}_delete" AFTER DELETE ON "{t}"
        WHEN OLD."{c}" NOT NULL
        BEGIN DELETE FROM "{rtree}" WHERE id = OLD."{i}"; END""",
    ]


def _envelope_part(index: int) -> Any:
    def fn(blob: bytes | None) -> float | None:
        if gpkg_blob.is_empty(blob):
            return None
        return gpkg_blob.envelope(blob)[index]

    return fn


def register_sql_functions(conn: sqlite3.Connection) -> None:
    """Give a raw SQLite connection the ``ST_*`` functions the R*Tree triggers call."""
    for name, index in (("ST_MinX", 0), ("ST_MaxX", 1), ("ST_MinY", 2), ("ST_MaxY", 3)):
        conn.create_function(name, 1, _envelope_part(index), deterministic=True)
    conn.create_function("ST_IsEmpty", 1, lambda b: int(gpkg_blob.is_empty(b)), deterministic=True)


def refresh_extents(conn: Any) -> None:
    """Set each layer's extent in ``gpkg_contents`` from its R*Tree (GDAL reports it).

    Nothing to do on PostgreSQL: PostGIS computes extents when asked.
    """
    from sqlalchemy import text

    if conn.dialect.name != "sqlite":
        return

    layers = conn.execute(text("SELECT table_name, column_name FROM gpkg_geometry_columns")).all()
    for table, column in layers:
        box = conn.execute(
            text(f'SELECT min(minx), min(miny), max(maxx), max(maxy) FROM "rtree_{table}_{column}"')
        ).first()
        if box is None or box[0] is None:
            continue
        conn.execute(
            text(
                "UPDATE gpkg_contents SET min_x = :a, min_y = :b, max_x = :c, max_y = :d, "
                "last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name = :t"
            ),
            {"a": box[0], "b": box[1], "c": box[2], "d": box[3], "t": table},
        )
