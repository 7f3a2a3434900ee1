"""Opening a demine database: URL resolution, connection settings and migrations.

``--db PATH`` or the ``DEMINE_DB`` environment variable name the database: a file path
(SQLite/GeoPackage) or a SQLAlchemy URL. Every SQLite connection gets foreign keys on,
the write-ahead log with full fsync (an acknowledged write survives a crash) and the
``ST_*`` functions the GeoPackage R*Tree triggers call. A ``postgresql+psycopg://`` URL selects
PostgreSQL/PostGIS (see :mod:`demine.storage.postgres`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, OperationalError, SQLAlchemyError

from demine.domain.errors import DemineError, NotFoundError, StoreBusy
from demine.storage import geopackage, postgres
from demine.storage.geopackage import register_sql_functions

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_DB = "demine.gpkg"
MIGRATIONS = Path(__file__).parent / "migrations"


def resolve_url(db: str | os.PathLike[str] | None = None) -> str:
    """The SQLAlchemy URL for ``db``, ``$DEMINE_DB`` or ``demine.gpkg`` in the working directory."""
    value = str(db) if db is not None else os.environ.get("DEMINE_DB", DEFAULT_DB)
    for prefix in ("postgresql://", "postgres://"):
        if value.startswith(prefix):  # libpq-style URL: psycopg 3 is the driver demine ships with
            return "postgresql+psycopg://" + value.removeprefix(prefix)
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def busy_timeout_ms() -> int:
    """How long a SQLite writer waits for another's lock: ``DEMINE_SQLITE_BUSY_MS`` or 30 s."""
    value = os.environ.get("DEMINE_SQLITE_BUSY_MS", "30000")
    if not value.isdigit():
        raise DemineError(f"DEMINE_SQLITE_BUSY_MS must be a whole number of milliseconds, not {value!r}")
    return int(value)


def _on_sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    register_sql_functions(dbapi_conn)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.close()


def sqlite_busy_error(context: Any) -> None:
    """``handle_error`` listener: SQLite's "database is locked" after the busy timeout is
    :class:`StoreBusy`, as PostgreSQL's lock timeout is (the server answers 503, not 500)."""
    text = str(context.original_exception)
    if "database is locked" in text or "database table is locked" in text:
        raise StoreBusy(
            f"the database is busy: another writer (an import?) held it for over "
            f"{busy_timeout_ms() / 1000:g} seconds; nothing was written, try again"
        ) from context.original_exception


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock at BEGIN so two writers queue instead of failing mid-transaction.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def open_engine(db: str | os.PathLike[str] | None = None) -> Engine:
    """An engine for the database (not created or migrated: see :func:`migrate`)."""
    url = resolve_url(db)
    backend = make_url(url).get_backend_name()
    engine = create_engine(url, pool_pre_ping=True) if backend == "postgresql" else create_engine(url)
    if backend == "postgresql":
        postgres.configure_engine(engine)
    if backend == "sqlite":
        event.listen(engine, "connect", _on_sqlite_connect)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "handle_error", sqlite_busy_error)
    return engine


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration bound to ``engine`` (no alembic.ini needed)."""
    # Alembic (with Mako and Pygments) and the migration modules are loaded only to migrate or
    # to explain a revision mismatch: opening a database at head does not need them.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)
    if engine.dialect.name == "sqlite":
        # GDAL identifies a GeoPackage by the header of the main file; move the new
        # application_id out of the write-ahead log so other programs see it at once.
        raw = engine.raw_connection()  # outside any transaction: a checkpoint cannot run in one
        try:
            cursor = raw.cursor()
            # Files made by an earlier demine say GeoPackage 1.4, which GDAL 3.6 warns about.
            if cursor.execute("PRAGMA application_id").fetchone()[0] == geopackage.APPLICATION_ID:
                cursor.execute(f"PRAGMA user_version = {geopackage.USER_VERSION}")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest schema revision this version of demine knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(create_engine("sqlite://"))).get_current_head()


def script_heads() -> set[str] | None:
    """The head revision(s) of the migration scripts, read from their text without importing
    them (None when a script does not declare ``revision`` and ``down_revision`` plainly)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        if path.name.startswith("_"):
            continue
        source = path.read_text(encoding="utf-8")
        revision = re.search(r"^revision\b[^=\n]*=\s*[\"']([^\"']+)[\"']", source, re.MULTILINE)
        down = re.search(r"^down_revision\b[^=\n]*=(.*)$", source, re.MULTILINE)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1)))
    return revisions - parents


def _at_head(engine: Engine) -> bool:
    """Whether the database is at the newest revision: the stored revision against the scripts'
    text first (cheap), Alembic's own answer whenever that is not a plain match."""
    heads = script_heads()
    if heads and len(heads) == 1:
        try:
            with engine.connect() as conn:
                stored = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
        except SQLAlchemyError:
            stored = set()
        if stored == heads:
            return True
    return current_revision(engine) == head_revision()


def open_database(db: str | os.PathLike[str] | None = None, create: bool = False) -> Engine:
    """Open a database, creating and migrating it when ``create``; refuse an unmigrated one."""
    url = resolve_url(db)
    url_obj = make_url(url)
    is_file = url_obj.get_backend_name() == "sqlite" and url_obj.database
    if is_file and not create and not Path(url_obj.database).exists():
        raise NotFoundError(f"no database at {url_obj.database}; run `demine init` or `demine demo` first")
    engine = open_engine(url)
    if url_obj.get_backend_name() == "postgresql":
        try:
            engine.connect().close()
        except OperationalError as exc:
            engine.dispose()
            reason = " ".join(line.strip() for line in str(exc.orig or exc).splitlines() if line.strip())
            shown = url_obj.render_as_string(hide_password=True)
            raise DemineError(f"cannot open the PostgreSQL database {shown}: {reason}") from exc
    if is_file:
        try:
            engine.connect().close()
        except DatabaseError as exc:
            engine.dispose()
            reason = str(exc.orig or exc).strip()
            raise DemineError(
                f"{url_obj.database} is not a SQLite/GeoPackage database ({reason}); "
                "give --db the register's .gpkg file, or a PostgreSQL URL"
            ) from exc
    if create:
        migrate(engine)
    elif not _at_head(engine):
        raise DemineError(
            f"database {url_obj.database or url} is at schema revision "
            f"{current_revision(engine)!r}, this demine expects {head_revision()!r}; "
            "run `demine init` to migrate it"
        )
    return engine
