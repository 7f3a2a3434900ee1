"""Commands of the planner: ``prioritise`` (explained impact scores) and ``plan`` (team workplan).

Thin wrappers: the work is in :mod:`demine.prioritisation` and :mod:`demine.workplan`.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from demine.cli.common import (
    DbOption,
    JsonOption,
    column_area_unit,
    console,
    err_console,
    fmt_area_in,
    print_json,
)
from demine.domain.errors import DemineError

if TYPE_CHECKING:
    from demine.prioritisation import Ranking

# PlanConfig's default, written out so that `plan --help` does not load the solver
# (tests/test_cli_startup.py checks that the two agree).
MAX_MACHINE_SLOPE_DEG = 20.0

WeightsOption = Annotated[
    Path | None,
    typer.Option("--weights", help="TOML file of factor weights [default: the documented defaults]."),
]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="Day the scores are for, YYYY-MM-DD [default: today].")
]


def _day(value: str | None, option: str) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise DemineError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from exc


def _rank(db: str | None, weights: Path | None, as_of: date) -> Ranking:
    from demine.prioritisation import default_weights, load_weights, score_hazards, scoring_inputs
    from demine.storage.database import open_database

    chosen = load_weights(weights) if weights is not None else default_weights()
    engine = open_database(db)
    with engine.connect() as conn:
        inputs = scoring_inputs(conn, as_of)
    return score_hazards(inputs, chosen)


def prioritise(
    db: DbOption = None,
    weights: WeightsOption = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Show the top N hazards only.")] = None,
    as_of: AsOfOption = None,
    json_out: JsonOption = False,
) -> None:
    """Rank open hazards by impact, each factor's contribution shown."""
    ranking = _rank(db, weights, _day(as_of, "--as-of"))
    if json_out:
        print_json(ranking.to_dict(limit))
        return
    shown = ranking.order[: limit or 25]
    t = Table(title=f"Impact ranking of {ranking.score.size:,} open hazards (top {len(shown)})")
    t.add_column("rank", justify="right")
    t.add_column("hazard", no_wrap=True)
    t.add_column("score", justify="right")
    t.add_column("sec/soc/eco/env/auth", justify="right", no_wrap=True)
    t.add_column("largest contributions")
    for r, i in enumerate(shown):
        d = ranking.hazard_dict(int(i), r + 1)
        top = sorted(d["factors"], key=lambda f: -f["contribution"])[:3]
        t.add_row(
            str(r + 1),
            d["code"],
            f"{d['score']:.2f}",
            "/".join(f"{v:.1f}" for v in d["groups"].values()),  # in GROUPS order
            ", ".join(f"{f['factor']} {f['contribution']:.1f}" for f in top if f["contribution"] > 0),
        )
    console.print(t)
    for warning in ranking.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    console.print(f"weights: {ranking.weights.source}; --json explains every factor of every hazard")


def plan(
    db: DbOption = None,
    months: Annotated[int, typer.Option(min=1, max=60, help="Months in the plan.")] = 12,
    start: Annotated[str | None, typer.Option(help="First month, YYYY-MM [default: next month].")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the workplan workbook (XLSX).")] = None,
    gantt: Annotated[Path | None, typer.Option(help="Write a Gantt chart (PNG).")] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", min=1.0, help="Seconds for HiGHS.")] = 60.0,
    greedy: Annotated[bool, typer.Option("--greedy", help="Greedy heuristic only (no MILP).")] = False,
    weights: WeightsOption = None,
    dog_rest_months: Annotated[
        str, typer.Option(help="Months dogs do not work (too hot), e.g. 7,8; empty for none.")
    ] = "7,8",
    max_machine_slope: Annotated[
        float, typer.Option(help="Steepest hazard (degrees) machines may work.", min=0.0)
    ] = MAX_MACHINE_SLOPE_DEG,
    as_of: AsOfOption = None,
    json_out: JsonOption = False,
) -> None:
    """Assign accredited teams to hazards month by month (HiGHS MILP, greedy fallback)."""
    from demine.storage.database import open_database
    from demine.workplan import PlanConfig, build_instance, make_plan, register_inputs
    from demine.workplan.plan import month_start

    today = _day(as_of, "--as-of")
    if start is None:
        first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    else:
        try:
            first = month_start(start)
        except ValueError as exc:
            raise DemineError(f"--start: {start!r} is not a month (YYYY-MM)") from exc
    try:
        rest = tuple(int(m) for m in dog_rest_months.split(",") if m.strip())
        config = PlanConfig(
            months=months,
            time_limit_s=time_limit,
            closed_months={"mdd": rest},
            max_machine_slope_deg=max_machine_slope,
        )
    except ValueError as exc:
        raise DemineError(f"--dog-rest-months: {exc}") from exc
    # Progress on stderr, so that a pipe of the table or the JSON stays clean; the solve can
    # take its whole time limit on a national register.
    show = not json_out and err_console.is_terminal
    with err_console.status("ranking the open hazards") if show else _nothing():
        ranking = _rank(db, weights, today)
        scores = dict(zip(ranking.codes, ranking.normalised_score.tolist(), strict=True))
        engine = open_database(db)
        with engine.connect() as conn:
            inputs = register_inputs(conn, scores, config)
        instance = build_instance(inputs.hazards, inputs.teams, first, config)
    what = f"planning {len(inputs.hazards):,} hazards × {len(inputs.teams):,} teams × {months} months" + (
        "" if greedy else f" (HiGHS, up to {time_limit:g} s)"
    )
    with err_console.status(what) if show else _nothing():
        workplan = make_plan(instance, config, greedy_only=greedy)
    workplan.inputs = {
        "open_hazards": len(inputs.hazards),
        "teams": len(inputs.teams),
        "scores": f"demine prioritise ({ranking.weights.source}), normalised 0–1, plus 0.01",
        "productivity_m2_per_team_day": inputs.productivity(),
    }
    files = {}
    if out is not None:
        from demine.workplan.outputs import write_workbook

        files["xlsx"] = str(_writable(out, write_workbook, workplan))
    if gantt is not None:
        from demine.workplan.outputs import write_gantt

        files["gantt"] = str(_writable(gantt, write_gantt, workplan))
    if json_out:
        print_json({**workplan.to_dict(), "files": files})
        return
    _print_plan(workplan.to_dict(detail=False), files)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _writable(path: Path, writer: Any, workplan: Any) -> Path:
    try:
        return writer(workplan, path)
    except OSError as exc:
        raise DemineError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _print_plan(data: dict[str, Any], files: dict[str, str]) -> None:
    sol, s = data["solver"], data["summary"]
    t = Table(title=f"Workplan {data['horizon']['start']} – {data['horizon']['end']}", show_header=False)
    gap = "n/a" if sol["gap"] is None else f"{sol['gap']:.2%}"
    t.add_row("solver", f"{sol['name']} ({sol['status']}), {sol['seconds']:.1f} s")
    if sol["bound"] is None:
        t.add_row("objective", f"{sol['objective']:,.0f} (no upper bound is known, so no gap)")
    else:
        t.add_row("objective", f"{sol['objective']:,.0f} (upper bound {sol['bound']:,.0f}, gap {gap})")
    improvement = sol["improvement_over_greedy"]
    t.add_row(
        "greedy objective",
        f"{sol['greedy_objective']:,.0f}"
        + (f" (plan is {improvement:+.2%})" if improvement is not None else ""),
    )
    t.add_row("teams planned", f"{s['teams_planned']} ({len(data['teams_not_planned'])} not planned)")
    t.add_row("hazards started / finished", f"{s['hazards_started']:,} / {s['hazards_finished']:,}")
    top = data.get("priorities") or {}
    if top.get("top_n"):
        t.add_row(
            f"top {top['top_n']} priorities started",
            f"{top['started']} / {top['top_n']} ({top['share_started']:.0%})",
        )
    # One unit for the released areas, with each row's name ("released by TS (ha)").
    unit, per = column_area_unit(s["released_m2_by_stage"].values())
    for stage, m2 in s["released_m2_by_stage"].items():
        t.add_row(f"released by {stage} ({unit})", fmt_area_in(m2, per))
    t.add_row(
        "team-days worked / travelling", f"{s['team_days_worked']:,.0f} / {s['team_days_travelling']:,.0f}"
    )
    for kind, path in files.items():
        t.add_row(kind, path)
    console.print(t)
    for note in data["notes"]:
        console.print(f"note: {note}")
    waiting = [h for h in top.get("hazards", []) if h["reason"]]
    if waiting:
        console.print(f"top {top['top_n']} priorities not started, and why:")
        for h in waiting[:10]:
            console.print(f"  {h['rank']:>3}. {h['hazard']}: {h['reason']}", markup=False, highlight=False)
        if len(waiting) > 10:
            console.print(f"  … and {len(waiting) - 10} more (--json lists them all)")
    infeasible = data["infeasible"]
    if infeasible:
        err_console.print(f"[bold yellow]{len(infeasible)} hazard stage(s) cannot be planned:[/]")
        for i in infeasible[:20]:
            err_console.print(
                f"  • hazard {i['code']} {i['stage'] or ''}: {i['reason']}", markup=False, highlight=False
            )
        if len(infeasible) > 20:
            err_console.print(f"  … and {len(infeasible) - 20} more (--json lists them all)")
    for i in data["teams_not_planned"]:
        err_console.print(f"  • team {i['code']} not planned: {i['reason']}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``prioritise`` and ``plan`` to the ``demine`` app."""
    app.command()(prioritise)
    app.command()(plan)
