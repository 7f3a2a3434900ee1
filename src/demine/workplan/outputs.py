"""The workplan for people: a Gantt chart (PNG) and a workbook for field managers (XLSX).

The Gantt has one row per team while the teams fit on a page (:data:`MAX_TEAM_ROWS`); a national
plan of hundreds of teams and thousands of hazards could not be read that way, so it shows the
teams by type (the share of their available team-days worked on each stage, month by month) and
the :data:`TOP_HAZARDS` highest-priority hazards with the team working each one — and says so.
Every team and hazard is in the workbook.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from demine.domain import palette
from demine.workplan.config import STAGES
from demine.workplan.plan import Workplan

# Each stage in the colour of the release it makes (NTS cancels, TS reduces, clearance clears),
# as on the map and in the reports.
STAGE_COLOURS = {
    "nts": palette.RELEASE_METHOD["cancelled"],
    "ts": palette.RELEASE_METHOD["reduced"],
    "clearance": palette.RELEASE_METHOD["cleared"],
}
STAGE_LABELS = {"nts": "Non-technical survey", "ts": "Technical survey", "clearance": "Clearance"}
MAX_TEAM_ROWS = 40  # one row per team up to this many teams (7 pt labels on 0.3 inch rows)
TOP_HAZARDS = 30  # the highest-priority hazards shown when the teams are grouped
LABEL_PT = 6.5
ROW_INCHES = 0.3


@dataclass(frozen=True)
class GanttData:
    """What the Gantt draws, apart from the solver: enough to draw a plan of any size."""

    months: list[str]  # month labels, YYYY-MM
    teams: list[tuple[str, str]]  # (code, team type) of each planned team
    capacity: np.ndarray  # (teams, months) team-days each team can work (0 where it cannot)
    rows: list[dict[str, Any]]  # Workplan.assignments(): team, month_index, hazard, stage, team_days
    scores: dict[str, float]  # priority score of every hazard with work to plan
    title: str


def gantt_data(plan: Workplan) -> GanttData:
    """The Gantt's inputs from a workplan."""
    inst = plan.instance
    planned = [int(k) for k in inst.planned_teams]
    capacity = np.asarray(
        [np.where(inst.able[k].any(axis=0), inst.team_days[k], 0.0) for k in planned], dtype=float
    ).reshape(len(planned), inst.months)
    hazards = {int(h) for h in np.unique(inst.task_hazard)}
    return GanttData(
        months=[plan.month_label(t) for t in range(inst.months)],
        teams=[(inst.teams[k].code, inst.teams[k].team_type) for k in planned],
        capacity=capacity,
        rows=plan.assignments(),
        scores={inst.hazards[h].code: float(inst.hazards[h].score) for h in hazards},
        title=_solver_text(plan),
    )


def _solver_text(plan: Workplan) -> str:
    sol = plan.solution
    if sol.solver == "greedy":
        return "greedy heuristic: no upper bound is known, so no optimality gap"
    gap = "" if sol.gap is None else f", within {sol.gap:.1%} of the best possible plan"
    status = {
        "optimal": "optimal",
        "within_gap": "stopped at its gap tolerance",
        "time_limit": "stopped at its time limit",
    }.get(sol.status, sol.status.replace("_", " "))
    return f"HiGHS MILP, {status}{gap}"


def write_gantt(plan: Workplan, path: str | Path, max_teams: int = MAX_TEAM_ROWS) -> Path:
    """Write the Gantt chart of ``plan`` to ``path`` as PNG (see the module docstring)."""
    fig = gantt_figure(gantt_data(plan), max_teams)
    out = Path(path)
    fig.savefig(out, format="png")
    return out


def gantt_figure(data: GanttData, max_teams: int = MAX_TEAM_ROWS) -> Figure:
    """The Gantt as a matplotlib figure."""
    months = len(data.months)
    worked = {r["hazard"] for r in data.rows}
    grouped = len(data.teams) > max_teams
    types = sorted({t for _, t in data.teams})
    top = heapq.nsmallest(TOP_HAZARDS, data.scores, key=lambda h: (-data.scores[h], h)) if grouped else []
    # A team type's row holds its bar and, under it, how many hazards it worked: 1.6 rows high.
    n_rows = 1.6 * len(types) + len(top) if grouped else max(len(data.teams), 1)
    width = min(max(8.0, 0.85 * months + 3.0), 18.0)
    height = ROW_INCHES * n_rows + (3.4 if grouped else 2.2)
    # Constrained layout keeps the title, the month labels and the legend inside the figure.
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    span = f"{data.months[0]} – {data.months[-1]}" if months else "no months"
    fig.suptitle(
        f"Workplan {span}: {len(worked):,} hazards worked by {len(data.teams):,} teams\n{data.title}",
        fontsize=11,
    )
    inches_per_month = (width - 2.6) / max(months, 1)
    if grouped:
        ax_types, ax_top = fig.subplots(
            2, 1, height_ratios=[1.6 * len(types) + 1.2, len(top) + 1], sharex=True
        )
        _team_types(ax_types, data, types, inches_per_month)
        _top_hazards(ax_top, data, top, inches_per_month)
        axes = [ax_types, ax_top]
    else:
        ax = fig.add_subplot()
        _team_rows(ax, data, inches_per_month)
        axes = [ax]
    for ax in axes:
        ax.set_xlim(0, months)
        for t in range(months + 1):
            ax.axvline(t, color="#dddddd", linewidth=0.5, zorder=0)
        ax.tick_params(axis="y", length=0)
    step = max(1, math.ceil(months / 24))  # at most 24 month labels
    axes[-1].set_xticks([t + 0.5 for t in range(0, months, step)])
    axes[-1].set_xticklabels(data.months[::step], rotation=45, ha="right", fontsize=8)
    axes[-1].set_xlabel("month")
    fig.legend(
        handles=[Patch(color=STAGE_COLOURS[s], label=STAGE_LABELS[s]) for s in STAGES],
        loc="outside lower center",
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    return fig


def _fits(text: str, fraction: float, inches_per_month: float) -> bool:
    """Whether ``text`` fits in a bar ``fraction`` of a month wide."""
    return fraction * inches_per_month >= len(text) * LABEL_PT * 0.6 / 72 + 0.06


def _bars(ax: Axes, bars: Sequence[tuple[float, float, float, str]], height: float = 0.8) -> None:
    """(row, left, width, stage) bars as one collection: thousands of bars draw in a blink
    (one patch each took seconds)."""
    if not bars:
        return
    boxes = [
        [(x, y - height / 2), (x + w, y - height / 2), (x + w, y + height / 2), (x, y + height / 2)]
        for y, x, w, _ in bars
    ]
    collection = PolyCollection(
        boxes, facecolors=[STAGE_COLOURS[s] for *_, s in bars], edgecolors="white", linewidths=0.4
    )
    ax.add_collection(collection)


def _label(ax: Axes, x: float, y: float, text: str, colour: str = "white") -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=LABEL_PT, color=colour, clip_on=True)


def _ink(fill: str) -> str:
    """Black or white text, whichever reads on ``fill`` (WCAG relative luminance)."""
    channels = [int(fill.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    # The contrast with black, (L + 0.05) / 0.05, beats white's, 1.05 / (L + 0.05), above ~0.18.
    return "black" if luminance > 0.18 else "white"


def _team_rows(ax: Axes, data: GanttData, inches_per_month: float) -> None:
    """One row per team: each month's bar split between the hazards it works, by team-days,
    coloured by stage and labelled with the hazard where the label fits."""
    order = sorted(range(len(data.teams)), key=lambda i: (data.teams[i][1], data.teams[i][0]))
    index = {data.teams[i][0]: row for row, i in enumerate(order)}
    position = {code: i for i, (code, _) in enumerate(data.teams)}
    cells: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in data.rows:
        if r["team"] in index:
            cells[(r["team"], r["month_index"])].append(r)
    bars = []
    for (team, t), cell in cells.items():
        days = max(float(data.capacity[position[team], t]), 1e-9)
        x = float(t)
        for r in cell:
            width = min(r["team_days"] / days, 1.0)
            bars.append((index[team], x, width, r["stage"]))
            if _fits(r["hazard"], width, inches_per_month):
                _label(ax, x + width / 2, index[team], r["hazard"], _ink(STAGE_COLOURS[r["stage"]]))
            x += width
    _bars(ax, bars)
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([f"{data.teams[i][0]} ({data.teams[i][1]})" for i in order], fontsize=7)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_ylabel("team (type)")
    ax.set_title(
        "Each team's months; a bar's length is the share of the month's team-days worked", fontsize=9
    )


def _team_types(ax: Axes, data: GanttData, types: list[str], inches_per_month: float) -> None:
    """One row per team type: the share of its teams' available team-days worked on each stage."""
    months = len(data.months)
    of_type = {t: [i for i, (_, tt) in enumerate(data.teams) if tt == t] for t in types}
    type_of = dict(data.teams)
    days: dict[tuple[str, int, str], float] = defaultdict(float)
    hazards: dict[tuple[str, int], set[str]] = defaultdict(set)
    for r in data.rows:
        kind = type_of.get(r["team"])
        if kind is not None:
            days[(kind, r["month_index"], r["stage"])] += r["team_days"]
            hazards[(kind, r["month_index"])].add(r["hazard"])
    bars = []
    for row, kind in enumerate(types):
        available = data.capacity[of_type[kind]].sum(axis=0) if of_type[kind] else np.zeros(months)
        for t in range(months):
            if available[t] <= 0:
                continue
            x = float(t)
            for stage in STAGES:
                width = min(days[(kind, t, stage)] / available[t], 1.0 - (x - t))
                if width > 0:
                    bars.append((row - 0.12, x, width, stage))
                    x += width
            text = f"{len(hazards[(kind, t)]):,} hazards"
            if hazards[(kind, t)] and _fits(text, 1.0, inches_per_month):
                _label(ax, t + 0.5, row + 0.32, text, "#333333")
    _bars(ax, bars, height=0.55)
    ax.set_yticks(range(len(types)))
    ax.set_yticklabels([f"{kind} ({len(of_type[kind]):,} teams)" for kind in types], fontsize=8)
    ax.set_ylim(len(types) - 0.5, -0.5)
    ax.set_ylabel("team type")
    ax.set_title(
        f"All {len(data.teams):,} teams by type: share of their available team-days worked on each "
        "stage (under each bar: hazards worked that month)",
        fontsize=9,
    )


def _top_hazards(ax: Axes, data: GanttData, top: list[str], inches_per_month: float) -> None:
    """One row per top-priority hazard: the months it is worked, split by stage, with its team."""
    rank = {code: i for i, code in enumerate(top)}
    days: dict[tuple[str, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    teams: dict[tuple[str, int], set[str]] = defaultdict(set)
    for r in data.rows:
        if r["hazard"] in rank:
            days[(r["hazard"], r["month_index"])][r["stage"]] += r["team_days"]
            teams[(r["hazard"], r["month_index"])].add(r["team"])
    bars = []
    for (hazard, t), by_stage in days.items():
        total = sum(by_stage.values())
        x = float(t)
        for stage in STAGES:
            width = by_stage.get(stage, 0.0) / total if total > 0 else 0.0
            if width > 0:
                bars.append((rank[hazard], x, width, stage))
                x += width
        who = sorted(teams[(hazard, t)])
        text = who[0] if len(who) == 1 else f"{len(who)} teams"
        if _fits(text, 1.0, inches_per_month):
            # The label sits mid-month, on whichever stage's bar covers the middle.
            middle = next(
                (s for row, x0, w, s in reversed(bars) if row == rank[hazard] and x0 <= t + 0.5 <= x0 + w),
                STAGES[-1],
            )
            _label(ax, t + 0.5, rank[hazard], text, _ink(STAGE_COLOURS[middle]))
    _bars(ax, bars)
    for code in top:
        if not any((code, t) in days for t in range(len(data.months))):
            ax.text(
                0.1, rank[code], "not started in the plan", va="center", fontsize=LABEL_PT, color="#777777"
            )
    ax.set_yticks(range(len(top)))
    ax.set_yticklabels(
        [f"{i + 1}. {code} ({data.scores[code]:.2f})" for i, code in enumerate(top)], fontsize=7
    )
    ax.set_ylim(len(top) - 0.5, -0.5)
    ax.set_ylabel("hazard (priority score)")
    ax.set_title(
        f"The {len(top)} highest-priority of {len(data.scores):,} hazards: months worked, by stage, "
        "with the team (every team and hazard: the workbook)",
        fontsize=9,
    )


def write_workbook(plan: Workplan, path: str | Path) -> Path:
    """Sheets: Summary, Team schedule, Hazards, Top priorities, Not plannable — filters and frozen
    headers on each."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    data = plan.to_dict(detail=False)
    wb = Workbook()
    summary = wb.active
    summary.title = "Summary"
    sol = data["solver"]
    facts: list[tuple[str, Any]] = [
        ("Horizon start", data["horizon"]["start"]),
        ("Horizon end", data["horizon"]["end"]),
        ("Months", data["horizon"]["months"]),
        ("Solver", sol["name"]),
        ("Status", sol["status"]),
        ("Objective", sol["objective"]),
        ("Upper bound (whole problem)", "not known" if sol["bound"] is None else sol["bound"]),
        ("Optimality gap", "not known" if sol["gap"] is None else sol["gap"]),
        (
            f"Top {data['priorities']['top_n']} priorities started",
            f"{data['priorities']['started']} ({data['priorities']['share_started'] or 0:.0%})",
        ),
        ("Greedy objective", sol["greedy_objective"]),
        ("Improvement over greedy", sol["improvement_over_greedy"]),
        ("Objective definition", data["objective"]["definition"]),
    ]
    facts += [
        (key.replace("_", " ").capitalize(), value)
        for key, value in data["summary"].items()
        if not isinstance(value, dict)
    ]
    facts += [(f"Released by {k} (m²)", v) for k, v in data["summary"]["released_m2_by_stage"].items()]
    facts += [("Note", n) for n in data["notes"]]
    _sheet(summary, ["Item", "Value"], facts)

    rows = plan.assignments()
    _sheet(
        wb.create_sheet("Team schedule"),
        [
            "Team",
            "Type",
            "Month",
            "Hazard",
            "Stage",
            "Team-days",
            "Travel days",
            "Distance (km)",
            "m² worked",
            "m² released",
        ],
        [
            (
                r["team"],
                r["team_type"],
                r["month"],
                r["hazard"],
                STAGE_LABELS[r["stage"]],
                r["team_days"],
                r["travel_days"],
                r["distance_km"],
                r["m2_worked"],
                r["m2_released"],
            )
            for r in rows
        ],
    )
    hazards = plan.hazard_timeline()
    header = [
        "Hazard",
        "Score",
        "Remaining (m²)",
        "Status",
        "Expected start",
        "Expected finish",
        "Released in plan (m²)",
    ]
    for s in STAGES:
        header += [f"{s.upper()} start", f"{s.upper()} finish", f"{s.upper()} share done"]
    body = []
    for h in hazards:
        row: list[Any] = [
            h["hazard"],
            h["score"],
            h["remaining_m2"],
            h["status"],
            h["start"],
            h["finish"],
            h["released_m2"],
        ]
        stages = {st["stage"]: st for st in h["stages"]}
        for s in STAGES:
            st = stages.get(s)
            row += [st["start"], st["finish"], st["share_done"]] if st else ["", "", ""]
        body.append(tuple(row))
    _sheet(wb.create_sheet("Hazards"), header, body)
    _sheet(
        wb.create_sheet("Top priorities"),
        ["Rank", "Hazard", "Score", "Status", "Start", "Why not started"],
        [
            (h["rank"], h["hazard"], h["score"], h["status"], h["start"], h["reason"] or "")
            for h in data["priorities"]["hazards"]
        ],
    )
    _sheet(
        wb.create_sheet("Not plannable"),
        ["Kind", "Code", "Stage", "Reason"],
        [
            (i["kind"], i["code"], i["stage"] or "", i["reason"])
            for i in (*data["infeasible"], *data["teams_not_planned"])
        ],
    )
    for ws in wb.worksheets:
        for c, cell in enumerate(ws[1], start=1):
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="DDDDDD")
            width = max(
                (len(str(v.value)) for v in ws[get_column_letter(c)] if v.value is not None), default=8
            )
            ws.column_dimensions[get_column_letter(c)].width = min(max(10, width + 2), 60)
    out = Path(path)
    wb.save(out)
    return out


def _sheet(ws: Any, header: list[str], rows: list[tuple[Any, ...]]) -> None:
    ws.append(header)
    for row in rows:
        ws.append(list(row))
    ws.freeze_panes = "A2"
    if rows:
        ws.auto_filter.ref = ws.dimensions
