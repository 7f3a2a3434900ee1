"""Shared fixtures: a fresh GeoPackage per test and one synthetic programme per session.

Every fixture works on a real SQLite/GeoPackage file on disk, opened through demine's own
``open_database`` (migrations, pragmas, ``ST_*`` functions): nothing is mocked.
"""

from __future__ import annotations

import shutil
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from demine.storage import schema
from demine.storage.database import open_database
from demine.synthetic.programme import build_programme

DEMO_HAZARDS = 150
DEMO_SEED = 7
DEMO_AS_OF = date(2026, 6, 30)


@pytest.fixture
def empty_db(tmp_path):
    """A new, migrated, empty database file (GeoPackage core + register tables)."""
    engine = open_database(tmp_path / "empty.gpkg", create=True)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """Build the small demo programme once per session (per xdist worker).

    ``template`` is never opened again after the build (copy it to write); ``path`` is the
    file ``demo_db`` reads; ``counts`` is what ``build_programme`` reported.
    """
    folder = tmp_path_factory.mktemp("demo")
    template = folder / "template.gpkg"
    engine = open_database(template, create=True)
    with engine.begin() as conn:
        counts = build_programme(conn, hazards=DEMO_HAZARDS, seed=DEMO_SEED, as_of=DEMO_AS_OF)
    # Closing the last connection checkpoints the write-ahead log into the main file.
    engine.dispose()
    path = folder / "demo.gpkg"
    shutil.copy(template, path)
    return SimpleNamespace(template=template, path=path, counts=counts, as_of=DEMO_AS_OF)


@pytest.fixture(scope="session")
def demo_db(demo):
    """An engine on the session's demo programme. Read only: use ``demo_copy`` to write."""
    engine = open_database(demo.path)
    yield engine
    engine.dispose()


@pytest.fixture
def demo_copy(demo, tmp_path):
    """A private, writable copy of the demo programme."""
    path = tmp_path / "demo-copy.gpkg"
    shutil.copy(demo.template, path)
    engine = open_database(path)
    yield engine
    engine.dispose()


@pytest.fixture
def table_counts():
    """A function giving the row counts of every table a register write could touch."""

    def counts(engine):
        tables = (
            schema.organisation,
            schema.team,
            schema.accreditation,
            schema.hazard,
            schema.hazard_remaining,
            schema.hazard_area_event,
            schema.hazard_beneficiary,
            schema.hazard_rtree,
        )
        with engine.connect() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}

    return counts
