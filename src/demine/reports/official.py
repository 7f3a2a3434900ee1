"""The official reports: the monthly operator report, the annual national report and the
Ottawa Convention Article 7 tables, as tables, totals and charts ready to render.

* **monthly** — area released by method and organisation, EO found and destroyed by category,
  accidents, daily progress; a chart per table and a map of the period's releases.
* **annual** — the same for a year, plus the hazards remaining at the period's end by type and
  administrative area, release month by month, risk education by sex and age, QA visits.
* **article7** — the Convention's transparency report (Form C and Form F): areas known (CHA)
  or suspected (SHA) to contain anti-personnel mines at the period's end, number and m² by
  administrative area; land release in the period on those areas (cancelled, reduced,
  cleared m²); anti-personnel mines destroyed in the period.

Over a period that covers the whole history, the released areas, EO found and accidents add
up to exactly what ``demine summary`` prints (the tests hold them to it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection

from demine.reports import charts
from demine.reports import figures as F
from demine.reports.catalogue import KINDS, TITLES
from demine.reports.period import Period

__all__ = ["KINDS", "TITLES", "Report", "Table", "build_report"]


@dataclass
class Table:
    """One table of a report: a header, rows and, where it adds up, a total row."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    total: list[Any] | None = None
    note: str = ""
    area_columns: tuple[int, ...] = ()  # indices of m² columns (formatted as areas)


@dataclass
class Report:
    """Everything a rendered report shows, and its headline totals (for checks and JSON)."""

    kind: str
    title: str
    period: Period
    organisation: str | None
    generated_on: date
    tables: list[Table] = field(default_factory=list)
    charts: list[charts.Chart] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)


def _label(lists: Any, name: str, code: str | None) -> str:
    return lists.label(name, code) if code else "(none)"


def _release_tables(report: Report, conn: Connection, org_id: int | None, lists: Any) -> list[dict]:
    rows = F.releases(conn, report.period, org_id, geometry=True)
    by_org: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(F.METHODS, 0.0))
    for r in rows:
        by_org[r["organisation"] or "(none)"][r["method"]] += r["released_area_m2"]
    orgs = sorted(by_org)
    totals = {m: sum(by_org[o][m] for o in orgs) for m in F.METHODS}
    report.tables.append(
        Table(
            "released_by_organisation",
            "Area released by method and organisation (m²)",
            ["Organisation", "Cancelled (NTS)", "Reduced (TS)", "Cleared", "Total"],
            [[o, *(by_org[o][m] for m in F.METHODS), sum(by_org[o].values())] for o in orgs],
            ["Total", *(totals[m] for m in F.METHODS), sum(totals.values())],
            area_columns=(1, 2, 3, 4),
        )
    )
    report.totals["released_m2"] = totals | {"total": sum(totals.values())}
    report.totals["release_products"] = len(rows)
    report.charts.append(
        charts.stacked_methods(
            "released_by_organisation",
            "Area released by organisation and method",
            orgs,
            {m: [by_org[o][m] for o in orgs] for m in F.METHODS},
            "organisation",
        )
    )
    return rows


def _eo_table(report: Report, conn: Connection, org_id: int | None, lists: Any) -> None:
    found: dict[str, int] = defaultdict(int)
    destroyed: dict[str, int] = defaultdict(int)
    for f in F.finds(conn, report.period, org_id):
        found[f["category"]] += f["quantity"]
        if f["disposal_method"] in F.DESTROYED:
            destroyed[f["category"]] += f["quantity"]
    order = [c for c in lists.codes("eo_category") if c in found] + sorted(
        set(found) - set(lists.codes("eo_category"))
    )
    report.tables.append(
        Table(
            "eo_by_category",
            "Explosive ordnance found and destroyed by category (items)",
            ["Category", "Found", "Destroyed"],
            [[_label(lists, "eo_category", c), found[c], destroyed[c]] for c in order],
            ["Total", sum(found.values()), sum(destroyed.values())],
            note="Destroyed: in situ or at a demolition site; items rendered safe or handed over are not.",
        )
    )
    report.totals["eo_found"] = dict(sorted(found.items()))
    report.totals["eo_destroyed"] = dict(sorted(destroyed.items()))
    report.charts.append(
        charts.bars(
            "eo_by_category",
            "Explosive ordnance found by category",
            [_label(lists, "eo_category", c) for c in order],
            [found[c] for c in order],
            "items found",
        )
    )


def _accident_table(report: Report, conn: Connection, org_id: int | None, lists: Any) -> list[dict]:
    rows = F.accidents(conn, report.period, org_id)
    report.tables.append(
        Table(
            "accidents",
            "Accidents",
            ["Accident", "Date", "Kind", "Device", "Killed", "Injured"],
            [
                [
                    r["code"],
                    r["occurred_on"],
                    _label(lists, "accident_kind", r["accident_kind"]),
                    _label(lists, "eo_category", r["eo_category"]),
                    r["killed"],
                    r["injured"],
                ]
                for r in rows
            ],
            ["Total", len(rows), "", "", sum(r["killed"] for r in rows), sum(r["injured"] for r in rows)],
        )
    )
    report.totals["accidents"] = len(rows)
    report.totals["victims"] = {
        "killed": sum(r["killed"] for r in rows),
        "injured": sum(r["injured"] for r in rows),
    }
    return rows


def _progress_table(report: Report, conn: Connection, org_id: int | None) -> None:
    rows = F.progress(conn, report.period, org_id)
    report.tables.append(
        Table(
            "progress",
            "Daily progress reports",
            ["Organisation", "Reports", "Teams", "Area processed (m²)", "Hours"],
            [[r["organisation"], r["reports"], r["teams"], r["area_m2"], round(r["hours"], 1)] for r in rows],
            [
                "Total",
                sum(r["reports"] for r in rows),
                sum(r["teams"] for r in rows),
                sum(r["area_m2"] for r in rows),
                round(sum(r["hours"] for r in rows), 1),
            ],
            area_columns=(3,),
        )
    )


def _map(report: Report, conn: Connection, releases: list[dict], accidents: list[dict]) -> None:
    report.charts.append(
        charts.release_map(
            "map",
            f"Land released, {report.period.label}",
            F.admin_boundaries(conn),
            [(r["method"], r["geom"]) for r in releases if r.get("geom") is not None],
            [(a["geom"].x, a["geom"].y) for a in accidents if a.get("geom") is not None],
        )
    )


def _hazard_tables(
    report: Report, conn: Connection, org_id: int | None, lists: Any, areas: F.AdminAreas
) -> None:
    state = F.hazard_state(conn, report.period.end, org_id)
    by_type: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    by_area: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for h in state:
        row = by_type[h["hazard_type"]]
        row[1] += h["area_m2"]
        row[2] += h["remaining_m2"]
        if h["open"]:
            row[0] += 1
            by_area[areas.top(h["admin_pcode"])][0] += 1
            by_area[areas.top(h["admin_pcode"])][1] += h["remaining_m2"]
    types = sorted(by_type)
    report.tables.append(
        Table(
            "hazards_at_end",
            f"Hazardous areas at {report.period.end.isoformat()}",
            ["Type", "Open areas", "Area as reported (m²)", "Remaining (m²)"],
            [[_label(lists, "hazard_type", t), *by_type[t]] for t in types],
            ["Total", *(sum(by_type[t][i] for t in types) for i in range(3))],
            area_columns=(2, 3),
        )
    )
    report.totals["open_hazards"] = sum(by_type[t][0] for t in types)
    report.totals["original_m2"] = sum(by_type[t][1] for t in types)
    report.totals["remaining_m2"] = sum(by_type[t][2] for t in types)
    names = sorted(by_area)
    report.tables.append(
        Table(
            "remaining_by_area",
            "Open hazardous areas by administrative area",
            ["Administrative area", "Open areas", "Remaining (m²)"],
            [[n, *by_area[n]] for n in names],
            ["Total", sum(by_area[n][0] for n in names), sum(by_area[n][1] for n in names)],
            area_columns=(2,),
        )
    )
    report.charts.append(
        charts.area_bars(
            "remaining_by_area",
            "Area remaining by administrative area",
            names,
            [by_area[n][1] for n in names],
            "area remaining",
        )
    )


def _monthly_release(report: Report, releases: list[dict]) -> None:
    months = report.period.months()
    by_month = {m: dict.fromkeys(F.METHODS, 0.0) for m in months}
    for r in releases:
        by_month[r["released_on"].replace(day=1)][r["method"]] += r["released_area_m2"]
    labels = [f"{m:%Y-%m}" for m in months]
    report.tables.append(
        Table(
            "released_by_month",
            "Area released by month (m²)",
            ["Month", "Cancelled (NTS)", "Reduced (TS)", "Cleared", "Total"],
            [
                [lab, *(by_month[m][x] for x in F.METHODS), sum(by_month[m].values())]
                for lab, m in zip(labels, months, strict=True)
            ],
            None,
            area_columns=(1, 2, 3, 4),
        )
    )
    report.charts.append(
        charts.stacked_methods(
            "released_by_month",
            "Area released by month and method",
            labels,
            {x: [by_month[m][x] for m in months] for x in F.METHODS},
            "month",
        )
    )


def _eore_table(report: Report, conn: Connection, org_id: int | None, lists: Any) -> None:
    data = F.eore(conn, report.period, org_id)
    bands = lists.codes("age_band")
    sexes = lists.codes("sex")
    cells = data["participants"]
    rows = [
        [
            _label(lists, "sex", s),
            *(cells.get((s, b), 0) for b in bands),
            sum(cells.get((s, b), 0) for b in bands),
        ]
        for s in sexes
    ]
    report.tables.append(
        Table(
            "eore",
            f"Risk education participants by sex and age ({data['sessions']} session(s))",
            ["Sex", *(_label(lists, "age_band", b) for b in bands), "Total"],
            rows,
            ["Total", *(sum(cells.get((s, b), 0) for s in sexes) for b in bands), sum(cells.values())],
        )
    )
    report.totals["eore_sessions"] = data["sessions"]
    report.totals["eore_participants"] = sum(cells.values())


def _qa_table(report: Report, conn: Connection, org_id: int | None, lists: Any) -> None:
    data = F.qa(conn, report.period, org_id)
    report.tables.append(
        Table(
            "qa",
            "Quality assurance visits by result",
            ["Result", "Visits"],
            [[_label(lists, "qa_result", r), n] for r, n in sorted(data.items())],
            ["Total", sum(data.values())],
        )
    )


def _article7(report: Report, conn: Connection, org_id: int | None, areas: F.AdminAreas) -> None:
    state = [
        h
        for h in F.hazard_state(conn, report.period.end, org_id)
        if F.has_category(h["eo_categories"], "apm")
    ]
    known: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0, 0.0])
    for h in state:
        if not h["open"]:
            continue
        row = known[areas.top(h["admin_pcode"])]
        offset = 0 if h["hazard_type"] == "CHA" else 2
        row[offset] += 1
        row[offset + 1] += h["remaining_m2"]
    names = sorted(known)
    report.tables.append(
        Table(
            "apm_areas",
            f"Areas known or suspected to contain anti-personnel mines at {report.period.end.isoformat()}",
            [
                "Administrative area",
                "Known (CHA)",
                "Known m²",
                "Suspected (SHA)",
                "Suspected m²",
                "Total areas",
                "Total m²",
            ],
            [[n, *known[n], known[n][0] + known[n][2], known[n][1] + known[n][3]] for n in names],
            [
                "Total",
                *(sum(known[n][i] for n in names) for i in range(4)),
                sum(known[n][0] + known[n][2] for n in names),
                sum(known[n][1] + known[n][3] for n in names),
            ],
            note="Areas whose recorded EO categories include anti-personnel mines (apm) and that had land "
            "left to release at the end of the period (Form C).",
            area_columns=(2, 4, 6),
        )
    )
    report.totals["apm_areas"] = sum(known[n][0] + known[n][2] for n in names)
    report.totals["apm_remaining_m2"] = sum(known[n][1] + known[n][3] for n in names)

    released: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(F.METHODS, 0.0))
    rows = [
        r
        for r in F.releases(conn, report.period, org_id, geometry=True)
        if F.has_category(r["eo_categories"], "apm")
    ]
    for r in rows:
        released[areas.top(r["admin_pcode"])][r["method"]] += r["released_area_m2"]
    names = sorted(released)
    totals = {m: sum(released[n][m] for n in names) for m in F.METHODS}
    report.tables.append(
        Table(
            "apm_release",
            f"Land release in areas containing anti-personnel mines, {report.period.label}",
            ["Administrative area", "Cancelled m²", "Reduced m²", "Cleared m²", "Total m²"],
            [[n, *(released[n][m] for m in F.METHODS), sum(released[n].values())] for n in names],
            ["Total", *(totals[m] for m in F.METHODS), sum(totals.values())],
            area_columns=(1, 2, 3, 4),
        )
    )
    report.totals["apm_released_m2"] = totals | {"total": sum(totals.values())}
    report.charts.append(
        charts.stacked_methods(
            "apm_release",
            "Land released in anti-personnel mine areas",
            names,
            {m: [released[n][m] for n in names] for m in F.METHODS},
            "administrative area",
        )
    )

    found: dict[str, int] = defaultdict(int)
    destroyed: dict[str, int] = defaultdict(int)
    for f in F.finds(conn, report.period, org_id):
        if f["category"] != "apm":
            continue
        found[areas.top(f["admin_pcode"])] += f["quantity"]
        if f["disposal_method"] in F.DESTROYED:
            destroyed[areas.top(f["admin_pcode"])] += f["quantity"]
    names = sorted(found)
    report.tables.append(
        Table(
            "apm_destroyed",
            f"Anti-personnel mines found and destroyed, {report.period.label}",
            ["Administrative area", "Found", "Destroyed"],
            [[n, found[n], destroyed[n]] for n in names],
            ["Total", sum(found.values()), sum(destroyed.values())],
            note="Destroyed in situ or at a demolition site during land release.",
        )
    )
    report.totals["apm_found"] = sum(found.values())
    report.totals["apm_destroyed"] = sum(destroyed.values())
    report.charts.append(
        charts.release_map(
            "map",
            f"Land released in anti-personnel mine areas, {report.period.label}",
            F.admin_boundaries(conn),
            [(r["method"], r["geom"]) for r in rows if r["geom"] is not None],
        )
    )


def build_report(
    conn: Connection, kind: str, period: Period, organisation: str | None = None, today: date | None = None
) -> Report:
    """Gather the figures, tables and charts of one report for ``period``."""
    if kind not in KINDS:
        raise ValueError(f"unknown report {kind!r}")
    org_id = F.organisation_id(conn, organisation)
    lists = F.code_lists(conn)
    areas = F.AdminAreas.load(conn)
    title = TITLES[kind] + (f" — {organisation}" if organisation else "")
    report = Report(kind, title, period, organisation, today or date.today())
    if kind == "article7":
        _article7(report, conn, org_id, areas)
        return report
    releases = _release_tables(report, conn, org_id, lists)
    _eo_table(report, conn, org_id, lists)
    accidents = _accident_table(report, conn, org_id, lists)
    _progress_table(report, conn, org_id)
    if kind == "annual":
        _monthly_release(report, releases)
        _hazard_tables(report, conn, org_id, lists, areas)
        _eore_table(report, conn, org_id, lists)
        _qa_table(report, conn, org_id, lists)
    _map(report, conn, releases, accidents)
    return report
