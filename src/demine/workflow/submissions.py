"""The approval workflow: operator records wait as submissions until the authority approves them.

States::

    submitted ──verify──▶ verified ──approve──▶ approved (written to the register)
        │  ▲                  │
     reject│ revise        reject
        ▼  │                  ▼
      rejected ◀──────────────┘   (back with the author, who may revise and resubmit)

* An operator (or operator manager) submits for their own organisation; the payload is checked
  against the register at once (a dry run of the real write), so problems show at submission.
* An operator manager of the same organisation (or an IM officer/admin) verifies it; the
  verifier is never the author.
* An IM officer or admin approves a verified submission: only then is the payload written to the
  register through the validated library functions, checked again against the register as it is
  now. Official figures and forecasts read the register, so they count approved records only.
* Rejection needs a reason and returns the submission to its author, who sees why, may revise
  the payload and resubmit.

Operators see only their own organisation's submissions; out-of-scope ids are reported as not
found rather than forbidden, so their existence does not leak. Every transition takes the
version the caller last read (optimistic concurrency) and is audited.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.orm import aliased

from demine.accounts.roles import ALL, submission_scope
from demine.accounts.users import User
from demine.domain.errors import NotFoundError, Problem, ValidationError
from demine.domain.personal import personal_columns
from demine.storage import schema
from demine.storage.audit import record_change, snapshot
from demine.storage.types import utcnow
from demine.workflow import edits, kinds, places
from demine.workflow.errors import Forbidden, InvalidChange, VersionConflict

SUBMITTED, VERIFIED, APPROVED, REJECTED = "submitted", "verified", "approved", "rejected"
STATUSES = (SUBMITTED, VERIFIED, APPROVED, REJECTED)


def _query() -> Any:
    s, o = schema.submission, schema.organisation
    author, verifier, approver = (
        aliased(schema.app_user, name=n) for n in ("author", "verifier", "approver")
    )
    return select(
        s,
        o.c.code.label("organisation"),
        author.c.username.label("author"),
        verifier.c.username.label("verifier"),
        approver.c.username.label("approver"),
    ).select_from(
        s.outerjoin(o, o.c.id == s.c.organisation_id)
        .join(author, author.c.id == s.c.author_id)
        .outerjoin(verifier, verifier.c.id == s.c.verifier_id)
        .outerjoin(approver, approver.c.id == s.c.approver_id)
    )


def _as_dict(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["payload"] = json.loads(data["payload"])
    return data


def _scoped(query: Any, user: User, action: str) -> Any:
    scope = submission_scope(user.role, action)
    if scope is None:
        raise Forbidden(f"a {user.role} may not {action} submissions")
    if scope != ALL:
        query = query.where(schema.submission.c.organisation_id == user.organisation_id)
    return query


# Personal data inside payloads, by kind: top-level fields, and fields of each item of a list.
PERSONAL_FIELDS: dict[str, tuple[frozenset[str], dict[str, frozenset[str]]]] = {
    "accident": (personal_columns("accident"), {"victims": personal_columns("victim")}),
}


def redacted(data: dict[str, Any], user: User) -> dict[str, Any]:
    """A submission as ``user`` may see it: without the payload's personal data unless their
    role may see it (victims' names and birth dates, an accident's description)."""
    fields = PERSONAL_FIELDS.get(data.get("kind", ""))
    if fields is None or user.sees_personal_data or not isinstance(data.get("payload"), dict):
        return data
    top, nested = fields
    payload = {k: v for k, v in data["payload"].items() if k not in top}
    for key, inner in nested.items():
        if isinstance(payload.get(key), list):
            payload[key] = [
                {k: v for k, v in item.items() if k not in inner} if isinstance(item, dict) else item
                for item in payload[key]
            ]
    return data | {"payload": payload, "personal_data_hidden": True}


def _with_hidden(kind: str, old: dict[str, Any], new: dict[str, Any], user: User) -> dict[str, Any]:
    # A revision by someone who was shown the payload without its personal data keeps what they
    # could not see (by position for list items) rather than erasing it.
    fields = PERSONAL_FIELDS.get(kind)
    if fields is None or user.sees_personal_data:
        return new
    top, nested = fields
    out = dict(new)
    for key in top:
        if out.get(key) is None and old.get(key) is not None:
            out[key] = old[key]
    for key, inner in nested.items():
        olds, news = old.get(key), out.get(key)
        if isinstance(olds, list) and isinstance(news, list):
            merged = []
            for i, item in enumerate(news):
                if isinstance(item, dict) and i < len(olds) and isinstance(olds[i], dict):
                    item = item | {k: olds[i][k] for k in inner if item.get(k) is None and k in olds[i]}
                merged.append(item)
            out[key] = merged
    return out


def _get(conn: Connection, user: User, submission_id: int, action: str = "read") -> dict[str, Any]:
    # The whole submission, personal data included: for the workflow's own use.
    query = _scoped(_query().where(schema.submission.c.id == submission_id), user, "read")
    if action != "read":
        query = _scoped(query, user, action)
    row = conn.execute(query).first()
    if row is None:
        raise NotFoundError(f"no submission {submission_id}")
    return _as_dict(row)


def get_submission(conn: Connection, user: User, submission_id: int, action: str = "read") -> dict[str, Any]:
    """One submission the user may see (``action`` narrows the scope further), as they may see it."""
    return redacted(_get(conn, user, submission_id, action), user)


def list_submissions(
    conn: Connection,
    user: User,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """The submissions the user may see, newest first, and how many there are in all."""
    s = schema.submission
    query = _scoped(_query(), user, "read")
    if status is not None:
        query = query.where(s.c.status == status)
    if kind is not None:
        query = query.where(s.c.kind == kind)
    total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = conn.execute(query.order_by(s.c.id.desc()).limit(limit).offset(offset))
    return [redacted(_as_dict(r), user) for r in rows], total


def _org_of(conn: Connection, table: Any, code: str) -> int | None:
    return conn.execute(select(table.c.organisation_id).where(table.c.code == code)).scalar_one_or_none()


def scope_problems(conn: Connection, user: User, kind: str, model: Any) -> list[Problem]:
    """What in a payload lies outside the user's organisation (operators only)."""
    if submission_scope(user.role, "submit") == ALL:
        return []
    own, record = user.organisation_id, kinds.KINDS[kind].describe(model)
    where = f"you submit for {user.organisation}"
    problems = []
    if kind == "hazard" and model.organisation not in (None, user.organisation):
        problems.append(Problem(record, "organisation", where))
    if kind == "activity":
        if model.organisation != user.organisation:
            problems.append(Problem(record, "organisation", where))
        if model.team is not None and _org_of(conn, schema.team, model.team) not in (None, own):
            problems.append(Problem(record, "team", f"team {model.team} is not one of {user.organisation}'s"))
    if kind == "progress_report" and _org_of(conn, schema.team, model.team) not in (None, own):
        problems.append(Problem(record, "team", f"team {model.team} is not one of {user.organisation}'s"))
    if kind in ("release", "find") and model.activity is not None:
        if _org_of(conn, schema.activity, model.activity) not in (None, own):
            problems.append(
                Problem(record, "activity", f"activity {model.activity} is not {user.organisation}'s")
            )
    elif kind == "release" and _org_of(conn, schema.hazard, model.hazard) not in (None, own):
        problems.append(
            Problem(
                record, "activity", f"hazard {model.hazard} is another organisation's: name your activity"
            )
        )
    return problems


def _prepared(conn: Connection, user: User, kind_name: str, payload: Any, today: date | None) -> BaseModel:
    if kind_name == edits.EDIT:
        edit = edits.parse(payload)
        if submission_scope(user.role, "submit") != ALL:
            edits.require_scope(conn, edit, user)
        problems = edits.check(conn, edit, today)
        if problems:
            raise ValidationError(problems)
        return edit
    kind = kinds.get_kind(kind_name)
    if not kind.submittable:
        raise ValidationError(
            [
                Problem(
                    "submission",
                    "kind",
                    f"{kind_name!r} is not submitted for approval; one of {kinds.SUBMITTABLE}",
                )
            ]
        )
    model = kinds.parse_payload(kind, payload)
    if kind_name == "hazard" and model.organisation is None and user.organisation is not None:
        # A hazard an operator reports is attributed to the operator's organisation.
        model = model.model_copy(update={"organisation": user.organisation})
    if kind_name == "hazard" and model.admin_pcode is None:
        # Drawn on the map without a P-code: the admin area is where the polygon lies.
        pcode = places.admin_area_of(conn, places.payload_geometry(model.geometry, model.crs))
        if pcode is not None:
            model = model.model_copy(update={"admin_pcode": pcode})
    problems = scope_problems(conn, user, kind_name, model) + kinds.check(conn, kind_name, model, today)
    if problems:
        raise ValidationError(problems)
    return model


def submit(
    conn: Connection, user: User, kind: str, payload: dict[str, Any] | BaseModel, today: date | None = None
) -> dict[str, Any]:
    """Stage a record for approval; raises :class:`ValidationError` if it could not be written now."""
    _scoped(select(schema.submission.c.id), user, "submit")
    model = _prepared(conn, user, kind, payload, today)
    submission_id = conn.execute(
        insert(schema.submission).values(
            kind=kind,
            status=SUBMITTED,
            payload=model.model_dump_json(),
            organisation_id=user.organisation_id,
            author_id=user.id,
        )
    ).inserted_primary_key[0]
    _audit(conn, submission_id, "insert", None, user, None)
    return get_submission(conn, user, submission_id)


def _state(conn: Connection, submission_id: int) -> dict[str, Any]:
    s = schema.submission
    return snapshot(conn.execute(select(s).where(s.c.id == submission_id)).first())


def _audit(
    conn: Connection, submission_id: int, action: str, before: dict | None, user: User, reason: str | None
) -> None:
    record_change(
        conn, "submission", submission_id, action, before, _state(conn, submission_id), reason, user.username
    )


def _transition(
    conn: Connection,
    user: User,
    current: dict[str, Any],
    expected_version: int,
    values: dict[str, Any],
    reason: str | None = None,
) -> dict[str, Any]:
    """Apply a change if the submission is still at ``expected_version``; audit it."""
    s = schema.submission
    before = _state(conn, current["id"])
    changed = conn.execute(
        update(s)
        .where(s.c.id == current["id"], s.c.version == expected_version)
        .values(**values, version=s.c.version + 1, updated_at=utcnow())
    ).rowcount
    if not changed:
        raise VersionConflict(
            f"submission {current['id']} is at version {current['version']}, not {expected_version}",
            redacted(current, user),
            current["version"],
        )
    _audit(conn, current["id"], "update", before, user, reason)
    return get_submission(conn, user, current["id"])


def _require_version(current: dict[str, Any], expected_version: int, user: User) -> None:
    # Check before validating, so a stale caller learns about the conflict first.
    if current["version"] != expected_version:
        raise VersionConflict(
            f"submission {current['id']} is at version {current['version']}, not {expected_version}",
            redacted(current, user),
            current["version"],
        )


def revise(
    conn: Connection,
    user: User,
    submission_id: int,
    expected_version: int,
    payload: dict[str, Any] | BaseModel,
    today: date | None = None,
) -> dict[str, Any]:
    """The author replaces the payload of a submitted or rejected submission and (re)submits it."""
    current = _get(conn, user, submission_id)
    _require_version(current, expected_version, user)
    if current["author_id"] != user.id:
        raise Forbidden("only the author may revise a submission")
    if current["status"] not in (SUBMITTED, REJECTED):
        raise InvalidChange(f"submission {submission_id} is {current['status']}; it can no longer be revised")
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json", exclude_unset=True)
    if isinstance(payload, dict):
        payload = _with_hidden(current["kind"], current["payload"], payload, user)
    model = _prepared(conn, user, current["kind"], payload, today)
    values = {
        "payload": model.model_dump_json(),
        "status": SUBMITTED,
        "verifier_id": None,
        "verified_at": None,
    }
    return _transition(conn, user, current, expected_version, values, "revised by the author")


def verify(
    conn: Connection, user: User, submission_id: int, expected_version: int, today: date | None = None
) -> dict[str, Any]:
    """A manager of the author's organisation (or the authority) confirms a submission."""
    current = _get(conn, user, submission_id, "verify")
    _require_version(current, expected_version, user)
    if current["status"] != SUBMITTED:
        raise InvalidChange(
            f"submission {submission_id} is {current['status']}; only a submitted one is verified"
        )
    if current["author_id"] == user.id:
        raise Forbidden("a submission is verified by someone other than its author")
    if current["kind"] == edits.EDIT:
        problems = edits.check(conn, edits.parse(current["payload"]), today)
    else:
        problems = kinds.check(conn, current["kind"], current["payload"], today)
    if problems:
        raise ValidationError(problems)
    return _transition(
        conn,
        user,
        current,
        expected_version,
        {"status": VERIFIED, "verifier_id": user.id, "verified_at": utcnow()},
    )


def approve(
    conn: Connection, user: User, submission_id: int, expected_version: int, today: date | None = None
) -> dict[str, Any]:
    """The authority approves a verified submission: its record is written to the register."""
    current = _get(conn, user, submission_id, "approve")
    _require_version(current, expected_version, user)
    if current["status"] != VERIFIED:
        raise InvalidChange(
            f"submission {submission_id} is {current['status']}; only a verified one is approved"
        )
    if current["author_id"] == user.id:
        raise Forbidden("a submission is approved by someone other than its author")
    reason = f"approved submission {submission_id} by {current['author']} (verified by {current['verifier']})"
    if current["kind"] == edits.EDIT:
        edit = edits.parse(current["payload"])
        edits.apply(conn, edit, user.username, reason, today)
        table, record_id = edit.table, edit.record_id
    else:
        written = kinds.write(
            conn, current["kind"], current["payload"], actor=user.username, today=today, reason=reason
        )
        table, record_id = written.table, written.ids[0] if written.ids else None
    values = {
        "status": APPROVED,
        "approver_id": user.id,
        "decided_at": utcnow(),
        "record_table": table,
        "record_id": record_id,
    }
    return _transition(conn, user, current, expected_version, values)


def reject(
    conn: Connection, user: User, submission_id: int, expected_version: int, reason: str
) -> dict[str, Any]:
    """Return a submission to its author with the reason (required)."""
    current = _get(conn, user, submission_id, "reject")
    _require_version(current, expected_version, user)
    if not reason or not reason.strip():
        raise ValidationError(
            [Problem(f"submission {submission_id}", "reason", "a rejection needs a reason")]
        )
    allowed = (SUBMITTED, VERIFIED) if submission_scope(user.role, "approve") else (SUBMITTED,)
    if current["status"] not in allowed:
        raise InvalidChange(
            f"submission {submission_id} is {current['status']}; a {user.role} cannot reject it"
        )
    if current["author_id"] == user.id:
        raise Forbidden("authors revise their own submissions rather than reject them")
    values = {"status": REJECTED, "reason": reason.strip(), "decided_at": utcnow()}
    return _transition(conn, user, current, expected_version, values, reason.strip())
