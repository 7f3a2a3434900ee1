"""Backups of a live database, on either store, without stopping writers.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies the pages of a consistent
snapshot into a new file, which is itself a complete GeoPackage. PostgreSQL: ``pg_dump -Fc``
(custom format, compressed; restore with ``pg_restore -d NEWDB FILE``), which also reads one
consistent snapshot.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

from demine.domain.errors import DemineError
from demine.storage.database import open_database, resolve_url

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


def pg_tool(name: str) -> str:
    """Path of a PostgreSQL client program (``pg_dump``, ``pg_restore``)."""
    found = shutil.which(name)
    if found:
        return found
    for folder in PG_BIN_DIRS:
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    raise DemineError(
        f"{name} not found: install the PostgreSQL client (apt-get install postgresql-client-15)"
    )


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL as libpq understands it (no ``+psycopg`` driver suffix)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def backup_database(
    db: str | os.PathLike[str] | None,
    out: Path,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, object]:
    """Write a backup of ``db`` to ``out``; returns what was written."""
    url = resolve_url(db)
    out = Path(out)
    if out.exists() and not overwrite:
        raise DemineError(f"{out} exists; pass --overwrite to replace it")
    if not out.parent.exists():
        raise DemineError(f"no folder {out.parent}")
    open_database(url).dispose()  # refuses a missing or unmigrated database with a clear message
    backend = make_url(url).get_backend_name()
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    if backend == "sqlite":
        source = sqlite3.connect(make_url(url).database)
        target = sqlite3.connect(partial)
        try:
            with target:
                source.backup(
                    target,
                    pages=1024,
                    progress=(lambda _s, left, total: progress(total - left, total)) if progress else None,
                )
        finally:
            target.close()
            source.close()
        method = "sqlite online backup"
    elif backend == "postgresql":
        done = subprocess.run(
            [pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}", libpq_url(url)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            raise DemineError(f"pg_dump failed: {done.stderr.strip()}")
        method = "pg_dump -Fc"
    else:
        raise DemineError(f"cannot back up a {backend} database")
    # The backup appears under its name only once complete: a crash never leaves a half file there.
    partial.replace(out)
    return {"backup": str(out), "bytes": out.stat().st_size, "method": method}


def restore_postgres(dump: Path, url: str) -> None:
    """Restore a ``pg_dump -Fc`` file into the (empty) PostgreSQL database at ``url``."""
    done = subprocess.run(
        [pg_tool("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={libpq_url(url)}", str(dump)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise DemineError(f"pg_restore failed: {done.stderr.strip()}")
