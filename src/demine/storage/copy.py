"""Moving a whole programme between stores (SQLite/GeoPackage <-> PostgreSQL/PostGIS), checked.

``copy_database`` migrates the target to the current schema, refuses it unless it is empty,
then copies every table of the register in foreign-key order with the same ids, in one
transaction on the target: a failed copy leaves the target as it was. The id counters move
with the rows (SQLite's AUTOINCREMENT counter, PostgreSQL's sequences), so an id a deleted
record had is not handed out again on the new store.

``verify_copy`` then reads both stores side by side, table by table in id order, and compares
every column of every row: counts, ids, attributes, areas, audit history, and geometries
(exactly equal coordinates). Timestamps are compared to the second when one side is SQLite,
whose GeoPackage DATETIME keeps milliseconds (older files whole seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely
from sqlalchemy import Connection, Engine, Table, func, insert, select, text

from demine.domain.errors import DemineError
from demine.storage import postgres, schema
from demine.storage.database import open_database, resolve_url
from demine.storage.geopackage import refresh_extents
from demine.storage.types import Geometry

BATCH = 2_000

# (table, rows done, rows in table)
Progress = Callable[[str, int, int], None]


@dataclass
class CopyReport:
    """What a copy moved and how the check went."""

    source: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)
    geometries: int = 0
    seconds: float = 0.0
    verified: bool = False
    differences: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "rows": self.rows,
            "total_rows": sum(self.rows.values()),
            "geometries": self.geometries,
            "seconds": round(self.seconds, 2),
            "verified": self.verified,
            "differences": self.differences,
        }


def tables() -> list[Table]:
    """The register's tables, parents before children."""
    return list(schema.metadata.sorted_tables)


def _primary_key(table: Table) -> list[Any]:
    return list(table.primary_key.columns)


def _rows(conn: Connection, table: Table) -> Iterator[dict[str, Any]]:
    result = conn.execution_options(yield_per=BATCH).execute(select(table).order_by(*_primary_key(table)))
    for row in result:
        yield dict(row._mapping)


def _count(conn: Connection, table: Table) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def id_counters(conn: Connection) -> dict[str, int]:
    """The last id each table's counter handed out (may exceed the highest id still present)."""
    if conn.dialect.name == "sqlite":
        # The register's tables only: not QGIS's layer_styles, which a copy does not carry.
        rows = conn.exec_driver_sql("SELECT name, seq FROM sqlite_sequence").all()
        return {name: seq for name, seq in rows if name in schema.metadata.tables}
    out = {}
    for name in postgres.serial_tables(conn):
        seq = conn.execute(text(f"SELECT pg_get_serial_sequence('{name}', 'id')")).scalar_one()
        last, called = conn.execute(text(f"SELECT last_value, is_called FROM {seq}")).one()
        if called:
            out[name] = int(last)
    return out


def _set_id_counters(conn: Connection, counters: dict[str, int]) -> None:
    if conn.dialect.name == "sqlite":
        for name, seq in counters.items():
            # Inserting explicit ids already raised the counter to the highest id; never lower it.
            conn.exec_driver_sql(
                "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?", (int(seq), name)
            )
            conn.exec_driver_sql(
                "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? "
                "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)",
                (name, int(seq), name),
            )
        return
    postgres.sync_sequences(conn)
    for name, seq in counters.items():
        if name in postgres.serial_tables(conn):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"GREATEST(:v, (SELECT last_value FROM {_seq_name(conn, name)})), true)"
                ),
                {"v": int(seq)},
            )


def _seq_name(conn: Connection, table: str) -> str:
    return conn.execute(text(f"SELECT pg_get_serial_sequence('{table}', 'id')")).scalar_one()


def _require_empty(conn: Connection, where: str) -> None:
    # Migration 0001 seeds the default code lists: those may be replaced; anything else may not.
    busy = [t.name for t in tables() if t.name != "code_list" and _count(conn, t)]
    if busy:
        raise DemineError(
            f"{where} already holds records ({', '.join(busy[:5])}{' ...' if len(busy) > 5 else ''}); "
            "copy into a new, empty database"
        )


def _describe(engine: Engine) -> str:
    url = engine.url
    return url.database if url.get_backend_name() == "sqlite" else url.render_as_string(hide_password=True)


def copy_database(source: str, target: str, progress: Progress | None = None) -> CopyReport:
    """Copy the whole programme at ``source`` into the empty database ``target``, then verify it.

    Raises :class:`DemineError` when the source is missing or not migrated, the target is not
    empty, or the check after the copy finds a difference (the copy is then kept for inspection).
    """
    started = time.perf_counter()
    if resolve_url(source) == resolve_url(target):
        raise DemineError("source and target are the same database")
    src = open_database(source)
    dst = open_database(target, create=True)
    report = CopyReport(source=_describe(src), target=_describe(dst))
    try:
        with src.connect() as sconn, dst.begin() as tconn:
            _require_empty(tconn, report.target)
            tconn.execute(schema.code_list.delete())
            for table in tables():
                total = _count(sconn, table)
                report.rows[table.name] = total
                if progress:
                    progress(table.name, 0, total)
                geometry_columns = [c.name for c in table.columns if isinstance(c.type, Geometry)]
                done, batch = 0, []
                for row in _rows(sconn, table):
                    batch.append(row)
                    if geometry_columns:
                        report.geometries += sum(row[c] is not None for c in geometry_columns)
                    if len(batch) >= BATCH:
                        tconn.execute(insert(table), batch)
                        done += len(batch)
                        batch = []
                        if progress:
                            progress(table.name, done, total)
                if batch:
                    tconn.execute(insert(table), batch)
                    done += len(batch)
                if progress:
                    progress(table.name, done, total)
            _set_id_counters(tconn, id_counters(sconn))
            refresh_extents(tconn)
        report.differences = verify_copy(src, dst, progress=progress)
        report.verified = not report.differences
        report.seconds = time.perf_counter() - started
    finally:
        src.dispose()
        dst.dispose()
    if report.differences:
        shown = "; ".join(report.differences[:5])
        raise DemineError(f"the copy differs from the source in {len(report.differences)} place(s): {shown}")
    return report


def _same(a: Any, b: Any, whole_seconds: bool) -> bool:
    if isinstance(a, shapely.Geometry) or isinstance(b, shapely.Geometry):
        if a is None or b is None:
            return a is b
        return a.geom_type == b.geom_type and bool(shapely.equals_exact(a, b, tolerance=0.0))
    if isinstance(a, datetime) and isinstance(b, datetime) and whole_seconds:
        return a.replace(microsecond=0) == b.replace(microsecond=0)
    return a == b


def verify_copy(
    source: Engine, target: Engine, progress: Progress | None = None, whole_seconds: bool | None = None
) -> list[str]:
    """Every difference between two databases' registers (empty when they hold the same records).

    ``whole_seconds``: compare timestamps to the second (default: when either side is SQLite,
    whose GeoPackage DATETIME has no microseconds; pass True for a copy that went through one).
    """
    if whole_seconds is None:
        whole_seconds = "sqlite" in (source.dialect.name, target.dialect.name)
    differences: list[str] = []
    with source.connect() as a, target.connect() as b:
        for table in tables():
            na, nb = _count(a, table), _count(b, table)
            if na != nb:
                differences.append(f"{table.name}: {na} rows in the source, {nb} in the copy")
                continue
            if progress:
                progress(f"checking {table.name}", 0, na)
            for k, (ra, rb) in enumerate(zip(_rows(a, table), _rows(b, table), strict=True)):
                for column, value in ra.items():
                    if not _same(value, rb[column], whole_seconds):
                        differences.append(
                            f"{table.name} id {ra.get('id')}: {column} is {value!r:.60} in the source, "
                            f"{rb[column]!r:.60} in the copy"
                        )
                        break
                if len(differences) > 100:
                    return differences
                if progress and k % BATCH == 0:
                    progress(f"checking {table.name}", k, na)
            if progress:
                progress(f"checking {table.name}", na, na)
        counters_b = id_counters(b)
        behind = {t: v for t, v in id_counters(a).items() if counters_b.get(t, 0) < v}
        if behind:
            differences.append(f"id counters behind the source's: {behind}")
    return differences
