"""Many writers on one PostgreSQL register at once: no lost update, no unhandled deadlock.

Eight processes, each with its own engine, at the same time: release land on the same four
hazards (every product its own strip), and increment the same settlement's population through
the optimistic-concurrency edit the API uses (read the version, write at that version, retry on
a conflict). Afterwards every product is there, each hazard's land-release identity holds and
the counter equals the number of increments. A writer kept waiting behind a foreign lock gets
a clear error, and nothing of its transaction is written.
"""

from __future__ import annotations

import multiprocessing
from datetime import date

import psycopg
import pytest
import shapely
from sqlalchemy import func, insert, select

from demine.geometry.area import geodesic_area
from demine.geometry.reading import EnteredGeometry
from demine.landrelease.accounting import NewRelease, record_release
from demine.register.hazards import NewHazard, add_hazards
from demine.storage import schema
from demine.storage.database import open_database
from demine.storage.postgres import StoreBusy

WRITERS = 8
ROUNDS = 6
HAZARDS = 4
STRIPS = WRITERS * ROUNDS // HAZARDS  # products per hazard
REPORTED = date(2026, 1, 5)
WIDTH = 0.004  # degrees: each hazard is a WIDTH x WIDTH square


def _square(k: int) -> shapely.Polygon:
    x0 = 30.0 + k * 0.01
    return shapely.box(x0, 48.0, x0 + WIDTH, 48.0 + WIDTH)


def _strip(k: int, j: int) -> shapely.Polygon:
    x0 = 30.0 + k * 0.01 + j * WIDTH / STRIPS
    return shapely.box(x0, 48.0, x0 + WIDTH / STRIPS, 48.0 + WIDTH)


def _writer(url: str, writer: int) -> dict[str, int]:
    from demine.workflow.errors import VersionConflict
    from demine.workflow.records import update_record

    engine = open_database(url)
    conflicts = 0
    try:
        for r in range(ROUNDS):
            n = writer * ROUNDS + r
            k, j = n % HAZARDS, n // HAZARDS  # every (hazard, strip) exactly once over all writers
            geom = _strip(k, j)
            with engine.begin() as conn:
                record_release(
                    conn,
                    NewRelease(
                        f"H{k}",
                        "cleared",
                        REPORTED,
                        EnteredGeometry(geometry=geom, entered_text=geom.wkt, entered_crs="EPSG:4326"),
                    ),
                    today=date(2026, 6, 30),
                )
            while True:  # what an API client does on 409: read again, apply again
                with engine.connect() as conn:
                    s = schema.settlement
                    population, version = conn.execute(select(s.c.population, s.c.version)).one()
                try:
                    with engine.begin() as conn:
                        update_record(
                            conn, "settlement", 1, version, {"population": population + 1}, actor=f"w{writer}"
                        )
                    break
                except VersionConflict:
                    conflicts += 1
    finally:
        engine.dispose()
    return {"writer": writer, "conflicts": conflicts}


@pytest.fixture
def register(fresh_db):
    engine = open_database(fresh_db)
    with engine.begin() as conn:
        add_hazards(
            conn,
            [
                NewHazard(code=f"H{k}", hazard_type="CHA", reported_on=REPORTED, geometry=_square(k))
                for k in range(HAZARDS)
            ],
            today=REPORTED,
        )
        conn.execute(insert(schema.settlement).values(name="Village", population=0))
    engine.dispose()
    return fresh_db


def test_many_writers_lose_nothing(register):
    context = multiprocessing.get_context("spawn")
    with context.Pool(WRITERS) as pool:
        results = pool.starmap(_writer, [(register, w) for w in range(WRITERS)])
    assert sorted(r["writer"] for r in results) == list(range(WRITERS))
    engine = open_database(register)
    with engine.connect() as conn:
        p, h, r = schema.release_product, schema.hazard, schema.hazard_remaining
        assert conn.execute(select(func.count()).select_from(p)).scalar_one() == WRITERS * ROUNDS
        for k in range(HAZARDS):
            hazard = conn.execute(select(h).where(h.c.code == f"H{k}")).one()
            released = conn.execute(
                select(func.sum(p.c.released_area_m2)).where(p.c.hazard_id == hazard.id)
            ).scalar_one()
            remaining = conn.execute(select(r).where(r.c.id == hazard.id)).one()
            # Every strip taken off exactly once: the identity holds and nothing is left.
            assert released + hazard.remaining_area_m2 == pytest.approx(hazard.area_m2, rel=1e-9)
            assert released == pytest.approx(geodesic_area(_square(k)), rel=1e-4)
            assert hazard.version == 1 + STRIPS and hazard.status == "closed"
            assert remaining.geom is None or remaining.area_m2 < 1.0
        s = schema.settlement
        population, version = conn.execute(select(s.c.population, s.c.version)).one()
        edits = conn.execute(
            select(func.count())
            .select_from(schema.audit_log)
            .where(schema.audit_log.c.table_name == "settlement")
        ).scalar_one()
    engine.dispose()
    assert population == WRITERS * ROUNDS  # no lost update
    assert version == 1 + WRITERS * ROUNDS and edits == WRITERS * ROUNDS


def test_a_writer_blocked_too_long_gets_a_clear_error(register, monkeypatch):
    monkeypatch.setenv("DEMINE_PG_LOCK_TIMEOUT", "500ms")
    engine = open_database(register)
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as foreign:  # another program holds the hazard table
        foreign.execute("LOCK TABLE hazard IN ACCESS EXCLUSIVE MODE")
        geom = _strip(0, 0)
        with pytest.raises(StoreBusy, match=r"busy .*nothing was written"), engine.begin() as conn:
            record_release(
                conn,
                NewRelease(
                    "H0",
                    "cleared",
                    REPORTED,
                    EnteredGeometry(geometry=geom, entered_text=geom.wkt, entered_crs="EPSG:4326"),
                ),
                today=date(2026, 6, 30),
            )
        foreign.rollback()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.release_product)).scalar_one() == 0
    engine.dispose()
