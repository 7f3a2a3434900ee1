"""What every request shares: the database engines, the settings and the login rate limiter.

Writes go through demine's own engine (``BEGIN IMMEDIATE`` on SQLite, the write advisory lock on
PostgreSQL: writers queue for the lock and read-check-write sequences such as version checks
are atomic). Reads go through a second engine whose transactions begin ``DEFERRED`` and whose
connections are ``query_only``: in WAL mode readers then never wait for a writer, nor for each
other (on PostgreSQL, MVCC snapshots give the same).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from demine.accounts.ratelimit import LoginRateLimiter
from demine.storage import postgres
from demine.storage.database import busy_timeout_ms, open_database, resolve_url, sqlite_busy_error
from demine.storage.geopackage import register_sql_functions


@dataclass(frozen=True)
class Settings:
    """Server settings (``demine serve`` options)."""

    db: str
    secure_cookies: bool = False  # set behind HTTPS: cookies then only travel encrypted
    max_page: int = 10_000
    tile_feature_cap: int = 50_000
    max_body_bytes: int = 16 * 1024 * 1024  # see demine.api.limits


def _on_read_connect(dbapi_conn: Any, _record: Any) -> None:
    register_sql_functions(dbapi_conn)
    dbapi_conn.isolation_level = None  # SQLAlchemy's begin event decides
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
    cursor.execute("PRAGMA query_only = ON")
    cursor.execute("PRAGMA cache_size = -65536")  # 64 MiB per connection
    cursor.close()


def open_read_engine(db: str) -> Engine:
    """A read-only engine on the same database (SQLite: deferred transactions, query_only)."""
    url = resolve_url(db)
    if make_url(url).get_backend_name() == "postgresql":
        # Readers take no write lock: each request reads a consistent snapshot, never waits.
        engine = create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=True)
        postgres.configure_engine(engine, writer=False)
        return engine
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url)
    engine = create_engine(url, pool_size=16, max_overflow=16)
    event.listen(engine, "connect", _on_read_connect)
    event.listen(engine, "handle_error", sqlite_busy_error)
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
    return engine


@dataclass
class Context:
    """Engines, settings and in-process state of one server process."""

    settings: Settings
    engine: Engine
    read_engine: Engine
    limiter: LoginRateLimiter = field(default_factory=LoginRateLimiter)

    @classmethod
    def open(cls, settings: Settings) -> Context:
        engine = open_database(settings.db)  # refuses an unmigrated database
        return cls(settings=settings, engine=engine, read_engine=open_read_engine(settings.db))

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot)."""
        with self.read_engine.connect() as conn:
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends without an exception."""
        with self.engine.begin() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()


def settings_from_env() -> Settings:
    """Settings for worker processes started by uvicorn (``demine serve --workers N``)."""
    return Settings(
        db=os.environ.get("DEMINE_DB", "demine.gpkg"),
        secure_cookies=os.environ.get("DEMINE_SECURE_COOKIES", "0") == "1",
    )
