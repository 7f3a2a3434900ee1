"""Shared fixtures: a fresh database per test and one synthetic programme per session, on either store.

``DEMINE_TEST_BACKEND`` picks the store the suite runs on: ``sqlite`` (default) gives every
fixture a real SQLite/GeoPackage file on disk; ``postgresql`` gives it a real PostgreSQL/PostGIS
database in a throwaway cluster started for the session (one per xdist worker, on a free
loopback port). Either way the database is opened through demine's own ``open_database``
(migrations, connection settings): nothing is mocked.

A database is named by a *ref*: a file path on SQLite, a SQLAlchemy URL on PostgreSQL; both
work as ``open_database(ref)`` and as the CLI's ``--db``. ``store.clone(ref)`` makes a private
writable copy of a template (a file copy, or ``CREATE DATABASE ... TEMPLATE``), so a test that
needs a fresh register pays neither a migration nor a rebuild.

Tests about the GeoPackage file itself are marked ``sqlite_only`` and are skipped on PostgreSQL.
Tests that use no database of the selected backend (pure computation, files, a CLI without
``--db``) are marked ``store_free``: they would do the same work on both passes, so they run
once, on the SQLite pass (deselected on PostgreSQL). A ``store_free`` test that asks for the
``store`` fixture is an error.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import shutil
import subprocess
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import func, select

import backend_support
from demine.storage import schema
from demine.storage.database import open_database
from demine.synthetic.programme import build_programme

DEMO_HAZARDS = 150
DEMO_SEED = 7
DEMO_AS_OF = date(2026, 6, 30)

# No test may depend on wall-clock speed: a busy CI machine must not fail a property test
# because one example took longer than hypothesis's default 200 ms deadline.
settings.register_profile("demine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("demine")

BACKEND = os.environ.get("DEMINE_TEST_BACKEND", "sqlite")
if BACKEND not in ("sqlite", "postgresql"):
    raise pytest.UsageError(f"DEMINE_TEST_BACKEND must be sqlite or postgresql, not {BACKEND!r}")
ON_POSTGRES = BACKEND == "postgresql"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "sqlite_only: about the SQLite/GeoPackage file itself; skipped on PostgreSQL"
    )


def pytest_collection_modifyitems(config, items):
    timed = [
        item.nodeid
        for item in items
        if getattr(getattr(item, "obj", None), "_hypothesis_internal_use_settings", None) is not None
        and item.obj._hypothesis_internal_use_settings.deadline is not None
    ]
    if timed:
        raise pytest.UsageError(f"hypothesis tests with a deadline (timing belongs in benchmarks/): {timed}")
    # Checked on both passes, so that a wrong mark fails on SQLite before it hides a test on PostgreSQL.
    wrong = [
        item.nodeid
        for item in items
        if item.get_closest_marker("store_free") and "store" in getattr(item, "fixturenames", ())
    ]
    if wrong:
        raise pytest.UsageError(f"marked store_free but use a database of the selected backend: {wrong}")
    if not ON_POSTGRES:
        return
    # Deselected rather than skipped: hundreds of skip lines would bury the pass's real report.
    free = [item for item in items if item.get_closest_marker("store_free")]
    if free:
        config.hook.pytest_deselected(items=free)
        items[:] = [item for item in items if not item.get_closest_marker("store_free")]
    skip = pytest.mark.skip(reason="about the GeoPackage file: SQLite only")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


class Store:
    """Makes databases for tests on the selected backend (see the module docstring)."""

    def __init__(self, tmp_path_factory, cluster=None) -> None:
        self.tmp = tmp_path_factory
        self.cluster = cluster
        self.backend = "postgresql" if cluster is not None else "sqlite"
        self._names = itertools.count(1)
        self._empty: str | Path | None = None

    def _name(self, hint: str) -> str:
        return f"{hint}_{next(self._names)}".lower()

    def new(self, hint: str = "db", directory: Path | None = None) -> str | Path:
        """A ref where no database exists yet (``open_database(ref, create=True)`` makes it)."""
        if self.cluster is not None:
            return self.cluster.create_database(self._name(hint))
        folder = directory or self.tmp.mktemp(hint)
        return folder / f"{hint}.gpkg"

    def empty(self, hint: str = "empty", directory: Path | None = None) -> str | Path:
        """A new, migrated, empty database (a copy of a template migrated once per session)."""
        if self._empty is None:
            ref = self.new("empty_template")
            open_database(ref, create=True).dispose()
            self._empty = ref
        return self.clone(self._empty, hint, directory)

    def clone(self, template: str | Path, hint: str = "copy", directory: Path | None = None) -> str | Path:
        """A private, writable copy of the database at ``template`` (nobody may be connected to it)."""
        if self.cluster is not None:
            return self.cluster.create_database(self._name(hint), template=_db_name(template))
        folder = directory or self.tmp.mktemp(hint)
        path = folder / f"{hint}.gpkg"
        shutil.copy(template, path)
        return path

    def drop(self, ref: str | Path) -> None:
        """Remove a database made here (PostgreSQL: its files would pile up over a session)."""
        if self.cluster is not None:
            self.cluster.drop_database(_db_name(ref))


def _db_name(ref: str | Path) -> str:
    return str(ref).rsplit("/", 1)[-1]


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    """The session's database maker; on PostgreSQL it owns the throwaway cluster."""
    if not ON_POSTGRES:
        backend_support.STORE = Store(tmp_path_factory)
        yield backend_support.STORE
        return
    from demine.storage.pgcluster import Cluster

    # Not under pytest's temporary folder: pytest makes that private to root at every session
    # start (other sessions may start meanwhile), which would lock the postgres user out.
    cluster = Cluster().start()
    try:
        backend_support.STORE = Store(tmp_path_factory, cluster)
        yield backend_support.STORE
    finally:
        backend_support.STORE = None
        cluster.stop()


@pytest.fixture
def fresh_db(store, tmp_path):
    """A ref to a new, migrated, empty database (for tests that open it or pass it to the CLI)."""
    ref = store.empty("fresh", tmp_path)
    yield ref
    store.drop(ref)


@pytest.fixture
def new_db(store, tmp_path):
    """A ref where no database exists yet: for ``open_database(ref, create=True)`` and ``demine init``."""
    ref = store.new("new", tmp_path)
    yield ref
    store.drop(ref)


@pytest.fixture
def clone_db(store, tmp_path):
    """A function making private, writable copies of template databases (dropped after the test)."""
    made = []

    def clone(template, hint: str = "copy"):
        folder = tmp_path / f"{hint}-{len(made)}"
        folder.mkdir()
        ref = store.clone(template, hint, folder)
        made.append(ref)
        return ref

    yield clone
    for ref in made:
        store.drop(ref)


@pytest.fixture
def empty_db(store, tmp_path):
    """A new, migrated, empty database (GeoPackage core + register tables on SQLite)."""
    ref = store.empty("empty", tmp_path)
    engine = open_database(ref)
    yield engine
    engine.dispose()
    store.drop(ref)


@pytest.fixture(scope="session")
def demo(store):
    """Build the small demo programme once per session (per xdist worker).

    ``template`` is never opened again after the build (clone it to write); ``path`` is the
    database ``demo_db`` reads (a file path on SQLite, a URL on PostgreSQL); ``counts`` is what
    ``build_programme`` reported.
    """
    template = store.new("demo_template")
    engine = open_database(template, create=True)
    with engine.begin() as conn:
        counts = build_programme(conn, hazards=DEMO_HAZARDS, seed=DEMO_SEED, as_of=DEMO_AS_OF)
    # Closing the last connection checkpoints the write-ahead log into the main file.
    engine.dispose()
    path = store.clone(template, "demo")
    return SimpleNamespace(template=template, path=path, counts=counts, as_of=DEMO_AS_OF, backend=BACKEND)


@pytest.fixture(scope="session")
def demo_db(demo):
    """An engine on the session's demo programme. Read only: use ``demo_copy`` to write."""
    engine = open_database(demo.path)
    yield engine
    engine.dispose()


@pytest.fixture
def demo_copy(demo, store, tmp_path):
    """A private, writable copy of the demo programme."""
    ref = store.clone(demo.template, "demo_copy", tmp_path)
    engine = open_database(ref)
    yield engine
    engine.dispose()
    store.drop(ref)


@pytest.fixture
def table_counts():
    """A function giving the row counts of every table a register write could touch."""

    def counts(engine):
        tables = [
            schema.organisation,
            schema.team,
            schema.accreditation,
            schema.hazard,
            schema.hazard_remaining,
            schema.hazard_area_event,
            schema.hazard_beneficiary,
        ]
        if engine.dialect.name == "sqlite":  # the GeoPackage R*Tree exists on SQLite only
            tables.append(schema.hazard_rtree)
        with engine.connect() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}

    return counts


@pytest.fixture(scope="session")
def ogrinfo() -> str:
    """GDAL's ``ogrinfo``: installed from Debian's gdal-bin when missing; CI (root) fails without it."""
    if shutil.which("ogrinfo") is None:
        # One installer at a time: the test workers would otherwise race for dpkg's lock.
        with open("/tmp/demine-gdal-install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            install = subprocess.run(
                "command -v ogrinfo || (apt-get update -qq && apt-get install -y -qq gdal-bin)",
                shell=True,
                capture_output=True,
                text=True,
            )
        if shutil.which("ogrinfo") is None:
            problem = f"gdal-bin could not be installed: {install.stderr[-500:]}"
            if os.environ.get("CI") or os.geteuid() == 0:
                pytest.fail(problem)  # CI (root, Debian's registry) must run what GDAL reads
            pytest.skip(problem + " (install gdal-bin to run these tests)")
    return shutil.which("ogrinfo")
