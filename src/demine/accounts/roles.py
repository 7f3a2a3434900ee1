"""Roles and what each may do with each kind of record.

The whole policy is the :data:`PERMISSIONS` table, so it can be read, documented and tested
exhaustively. A scope is ``"all"`` (every record) or ``"org"`` (the records of the user's own
organisation); a role missing from an entry may not do that at all.

* ``admin`` — everything, including users.
* ``im_officer`` — the national authority's information management officer: writes the
  register directly, approves submissions, sees victims' personal data.
* ``operator_manager`` — an operator's manager: verifies (or rejects) their organisation's
  submissions, keeps their teams and staff up to date.
* ``operator`` — operator staff: submit records for their organisation; see their own
  organisation's teams, staff, activities, reports and submissions, and the approved register.
* ``qa_officer`` — the authority's quality assurance: reads the register, records QA visits.
* ``viewer`` — reads the approved register; no personal data, no submissions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ADMIN = "admin"
IM_OFFICER = "im_officer"
OPERATOR_MANAGER = "operator_manager"
OPERATOR = "operator"
QA_OFFICER = "qa_officer"
VIEWER = "viewer"
ROLES: tuple[str, ...] = (ADMIN, IM_OFFICER, OPERATOR_MANAGER, OPERATOR, QA_OFFICER, VIEWER)
ORGANISATION_ROLES = frozenset({OPERATOR_MANAGER, OPERATOR})
"""Roles that must belong to an organisation: what they see and submit is scoped to it."""
PERSONAL_DATA_ROLES = frozenset({ADMIN, IM_OFFICER})
"""Roles that may see victims' personal data."""

Scope = Literal["all", "org"]
ALL: Scope = "all"
ORG: Scope = "org"
ACTIONS = ("read", "create", "update", "delete")

_EVERYONE: dict[str, Scope] = dict.fromkeys(ROLES, ALL)
_AUTHORITY: dict[str, Scope] = {ADMIN: ALL, IM_OFFICER: ALL}
_OPERATIONAL_READ: dict[str, Scope] = {
    ADMIN: ALL,
    IM_OFFICER: ALL,
    QA_OFFICER: ALL,
    VIEWER: ALL,
    OPERATOR_MANAGER: ORG,
    OPERATOR: ORG,
}
_STAFF_READ: dict[str, Scope] = {ADMIN: ALL, IM_OFFICER: ALL, OPERATOR_MANAGER: ORG, OPERATOR: ORG}
_STAFF_WRITE: dict[str, Scope] = {ADMIN: ALL, IM_OFFICER: ALL, OPERATOR_MANAGER: ORG}
_QA_WRITE: dict[str, Scope] = {ADMIN: ALL, IM_OFFICER: ALL, QA_OFFICER: ALL}


def _rw(read: dict[str, Scope], write: dict[str, Scope], update: dict[str, Scope] | None = None) -> dict:
    return {"read": read, "create": write, "update": update or write, "delete": write}


# resource -> action -> role -> scope. Operators add hazards, activities, releases, progress
# reports, finds and accidents through submissions (demine.workflow), not by writing here.
PERMISSIONS: dict[str, dict[str, dict[str, Scope]]] = {
    "organisations": _rw(_EVERYONE, _AUTHORITY),
    "code_lists": _rw(_EVERYONE, _AUTHORITY),
    "admin_areas": _rw(_EVERYONE, _AUTHORITY),
    "settlements": _rw(_EVERYONE, _AUTHORITY),
    "roads": _rw(_EVERYONE, _AUTHORITY),
    "hazards": _rw(_EVERYONE, _AUTHORITY),
    "hazard_beneficiaries": _rw(_EVERYONE, _AUTHORITY),
    # Maintained by the land release accounting only.
    "remaining": {"read": _EVERYONE, "create": {}, "update": {}, "delete": {}},
    "area_events": {"read": _EVERYONE, "create": {}, "update": {}, "delete": {}},
    "release_products": _rw(_EVERYONE, _AUTHORITY),
    "finds": _rw(_EVERYONE, _AUTHORITY),
    "accidents": _rw(_EVERYONE, _AUTHORITY),
    "victims": _rw(_AUTHORITY, _AUTHORITY),
    "eore_sessions": _rw(_EVERYONE, _AUTHORITY),
    "eore_participants": _rw(_EVERYONE, _AUTHORITY),
    "teams": _rw(_OPERATIONAL_READ, _AUTHORITY, update=_STAFF_WRITE),
    "accreditations": _rw(_OPERATIONAL_READ, _AUTHORITY),
    "activities": _rw(_OPERATIONAL_READ, _AUTHORITY),
    "progress_reports": _rw(_OPERATIONAL_READ, _AUTHORITY),
    "qa_visits": _rw(_OPERATIONAL_READ, _QA_WRITE),
    "qa_nonconformities": _rw(_OPERATIONAL_READ, _QA_WRITE),
    "persons": _rw(_STAFF_READ, _STAFF_WRITE),
    "training_records": _rw(_STAFF_READ, _STAFF_WRITE),
}

# Workflow actions on submissions (demine.workflow.submissions enforces the finer rules:
# verifier and approver differ from the author, states follow submitted → verified → approved).
SUBMISSION_PERMISSIONS: dict[str, dict[str, Scope]] = {
    "read": {ADMIN: ALL, IM_OFFICER: ALL, OPERATOR_MANAGER: ORG, OPERATOR: ORG},
    "submit": {OPERATOR_MANAGER: ORG, OPERATOR: ORG},
    "verify": {ADMIN: ALL, IM_OFFICER: ALL, OPERATOR_MANAGER: ORG},
    "approve": {ADMIN: ALL, IM_OFFICER: ALL},
    "reject": {ADMIN: ALL, IM_OFFICER: ALL, OPERATOR_MANAGER: ORG},
}


def scope(role: str, resource: str, action: str) -> Scope | None:
    """The scope in which ``role`` may do ``action`` on ``resource`` (None: not at all)."""
    return PERMISSIONS.get(resource, {}).get(action, {}).get(role)


def submission_scope(role: str, action: str) -> Scope | None:
    """The scope in which ``role`` may do a workflow ``action`` on submissions."""
    return SUBMISSION_PERMISSIONS.get(action, {}).get(role)


def permissions_table() -> list[dict[str, str]]:
    """The policy as rows (resource, action, and one column per role), for docs and the API."""
    rows = []
    for resource, actions in PERMISSIONS.items():
        for action in ACTIONS:
            rows.append(
                {"resource": resource, "action": action}
                | {role: actions.get(action, {}).get(role, "-") for role in ROLES}
            )
    for action, roles in SUBMISSION_PERMISSIONS.items():
        rows.append({"resource": "submissions", "action": action} | {r: roles.get(r, "-") for r in ROLES})
    return rows


@dataclass(frozen=True)
class PlannerLimits:
    """How much planning work one request of a role may ask of the server."""

    trials: int
    months: int
    solver_seconds: float


PLANNING_ROLES = frozenset({ADMIN, IM_OFFICER, OPERATOR_MANAGER})
"""Roles that plan: the full forecast and a long workplan solve. Others see a smaller run."""
_PLANNER = PlannerLimits(trials=2000, months=36, solver_seconds=120.0)
_READER = PlannerLimits(trials=500, months=12, solver_seconds=10.0)


def planner_limits(role: str) -> PlannerLimits:
    """The largest forecast and workplan a user of ``role`` may run from the web planner."""
    return _PLANNER if role in PLANNING_ROLES else _READER
