"""Helpers for tests that look under the register's API at how a store keeps geometries.

On SQLite a feature table's spatial index is its GeoPackage R*Tree (``rtree_<table>_geom``); on
PostgreSQL it is a GiST index on the PostGIS column. :func:`index_box` reads the envelope a
record is indexed under, through the index's own query path on each store.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, column, func, select, text
from sqlalchemy import table as sa_table


def index_box(
    conn: Connection, table: str, record_id: int | None = None
) -> tuple[float, float, float, float]:
    """(minx, maxx, miny, maxy) of the record as its table's spatial index holds it."""
    where = "" if record_id is None else " WHERE id = :i"
    if conn.dialect.name == "sqlite":
        sql = f'SELECT minx, maxx, miny, maxy FROM "rtree_{table}_geom"{where}'
        return tuple(conn.execute(text(sql), {"i": record_id}).one())
    index = conn.execute(
        text("SELECT indexdef FROM pg_indexes WHERE tablename = :t AND indexname = :n"),
        {"t": table, "n": f"ix_{table}_geom"},
    ).scalar_one()
    assert "USING gist (geom)" in index
    # Found through the && operator (what the GiST index serves), with the box it indexes.
    cond = " AND " if where else " WHERE "
    sql = (
        f"SELECT ST_XMin(geom::box2d), ST_XMax(geom::box2d), ST_YMin(geom::box2d), ST_YMax(geom::box2d) "
        f'FROM "{table}"{where}{cond}geom && ST_Expand(geom, 0)'
    )
    return tuple(conn.execute(text(sql), {"i": record_id}).one())


# The session's database maker (``tests/conftest.py`` sets it): lets helpers that are plain
# functions, not fixtures, copy a template on whichever store the suite runs on.
STORE = None


def clone(template: str | Path, path: Path) -> str | Path:
    """A writable copy of the database at ``template``: the file ``path`` on SQLite, a new database
    (its URL) on PostgreSQL."""
    if STORE is None or STORE.cluster is None:
        shutil.copy(template, path)
        return path
    return STORE.clone(template, path.stem.replace("-", "_"))


def new(path: Path) -> str | Path:
    """Where a new database may be created: ``path`` on SQLite, a new empty database's URL on PostgreSQL."""
    if STORE is None or STORE.cluster is None:
        return path
    return STORE.new(path.stem.replace("-", "_"))


def index_count_query(dialect: str, table: str, box: tuple[float, float, float, float]) -> Any:
    """A query counting the records of ``table`` whose indexed envelope meets ``box``.

    SQLite: the GeoPackage R*Tree's boxes; PostgreSQL: the GiST index's ``&&``.
    """
    minx, miny, maxx, maxy = box
    if dialect == "sqlite":
        rt = sa_table(f"rtree_{table}_geom", *(column(c) for c in ("id", "minx", "maxx", "miny", "maxy")))
        return (
            select(func.count())
            .select_from(rt)
            .where(rt.c.maxx >= minx, rt.c.minx <= maxx, rt.c.maxy >= miny, rt.c.miny <= maxy)
        )
    t = sa_table(table, column("geom"))
    return select(func.count()).select_from(t).where(t.c.geom.op("&&")(func.ST_MakeEnvelope(*box, 4326)))
