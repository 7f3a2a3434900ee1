"""Encoded vector tiles kept in memory, keyed by tile and by the version of the register.

A tile is rendered once per version of the register and then served from memory. The version
changes with every committed write to the database, whoever makes it: this server, another
worker process, the command line, QGIS editing the GeoPackage. So after any edit no request
is ever answered with a tile rendered before it; a change of users or tokens invalidates the
tiles too (needless, but it keeps the rule simple and safe).

* SQLite: ``PRAGMA data_version`` on a connection of the cache's own, which never writes, so
  its value changes whenever anyone commits. A change bumps a counter, the *generation*, that
  keys the tiles. The request's read snapshot starts before the check and the generation is
  read before the snapshot starts; a tile is kept only when both readings agree, so a tile
  kept under a generation was read from a snapshot holding every commit that generation
  stands for (a commit bumps the generation at the first check after it).
* PostgreSQL: the transaction snapshot (``pg_current_snapshot()``), which changes whenever a
  transaction that wrote anything ends; the tile is read by a later statement, so from a
  snapshot at least as new.

Memory is bounded: past ``DEMINE_TILE_CACHE_MB`` (64 MiB per process by default; 0 turns the
cache off) the least recently used tiles are dropped. Tiles are the same for every user (the
tile route filters by nothing but the tile), so the key holds no user; a per-user filter
would have to join the key.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from demine.storage.database import busy_timeout_ms

log = logging.getLogger(__name__)

DEFAULT_MB = 64
ENTRY_OVERHEAD = 256  # bytes of key, headers and bookkeeping per tile, roughly


@dataclass(frozen=True)
class Tile:
    """A rendered tile: its body (None for an empty tile), the cap flag and the ETag."""

    data: bytes | None
    truncated: bool
    etag: str | None

    @property
    def nbytes(self) -> int:
        return len(self.data or b"") + ENTRY_OVERHEAD


class LruBytes:
    """A thread-safe least-recently-used map bounded by the bytes of its values."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._items: OrderedDict[Hashable, Tile] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> Tile | None:
        with self._lock:
            tile = self._items.get(key)
            if tile is not None:
                self._items.move_to_end(key)
            return tile

    def put(self, key: Hashable, tile: Tile) -> None:
        if tile.nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.nbytes -= old.nbytes
            self._items[key] = tile
            self.nbytes += tile.nbytes
            while self.nbytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.nbytes -= dropped.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.nbytes = 0


class TileCache:
    """The tiles of one server process and the means to know the register's version."""

    def __init__(self, read_engine: Engine, max_bytes: int) -> None:
        self.tiles = LruBytes(max_bytes)
        self.enabled = max_bytes > 0
        self._generation = 0
        self._seen: int | None = None
        self._lock = threading.Lock()
        self._watcher: sqlite3.Connection | None = None
        self._postgres = read_engine.dialect.name == "postgresql"
        path = read_engine.url.database
        if not self._postgres and self.enabled:
            if read_engine.dialect.name != "sqlite" or not path or path == ":memory:":
                self.enabled = False
            else:
                # Its own connection, outside the pool: it must never write, so every change it
                # sees in data_version is someone's commit.
                self._watcher = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                self._watcher.execute("PRAGMA query_only = ON")
                self._watcher.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")

    def version(self, conn: Connection) -> tuple[Hashable, bool]:
        """The register's version as ``conn``'s read snapshot sees it, and whether a tile read
        now may be kept under it. Call it first in the read transaction: it starts the snapshot.
        """
        if not self.enabled:
            conn.exec_driver_sql("SELECT 1")
            return None, False
        if self._postgres:
            return conn.exec_driver_sql("SELECT pg_current_snapshot()::text").scalar_one(), True
        before = self._generation
        conn.exec_driver_sql("PRAGMA data_version")  # starts conn's read snapshot
        now = self._check()
        return now, before == now

    def current(self) -> int | None:
        """The register's generation now, without a read transaction (SQLite; None elsewhere).

        Anything kept under this generation (:meth:`version` said it may be) is what a read
        transaction starting now would read: no commit has happened since.
        """
        if not self.enabled or self._postgres:
            return None
        return self._check()

    def _check(self) -> int:
        with self._lock:
            assert self._watcher is not None
            seen = self._watcher.execute("PRAGMA data_version").fetchone()[0]
            if seen != self._seen:
                self._seen = seen
                self._generation += 1
                self.tiles.clear()  # no later request can ask for an older generation
            return self._generation

    def get(self, key: Hashable) -> Tile | None:
        return self.tiles.get(key) if self.enabled else None

    def put(self, key: Hashable, tile: Tile) -> None:
        if self.enabled:
            self.tiles.put(key, tile)

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None


_made = threading.Lock()


def _budget_mb() -> float:
    raw = os.environ.get("DEMINE_TILE_CACHE_MB", "").strip()
    if not raw:
        return DEFAULT_MB
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if not mb >= 0:  # also NaN
        log.warning("DEMINE_TILE_CACHE_MB=%r is not a number of MiB >= 0; using %d", raw, DEFAULT_MB)
        return DEFAULT_MB
    return mb


def of(app: Any, read_engine: Engine) -> TileCache:
    """The application's tile cache, made on first use (one per server process)."""
    cache = getattr(app.state, "tile_cache", None)
    if cache is None:
        with _made:
            cache = getattr(app.state, "tile_cache", None)
            if cache is None:
                cache = TileCache(read_engine, int(_budget_mb() * 1024 * 1024))
                app.state.tile_cache = cache
    return cache
