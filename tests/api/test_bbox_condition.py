"""The bbox filter every spatial endpoint uses: answered by the spatial index, and cache-safe."""

from __future__ import annotations

import pytest
import shapely
from sqlalchemy import select

from demine.api.records import bbox_condition
from demine.storage import schema

H = schema.hazard


def _query(box):
    return select(H.c.id).where(bbox_condition(H, "rtree_hazard_geom", box)).order_by(H.c.id)


def _expected(conn, box):
    window = shapely.box(*box)
    rows = conn.execute(select(H.c.id, H.c.geom)).all()
    return [i for i, g in rows if g is not None and shapely.intersects(shapely.box(*g.bounds), window)]


def test_each_box_gets_its_own_rows_through_the_cached_statement(demo_db):
    with demo_db.connect() as conn:
        bounds = [g.bounds for g in conn.execute(select(H.c.geom).limit(40)).scalars()]
        seen = set()
        for minx, miny, maxx, maxy in bounds[::4]:
            box = (minx - 0.01, miny - 0.01, maxx + 0.01, maxy + 0.01)
            got = list(conn.execute(_query(box)).scalars())
            assert got == _expected(conn, box) and got
            seen.add(tuple(got))
    # The same statement shape, compiled once and cached, still bound each box's own values.
    assert len(seen) > 1


@pytest.mark.sqlite_only  # the plan of the GeoPackage R*Tree query
def test_sqlite_plan_uses_the_rtree_and_the_primary_key(demo_db):
    query = select(*H.c).where(bbox_condition(H, "rtree_hazard_geom", (0.0, 0.0, 1.0, 1.0)))
    compiled = query.compile(demo_db)
    params = tuple(compiled.params[k] for k in compiled.positiontup)
    with demo_db.connect() as conn:
        plan = " | ".join(r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params))
    # A boolean comparison such as "(id IN (...)) = 1" would turn this into a full "SCAN hazard".
    assert "SEARCH hazard USING INTEGER PRIMARY KEY" in plan, plan
    assert "VIRTUAL TABLE INDEX" in plan and "SCAN hazard" not in plan, plan
