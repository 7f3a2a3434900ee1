"""The workplan for people: a Gantt chart (PNG) and a workbook for field managers (XLSX)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from demine.workplan.config import STAGES
from demine.workplan.plan import Workplan

STAGE_COLOURS = {"nts": "#4e79a7", "ts": "#f28e2b", "clearance": "#59a14f"}
STAGE_LABELS = {"nts": "Non-technical survey", "ts": "Technical survey", "clearance": "Clearance"}


def write_gantt(plan: Workplan, path: str | Path, max_teams: int = 400) -> Path:
    """One row per team, one column per month; each month's bar is split between the hazards the
    team works, in proportion to its days there, coloured by stage and labelled when wide enough.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    inst = plan.instance
    rows = plan.assignments()
    teams = [inst.teams[int(k)] for k in inst.planned_teams][:max_teams]
    index = {t.code: i for i, t in enumerate(sorted(teams, key=lambda t: (t.team_type, t.code)))}
    n = max(len(index), 1)
    fig_h = min(max(2.5, 0.28 * n + 1.6), 120)
    fig_w = max(8.0, 1.1 * inst.months + 2.5)
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    label = n <= 60
    by_cell: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in rows:
        if r["team"] in index:
            by_cell.setdefault((r["team"], r["month_index"]), []).append(r)
    for (team, t), cell in by_cell.items():
        k = next(k for k in inst.planned_teams if inst.teams[int(k)].code == team)
        days = max(float(inst.team_days[k, t]), 1e-9)
        x = float(t)
        for r in cell:
            width = min(r["team_days"] / days, 1.0)
            ax.barh(
                index[team],
                width,
                left=x,
                height=0.8,
                color=STAGE_COLOURS[r["stage"]],
                edgecolor="white",
                linewidth=0.4,
            )
            if label and width > 0.3:
                ax.text(
                    x + width / 2,
                    index[team],
                    r["hazard"],
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white",
                )
            x += width
    ax.set_yticks(range(len(index)))
    ax.set_yticklabels(
        [f"{c} ({next(t.team_type for t in teams if t.code == c)})" for c in index],
        fontsize=7 if n <= 60 else 4,
    )
    ax.invert_yaxis()
    ax.set_xticks([t + 0.5 for t in range(inst.months)])
    ax.set_xticklabels([plan.month_label(t) for t in range(inst.months)], rotation=45, ha="right", fontsize=8)
    ax.set_xlim(0, inst.months)
    for t in range(inst.months + 1):
        ax.axvline(t, color="#dddddd", linewidth=0.5, zorder=0)
    sol = plan.solution
    gap = "" if sol.gap is None else f", gap {sol.gap:.2%}"
    span = f"{plan.month_label(0)} – {plan.month_label(inst.months - 1)}"
    ax.set_title(f"Workplan {span} ({sol.solver}, {sol.status}{gap})")
    ax.legend(
        handles=[Patch(color=STAGE_COLOURS[s], label=STAGE_LABELS[s]) for s in STAGES],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.08 if n > 10 else -0.25),
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


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
