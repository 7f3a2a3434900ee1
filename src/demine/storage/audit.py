"""The audit log: one row per change of a record, with its state before and after.

States are JSON objects of the record's columns (geometries as WKT, dates as ISO strings),
so any version can be read back and restored.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import shapely
from sqlalchemy import Connection, insert, select

from demine.storage import schema


def _plain(value: Any) -> Any:
    if isinstance(value, shapely.Geometry):
        return value.wkt
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def snapshot(row: Any) -> dict[str, Any]:
    """A JSON-ready copy of a record's columns."""
    mapping = row._mapping if hasattr(row, "_mapping") else row
    return {key: _plain(value) for key, value in mapping.items()}


def record_change(
    conn: Connection,
    table: str,
    record_id: int,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str | None = None,
    changed_by: str = "system",
) -> None:
    """Append one change to the audit log, in the caller's transaction."""
    conn.execute(
        insert(schema.audit_log).values(
            table_name=table,
            record_id=record_id,
            action=action,
            changed_by=changed_by,
            before=json.dumps(before, default=_plain) if before is not None else None,
            after=json.dumps(after, default=_plain) if after is not None else None,
            reason=reason,
        )
    )


def history(conn: Connection, table: str, record_id: int) -> list[dict[str, Any]]:
    """The changes of one record, oldest first, with states parsed back from JSON."""
    a = schema.audit_log
    rows = conn.execute(select(a).where(a.c.table_name == table, a.c.record_id == record_id).order_by(a.c.id))
    out = []
    for row in rows:
        item = dict(row._mapping)
        item["before"] = json.loads(item["before"]) if item["before"] else None
        item["after"] = json.loads(item["after"]) if item["after"] else None
        out.append(item)
    return out
