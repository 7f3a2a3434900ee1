"""Pages for running the programme: teams and accreditations, organisations, official reports,
and user management for admins (QA visits and risk education: :mod:`demine.web.quality`).

Every page reads through the library the command line and the REST API use: the team list and
accreditation flags of :mod:`demine.register.roster`, the team status of
:func:`demine.register.organisations.team_accreditation_status`, the reports of
:mod:`demine.reports.official`, the users and tokens of :mod:`demine.accounts`. What a role may
see is :mod:`demine.accounts.roles`' table, as in the API: an operator sees their own
organisation's teams and reports, only an admin manages users. Forms post the session's CSRF
token (:func:`demine.web.session.check_form_csrf`).
"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from demine.accounts import tokens as tokens_lib
from demine.accounts import users as users_lib
from demine.accounts.ratelimit import normalise_username
from demine.accounts.roles import ADMIN, ORG, ORGANISATION_ROLES, ROLES, scope
from demine.accounts.tokens import TokenInfo
from demine.api.security import context
from demine.domain.errors import DemineError, NotFoundError, ValidationError
from demine.register import roster
from demine.register.organisations import team_accreditation_status
from demine.reports.catalogue import FORMATS, KINDS, TITLES
from demine.reports.period import HELP as PERIOD_HELP
from demine.reports.period import parse_period
from demine.storage import schema as S
from demine.storage.codelists import all_code_labels
from demine.web.forms import code_choices, organisation_choices
from demine.web.register import code_label, error_page, fmt_date
from demine.web.routes import render
from demine.web.session import PageSession, check_form_csrf
from demine.workflow import kinds

router = APIRouter(include_in_schema=False)
Csrf = Annotated[str, Form(max_length=200)]
REPORT_TYPES = {
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
TEAM_STATUS = {
    "valid": "Valid",
    "expiring": "Expiring",
    "expired": "Expired",
    "none": "Not accredited",
}
FLAG_TEXT = {
    "valid": "valid",
    "expiring": "expiring",
    "expired": "expired",
    "not_yet_valid": "not yet valid",
}


def _problems(exc: DemineError) -> list[str]:
    """A refusal as sentences for the page (each problem with its field)."""
    if isinstance(exc, ValidationError):
        return [f"{p.field}: {p.message}" if p.field else p.message for p in exc.problems]
    return [str(exc)]


# ---------------------------------------------------------------------------------------------
# teams and accreditations


@router.get("/teams")
def teams_page(
    request: Request,
    info: PageSession,
    org: Annotated[str | None, Query(max_length=100)] = None,
    done: Annotated[str | None, Query(max_length=120)] = None,
) -> Response:
    """Teams with organisation, type, base and accreditation status, expiries flagged."""
    message = ADDED.get(request.query_params.get("added", ""), "").format(done) if done else None
    return _teams_page(request, info, org, done=message)


def _teams_page(
    request: Request,
    info: TokenInfo,
    org: str | None,
    status_code: int = 200,
    errors: dict[str, list[str]] | None = None,
    form: dict[str, str] | None = None,
    done: str | None = None,
) -> Response:
    user = info.user
    found = scope(user.role, "teams", "read")
    if found is None:
        return error_page(request, info, 403, f"A {user.role.replace('_', ' ')} does not see teams.")
    # An operator's list is their organisation's, whatever the address asks for.
    organisation = user.organisation if found == ORG else ((org or "").strip() or None)
    today = date.today()
    with context(request).reading() as conn:
        try:
            teams = roster.list_teams(conn, today, organisation)
            accreditations = (
                roster.list_accreditations(conn, today, organisation=organisation)
                if scope(user.role, "accreditations", "read")
                else []
            )
        except NotFoundError:
            return error_page(request, info, 404, f"There is no organisation {org!r}.")
        status = team_accreditation_status(conn, today)
        ids = dict(conn.execute(select(S.team.c.code, S.team.c.id)).all())
        labels = all_code_labels(conn)
        orgs = [] if found == ORG else roster.list_organisations(conn)
        choices = _choices(conn) if may_add(info, "teams") or may_add(info, "accreditations") else {}
    by_team: dict[str, list[dict[str, Any]]] = {}
    for acc in accreditations:
        acc["activity"] = code_label(labels, "activity_type", acc["activity_type"])
        acc["flag"] = FLAG_TEXT.get(acc["status"], acc["status"])
        acc["issued"], acc["expires"] = fmt_date(acc["issued_on"]), fmt_date(acc["expires_on"])
        by_team.setdefault(acc["team"], []).append(acc)
    for team in teams:
        team["id"] = ids[team["code"]]
        team["status"] = status.get(team["id"], "none")
        team["status_text"] = TEAM_STATUS.get(team["status"], team["status"])
        team["type_label"] = code_label(labels, "team_type", team["team_type"])
        team["accreditations"] = by_team.get(team["code"], [])
    # An expired accreditation whose team holds a current one for the same activity was renewed:
    # shown as history, not counted as a lapse.
    current = {
        (a["team"], a["activity_type"]) for a in accreditations if a["status"] in ("valid", "expiring")
    }
    for acc in accreditations:
        acc["renewed"] = acc["status"] == "expired" and (acc["team"], acc["activity_type"]) in current
    counts = {flag: sum(1 for a in accreditations if a["status"] == flag) for flag in FLAG_TEXT}
    counts["lapsed"] = sum(1 for a in accreditations if a["status"] == "expired" and not a["renewed"])
    team_counts = {key: sum(1 for t in teams if t["status"] == key) for key in TEAM_STATUS}
    return render(
        request,
        info,
        "teams.html",
        status_code=status_code,
        errors=errors or {},
        form=form or {},
        done=done,
        may_add_team=may_add(info, "teams"),
        may_add_accreditation=may_add(info, "accreditations"),
        choices=choices,
        all_teams=sorted(ids),
        teams=teams,
        counts=counts,
        team_counts=team_counts,
        team_status=TEAM_STATUS,
        organisation=organisation,
        org_scoped=found == ORG,
        orgs=orgs,
        today=fmt_date(today),
        warn_days=roster.EXPIRING_DAYS,
        horizon=fmt_date(today + timedelta(days=roster.EXPIRING_DAYS)),
    )


@router.get("/organisations")
def organisations_page(
    request: Request, info: PageSession, done: Annotated[str | None, Query(max_length=120)] = None
) -> Response:
    """Every organisation, with its teams and people where this role may count them."""
    return _organisations_page(request, info, done=ADDED["organisation"].format(done) if done else None)


def _organisations_page(
    request: Request,
    info: TokenInfo,
    status_code: int = 200,
    errors: list[str] | None = None,
    form: dict[str, str] | None = None,
    done: str | None = None,
) -> Response:
    user = info.user
    with context(request).reading() as conn:
        orgs = roster.list_organisations(conn)
        labels = all_code_labels(conn)
        choices = _choices(conn) if may_add(info, "organisations") else {}
    teams_scope = scope(user.role, "teams", "read")
    people_scope = scope(user.role, "persons", "read")
    for o in orgs:
        own = o["code"] == user.organisation
        o["type_label"] = code_label(labels, "organisation_type", o["organisation_type"])
        # Another organisation's staff is not an operator's to count.
        o["teams"] = o["teams"] if teams_scope == "all" or (teams_scope and own) else None
        o["people"] = o["people"] if people_scope == "all" or (people_scope and own) else None
    return render(
        request,
        info,
        "organisations.html",
        status_code=status_code,
        orgs=orgs,
        errors=errors or [],
        form=form or {},
        done=done,
        may_add=may_add(info, "organisations"),
        choices=choices,
    )


# ---------------------------------------------------------------------------------------------
# adding teams, accreditations and organisations (the API's functions, with audit rows)

ADDED = {
    "team": "Added team {}.",
    "accreditation": "Added an accreditation of team {}.",
    "organisation": "Added organisation {}.",
}


def may_add(info: TokenInfo, resource: str) -> bool:
    """Whether this user creates records of ``resource`` (``roles.PERMISSIONS``, as the API)."""
    return scope(info.user.role, resource, "create") is not None


def _refused_adding(request: Request, info: TokenInfo, csrf: str, resource: str) -> Response | None:
    # Every add form: the CSRF token first, then the role's permission, as the API checks them.
    check_form_csrf(info, csrf)
    if may_add(info, resource):
        return None
    return error_page(request, info, 403, f"A {info.user.role.replace('_', ' ')} does not add {resource}.")


def _choices(conn: Any) -> dict[str, list[tuple[str, str]]]:
    return {
        "orgs": organisation_choices(conn),
        "team_types": code_choices(conn, "team_type"),
        "activity_types": code_choices(conn, "activity_type"),
        "organisation_types": code_choices(conn, "organisation_type"),
    }


def _field_problems(exc: DemineError) -> dict[str, list[str]]:
    """A refusal by field (``""``: not about one field), for messages beside the inputs."""
    out: dict[str, list[str]] = {}
    if isinstance(exc, ValidationError):
        for p in exc.problems:
            out.setdefault(p.field or "", []).append(p.message)
    else:
        out[""] = [str(exc)]
    return out


def _write(request: Request, info: TokenInfo, kind: str, payload: dict[str, Any]) -> dict[str, list[str]]:
    """Write one record with ``kinds.write`` (what ``POST /api/...`` runs); its problems, if any."""
    try:
        with context(request).writing() as conn:
            kinds.write(conn, kind, payload, actor=info.user.username)
    except DemineError as exc:
        return _field_problems(exc)
    return {}


def _form_value(value: str) -> str | None:
    return value.strip() or None


FormText = Annotated[str, Form(max_length=200)]


@router.post("/teams")
def add_team_form(
    request: Request,
    info: PageSession,
    csrf: Csrf,
    code: FormText = "",
    name: FormText = "",
    organisation: FormText = "",
    team_type: FormText = "",
    members: Annotated[str, Form(max_length=10)] = "",
    base_lon: Annotated[str, Form(max_length=30)] = "",
    base_lat: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    """Add a team (admin, IM officer)."""
    refused = _refused_adding(request, info, csrf, "teams")
    if refused is not None:
        return refused
    form = {
        "code": code,
        "name": name,
        "organisation": organisation,
        "team_type": team_type,
        "members": members,
        "base_lon": base_lon,
        "base_lat": base_lat,
        "form": "team",
    }
    problems: dict[str, list[str]] = {}
    payload: dict[str, Any] = {
        "code": _form_value(code),
        "name": _form_value(name),
        "organisation": _form_value(organisation),
        "team_type": _form_value(team_type),
    }
    if members.strip():
        if members.strip().isdigit():
            payload["members"] = int(members)
        else:
            problems["members"] = [f"{members.strip()[:12]!r} is not a whole number of people"]
    if base_lon.strip() or base_lat.strip():
        try:
            payload["base"] = [float(base_lon), float(base_lat)]
        except ValueError:
            problems["base"] = ["give both longitude and latitude as decimal degrees, e.g. 66.95 and 34.51"]
    if not problems:
        problems = _write(request, info, "team", payload)
    if problems:
        return _teams_page(request, info, None, 422, problems, form)
    return RedirectResponse(
        "/teams?" + urlencode({"added": "team", "done": payload["code"]}), status_code=303
    )


@router.post("/teams/accreditations")
def add_accreditation_form(
    request: Request,
    info: PageSession,
    csrf: Csrf,
    team: FormText = "",
    activity_type: FormText = "",
    issued_on: Annotated[str, Form(max_length=20)] = "",
    expires_on: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Add an accreditation to a team (admin, IM officer)."""
    refused = _refused_adding(request, info, csrf, "accreditations")
    if refused is not None:
        return refused
    form = {
        "team": team,
        "activity_type": activity_type,
        "issued_on": issued_on,
        "expires_on": expires_on,
        "form": "accreditation",
    }
    payload = {
        "team": _form_value(team),
        "activity_type": _form_value(activity_type),
        "issued_on": _form_value(issued_on),
        "expires_on": _form_value(expires_on),
    }
    problems = _write(request, info, "accreditation", payload)
    if problems:
        return _teams_page(
            request, info, None, 422, {f"acc_{k}" if k else "": v for k, v in problems.items()}, form
        )
    return RedirectResponse(
        "/teams?" + urlencode({"added": "accreditation", "done": payload["team"]}), status_code=303
    )


@router.post("/organisations")
def add_organisation_form(
    request: Request,
    info: PageSession,
    csrf: Csrf,
    code: FormText = "",
    name: FormText = "",
    organisation_type: FormText = "",
    country: FormText = "",
) -> Response:
    """Add an organisation (admin, IM officer)."""
    refused = _refused_adding(request, info, csrf, "organisations")
    if refused is not None:
        return refused
    form = {"code": code, "name": name, "organisation_type": organisation_type, "country": country}
    payload = {k: _form_value(v) for k, v in form.items()}
    problems = _write(request, info, "organisation", payload)
    if problems:
        messages = [
            f"{k.replace('_', ' ').capitalize()}: {m}" if k else m for k, ms in problems.items() for m in ms
        ]
        return _organisations_page(request, info, 422, messages, form)
    return RedirectResponse("/organisations?" + urlencode({"done": payload["code"]}), status_code=303)


# ---------------------------------------------------------------------------------------------
# official reports


def _report_choices(info: TokenInfo, conn: Any) -> list[tuple[str, str]]:
    """The organisations a report may be limited to (an operator: only their own)."""
    o = S.organisation
    if scope(info.user.role, "activities", "read") == ORG:
        return [(info.user.organisation or "", info.user.organisation or "")]
    return [
        (r.code, f"{r.code} – {r.name}") for r in conn.execute(select(o.c.code, o.c.name).order_by(o.c.code))
    ]


def _reports_form(
    request: Request, info: TokenInfo, status: int = 200, error: str | None = None, **chosen: Any
) -> HTMLResponse:
    with context(request).reading() as conn:
        orgs = _report_choices(info, conn)
    last_month = date.today().replace(day=1) - timedelta(days=1)
    values = {"kind": "monthly", "period": f"{last_month:%Y-%m}", "format": "pdf", "organisation": ""} | {
        k: v for k, v in chosen.items() if v is not None
    }
    return render(
        request,
        info,
        "reports.html",
        status_code=status,
        kinds=[(k, TITLES[k]) for k in KINDS],
        formats=FORMATS,
        orgs=orgs,
        org_scoped=scope(info.user.role, "activities", "read") == ORG,
        values=values,
        error=error,
        period_help=PERIOD_HELP,
    )


@router.get("/reports")
def reports_page(request: Request, info: PageSession) -> Response:
    """Choose a report, its period and format."""
    return _reports_form(request, info)


@router.get("/reports/download")
def report_download(
    request: Request,
    info: PageSession,
    kind: Annotated[str, Query(max_length=20)] = "monthly",
    period: Annotated[str, Query(max_length=40)] = "",
    format: Annotated[str, Query(max_length=10)] = "pdf",
    organisation: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """The report as a file (what ``demine report KIND FILE --period P`` writes)."""
    from demine.reports.official import build_report
    from demine.reports.render import write_report

    user = info.user
    chosen = {"kind": kind, "period": period, "format": format, "organisation": organisation}
    org = organisation.strip() or None
    if scope(user.role, "activities", "read") == ORG:
        org = user.organisation  # an operator reports on their own organisation's work only
    if kind not in KINDS:
        return _reports_form(request, info, 422, f"Choose a report: {', '.join(KINDS)}.", **chosen)
    if format not in FORMATS:
        return _reports_form(request, info, 422, f"Choose a format: {', '.join(FORMATS)}.", **chosen)
    try:
        chosen_period = parse_period(period)
        with context(request).reading() as conn:
            if (
                org is not None
                and conn.execute(select(S.organisation.c.id).where(S.organisation.c.code == org)).scalar()
                is None
            ):
                raise DemineError(f"There is no organisation {org!r}.")
            report = build_report(conn, kind, chosen_period, org)
        with tempfile.TemporaryDirectory(prefix="demine-report-") as folder:
            path = write_report(report, format, FilePath(folder) / f"report.{format}")
            body = path.read_bytes()
    except DemineError as exc:
        message = str(exc).removeprefix("--period: ")
        return _reports_form(request, info, 422, f"Period: {message}", **chosen)
    name = f"{kind}-{chosen_period.slug.replace('..', '_')}{'-' + org if org else ''}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type=REPORT_TYPES[format], headers=headers)


# ---------------------------------------------------------------------------------------------
# user management (admins)


def _admin_only(request: Request, info: TokenInfo) -> HTMLResponse | None:
    if info.user.role == ADMIN:
        return None
    return error_page(request, info, 403, "Only an admin manages users.")


def _users_page(
    request: Request,
    info: TokenInfo,
    status: int = 200,
    errors: list[str] | None = None,
    issued: dict[str, Any] | None = None,
    done: str | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    with context(request).reading() as conn:
        users = users_lib.list_users(conn)
        tokens = {u.id: tokens_lib.list_tokens(conn, u.id) for u in users}
        orgs = list(conn.execute(select(S.organisation.c.code).order_by(S.organisation.c.code)).scalars())
    for items in tokens.values():
        for t in items:
            t["expires"] = fmt_date(t["expires_at"])
    return render(
        request,
        info,
        "admin_users.html",
        status_code=status,
        users=users,
        tokens=tokens,
        roles=ROLES,
        org_roles=sorted(ORGANISATION_ROLES),
        orgs=orgs,
        errors=errors or [],
        issued=issued,
        done=done,
        form=form or {},
    )


DONE = {
    "added": "Added user {}.",
    "changed": "Changed the role of {}; their sessions and tokens were revoked.",
    "disabled": "Disabled {}: they can no longer log in, and their sessions and tokens are revoked.",
    "enabled": "Enabled {} again.",
    "revoked": "Revoked a token of {}.",
}


@router.get("/admin/users")
def users_page(
    request: Request,
    info: PageSession,
    done: Annotated[str | None, Query(max_length=20)] = None,
    user: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """Every user, their role and live API tokens; forms to add, change, disable and issue tokens."""
    refused = _admin_only(request, info)
    if refused is not None:
        return refused
    message = DONE[done].format(user) if done in DONE and user else None
    return _users_page(request, info, done=message)


def _done(what: str, username: str) -> Response:
    # Post/redirect/get: reloading the page does not send the form again.
    from urllib.parse import urlencode

    return RedirectResponse("/admin/users?" + urlencode({"done": what, "user": username}), status_code=303)


def _checked(request: Request, info: TokenInfo, csrf: str) -> HTMLResponse | None:
    refused = _admin_only(request, info)
    if refused is None:
        check_form_csrf(info, csrf)
    return refused


Username = Annotated[str, Form(max_length=100)]


@router.post("/admin/users")
def add_user_form(
    request: Request,
    info: PageSession,
    csrf: Csrf,
    username: Username = "",
    role: Annotated[str, Form(max_length=40)] = "",
    organisation: Annotated[str, Form(max_length=100)] = "",
    full_name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Add a user (without a password: an account for API tokens only)."""
    refused = _checked(request, info, csrf)
    if refused is not None:
        return refused
    form = {"username": username, "role": role, "organisation": organisation, "full_name": full_name}
    try:
        with context(request).writing() as conn:
            added = users_lib.add_user(
                conn,
                username.strip(),
                role,
                organisation=organisation.strip() or None,
                password=password or None,
                full_name=full_name.strip() or None,
                actor=info.user.username,
            )
    except DemineError as exc:
        return _users_page(request, info, 422, ["Not added: " + m for m in _problems(exc)], form=form)
    return _done("added", added.username)


def _change(request: Request, info: TokenInfo, username: str, what: str, **changes: Any) -> Response:
    try:
        with context(request).writing() as conn:
            if what == "disabled":
                users_lib.disable_user(conn, username, actor=info.user.username)
            else:
                users_lib.update_user(conn, username, actor=info.user.username, **changes)
    except DemineError as exc:
        return _users_page(request, info, 422, [f"{username} not changed: " + m for m in _problems(exc)])
    return _done(what, normalise_username(username))


@router.post("/admin/users/{username}/role")
def change_role_form(
    request: Request,
    info: PageSession,
    username: str,
    csrf: Csrf,
    role: Annotated[str, Form(max_length=40)] = "",
    organisation: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Give a user another role (and organisation); their sessions and tokens are revoked."""
    refused = _checked(request, info, csrf)
    if refused is not None:
        return refused
    if normalise_username(username) == info.user.username and role != ADMIN:
        return _users_page(request, info, 422, ["You cannot demote yourself: ask another admin."])
    return _change(request, info, username, "changed", role=role, organisation=organisation.strip() or None)


@router.post("/admin/users/{username}/disable")
def disable_form(request: Request, info: PageSession, username: str, csrf: Csrf) -> Response:
    """Stop a user from logging in (the account and its history stay)."""
    refused = _checked(request, info, csrf)
    return refused or _change(request, info, username, "disabled")


@router.post("/admin/users/{username}/enable")
def enable_form(request: Request, info: PageSession, username: str, csrf: Csrf) -> Response:
    """Let a disabled user log in again."""
    refused = _checked(request, info, csrf)
    return refused or _change(request, info, username, "enabled", active=True)


@router.post("/admin/users/{username}/tokens")
def issue_token_form(
    request: Request,
    info: PageSession,
    username: str,
    csrf: Csrf,
    name: Annotated[str, Form(max_length=200)] = "",
    days: Annotated[str, Form(max_length=6)] = "90",
) -> Response:
    """Issue an API token for a user (QGIS, GDAL, scripts); the page shows it once."""
    refused = _checked(request, info, csrf)
    if refused is not None:
        return refused
    lasting = int(days) if days.strip().isdigit() else 0
    if not 1 <= lasting <= 366:
        return _users_page(request, info, 422, [f"Token for {username} not issued: days must be 1 to 366."])
    try:
        with context(request).writing() as conn:
            holder = users_lib.get_user(conn, username)
            assert holder is not None
            if not holder.active:
                raise DemineError(f"user {holder.username} is disabled")
            issued = tokens_lib.issue_token(
                conn, holder, kind=tokens_lib.API, ttl=timedelta(days=lasting), name=name.strip() or None
            )
    except DemineError as exc:
        return _users_page(
            request, info, 422, [f"Token for {username} not issued: " + m for m in _problems(exc)]
        )
    shown = {"username": holder.username, "token": issued.token, "expires": fmt_date(issued.expires_at)}
    return _users_page(request, info, issued=shown)


@router.post("/admin/users/{username}/tokens/{token_id}/revoke")
def revoke_token_form(
    request: Request,
    info: PageSession,
    username: str,
    token_id: Annotated[int, Path(ge=1, le=2**53)],
    csrf: Csrf,
) -> Response:
    """Revoke one of a user's API tokens."""
    refused = _checked(request, info, csrf)
    if refused is not None:
        return refused
    try:
        with context(request).writing() as conn:
            holder = users_lib.get_user(conn, username)
            assert holder is not None
            tokens_lib.revoke_token(conn, token_id, user_id=holder.id)
    except DemineError as exc:
        return _users_page(request, info, 422, [f"Not revoked: {m}" for m in _problems(exc)])
    return _done("revoked", holder.username)
