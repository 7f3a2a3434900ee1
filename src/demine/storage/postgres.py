"""The PostgreSQL side of the store: connection settings, the write lock, and id sequences.

demine's register code was written for SQLite, where ``BEGIN IMMEDIATE`` makes every write
transaction exclusive: a read-check-write (an optimistic version check, the land-release
identity, "the new ids are those above the previous maximum") cannot interleave with another
writer. On PostgreSQL the same guarantee comes from a transaction-level advisory lock taken
when a write-engine transaction begins, so both stores run the same code with the same
semantics: writers queue, readers (the server's read engine) never wait, there is no lost
update and no lock-order deadlock (there is one lock). A writer that waits longer than
``lock_timeout`` gets a clear error instead of hanging.
"""

from __future__ import annotations

import os
import re
from typing import Any

from sqlalchemy import Connection, Engine, event, text

from demine.domain.errors import DemineError, StoreBusy

# Key of the advisory lock every write transaction holds (advisory locks are per database).
WRITE_LOCK_KEY = 0x64656D696E65  # "demine"
# How long a statement waits for a lock before it gives up with StoreBusy (like SQLite's 30 s
# busy timeout, a little longer: a national register's big imports take a while).
DEFAULT_LOCK_TIMEOUT = "60s"

# SQLSTATEs of "someone else holds what we need": lock timeout, deadlock, serialization failure.
_BUSY_STATES = {"55P03": "waited too long for a lock", "40P01": "deadlock", "40001": "serialization failure"}


def lock_timeout() -> str:
    """``DEMINE_PG_LOCK_TIMEOUT`` (a PostgreSQL interval such as ``60s``) or the default."""
    value = os.environ.get("DEMINE_PG_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)
    if not re.fullmatch(r"\d+(ms|s|min)?", value):
        raise DemineError(f"DEMINE_PG_LOCK_TIMEOUT must be like 60s, 500ms or 2min, not {value!r}")
    return value


def _on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Timestamps are compared and written in UTC whatever the server's default zone is.
    with dbapi_conn.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'UTC'")
        cursor.execute(f"SET lock_timeout = '{lock_timeout()}'")
    dbapi_conn.commit()


class OutOfRange(DemineError):
    """A number does not fit the column (PostgreSQL integers are 32-bit; SQLite's are 64-bit)."""


def _busy_error(context: Any) -> None:
    state = getattr(context.original_exception, "sqlstate", None)
    if state == "22003":  # numeric_value_out_of_range: e.g. an id of 2**40 in a request
        raise OutOfRange(
            "a number is out of range for the register (whole numbers lie between "
            "-2,147,483,648 and 2,147,483,647); nothing was written"
        ) from context.original_exception
    if state in _BUSY_STATES:
        raise StoreBusy(
            f"the database is busy ({_BUSY_STATES[state]}): another writer held it too long; "
            "nothing was written, try again"
        ) from context.original_exception


def _take_write_lock(conn: Connection) -> None:
    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")


def configure_engine(engine: Engine, writer: bool = True) -> None:
    """Session settings on every connection; the write lock at every transaction when ``writer``."""
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "handle_error", _busy_error)
    if writer:
        event.listen(engine, "begin", _take_write_lock)


def serial_tables(conn: Connection) -> list[str]:
    """Tables of the public schema whose ``id`` is fed by a sequence."""
    return list(
        conn.execute(
            text(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND column_name = 'id' AND column_default LIKE 'nextval(%' ORDER BY table_name"
            )
        ).scalars()
    )


def sync_sequences(conn: Connection) -> None:
    """Move each id sequence past the highest id in its table (after rows were written with ids).

    A sequence never moves back: an id a deleted record had is never handed out again.
    """
    for table in serial_tables(conn):
        seq = _sequence(conn, table)
        conn.execute(
            text(
                f"SELECT setval('{seq}', m, true) "
                f'FROM (SELECT COALESCE(MAX(id), 0) AS m FROM "{table}") AS x, '
                f"{seq} AS s WHERE m > 0 AND (NOT s.is_called OR m > s.last_value)"
            )
        )


def _sequence(conn: Connection, table: str) -> str:
    return conn.execute(text(f"SELECT pg_get_serial_sequence('{table}', 'id')")).scalar_one()


def reserve_ids(conn: Connection, table: str, count: int) -> list[int]:
    """``count`` new ids for ``table`` taken from its sequence, in increasing order."""
    if count <= 0:
        return []
    return list(
        conn.execute(
            text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"),
            {"n": count},
        ).scalars()
    )
