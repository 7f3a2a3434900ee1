"""Accidents and their victims, risk education sessions, QA visits and non-conformities.

Victims are personal data: this module writes them; reading them back for display or
export is for roles that need them (issue 6).
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import shapely
from sqlalchemy import Connection, Select, insert, select

from demine.domain.codelists import CodeLists
from demine.domain.errors import Problem, ValidationError
from demine.domain.rules import check_not_future, check_required
from demine.geometry.polygons import point_problems
from demine.storage import schema
from demine.storage.codelists import load_code_lists


@dataclass(frozen=True)
class NewVictim:
    """A person killed or injured in an accident."""

    status: str
    sex: str = "unknown"
    age_band: str = "unknown"
    full_name: str | None = None
    identification: str | None = None
    birth_date: date | None = None
    activity_at_time: str | None = None
    tampered: bool | None = None


@dataclass(frozen=True)
class NewAccident:
    """A mine/ERW accident with its victims."""

    code: str
    occurred_on: date
    accident_kind: str
    location: shapely.Point | None
    eo_category: str | None = None
    hazard: str | None = None
    description: str | None = None
    victims: Sequence[NewVictim] = ()
    source_id: str | None = None  # the record's id in the file it was imported from


@dataclass(frozen=True)
class NewEoreSession:
    """A risk education session with sex- and age-disaggregated attendance."""

    organisation: str
    held_on: date
    method: str
    location: shapely.Point | None = None
    admin_pcode: str | None = None
    # {(sex, age_band): count}
    participants: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True)
class NewQaVisit:
    """A quality assurance visit, with non-conformities as (type, severity, measures)."""

    inspected_organisation: str
    inspecting_organisation: str
    visited_on: date
    visit_type: str
    activity: str | None = None
    result: str | None = None
    comments: str | None = None
    nonconformities: Sequence[tuple[str, str, str | None]] = ()


def add_accidents(conn: Connection, accidents: Sequence[NewAccident], today: date | None = None) -> list[int]:
    """Validate and insert accidents and their victims; all or nothing."""
    lists = load_code_lists(conn)
    today = today or date.today()
    # Only the codes this batch names: a field-form ingest checks one accident at a time, and
    # reading every code of a national register for each one made it crawl (3.5 accidents/s at
    # 100,000 hazards).
    h, a = schema.hazard, schema.accident
    named = sorted({acc.hazard for acc in accidents if acc.hazard})
    hazards = dict(_rows_with_codes(conn, select(h.c.code, h.c.id), h.c.code, named))
    codes = sorted({acc.code for acc in accidents if acc.code})
    taken = {code for code, _ in _rows_with_codes(conn, select(a.c.code, a.c.id), a.c.code, codes)}
    problems: list[Problem] = []
    seen: set[str] = set()
    for acc in accidents:
        problems += accident_problems(acc, lists, today, hazards)
        if acc.code in taken:
            problems.append(Problem(f"accident {acc.code}", "code", "already exists"))
        elif acc.code in seen:
            problems.append(Problem(f"accident {acc.code}", "code", "appears twice in this batch"))
        seen.add(acc.code)
    if problems:
        raise ValidationError(problems)
    return insert_accidents(conn, accidents, hazards)


def _rows_with_codes(conn: Connection, query: Select, column: Any, codes: list[str]) -> list[Any]:
    """The rows of ``query`` whose ``column`` is one of ``codes`` (in chunks: bound-parameter limits)."""
    rows: list[Any] = []
    for start in range(0, len(codes), 500):
        rows += conn.execute(query.where(column.in_(codes[start : start + 500]))).all()
    return rows


def accident_problems(
    acc: NewAccident, lists: CodeLists, today: date, hazards: Container[str]
) -> list[Problem]:
    """Every problem with one accident and its victims; ``hazards`` are the codes that exist.

    Whether the code is already taken is the caller's question (it needs the database).
    """
    record = f"accident {acc.code or '(no code)'}"
    problems = check_required(record, acc.code, "code")
    problems += lists.check("accident_kind", acc.accident_kind, record, "accident_kind")
    problems += lists.check("eo_category", acc.eo_category, record, "eo_category")
    problems += check_not_future(record, acc.occurred_on, "occurred_on", today)
    if acc.location is not None:
        problems += point_problems(acc.location, record, "location")
    if acc.hazard is not None and acc.hazard not in hazards:
        problems.append(Problem(record, "hazard", f"no hazard {acc.hazard!r}"))
    for n, v in enumerate(acc.victims, start=1):
        where = f"victims[{n}]"
        problems += lists.check("victim_status", v.status, record, f"{where}.status")
        problems += lists.check("sex", v.sex, record, f"{where}.sex")
        problems += lists.check("age_band", v.age_band, record, f"{where}.age_band")
        if v.birth_date is not None and v.birth_date > acc.occurred_on:
            problems.append(
                Problem(
                    record,
                    f"{where}.birth_date",
                    f"{v.birth_date} is after the accident ({acc.occurred_on})",
                )
            )
    return problems


def insert_accidents(
    conn: Connection, accidents: Sequence[NewAccident], hazards: dict[str, int]
) -> list[int]:
    """Write accidents that have been validated, with their victims; returns their ids."""
    ids = []
    for acc in accidents:
        accident_id = conn.execute(
            insert(schema.accident).values(
                code=acc.code,
                occurred_on=acc.occurred_on,
                accident_kind=acc.accident_kind,
                eo_category=acc.eo_category,
                hazard_id=hazards.get(acc.hazard) if acc.hazard else None,
                description=acc.description,
                source_id=acc.source_id,
                geom=acc.location,
            )
        ).inserted_primary_key[0]
        if acc.victims:
            conn.execute(
                insert(schema.victim),
                [
                    {
                        "accident_id": accident_id,
                        "full_name": v.full_name,
                        "identification": v.identification,
                        "sex": v.sex,
                        "birth_date": v.birth_date,
                        "age_band": v.age_band,
                        "status": v.status,
                        "activity_at_time": v.activity_at_time,
                        "tampered": v.tampered,
                    }
                    for v in acc.victims
                ],
            )
        ids.append(accident_id)
    return ids


def add_eore_sessions(
    conn: Connection, sessions: Sequence[NewEoreSession], today: date | None = None
) -> None:
    """Validate and insert risk education sessions with their SADD counts; all or nothing."""
    lists = load_code_lists(conn)
    today = today or date.today()
    orgs = dict(conn.execute(select(schema.organisation.c.code, schema.organisation.c.id)).all())
    problems: list[Problem] = []
    for i, s in enumerate(sessions, start=1):
        record = f"EORE session {i} ({s.held_on})"
        if s.organisation not in orgs:
            problems.append(Problem(record, "organisation", f"no organisation {s.organisation!r}"))
        problems += lists.check("eore_method", s.method, record, "method")
        problems += check_not_future(record, s.held_on, "held_on", today)
        if s.location is not None:
            problems += point_problems(s.location, record, "location")
        for (sex, band), count in s.participants.items():
            where = f"participants[{sex},{band}]"
            problems += lists.check("sex", sex, record, where) + lists.check("age_band", band, record, where)
            if count < 0:
                problems.append(Problem(record, where, f"count must not be negative (got {count})"))
    if problems:
        raise ValidationError(problems)
    for s in sessions:
        session_id = conn.execute(
            insert(schema.eore_session).values(
                organisation_id=orgs[s.organisation],
                held_on=s.held_on,
                method=s.method,
                admin_pcode=s.admin_pcode,
                geom=s.location,
            )
        ).inserted_primary_key[0]
        if s.participants:
            conn.execute(
                insert(schema.eore_participant),
                [
                    {"session_id": session_id, "sex": sex, "age_band": band, "count": n}
                    for (sex, band), n in s.participants.items()
                ],
            )


def add_qa_visits(conn: Connection, visits: Sequence[NewQaVisit], today: date | None = None) -> None:
    """Validate and insert QA visits with their non-conformities; all or nothing."""
    lists = load_code_lists(conn)
    today = today or date.today()
    orgs = dict(conn.execute(select(schema.organisation.c.code, schema.organisation.c.id)).all())
    a = schema.activity
    acts = {r.code: r for r in conn.execute(select(a.c.code, a.c.id, a.c.organisation_id, a.c.start_date))}
    problems: list[Problem] = []
    for i, v in enumerate(visits, start=1):
        record = f"QA visit {i} ({v.visited_on})"
        for name, value in (
            ("inspected_organisation", v.inspected_organisation),
            ("inspecting_organisation", v.inspecting_organisation),
        ):
            if value not in orgs:
                problems.append(Problem(record, name, f"no organisation {value!r}"))
        problems += lists.check("qa_visit_type", v.visit_type, record, "visit_type")
        problems += lists.check("qa_result", v.result, record, "result")
        problems += check_not_future(record, v.visited_on, "visited_on", today)
        if v.activity is not None:
            act = acts.get(v.activity)
            if act is None:
                problems.append(Problem(record, "activity", f"no activity {v.activity!r}"))
            elif act.start_date and v.visited_on < act.start_date:
                problems.append(Problem(record, "visited_on", f"before activity {v.activity} started"))
        for n, (nc_type, severity, _measures) in enumerate(v.nonconformities, start=1):
            problems += lists.check("nc_type", nc_type, record, f"nonconformities[{n}].type")
            problems += lists.check("nc_severity", severity, record, f"nonconformities[{n}].severity")
    if problems:
        raise ValidationError(problems)
    for v in visits:
        visit_id = conn.execute(
            insert(schema.qa_visit).values(
                activity_id=acts[v.activity].id if v.activity else None,
                inspected_organisation_id=orgs[v.inspected_organisation],
                inspecting_organisation_id=orgs[v.inspecting_organisation],
                visited_on=v.visited_on,
                visit_type=v.visit_type,
                result=v.result,
                comments=v.comments,
            )
        ).inserted_primary_key[0]
        if v.nonconformities:
            conn.execute(
                insert(schema.qa_nonconformity),
                [
                    {"visit_id": visit_id, "nc_type": t, "severity": s, "measures": m}
                    for t, s, m in v.nonconformities
                ],
            )
