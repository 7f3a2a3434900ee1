"""Writing a payload into the register through the register's own validated functions.

Each :class:`Kind` turns its payload (see :mod:`.payloads`) into the register's ``New*``
dataclass and calls the matching ``add_*`` function (or ``record_release`` for land release
products), so the API enforces exactly the rules the CLI and importers do. Every record it
creates gets an ``insert`` row in the audit log, in the same transaction.

:func:`check` dry-runs a write inside a savepoint and rolls it back: the workflow uses it
to report problems when an operator submits, not only when an IM officer approves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import shapely
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Connection, Table, func, select
from sqlalchemy.exc import IntegrityError

from demine.domain.errors import DemineError, NotFoundError, Problem, ReleaseRejected, ValidationError
from demine.geometry.reading import EnteredGeometry, read_geometry
from demine.landrelease.accounting import NewRelease, record_release
from demine.register.activities import (
    NewActivity,
    NewFind,
    NewProgressReport,
    add_activities,
    add_finds,
    add_progress_reports,
)
from demine.register.hazards import NewHazard, add_hazards
from demine.register.incidents import (
    NewAccident,
    NewEoreSession,
    NewQaVisit,
    NewVictim,
    add_accidents,
    add_eore_sessions,
    add_qa_visits,
)
from demine.register.organisations import (
    NewAccreditation,
    NewOrganisation,
    NewTeam,
    add_accreditations,
    add_organisations,
    add_teams,
)
from demine.storage import schema
from demine.storage.audit import record_change, snapshot
from demine.workflow import payloads as p


@dataclass(frozen=True)
class Written:
    """What a write created: the table and ids of the main records, and a summary."""

    table: str
    ids: list[int]
    detail: dict[str, Any]


@dataclass(frozen=True)
class Kind:
    """A kind of record users can send."""

    name: str
    payload: type[BaseModel]
    table: Table
    submittable: bool
    write: Callable[[Connection, Any, date], dict[str, Any] | None]
    describe: Callable[[Any], str]


def _geometry(value: dict[str, Any] | str, crs: str | None, record: str) -> EnteredGeometry:
    text = json.dumps(value) if isinstance(value, dict) else value
    return read_geometry(text, record, "geometry", crs)


def _point(value: tuple[float, float] | None) -> shapely.Point | None:
    return shapely.Point(value) if value is not None else None


def _write_hazard(conn: Connection, h: p.HazardPayload, today: date) -> None:
    entered = _geometry(h.geometry, h.crs, f"hazard {h.code}")
    add_hazards(
        conn,
        [
            NewHazard(
                code=h.code,
                hazard_type=h.hazard_type,
                geometry=entered.geometry,
                reported_on=h.reported_on,
                name=h.name,
                status=h.status,
                organisation=h.organisation,
                admin_pcode=h.admin_pcode,
                priority=h.priority,
                eo_categories=h.eo_categories,
                evidence=h.evidence,
                blockages=h.blockages,
                benchmark=h.benchmark,
                beneficiaries={(b.kind, b.sex, b.age_band): b.count for b in h.beneficiaries},
                entered_crs=entered.entered_crs,
                entered_geometry=entered.entered_text,
            )
        ],
        today=today,
    )


def _write_activity(conn: Connection, a: p.ActivityPayload, today: date) -> None:
    add_activities(
        conn,
        [
            NewActivity(
                code=a.code,
                activity_type=a.activity_type,
                organisation=a.organisation,
                team=a.team,
                hazard=a.hazard,
                method=a.method,
                status=a.status,
                start_date=a.start_date,
                end_date=a.end_date,
                reference=a.reference,
            )
        ],
        today=today,
    )


def _write_release(conn: Connection, r: p.ReleasePayload, today: date) -> dict[str, Any]:
    return record_release(
        conn,
        NewRelease(
            hazard=r.hazard,
            method=r.method,
            released_on=r.released_on,
            geometry=_geometry(r.geometry, r.crs, f"release for hazard {r.hazard}"),
            activity=r.activity,
            clearance_depth_cm=r.clearance_depth_cm,
            note=r.note,
            force=r.force,
        ),
        today=today,
    )


def _write_progress(conn: Connection, r: p.ProgressReportPayload, today: date) -> None:
    add_progress_reports(
        conn,
        [NewProgressReport(r.team, r.activity, r.report_date, r.area_m2, r.hours)],
        today=today,
    )


def _write_find(conn: Connection, f: p.FindPayload, today: date) -> None:
    add_finds(
        conn,
        [
            NewFind(
                category=f.category,
                found_on=f.found_on,
                location=_point(f.location),
                quantity=f.quantity,
                model=f.model,
                depth_cm=f.depth_cm,
                condition=f.condition,
                disposal_method=f.disposal_method,
                hazard=f.hazard,
                activity=f.activity,
            )
        ],
        today=today,
    )


def _write_accident(conn: Connection, a: p.AccidentPayload, today: date) -> None:
    add_accidents(
        conn,
        [
            NewAccident(
                code=a.code,
                occurred_on=a.occurred_on,
                accident_kind=a.accident_kind,
                location=_point(a.location),
                eo_category=a.eo_category,
                hazard=a.hazard,
                description=a.description,
                victims=[NewVictim(**v.model_dump()) for v in a.victims],
            )
        ],
        today=today,
    )


def _write_organisation(conn: Connection, o: p.OrganisationPayload, today: date) -> None:
    add_organisations(conn, [NewOrganisation(o.code, o.name, o.organisation_type, o.country)])


def _write_team(conn: Connection, t: p.TeamPayload, today: date) -> None:
    add_teams(conn, [NewTeam(t.code, t.name, t.organisation, t.team_type, t.members, t.base)])


def _write_accreditation(conn: Connection, a: p.AccreditationPayload, today: date) -> None:
    add_accreditations(conn, [NewAccreditation(a.team, a.activity_type, a.issued_on, a.expires_on)])


def _write_eore(conn: Connection, s: p.EoreSessionPayload, today: date) -> None:
    add_eore_sessions(
        conn,
        [
            NewEoreSession(
                organisation=s.organisation,
                held_on=s.held_on,
                method=s.method,
                location=_point(s.location),
                admin_pcode=s.admin_pcode,
                participants={(x.sex, x.age_band): x.count for x in s.participants},
            )
        ],
        today=today,
    )


def _write_qa_visit(conn: Connection, v: p.QaVisitPayload, today: date) -> None:
    add_qa_visits(
        conn,
        [
            NewQaVisit(
                inspected_organisation=v.inspected_organisation,
                inspecting_organisation=v.inspecting_organisation,
                visited_on=v.visited_on,
                visit_type=v.visit_type,
                activity=v.activity,
                result=v.result,
                comments=v.comments,
                nonconformities=[(n.nc_type, n.severity, n.measures) for n in v.nonconformities],
            )
        ],
        today=today,
    )


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("hazard", p.HazardPayload, schema.hazard, True, _write_hazard, lambda x: f"hazard {x.code}"),
        Kind(
            "activity",
            p.ActivityPayload,
            schema.activity,
            True,
            _write_activity,
            lambda x: f"activity {x.code}",
        ),
        Kind(
            "release",
            p.ReleasePayload,
            schema.release_product,
            True,
            _write_release,
            lambda x: f"{x.method} land of hazard {x.hazard}",
        ),
        Kind(
            "progress_report",
            p.ProgressReportPayload,
            schema.progress_report,
            True,
            _write_progress,
            lambda x: f"progress of team {x.team} on {x.report_date}",
        ),
        Kind(
            "find",
            p.FindPayload,
            schema.eo_find,
            True,
            _write_find,
            lambda x: f"{x.category} found {x.found_on}",
        ),
        Kind(
            "accident",
            p.AccidentPayload,
            schema.accident,
            True,
            _write_accident,
            lambda x: f"accident {x.code}",
        ),
        Kind(
            "organisation",
            p.OrganisationPayload,
            schema.organisation,
            False,
            _write_organisation,
            lambda x: f"organisation {x.code}",
        ),
        Kind("team", p.TeamPayload, schema.team, False, _write_team, lambda x: f"team {x.code}"),
        Kind(
            "accreditation",
            p.AccreditationPayload,
            schema.accreditation,
            False,
            _write_accreditation,
            lambda x: f"accreditation of team {x.team}",
        ),
        Kind(
            "eore_session",
            p.EoreSessionPayload,
            schema.eore_session,
            False,
            _write_eore,
            lambda x: f"EORE session {x.held_on}",
        ),
        Kind(
            "qa_visit",
            p.QaVisitPayload,
            schema.qa_visit,
            False,
            _write_qa_visit,
            lambda x: f"QA visit {x.visited_on}",
        ),
    )
}
SUBMITTABLE = tuple(name for name, k in KINDS.items() if k.submittable)


def get_kind(name: str) -> Kind:
    """The kind called ``name`` (a :class:`ValidationError` for an unknown one)."""
    kind = KINDS.get(name)
    if kind is None:
        raise ValidationError([Problem("record", "kind", f"{name!r} is not one of {', '.join(KINDS)}")])
    return kind


def parse_payload(kind: Kind, payload: dict[str, Any] | BaseModel) -> BaseModel:
    """The payload as its model; shape errors become a :class:`ValidationError`."""
    if isinstance(payload, kind.payload):
        return payload
    try:
        return kind.payload.model_validate(payload)
    except PydanticValidationError as exc:
        raise ValidationError(
            [
                Problem(kind.name, ".".join(str(x) for x in e["loc"]) or "payload", e["msg"])
                for e in exc.errors(include_url=False)
            ]
        ) from exc


def integrity_problem(exc: IntegrityError, record: str) -> Problem:
    """A database constraint violation as a problem a user can act on."""
    message = str(exc.orig) if exc.orig is not None else str(exc)
    if "UNIQUE" in message:
        return Problem(record, message.rsplit(".", 1)[-1], f"conflicts with an existing record ({message})")
    key = re.search(r"Key \(([^)]*)\)=", message)  # PostgreSQL: 'Key (code)=(H-1) already exists.'
    if getattr(exc.orig, "sqlstate", None) == "23505" and key:
        message = message.split("\n")[0]
        return Problem(record, key.group(1), f"conflicts with an existing record ({message})")
    return Problem(record, "record", f"breaks a rule of the register ({message})")


# Tables whose rows are written together with a parent record: parent -> (child, its key).
CHILDREN: dict[str, tuple[str, str]] = {
    "hazard": ("hazard_beneficiary", "hazard_id"),
    "accident": ("victim", "accident_id"),
    "eore_session": ("eore_participant", "session_id"),
    "qa_visit": ("qa_nonconformity", "visit_id"),
}


def write(
    conn: Connection,
    kind_name: str,
    payload: dict[str, Any] | BaseModel,
    actor: str,
    today: date | None = None,
    reason: str | None = None,
) -> Written:
    """Validate and write one record of a kind, with audit rows, in the caller's transaction.

    Raises :class:`ValidationError` or :class:`ReleaseRejected` (nothing written) on a problem.
    """
    kind = get_kind(kind_name)
    model = parse_payload(kind, payload)
    today = today or date.today()
    table = kind.table
    last_id = conn.execute(select(func.max(table.c.id))).scalar() or 0
    hazard_before = _hazard_state(conn, model) if kind.name == "release" else None
    try:
        with conn.begin_nested():
            detail = kind.write(conn, model, today) or {}
    except NotFoundError as exc:
        raise ValidationError([Problem(kind.describe(model), "reference", str(exc))]) from exc
    except IntegrityError as exc:
        raise ValidationError([integrity_problem(exc, kind.describe(model))]) from exc
    # Writers run inside BEGIN IMMEDIATE: nobody else inserted meanwhile, so the new ids are
    # exactly those above the previous maximum (some add_* functions return none).
    rows = conn.execute(select(table).where(table.c.id > last_id).order_by(table.c.id)).all()
    for row in rows:
        record_change(conn, table.name, row.id, "insert", None, snapshot(row), reason, changed_by=actor)
    child = CHILDREN.get(table.name)
    if child is not None and rows:
        # Rows written with their parent (an accident's victims ...) are changes too: each
        # gets its own audit row, so it can be traced and restored like any record.
        child_table, key = schema.metadata.tables[child[0]], child[1]
        children = conn.execute(
            select(child_table).where(child_table.c[key].in_([r.id for r in rows])).order_by(child_table.c.id)
        ).all()
        for row in children:
            record_change(
                conn, child_table.name, row.id, "insert", None, snapshot(row), reason, changed_by=actor
            )
    if hazard_before is not None:
        h = schema.hazard
        after = conn.execute(select(h).where(h.c.id == hazard_before["id"])).first()
        record_change(
            conn,
            "hazard",
            hazard_before["id"],
            "update",
            hazard_before,
            snapshot(after),
            reason or "land release product recorded",
            changed_by=actor,
        )
    return Written(table.name, [r.id for r in rows], detail)


def _hazard_state(conn: Connection, model: Any) -> dict[str, Any] | None:
    h = schema.hazard
    row = conn.execute(select(h).where(h.c.code == model.hazard)).first()
    return snapshot(row) if row is not None else None


def check(
    conn: Connection, kind_name: str, payload: dict[str, Any] | BaseModel, today: date | None = None
) -> list[Problem]:
    """Every problem writing the record would meet now; writes nothing (a rolled-back savepoint)."""
    try:
        kind = get_kind(kind_name)
        model = parse_payload(kind, payload)
    except ValidationError as exc:
        return exc.problems
    savepoint = conn.begin_nested()
    try:
        write(conn, kind_name, model, actor="dry-run", today=today)
    except (ValidationError, ReleaseRejected) as exc:
        return exc.problems
    except DemineError as exc:
        return [Problem(kind.describe(model), "record", str(exc))]
    finally:
        savepoint.rollback()
    return []
