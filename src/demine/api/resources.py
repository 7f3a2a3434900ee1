"""The register's entities as REST resources: table, filters, organisation scope, creation.

One :class:`Resource` per URL collection under ``/api``. The generic router in
:mod:`demine.api.records` serves them all; what differs between entities is data here, and
who may do what is :data:`demine.accounts.roles.PERMISSIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Table, select

from demine.domain.personal import personal_columns
from demine.storage import schema

S = schema


@dataclass(frozen=True)
class Resource:
    """A collection of records of one table."""

    name: str
    table: Table
    title: str
    kind: str | None = None  # demine.workflow.kinds name: created through the register's functions
    date_column: str | None = None
    status_column: str | None = None
    type_column: str | None = None
    admin_column: Callable[[], ColumnElement] | None = None
    organisation: Callable[[], ColumnElement] | None = None  # the organisation id a row belongs to
    hazard_column: str | None = None  # filter ?hazard=CODE
    parent_column: str | None = None  # filter ?parent=ID
    list_hidden: frozenset[str] = frozenset()  # left out of lists (big), shown on the record
    creatable: bool = True
    submit_instead: str | None = None  # operators send these as submissions of this kind
    filters: tuple[str, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        names = ["limit", "offset"]
        if self.status_column:
            names.append("status")
        if self.type_column:
            names.append("type")
        if self.organisation:
            names.append("organisation")
        if self.admin_column:
            names.append("admin_area")
        if self.date_column:
            names += ["date_from", "date_to"]
        if self.spatial:
            names.append("bbox")
        if self.hazard_column:
            names.append("hazard")
        if self.parent_column:
            names.append("parent")
        object.__setattr__(self, "filters", tuple(names))

    @property
    def personal(self) -> frozenset[str]:
        """Personal data: left out of records, lists and their history for roles that may not see it."""
        return personal_columns(self.table.name)

    @property
    def spatial(self) -> bool:
        return "geom" in self.table.c

    @property
    def rtree(self) -> str:
        return f"rtree_{self.table.name}_geom"


def _via(table: Table, column: str, key: str, target: Table) -> Callable[[], ColumnElement]:
    """``target.<key>`` of the row of ``target`` that ``table.<column>`` points to."""
    return lambda: select(target.c[key]).where(target.c.id == table.c[column]).scalar_subquery()


def _hazard_admin(table: Table) -> Callable[[], ColumnElement]:
    return _via(table, "hazard_id", "admin_pcode", S.hazard)


def _own(table: Table, column: str = "organisation_id") -> Callable[[], ColumnElement]:
    return lambda: table.c[column]


RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource(
            "organisations",
            S.organisation,
            "Organisations",
            kind="organisation",
            type_column="organisation_type",
            organisation=lambda: S.organisation.c.id,
        ),
        Resource("code_lists", S.code_list, "Code lists", type_column="list_name"),
        Resource(
            "admin_areas",
            S.admin_area,
            "Administrative areas",
            admin_column=lambda: S.admin_area.c.pcode,
        ),
        Resource("settlements", S.settlement, "Settlements", admin_column=lambda: S.settlement.c.admin_pcode),
        Resource("roads", S.road, "Roads", type_column="road_class"),
        Resource(
            "teams",
            S.team,
            "Teams",
            kind="team",
            type_column="team_type",
            organisation=_own(S.team),
        ),
        Resource("persons", S.person, "Personnel", organisation=_own(S.person)),
        Resource(
            "training_records",
            S.training_record,
            "Training records",
            date_column="completed_on",
            organisation=_via(S.training_record, "person_id", "organisation_id", S.person),
            parent_column="person_id",
        ),
        Resource(
            "accreditations",
            S.accreditation,
            "Accreditations",
            kind="accreditation",
            date_column="issued_on",
            type_column="activity_type",
            organisation=_own(S.accreditation),
            parent_column="team_id",
        ),
        Resource(
            "hazards",
            S.hazard,
            "Hazardous areas",
            kind="hazard",
            date_column="reported_on",
            status_column="status",
            type_column="hazard_type",
            admin_column=lambda: S.hazard.c.admin_pcode,
            organisation=_own(S.hazard),
            list_hidden=frozenset({"entered_geometry"}),
            submit_instead="hazard",
        ),
        Resource(
            "hazard_beneficiaries",
            S.hazard_beneficiary,
            "Beneficiaries of hazards (SADD)",
            hazard_column="hazard_id",
            type_column="kind",
        ),
        Resource(
            "remaining",
            S.hazard_remaining,
            "What remains of each hazard",
            creatable=False,
            admin_column=_via(S.hazard_remaining, "id", "admin_pcode", S.hazard),
            organisation=_via(S.hazard_remaining, "id", "organisation_id", S.hazard),
        ),
        Resource(
            "area_events",
            S.hazard_area_event,
            "Changes of remaining area (history)",
            creatable=False,
            date_column="occurred_on",
            type_column="event",
            hazard_column="hazard_id",
        ),
        Resource(
            "activities",
            S.activity,
            "Activities",
            kind="activity",
            date_column="start_date",
            status_column="status",
            type_column="activity_type",
            admin_column=_hazard_admin(S.activity),
            organisation=_own(S.activity),
            hazard_column="hazard_id",
            submit_instead="activity",
        ),
        Resource(
            "release_products",
            S.release_product,
            "Land release products",
            kind="release",
            date_column="released_on",
            type_column="method",
            admin_column=_hazard_admin(S.release_product),
            organisation=_via(S.release_product, "activity_id", "organisation_id", S.activity),
            hazard_column="hazard_id",
            list_hidden=frozenset({"entered_geometry"}),
            submit_instead="release",
        ),
        Resource(
            "progress_reports",
            S.progress_report,
            "Daily progress reports",
            kind="progress_report",
            date_column="report_date",
            organisation=_via(S.progress_report, "team_id", "organisation_id", S.team),
            parent_column="activity_id",
            submit_instead="progress_report",
        ),
        Resource(
            "finds",
            S.eo_find,
            "Explosive ordnance found",
            kind="find",
            date_column="found_on",
            type_column="category",
            admin_column=_hazard_admin(S.eo_find),
            organisation=_via(S.eo_find, "activity_id", "organisation_id", S.activity),
            hazard_column="hazard_id",
            submit_instead="find",
        ),
        Resource(
            "accidents",
            S.accident,
            "Accidents (the description is personal data: shown to admins and IM officers)",
            kind="accident",
            date_column="occurred_on",
            type_column="accident_kind",
            admin_column=_hazard_admin(S.accident),
            hazard_column="hazard_id",
            submit_instead="accident",
        ),
        Resource(
            "victims",
            S.victim,
            "Victims (personal data)",
            status_column="status",
            parent_column="accident_id",
        ),
        Resource(
            "eore_sessions",
            S.eore_session,
            "Risk education sessions",
            kind="eore_session",
            date_column="held_on",
            type_column="method",
            admin_column=lambda: S.eore_session.c.admin_pcode,
            organisation=_own(S.eore_session),
        ),
        Resource(
            "eore_participants",
            S.eore_participant,
            "Risk education attendance (SADD)",
            parent_column="session_id",
        ),
        Resource(
            "qa_visits",
            S.qa_visit,
            "Quality assurance visits",
            kind="qa_visit",
            date_column="visited_on",
            type_column="visit_type",
            organisation=_own(S.qa_visit, "inspected_organisation_id"),
        ),
        Resource(
            "qa_nonconformities",
            S.qa_nonconformity,
            "Non-conformities found by QA",
            type_column="severity",
            organisation=_via(S.qa_nonconformity, "visit_id", "inspected_organisation_id", S.qa_visit),
            parent_column="visit_id",
        ),
    )
}

RESOURCE_OF_TABLE: dict[str, Resource] = {r.table.name: r for r in RESOURCES.values()}
