"""The dashboard: the programme's figures for a period, a region and an organisation, each one
a link to the register list it counts.

Every figure is an aggregate over the rows of one register list (:mod:`demine.web.register`)
selected by that list's own condition (:func:`demine.web.register.condition`) with the
dashboard's filter turned into the list's query parameters. The link beside a figure is that
list with those parameters, so the list shows the same number of records (and its download
sums to the same area) by construction, for every role's reading scope.

A period selects each record by its own date: hazards by the day they were reported, release
products by the day of release, finds by the day found, accidents by their day, activities by
their start. A region is an administrative area and everything under it (records other than
hazards take their hazard's area). An organisation is the hazard's organisation, or for
releases, finds and accidents that of the activity that produced them.

Without a filter the figures are ``demine summary``'s (the tests hold them equal). Grouping by
month is done in Python so the same code runs on SQLite and PostgreSQL. Accidents and victims
are counts only: no victim's name or date of birth is read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import ColumnElement, Connection, func, select

from demine.accounts.roles import ORG, scope
from demine.accounts.users import User
from demine.api.security import context
from demine.domain import palette
from demine.domain.accreditation import EXPIRY_WARNING_DAYS, Accreditation, covered_until
from demine.domain.errors import DemineError
from demine.register.organisations import team_accreditation_status
from demine.reports.summary import BALANCE_TOLERANCE
from demine.storage import schema
from demine.storage.codelists import all_code_labels
from demine.web import svg
from demine.web.register import LISTINGS, ListQuery, code_label, condition, fmt_date, parse_day
from demine.web.session import PageSession

router = APIRouter(include_in_schema=False)
METHODS = ("cancelled", "reduced", "cleared")
UNATTRIBUTED = "(no activity)"
S = schema


# ---------------------------------------------------------------------------------------------
# the filter


@dataclass(frozen=True)
class Filter:
    """What the dashboard is asked to show: a period, a region, an organisation (None: all)."""

    date_from: date | None = None
    date_to: date | None = None
    year: int | None = None  # shown in the form; the period is date_from..date_to
    admin: str | None = None
    org: str | None = None

    @property
    def period(self) -> bool:
        return self.date_from is not None or self.date_to is not None

    @property
    def active(self) -> bool:
        return self.period or bool(self.admin or self.org)

    def query(self, **extra: Any) -> ListQuery:
        """The register list's query for this filter, plus ``extra`` (status, type, ...)."""
        return ListQuery(
            admin=self.admin, org=self.org, date_from=self.date_from, date_to=self.date_to, **extra
        )

    def href(self, kind: str, **extra: Any) -> str:
        """The register list of ``kind`` that a figure counts."""
        params = self.query(**extra).params()
        return f"/register/{kind}" + (f"?{params}" if params else "")


def year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def parse_filter(conn: Connection, params: Mapping[str, str]) -> tuple[Filter, list[str]]:
    """The filter of the dashboard's address, and what is wrong with it (each for people)."""
    problems: list[str] = []

    def text(name: str) -> str | None:
        value = (params.get(name) or "").strip()
        return value[:100] or None

    year = None
    if (raw := text("year")) is not None:
        if raw.isascii() and raw.isdigit() and 1900 <= int(raw) <= 2200:
            year = int(raw)
        else:
            problems.append(f"Year: {raw[:20]!r} is not a year such as 2025.")
    since = until = None
    try:
        since = parse_day(text("date_from"), "From")
    except DemineError as exc:
        problems.append(str(exc))
    try:
        until = parse_day(text("date_to"), "To")
    except DemineError as exc:
        problems.append(str(exc))
    if year is not None:
        # A year fills in the period; a date typed as well narrows it.
        first, last = year_bounds(year)
        since, until = since or first, until or last
    if since and until and since > until:
        problems.append(f"The period ends ({fmt_date(until)}) before it starts ({fmt_date(since)}).")
    admin, org = text("admin"), text("org")
    if (
        admin
        and conn.execute(select(S.admin_area.c.pcode).where(S.admin_area.c.pcode == admin)).first() is None
    ):
        problems.append(f"Region: there is no administrative area {admin!r}.")
    if org and conn.execute(select(S.organisation.c.id).where(S.organisation.c.code == org)).first() is None:
        problems.append(f"Organisation: there is no organisation {org!r}.")
    return Filter(since, until, year, admin, org), problems


def filter_options(conn: Connection) -> dict[str, list[tuple[str, str]]]:
    """The form's choices (value, label): years with records, regions, organisations."""
    dates = [
        conn.execute(select(func.min(c), func.max(c))).first()
        for c in (S.hazard.c.reported_on, S.release_product.c.released_on, S.accident.c.occurred_on)
    ]
    years = sorted({d.year for pair in dates for d in pair if d is not None})
    a, o = S.admin_area, S.organisation
    return {
        "year": [(str(y), str(y)) for y in range(years[0], years[-1] + 1)][::-1] if years else [],
        "admin": [
            (r.pcode, ("\u2003" * (r.level - 1)) + f"{r.name} ({r.pcode})")
            for r in conn.execute(select(a.c.pcode, a.c.name, a.c.level).order_by(a.c.pcode))
        ],
        "org": [
            (r.code, f"{r.name} ({r.code})")
            for r in conn.execute(select(o.c.code, o.c.name).order_by(o.c.name))
        ],
    }


def describe(conn: Connection, f: Filter) -> list[str]:
    """The filter in words: "1 Jan 2025 – 31 Dec 2025", "Nabada Oblast", ..."""
    out = []
    if f.period:
        out.append(f"{fmt_date(f.date_from) or 'the start'} – {fmt_date(f.date_to) or 'today'}")
    if f.admin:
        name = conn.execute(select(S.admin_area.c.name).where(S.admin_area.c.pcode == f.admin)).scalar()
        out.append(f"{name} ({f.admin})")
    if f.org:
        name = conn.execute(select(S.organisation.c.name).where(S.organisation.c.code == f.org)).scalar()
        out.append(f"{name} ({f.org})")
    return out


# ---------------------------------------------------------------------------------------------
# the figures


@dataclass
class Scope:
    """One filter, one user: the condition of each register list, and the code labels."""

    conn: Connection
    user: User
    f: Filter
    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def where(self, kind: str, **extra: Any) -> ColumnElement:
        return condition(LISTINGS[kind], self.user, self.f.query(**extra))

    def ids(self, kind: str) -> Any:
        """The ids of the list's rows, for joins from other tables."""
        table = LISTINGS[kind].resource.table
        return select(table.c.id).where(self.where(kind))

    def label(self, code_list: str, code: Any) -> str:
        return code_label(self.labels, code_list, code) or "(none)"


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _months_between(first: date, last: date) -> list[str]:
    months, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def hazards_by_type_status(s: Scope) -> list[dict[str, Any]]:
    """Hazards per type and status: count, area, remaining, and the list of each."""
    h = S.hazard
    rows = s.conn.execute(
        select(
            h.c.hazard_type, h.c.status, func.count(), func.sum(h.c.area_m2), func.sum(h.c.remaining_area_m2)
        )
        .where(s.where("hazards"))
        .group_by(h.c.hazard_type, h.c.status)
        .order_by(h.c.hazard_type, h.c.status)
    )
    return [
        {
            "hazard_type": t,
            "status": st,
            "type_label": s.label("hazard_type", t),
            "status_label": s.label("hazard_status", st),
            "count": n,
            "area_m2": a or 0.0,
            "remaining_m2": r or 0.0,
            "href": s.f.href("hazards", type=t, status=st),
        }
        for t, st, n, a, r in rows
    ]


def released_by_method(s: Scope) -> dict[str, dict[str, Any]]:
    """Release products per method: how many, the area, the list."""
    p = S.release_product
    found = {
        m: (n, a or 0.0)
        for m, n, a in s.conn.execute(
            select(p.c.method, func.count(), func.sum(p.c.released_area_m2))
            .where(s.where("release_products"))
            .group_by(p.c.method)
        )
    }
    return {
        m: {
            "label": s.label("release_method", m),
            "count": found.get(m, (0, 0.0))[0],
            "area_m2": found.get(m, (0, 0.0))[1],
            "href": s.f.href("release_products", type=m),
        }
        for m in (*METHODS, *sorted(set(found) - set(METHODS)))
    }


def area_figures(hazards: list[dict[str, Any]], released: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The land release balance: original = cancelled + reduced + cleared + remaining."""
    original = sum(r["area_m2"] for r in hazards)
    remaining = sum(r["remaining_m2"] for r in hazards)
    by = {m: released.get(m, {}).get("area_m2", 0.0) for m in METHODS}
    balance = original - (sum(by.values()) + remaining)
    return {
        "original_m2": original,
        "cancelled_m2": by["cancelled"],
        "reduced_m2": by["reduced"],
        "cleared_m2": by["cleared"],
        "released_m2": sum(by.values()),
        "remaining_m2": remaining,
        "balance_m2": balance,
        "balanced": abs(balance) <= BALANCE_TOLERANCE * max(original, 1.0),
    }


def finds_by_category(s: Scope) -> list[dict[str, Any]]:
    """Finds per EO category: records and items (a record counts several items of one model)."""
    e = S.eo_find
    return [
        {
            "category": c,
            "label": s.label("eo_category", c),
            "records": n,
            "items": int(q or 0),
            "href": s.f.href("finds", type=c),
        }
        for c, n, q in s.conn.execute(
            select(e.c.category, func.count(), func.sum(e.c.quantity))
            .where(s.where("finds"))
            .group_by(e.c.category)
            .order_by(e.c.category)
        )
    ]


def activities_by_type_status(s: Scope) -> list[dict[str, Any]]:
    """Activities per type and status (started in the period), with the list of each."""
    a = S.activity
    return [
        {
            "type_label": s.label("activity_type", t),
            "status_label": s.label("activity_status", st),
            "count": n,
            "href": s.f.href("activities", type=t, status=st),
        }
        for t, st, n in s.conn.execute(
            select(a.c.activity_type, a.c.status, func.count())
            .where(s.where("activities"))
            .group_by(a.c.activity_type, a.c.status)
            .order_by(a.c.activity_type, a.c.status)
        )
    ]


def accidents_aggregated(s: Scope) -> dict[str, Any]:
    """Accidents per year, victims per year and outcome, by sex and age band (counts only)."""
    acc, v = S.accident, S.victim
    where = s.where("accidents")
    by_year: dict[int, dict[str, Any]] = {}

    def year_row(year: int) -> dict[str, Any]:
        if year not in by_year:
            first, last = year_bounds(year)
            first, last = max(first, s.f.date_from or first), min(last, s.f.date_to or last)
            by_year[year] = {
                "year": year,
                "accidents": 0,
                "killed": 0,
                "injured": 0,
                "href": replace(s.f, date_from=first, date_to=last).href("accidents"),
            }
        return by_year[year]

    kinds: dict[str, int] = defaultdict(int)
    for day, kind in s.conn.execute(select(acc.c.occurred_on, acc.c.accident_kind).where(where)):
        year_row(day.year)["accidents"] += 1
        kinds[kind] += 1
    in_scope = v.c.accident_id.in_(s.ids("accidents"))
    for day, status in s.conn.execute(
        select(acc.c.occurred_on, v.c.status)
        .select_from(v.join(acc, acc.c.id == v.c.accident_id))
        .where(in_scope)
    ):
        if status in ("killed", "injured"):
            year_row(day.year)[status] += 1
    sadd = [
        {
            "sex": s.label("sex", sex),
            "age_band": s.label("age_band", band),
            "status": s.label("victim_status", status),
            "count": n,
        }
        for sex, band, status, n in s.conn.execute(
            select(v.c.sex, v.c.age_band, v.c.status, func.count())
            .where(in_scope)
            .group_by(v.c.sex, v.c.age_band, v.c.status)
            .order_by(v.c.sex, v.c.age_band, v.c.status)
        )
    ]
    years = [by_year[y] for y in sorted(by_year)]
    return {
        "count": sum(r["accidents"] for r in years),
        "killed": sum(r["killed"] for r in years),
        "injured": sum(r["injured"] for r in years),
        "by_year": years,
        "kinds": [
            {"label": s.label("accident_kind", k), "count": n, "href": s.f.href("accidents", type=k)}
            for k, n in sorted(kinds.items())
        ],
        "victims_by_sex_age": sadd,
    }


def land_release_over_time(s: Scope) -> list[dict[str, Any]]:
    """Per month of the period: m² remaining of the hazards counted at the month's end, and m²
    of the release products counted, released so far by each method."""
    e, p = S.hazard_area_event, S.release_product
    changes: dict[str, float] = defaultdict(float)
    for day, change in s.conn.execute(
        select(e.c.occurred_on, func.sum(e.c.change_m2))
        .where(e.c.hazard_id.in_(s.ids("hazards")))
        .group_by(e.c.occurred_on)
    ):
        changes[_month(day)] += change
    released: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(METHODS, 0.0))
    for day, method, area in s.conn.execute(
        select(p.c.released_on, p.c.method, func.sum(p.c.released_area_m2))
        .where(s.where("release_products"))
        .group_by(p.c.released_on, p.c.method)
    ):
        if method in METHODS:
            released[_month(day)][method] += area or 0.0
    keys = sorted(set(changes) | set(released))
    if not keys:
        return []
    first, last = (date.fromisoformat(k + "-01") for k in (keys[0], keys[-1]))
    shown_from = _month(s.f.date_from) if s.f.date_from else keys[0]
    shown_to = _month(s.f.date_to) if s.f.date_to else keys[-1]
    rows, remaining = [], 0.0
    total = dict.fromkeys(METHODS, 0.0)
    for month in _months_between(first, last):
        remaining += changes.get(month, 0.0)
        for m in METHODS:
            total[m] += released.get(month, {}).get(m, 0.0)
        if shown_from <= month <= shown_to:
            rows.append(
                {"month": month, "remaining_m2": max(remaining, 0.0)} | {f"{m}_m2": total[m] for m in METHODS}
            )
    return rows


def released_by_organisation(s: Scope) -> dict[str, Any]:
    """m² released per month by organisation (of the activity that produced the release)."""
    p, a, o = S.release_product, S.activity, S.organisation
    query = (
        select(p.c.released_on, o.c.code, func.count(), func.sum(p.c.released_area_m2))
        .select_from(p.outerjoin(a, a.c.id == p.c.activity_id).outerjoin(o, o.c.id == a.c.organisation_id))
        .where(s.where("release_products"))
        .group_by(p.c.released_on, o.c.code)
    )
    table: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for day, code, n, area in s.conn.execute(query):
        org = code or UNATTRIBUTED
        table[_month(day)][org] += area or 0.0
        totals[org][0] += n
        totals[org][1] += area or 0.0
    if not table:
        return {"organisations": [], "months": []}
    names = dict(s.conn.execute(select(o.c.code, o.c.name)).all())
    keys = sorted(table)
    first, last = (date.fromisoformat(k + "-01") for k in (keys[0], keys[-1]))
    orgs = sorted(totals)
    months = [
        {"month": m, "by_organisation": {org: table.get(m, {}).get(org, 0.0) for org in orgs}}
        for m in _months_between(first, last)
    ]
    for row in months:
        row["total_m2"] = sum(row["by_organisation"].values())
    return {
        "organisations": [
            {
                "code": org,
                "name": names.get(org, org),
                "count": int(totals[org][0]),
                "area_m2": totals[org][1],
                # Releases with no activity have no organisation: no list filter finds only those.
                "href": replace(s.f, org=org).href("release_products") if org in names else None,
            }
            for org in orgs
        ],
        "months": months,
    }


def team_capacity(s: Scope, day: date) -> list[dict[str, Any]]:
    """Active teams (of the organisation) per type, by accreditation status on ``day``."""
    status_by_team = team_accreditation_status(s.conn, day)
    t, o = S.team, S.organisation
    query = select(t.c.id, t.c.team_type).where(t.c.active)
    if s.f.org:
        query = query.where(
            t.c.organisation_id == select(o.c.id).where(o.c.code == s.f.org).scalar_subquery()
        )
    teams: dict[str, dict[str, Any]] = {}
    for team_id, team_type in s.conn.execute(query):
        row = teams.setdefault(
            team_type,
            {"team_type": team_type, "label": s.label("team_type", team_type)}
            | dict.fromkeys(("total", "valid", "expiring", "expired", "none"), 0),
        )
        row["total"] += 1
        row[status_by_team.get(team_id, "none")] += 1
    return sorted(teams.values(), key=lambda r: r["team_type"])


def expiring_accreditations(s: Scope, day: date) -> list[dict[str, Any]]:
    """Active teams whose accreditation cover ends within 60 days of ``day`` (the summary's "expiring")."""
    status = team_accreditation_status(s.conn, day)
    t, o, a = S.team, S.organisation, S.accreditation
    query = (
        select(
            t.c.id,
            t.c.code,
            t.c.name,
            t.c.team_type,
            o.c.code.label("organisation"),
            o.c.name.label("org_name"),
        )
        .select_from(t.join(o, o.c.id == t.c.organisation_id))
        .where(t.c.active)
    )
    if s.f.org:
        query = query.where(o.c.code == s.f.org)
    teams = {row.id: row for row in s.conn.execute(query)}
    wanted = [team_id for team_id, st in status.items() if st == "expiring" and team_id in teams]
    held: dict[int, list[Accreditation]] = defaultdict(list)
    if wanted:
        for team_id, activity_type, issued, expires in s.conn.execute(
            select(a.c.team_id, a.c.activity_type, a.c.issued_on, a.c.expires_on).where(
                a.c.team_id.in_(wanted)
            )
        ):
            held[team_id].append(Accreditation(activity_type, issued, expires))
    out = []
    for team_id in wanted:
        team = teams[team_id]
        end = covered_until(held[team_id], day)
        out.append(
            {
                "team": team.code,
                "team_id": team_id,
                "name": team.name,
                "team_type": s.label("team_type", team.team_type),
                "organisation": team.org_name,
                "activities": ", ".join(
                    sorted({s.label("activity_type", x.activity_type) for x in held[team_id]})
                ),
                "cover_ends": end,
                "cover_ends_text": fmt_date(end),
                "days_left": (end - day).days if end is not None else None,
            }
        )
    return sorted(out, key=lambda r: (r["cover_ends"] or date.max, r["team"]))


def dashboard_data(
    conn: Connection, user: User, f: Filter | None = None, day: date | None = None
) -> dict[str, Any]:
    """Everything the dashboard page shows, for ``user`` (their reading scope) and filter ``f``."""
    f = f or Filter()
    today = day or date.today()
    # Team capacity is a state, not a flow: it is shown on the period's last day (when past).
    as_of = min(f.date_to, today) if f.date_to else today
    s = Scope(conn, user, f, all_code_labels(conn))
    hazards = hazards_by_type_status(s)
    released = released_by_method(s)
    finds = finds_by_category(s)
    return {
        "day": as_of,
        "warning_until": as_of + timedelta(days=EXPIRY_WARNING_DAYS),
        "day_text": fmt_date(as_of),
        "warning_text": fmt_date(as_of + timedelta(days=EXPIRY_WARNING_DAYS)),
        "filter": f,
        "hazards": {
            "count": sum(r["count"] for r in hazards),
            "by_type_status": hazards,
            "href": f.href("hazards"),
            "remaining_href": f.href("hazards", sort="-remaining_area_m2"),
        },
        "area": area_figures(hazards, released),
        # The identity holds over the same hazards only: a period or an organisation selects
        # releases and hazards by different dates and organisations.
        "balance_applies": not (f.period or f.org),
        "released": released,
        "released_href": f.href("release_products"),
        "eo_found": finds,
        "activities": activities_by_type_status(s),
        "activities_scoped": scope(user.role, "activities", "read") == ORG,
        "accidents": accidents_aggregated(s),
        "accidents_href": f.href("accidents"),
        "over_time": land_release_over_time(s),
        "by_organisation": released_by_organisation(s),
        "teams": team_capacity(s, as_of),
        "expiring": expiring_accreditations(s, as_of),
        "teams_href": "/teams" + (f"?{urlencode({'org': f.org})}" if f.org else ""),
    }


# ---------------------------------------------------------------------------------------------
# the page


def dashboard_charts(data: dict[str, Any]) -> dict[str, Any]:
    """The SVG charts of the dashboard data (the numbers are in the tables beside them)."""
    over = data["over_time"]
    months = [r["month"] for r in over]
    colours = palette.RELEASE_METHOD
    charts: dict[str, Any] = {}
    charts["release_status"] = svg.line_chart(
        "Land release status over time (km²)",
        months,
        [
            svg.Series("remaining", [r["remaining_m2"] / 1e6 for r in over], palette.REMAINING),
            *(svg.Series(m, [r[f"{m}_m2"] / 1e6 for r in over], colours[m]) for m in METHODS),
        ],
        "km²",
    )
    by_org = data["by_organisation"]
    orgs = by_org["organisations"]
    # The chart's legend has one line of room: full names when they fit, acronyms otherwise
    # (the table under the chart names each organisation in full).
    fits = sum(24 + 7 * len(o["name"]) for o in orgs) <= svg.WIDTH - svg.LEFT
    charts["by_organisation"] = svg.bar_chart(
        "Area released per month by organisation (m²)",
        [m["month"] for m in by_org["months"]],
        [
            svg.Series(
                o["name"] if fits else o["code"], [m["by_organisation"][o["code"]] for m in by_org["months"]]
            )
            for o in orgs
        ],
        "m²",
    )
    eo = data["eo_found"]
    # Under a bar there is room for the trade's abbreviations (APM, UXO), not the full labels
    # (the table beside the chart has those).
    slot = (svg.WIDTH - svg.LEFT - svg.RIGHT) / max(len(eo), 1)
    short = all(7 * len(r["label"]) <= slot for r in eo)
    charts["eo_found"] = svg.bar_chart(
        "EO items found by category",
        [r["label"] if short else r["category"].upper() for r in eo],
        [svg.Series("items", [r["items"] for r in eo])],
        "items",
    )
    years = data["accidents"]["by_year"]
    charts["accidents"] = svg.bar_chart(
        "Victims per year",
        [str(r["year"]) for r in years],
        [
            svg.Series("killed", [r["killed"] for r in years], palette.KILLED),
            svg.Series("injured", [r["injured"] for r in years], palette.INJURED),
        ],
        "people",
    )
    return charts


@router.get("/dashboard")
def dashboard_page(
    request: Request,
    info: PageSession,
    year: Annotated[str | None, Query(max_length=20)] = None,
    date_from: Annotated[str | None, Query(max_length=20)] = None,
    date_to: Annotated[str | None, Query(max_length=20)] = None,
    admin: Annotated[str | None, Query(max_length=100)] = None,
    org: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """Land release, releases by organisation, EO found, activities, accidents, team capacity,
    for the period, region and organisation of the address."""
    from demine.web.routes import render  # routes includes this router

    asked = {"year": year, "date_from": date_from, "date_to": date_to, "admin": admin, "org": org}
    with context(request).reading() as conn:
        f, problems = parse_filter(conn, {k: v for k, v in asked.items() if v is not None})
        options = filter_options(conn)
        if f.year is not None and (str(f.year), str(f.year)) not in options["year"]:
            options["year"].insert(0, (str(f.year), str(f.year)))  # the form shows what is applied
        described = describe(conn, f) if not problems else []
        data = None if problems else dashboard_data(conn, info.user, f)
    return render(
        request,
        info,
        "dashboard.html",
        status_code=400 if problems else 200,
        data=data,
        charts=dashboard_charts(data) if data else {},
        problems=problems,
        asked={k: (v or "").strip() for k, v in asked.items()},
        options=options,
        described=described,
        f=f,
    )
