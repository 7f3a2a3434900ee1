"""Edits of existing records as submissions: an operator's correction waits for approval too.

An ``edit`` submission carries the table and id of the record, the version the author read
and the fields they changed (column → new value, as JSON). It is checked at once by a dry run
of :func:`~demine.workflow.records.update_record` in a rolled-back savepoint (same locks, code
lists and rules as a direct change), verified and approved like a new record, and applied at
approval with the version the author read: if the record changed meanwhile the approval is
refused with :class:`~demine.workflow.errors.VersionConflict`, never applied over the newer
state.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import Connection, select

from demine.accounts.users import User
from demine.domain.errors import DemineError, NotFoundError, Problem, ValidationError
from demine.workflow.errors import InvalidChange, VersionConflict
from demine.workflow.payloads import Payload
from demine.workflow.records import current_state, editable_columns, table_of, update_record

EDIT = "edit"
# What operators may correct through the workflow: the tables of the kinds they submit.
EDITABLE_TABLES = ("hazard", "activity", "release_product", "progress_report", "eo_find", "accident")
MAX_CHANGES = 100
# An operator's edit keeps the record in its organisation: moving it is the authority's change.
NOT_BY_EDIT = frozenset({"organisation_id"})


class EditPayload(Payload):
    """A change to one record: which one, the version its author read, the new values."""

    table: Annotated[str, Field(max_length=40)]
    record_id: Annotated[int, Field(ge=1, le=2**53)]
    version: Annotated[int, Field(ge=0, le=2**53)]
    changes: Annotated[dict[str, Any], Field(max_length=MAX_CHANGES)]


def describe(edit: EditPayload) -> str:
    """How messages name the record an edit changes."""
    return f"{edit.table.replace('_', ' ')} {edit.record_id}"


def record_organisation(conn: Connection, table: str, record_id: int) -> int | None:
    """The organisation a record belongs to: its own, its activity's or its hazard's."""
    t = table_of(table)
    row = conn.execute(select(t).where(t.c.id == record_id)).first()
    if row is None:
        raise NotFoundError(f"no {table} {record_id}")
    m = row._mapping
    if m.get("organisation_id") is not None:
        return m["organisation_id"]
    for key, parent in (("activity_id", "activity"), ("team_id", "team"), ("hazard_id", "hazard")):
        if m.get(key) is not None:
            p = table_of(parent)
            org = conn.execute(select(p.c.organisation_id).where(p.c.id == m[key])).scalar()
            if org is not None:
                return org
    return None


def parse(payload: Any) -> EditPayload:
    """The payload as an :class:`EditPayload` (a :class:`ValidationError` naming the field)."""
    from demine.workflow.kinds import Kind, parse_payload

    kind = Kind(EDIT, EditPayload, table_of("hazard"), True, lambda *_: None, describe)
    model = parse_payload(kind, payload)
    assert isinstance(model, EditPayload)
    if model.table not in EDITABLE_TABLES:
        raise ValidationError(
            [
                Problem(
                    "edit",
                    "table",
                    f"{model.table!r} is not edited here; one of {', '.join(EDITABLE_TABLES)}",
                )
            ]
        )
    return model


def changed_only(conn: Connection, edit: EditPayload) -> dict[str, Any]:
    """The changes that really differ from the record as it is now."""
    state = current_state(conn, edit.table, edit.record_id)
    return {k: v for k, v in edit.changes.items() if state.get(k) != v}


def require_scope(conn: Connection, edit: EditPayload, user: User) -> None:
    """An operator edits their own organisation's records; another's looks absent (not found)."""
    if record_organisation(conn, edit.table, edit.record_id) != user.organisation_id:
        raise NotFoundError(f"no {edit.table} {edit.record_id}")


def check(conn: Connection, edit: EditPayload, today: Any = None) -> list[Problem]:
    """What applying the edit now would meet; nothing is written (a rolled-back savepoint).

    A stale version is raised, not returned: the author must read the record again.
    """
    record = describe(edit)
    unknown = [k for k in edit.changes if k not in editable_columns(edit.table) or k in NOT_BY_EDIT]
    problems = [Problem(record, k, "cannot be changed here") for k in unknown]
    if not edit.changes:
        problems.append(Problem(record, "changes", "nothing to change"))
    if problems:
        return problems
    savepoint = conn.begin_nested()
    try:
        state = update_record(
            conn, edit.table, edit.record_id, edit.version, edit.changes, "dry-run", today=today
        )
        if state.get("version") == edit.version:
            return [Problem(record, "changes", "every value is already the record's: nothing to change")]
    except VersionConflict:
        raise
    except ValidationError as exc:
        return exc.problems
    except (InvalidChange, DemineError) as exc:
        return [Problem(record, "changes", str(exc))]
    finally:
        savepoint.rollback()
    return []


def apply(conn: Connection, edit: EditPayload, actor: str, reason: str, today: Any = None) -> dict[str, Any]:
    """Write the edit at the version its author read (:class:`VersionConflict` if it moved on)."""
    return update_record(
        conn, edit.table, edit.record_id, edit.version, edit.changes, actor, today=today, reason=reason
    )
