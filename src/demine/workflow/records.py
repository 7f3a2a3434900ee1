"""Changing, deleting and restoring register records: optimistic concurrency and audit.

Every mutable record carries a ``version``. A change names the version the caller read;
the ``UPDATE ... WHERE version = :expected`` and its audit row commit in one transaction, so
a stale writer gets :class:`~demine.workflow.errors.VersionConflict` with the current record
and never overwrites silently. Restoring an earlier version is itself an audited change.

What may change is per table (:data:`RULES`): identifiers and derived or accounting fields
are locked. Land release products in particular are accounting records: their hazard,
method, date, polygon and areas never change in place, because every later product's
released area and the hazard's remaining polygon were computed from them. Only their note
and clearance depth may be corrected; a wrong product stays and is answered by the register's
own means (a product's ``note``, the hazard's status), never silently rewritten. For the same
reason hazards and products are never deleted, and no record with dependent rows is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import shapely
from sqlalchemy import Boolean, Connection, Date, Double, Integer, Table, insert, select, update
from sqlalchemy import delete as sql_delete
from sqlalchemy.exc import IntegrityError

from demine.domain.errors import NotFoundError, Problem, ValidationError
from demine.domain.landrelease import OPEN_STATUSES
from demine.domain.rules import check_not_future
from demine.geometry.polygons import point_problems
from demine.storage import schema
from demine.storage.audit import record_change, snapshot
from demine.storage.codelists import load_code_lists
from demine.storage.types import Geometry, utcnow
from demine.workflow.errors import InvalidChange, VersionConflict
from demine.workflow.kinds import integrity_problem

# organisation_code follows organisation_id by a database trigger (migration 0006): set the id.
SYSTEM_COLUMNS = frozenset({"id", "created_at", "updated_at", "version", "organisation_code"})


@dataclass(frozen=True)
class Rules:
    """What may change in one table and how a change is checked."""

    locked: frozenset[str] = frozenset()
    locked_reason: str = "is an identifier or is computed by demine"
    code_lists: dict[str, str] = field(default_factory=dict)
    multi_code_lists: dict[str, str] = field(default_factory=dict)
    not_future: tuple[str, ...] = ()
    deletable: bool = True
    not_deletable_reason: str = ""
    check: Callable[[dict[str, Any], dict[str, Any]], list[Problem]] | None = None  # on updates
    # On creates and updates alike, with the database at hand: (conn, before, after, changed).
    guard: Callable[[Connection, dict[str, Any], dict[str, Any], set[str]], list[Problem]] | None = None


def _hazard_status(before: dict[str, Any], after: dict[str, Any]) -> list[Problem]:
    record = f"hazard {after['code']}"
    if after["status"] == before["status"]:
        return []
    if after["status"] == "closed" and after["remaining_area_m2"] >= 1.0:
        return [Problem(record, "status", "a hazard closes when its land is released, not by editing")]
    if before["status"] == "closed" and after["remaining_area_m2"] < 1.0:
        return [Problem(record, "status", "nothing remains of this hazard; it cannot be reopened by editing")]
    if after["status"] in OPEN_STATUSES and after["remaining_area_m2"] < 1.0:
        return [Problem(record, "status", "nothing remains of this hazard to release")]
    return []


def _last_active_value(
    conn: Connection, _before: dict[str, Any], after: dict[str, Any], changed: set[str]
) -> list[Problem]:
    # With no active value left, every import and submission naming the list is refused.
    if "active" not in changed or after.get("active"):
        return []
    c = schema.code_list.c
    others = conn.execute(
        select(c.code).where(c.list_name == after["list_name"], c.active.is_(True), c.id != after.get("id"))
    ).first()
    if others is None:
        return [
            Problem(
                f"code list {after['list_name']}",
                "active",
                f"{after['code']!r} is the last active value of {after['list_name']}: every record "
                "needing one would be refused; add or activate another value first",
            )
        ]
    return []


def _road_line(
    _conn: Connection, before: dict[str, Any], after: dict[str, Any], _changed: set[str]
) -> list[Problem]:
    if not before and after.get("geom") is None:
        return [
            Problem(
                f"road {after.get('id') or '(new)'}",
                "geometry",
                "a road needs its line: import roads from a file",
            )
        ]
    return []


_ACCOUNTING = "is land release accounting data: it changes only through release products"
RULES: dict[str, Rules] = {
    "organisation": Rules(locked=frozenset({"code"}), code_lists={"organisation_type": "organisation_type"}),
    "code_list": Rules(
        locked=frozenset({"list_name", "code"}),
        locked_reason="is referred to by records",
        guard=_last_active_value,
    ),
    "admin_area": Rules(locked=frozenset({"pcode", "area_m2", "geom"})),
    "settlement": Rules(),
    "road": Rules(locked=frozenset({"geom", "length_m"}), guard=_road_line),
    "team": Rules(locked=frozenset({"code"}), code_lists={"team_type": "team_type"}),
    "person": Rules(code_lists={"sex": "sex"}),
    "training_record": Rules(),
    "accreditation": Rules(code_lists={"activity_type": "activity_type"}),
    "hazard": Rules(
        locked=frozenset(
            {
                "code",
                "area_m2",
                "remaining_area_m2",
                "release_date",
                "geom",
                "entered_crs",
                "entered_geometry",
                "source_id",
            }
        ),
        locked_reason=_ACCOUNTING,
        code_lists={"hazard_type": "hazard_type", "status": "hazard_status", "priority": "priority"},
        multi_code_lists={"eo_categories": "eo_category", "evidence": "evidence", "blockages": "blockage"},
        not_future=("reported_on",),
        deletable=False,
        not_deletable_reason="hazards are never deleted: cancel a wrong one with a 'cancelled' "
        "release product",
        check=_hazard_status,
    ),
    "hazard_beneficiary": Rules(
        locked=frozenset({"hazard_id"}),
        code_lists={"kind": "beneficiary_kind", "sex": "sex", "age_band": "age_band"},
    ),
    "activity": Rules(
        locked=frozenset({"code"}),
        code_lists={"activity_type": "activity_type", "status": "activity_status"},
        not_future=("end_date",),
    ),
    "release_product": Rules(
        locked=frozenset(
            {
                "hazard_id",
                "activity_id",
                "method",
                "released_on",
                "area_m2",
                "released_area_m2",
                "forced",
                "entered_crs",
                "entered_geometry",
                "source_id",
                "geom",
            }
        ),
        locked_reason="is land release accounting: a product's hazard, method, date and polygon never "
        "change in place (later products were computed from them); correct its note or depth only",
        deletable=False,
        not_deletable_reason="land release products are accounting records and are never deleted",
    ),
    "progress_report": Rules(not_future=("report_date",)),
    "eo_find": Rules(
        locked=frozenset({"source_id", "release_product_id"}),
        code_lists={
            "category": "eo_category",
            "condition": "eo_condition",
            "disposal_method": "disposal_method",
        },
        not_future=("found_on",),
    ),
    "accident": Rules(
        locked=frozenset({"code", "source_id"}),
        code_lists={"accident_kind": "accident_kind", "eo_category": "eo_category"},
        not_future=("occurred_on",),
    ),
    "victim": Rules(
        locked=frozenset({"accident_id"}),
        code_lists={"sex": "sex", "age_band": "age_band", "status": "victim_status"},
    ),
    "eore_session": Rules(code_lists={"method": "eore_method"}, not_future=("held_on",)),
    "eore_participant": Rules(
        locked=frozenset({"session_id"}), code_lists={"sex": "sex", "age_band": "age_band"}
    ),
    "qa_visit": Rules(
        code_lists={"visit_type": "qa_visit_type", "result": "qa_result"}, not_future=("visited_on",)
    ),
    "qa_nonconformity": Rules(
        locked=frozenset({"visit_id"}), code_lists={"nc_type": "nc_type", "severity": "nc_severity"}
    ),
}


def table_of(name: str) -> Table:
    """The schema table called ``name``."""
    return schema.metadata.tables[name]


def editable_columns(table_name: str) -> list[str]:
    """Columns a user may set on an existing record (geometry only on point layers)."""
    rules = RULES.get(table_name)
    if rules is None:
        return []
    table = table_of(table_name)
    out = []
    for c in table.columns:
        if c.name in SYSTEM_COLUMNS or c.name in rules.locked:
            continue
        if isinstance(c.type, Geometry) and c.type.geometry_type != "POINT":
            continue
        out.append(c.name)
    return out


def current_state(conn: Connection, table_name: str, record_id: int) -> dict[str, Any]:
    """The record as a JSON-ready dict (geometry as WKT), or :class:`NotFoundError`."""
    table = table_of(table_name)
    row = conn.execute(select(table).where(table.c.id == record_id)).first()
    if row is None:
        raise NotFoundError(f"no {table_name} {record_id}")
    return snapshot(row)


def _coerce(table: Table, name: str, value: Any, record: str) -> tuple[Any, list[Problem]]:
    """A JSON value (or an audit snapshot's) as the column's Python type."""
    column = table.c[name]
    if value is None:
        if not column.nullable and column.server_default is None:
            return None, [Problem(record, name, "is required")]
        return None, []
    kind = column.type
    try:
        if isinstance(kind, Geometry):
            text = json.dumps(value) if isinstance(value, dict) else str(value)
            geom = shapely.from_geojson(text) if text.lstrip().startswith("{") else shapely.from_wkt(text)
            problems = point_problems(geom, record, name) if kind.geometry_type == "POINT" else []
            return geom, problems
        if isinstance(kind, Boolean):
            if not isinstance(value, bool):
                raise TypeError("must be true or false")
            return value, []
        if isinstance(kind, Integer):
            if isinstance(value, bool) or not isinstance(value, int) or not -(2**53) <= value <= 2**53:
                raise TypeError("must be an integer")
            return value, []
        if isinstance(kind, Double):
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                raise TypeError("must be a number")
            if abs(value) > 1e15:
                raise TypeError("is out of range")
            return float(value), []
        if isinstance(kind, Date):
            return (value if isinstance(value, date) else date.fromisoformat(str(value))), []
        if name in ("created_at", "updated_at"):
            return datetime.fromisoformat(str(value)).replace(tzinfo=None), []
        if not isinstance(value, str):
            raise TypeError("must be text")
        if "\x00" in value:  # PostgreSQL cannot store it; no one types it
            raise ValueError("must not contain NUL (\\x00) characters")
        return value, []
    except (TypeError, ValueError, shapely.errors.GEOSException) as exc:
        return None, [Problem(record, name, str(exc) or "has the wrong type")]


def _validate(
    conn: Connection,
    table_name: str,
    before: dict[str, Any],
    after: dict[str, Any],
    changed: set[str],
    today: date,
) -> list[Problem]:
    rules = RULES[table_name]
    record = f"{table_name} {after.get('code') or after.get('id') or '(new)'}"
    lists = load_code_lists(conn)
    problems: list[Problem] = []
    for column, list_name in rules.code_lists.items():
        if column in changed:
            problems += lists.check(list_name, after.get(column), record, column)
    for column, list_name in rules.multi_code_lists.items():
        if column in changed and after.get(column):
            problems += lists.check_many(list_name, str(after[column]).split(","), record, column)
    for column in rules.not_future:
        if column in changed:
            # ``after`` is a JSON-ready snapshot: its dates are ISO strings, already parsed once.
            day = after.get(column)
            day = date.fromisoformat(day) if isinstance(day, str) else day
            problems += check_not_future(record, day, column, today)
    table = table_of(table_name)
    for column in changed:
        value = after.get(column)
        if (
            column in table.c
            and not table.c[column].nullable
            and isinstance(value, str)
            and not value.strip()
            and not isinstance(table.c[column].type, Geometry)
        ):
            problems.append(Problem(record, column, "must not be blank"))
    if rules.guard is not None:
        problems += rules.guard(conn, before, after, changed)
    if rules.check is not None and before:
        problems += rules.check(before, after)
    return problems


def _parse_changes(
    table: Table, changes: dict[str, Any], record: str, allowed: set[str]
) -> tuple[dict[str, Any], list[Problem]]:
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, raw in changes.items():
        if name not in table.c or name in SYSTEM_COLUMNS:
            problems.append(Problem(record, name, f"{table.name} has no field {name!r} that can be set"))
            continue
        if name not in allowed:
            continue
        value, found = _coerce(table, name, raw, record)
        problems += found
        values[name] = value
    return values, problems


def _same(a: Any, b: Any) -> bool:
    return snapshot({"v": a})["v"] == snapshot({"v": b})["v"]


def update_record(
    conn: Connection,
    table_name: str,
    record_id: int,
    expected_version: int,
    changes: dict[str, Any],
    actor: str,
    *,
    today: date | None = None,
    reason: str | None = None,
    action: str = "update",
) -> dict[str, Any]:
    """Apply ``changes`` (column → JSON value) to a record at ``expected_version``.

    Raises :class:`VersionConflict` (stale version), :class:`InvalidChange` (a locked field or
    a read-only table), :class:`ValidationError` (a bad value), :class:`NotFoundError`.
    Returns the record's new state.
    """
    rules = RULES.get(table_name)
    if rules is None:
        raise InvalidChange(f"{table_name} records cannot be changed")
    table = table_of(table_name)
    before = current_state(conn, table_name, record_id)
    if before["version"] != expected_version:
        raise VersionConflict(
            f"{table_name} {record_id} is at version {before['version']}, not {expected_version}",
            before,
            before["version"],
        )
    record = f"{table_name} {before.get('code') or record_id}"
    values, problems = _parse_changes(table, changes, record, set(table.c.keys()) - SYSTEM_COLUMNS)
    if problems:
        raise ValidationError(problems)
    editable = set(editable_columns(table_name))
    locked = sorted(
        n for n, v in values.items() if n not in editable and not _same(v, _raw(conn, table, record_id, n))
    )
    if locked:
        raise InvalidChange(f"{table_name} {', '.join(locked)} cannot be changed: {rules.locked_reason}")
    values = {
        n: v for n, v in values.items() if n in editable and not _same(v, _raw(conn, table, record_id, n))
    }
    if not values:
        return before  # nothing changes: no new version, no audit row
    after = before | snapshot(values)
    problems = _validate(conn, table_name, before, after, set(values), today or date.today())
    if problems:
        raise ValidationError(problems)
    stamp = {"updated_at": utcnow()} if "updated_at" in table.c else {}
    try:
        with conn.begin_nested():
            changed = conn.execute(
                update(table)
                .where(table.c.id == record_id, table.c.version == expected_version)
                .values(**values, **stamp, version=table.c.version + 1)
            ).rowcount
    except IntegrityError as exc:
        raise ValidationError([integrity_problem(exc, record)]) from exc
    if not changed:  # only possible on a database without BEGIN IMMEDIATE semantics
        now = current_state(conn, table_name, record_id)
        raise VersionConflict(f"{table_name} {record_id} changed meanwhile", now, now["version"])
    state = current_state(conn, table_name, record_id)
    record_change(conn, table_name, record_id, action, before, state, reason, changed_by=actor)
    return state


def _raw(conn: Connection, table: Table, record_id: int, column: str) -> Any:
    return conn.execute(select(table.c[column]).where(table.c.id == record_id)).scalar_one()


def create_record(
    conn: Connection, table_name: str, values: dict[str, Any], actor: str, *, today: date | None = None
) -> dict[str, Any]:
    """Insert a record of a table that has no dedicated register function (e.g. a victim)."""
    rules = RULES.get(table_name)
    if rules is None:
        raise InvalidChange(f"{table_name} records cannot be created here")
    table = table_of(table_name)
    record = f"new {table_name}"
    allowed = set(editable_columns(table_name)) | (rules.locked - {"geom", "area_m2", "length_m"})
    parsed, problems = _parse_changes(table, values, record, allowed)
    for c in table.columns:
        if (
            c.name not in SYSTEM_COLUMNS
            and c.name not in parsed
            and not c.nullable
            and c.server_default is None
            and c.name in allowed
        ):
            problems.append(Problem(record, c.name, "is required"))
    if problems:
        raise ValidationError(problems)
    state = snapshot(parsed)
    problems = _validate(conn, table_name, {}, state, set(parsed), today or date.today())
    if problems:
        raise ValidationError(problems)
    try:
        with conn.begin_nested():
            record_id = conn.execute(insert(table).values(**parsed)).inserted_primary_key[0]
    except IntegrityError as exc:
        raise ValidationError([integrity_problem(exc, record)]) from exc
    state = current_state(conn, table_name, record_id)
    record_change(conn, table_name, record_id, "insert", None, state, changed_by=actor)
    return state


def dependants(conn: Connection, table_name: str, record_id: int) -> dict[str, int]:
    """Rows of other tables that refer to this record, by table."""
    from sqlalchemy import func

    found = {}
    for other in schema.metadata.tables.values():
        for fk in other.foreign_keys:
            if fk.column.table.name == table_name and other.name not in ("audit_log",):
                n = conn.execute(
                    select(func.count()).select_from(other).where(fk.parent == record_id)
                ).scalar_one()
                if n:
                    found[other.name] = found.get(other.name, 0) + n
    return found


def delete_record(
    conn: Connection,
    table_name: str,
    record_id: int,
    expected_version: int,
    actor: str,
    reason: str | None = None,
) -> None:
    """Delete a record at ``expected_version`` (its last state stays in the audit log)."""
    rules = RULES.get(table_name)
    if rules is None:
        raise InvalidChange(f"{table_name} records cannot be deleted")
    if not rules.deletable:
        raise InvalidChange(rules.not_deletable_reason)
    table = table_of(table_name)
    before = current_state(conn, table_name, record_id)
    if before["version"] != expected_version:
        raise VersionConflict(
            f"{table_name} {record_id} is at version {before['version']}, not {expected_version}",
            before,
            before["version"],
        )
    children = dependants(conn, table_name, record_id)
    if children:
        listed = ", ".join(f"{n} {t}" for t, n in sorted(children.items()))
        raise InvalidChange(f"{table_name} {record_id} is referred to by {listed}; it cannot be deleted")
    conn.execute(sql_delete(table).where(table.c.id == record_id, table.c.version == expected_version))
    record_change(conn, table_name, record_id, "delete", before, None, reason, changed_by=actor)


def restore_record(
    conn: Connection,
    table_name: str,
    record_id: int,
    audit_id: int,
    expected_version: int | None,
    actor: str,
    *,
    today: date | None = None,
) -> dict[str, Any]:
    """Bring a record back to its state after audit entry ``audit_id`` (before it, for a delete).

    An existing record is updated at ``expected_version`` through :func:`update_record` (same
    locks and checks, audited as ``restore``); locked fields that differ are left as they are
    and listed under ``not_restored``. A deleted record is inserted again as it was.
    """
    a = schema.audit_log
    entry = conn.execute(select(a).where(a.c.id == audit_id)).first()
    if entry is None or entry.table_name != table_name or entry.record_id != record_id:
        raise NotFoundError(f"no audit entry {audit_id} for {table_name} {record_id}")
    target = json.loads(entry.after) if entry.after else json.loads(entry.before) if entry.before else None
    if target is None:
        raise InvalidChange(f"audit entry {audit_id} holds no state to restore")
    rules = RULES.get(table_name)
    if rules is None:
        raise InvalidChange(f"{table_name} records cannot be restored")
    table = table_of(table_name)
    reason = f"restored to the state after audit entry {audit_id}"
    exists = conn.execute(select(table.c.id).where(table.c.id == record_id)).first() is not None
    if not exists:
        values, problems = {}, []
        for name, raw in target.items():
            if name in table.c:
                values[name], found = _coerce(table, name, raw, f"{table_name} {record_id}")
                problems += found
        if problems:
            raise ValidationError(problems)
        values["version"] = int(target.get("version") or 0) + 1
        try:
            with conn.begin_nested():
                conn.execute(insert(table).values(**values))
        except IntegrityError as exc:
            raise ValidationError([integrity_problem(exc, f"{table_name} {record_id}")]) from exc
        state = current_state(conn, table_name, record_id)
        record_change(conn, table_name, record_id, "restore", None, state, reason, changed_by=actor)
        return state | {"not_restored": []}
    if expected_version is None:
        raise VersionConflict("restoring an existing record needs the version you read", None, None)
    current = current_state(conn, table_name, record_id)
    editable = editable_columns(table_name)
    changes = {n: target[n] for n in editable if n in target}
    not_restored = sorted(
        n
        for n in target
        if n in table.c and n not in editable and n not in SYSTEM_COLUMNS and target[n] != current[n]
    )
    state = update_record(
        conn,
        table_name,
        record_id,
        expected_version,
        changes,
        actor,
        today=today,
        reason=reason,
        action="restore",
    )
    return state | {"not_restored": not_restored}
