"""Commands over the planner: ``forecast`` (from the register or a programme file) and ``backtest``.

Thin wrappers: :mod:`demine.planning.register_history` and :mod:`demine.planning.programme_file`
prepare the forecast, :mod:`demine.planning` runs it, :mod:`demine.planning.prepared` and
:mod:`demine.planning.backtest` shape the result; this module parses options and prints.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from demine.cli.common import (
    DbOption,
    ExitCode,
    JsonOption,
    console,
    err_console,
    fmt_area_in,
    fmt_m2,
    fmt_teams,
    print_json,
    table_area_unit,
)
from demine.domain.errors import DemineError

if TYPE_CHECKING:
    from demine.planning.backtest import BacktestResult

# The planner (a quarter of a second to import, matplotlib another half for charts) is imported
# when these commands run, so that every other ``demine`` command starts no slower. Hence these
# copies of two planner constants (a test checks they match).
DEFAULT_HORIZON_YEARS = 100.0
DAYS_PER_YEAR = 365.25

TrialsOption = Annotated[
    int, typer.Option("--trials", min=1, max=100_000, help="Monte Carlo trials (more: smoother percentiles).")
]
SeedOption = Annotated[
    int, typer.Option("--seed", help="Random seed: the same seed gives the same forecast.")
]
MAX_TRAJECTORY_ROWS = 25


def forecast(
    db: DbOption = None,
    scenario: Annotated[
        Path | None, typer.Option("--scenario", help="Scenario TOML: more teams, training, budget.")
    ] = None,
    programme: Annotated[
        Path | None,
        typer.Option("--programme", help="National programme summary TOML (no database needed)."),
    ] = None,
    trials: TrialsOption = 1000,
    seed: SeedOption = 0,
    start: Annotated[
        str | None, typer.Option("--start", help="Forecast from this date, YYYY-MM-DD [default: today].")
    ] = None,
    horizon: Annotated[
        float, typer.Option("--horizon", min=1, max=500, help="Years to simulate before giving up.")
    ] = DEFAULT_HORIZON_YEARS,
    discovery_years: Annotated[
        float | None,
        typer.Option(
            "--discovery-years",
            min=0,
            help="New contamination stops after this many years [default: as long again as the "
            "history of registrations goes back].",
        ),
    ] = None,
    regions: Annotated[int, typer.Option("--regions", min=0, help="Regions to list (latest first).")] = 10,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Write the burn-down fan chart (PNG).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """When will the open hazards be released? P10/P50/P90 completion, burn-down, regions.

    Calibrated on the register's own history (release products, daily progress reports,
    accredited teams), or on a national programme summary with --programme. With --scenario,
    the baseline and the scenario side by side on the same random draws.
    """
    from demine.planning.prepared import comparison_report, forecast_report
    from demine.planning.programme_file import load_programme
    from demine.planning.register_history import prepare_from_register
    from demine.planning.scenario import load_scenario
    from demine.storage.database import open_database

    plan = load_scenario(scenario) if scenario is not None else None
    if programme is not None:
        if start is not None:
            raise DemineError("--start: a programme file sets its own start date (its 'start' key)")
        prepared = load_programme(programme).prepare()
    else:
        day = _parse_date(start, "--start") if start else date.today()
        engine = open_database(db)
        with engine.connect() as conn:
            prepared = prepare_from_register(conn, day)
    if discovery_years is not None:
        prepared = prepared.with_discovery_years(discovery_years)
    if plan is not None:
        comparison = prepared.compare(plan, trials, seed, horizon_years=horizon)
        report = comparison_report(prepared, comparison)
        base, scen = comparison.baseline, comparison.with_scenario
    else:
        base, scen = prepared.forecast(trials, seed, horizon_years=horizon), None
        report = forecast_report(prepared, base)
    if chart is not None:
        from demine.planning.charts import burn_down_chart

        burn_down_chart(base, chart, scenario=scen, scenario_name=plan.name if plan else "scenario")
    if json_out:
        print_json(report)
        return
    if plan is not None:
        _print_comparison(report, regions)
    else:
        _print_forecast(report, regions)
    if chart is not None:
        console.print(f"chart written to {chart}")


def backtest_command(
    programme: Annotated[Path, typer.Option("--programme", help="National programme summary TOML.")],
    at: Annotated[int, typer.Option("--at", help="Forecast with the history up to this year only.")],
    trials: TrialsOption = 1000,
    seed: SeedOption = 0,
    horizon: Annotated[float, typer.Option("--horizon", min=1, max=500)] = DEFAULT_HORIZON_YEARS,
    json_out: JsonOption = False,
) -> None:
    """Forecast from the end of year AT with the history up to it; score it against the later years."""
    from demine.planning.backtest import backtest
    from demine.planning.programme_file import load_programme

    result = backtest(load_programme(programme), at, trials, seed, horizon_years=horizon)
    if json_out:
        print_json(result.to_dict())
        return
    _print_backtest(result)


def validate_command(
    corpus: Annotated[Path, typer.Option("--corpus", help="Folder of national series TOML files.")] = Path(
        "data/national-series"
    ),
    out: Annotated[
        Path, typer.Option("--out", help="The Markdown page to write (a .png and a .json beside it).")
    ] = Path("docs/forecast-validation.md"),
    trials: TrialsOption = 1000,
    seed: SeedOption = 0,
    fit: Annotated[
        bool,
        typer.Option(
            "--fit/--no-fit",
            help="Also refit the pooled priors every forecast uses (src/demine/planning/pooled_priors.json).",
        ),
    ] = True,
    readme: Annotated[
        Path,
        typer.Option("--readme", help="A README whose validation table (between its markers) to refresh."),
    ] = Path("README.md"),
    json_out: JsonOption = False,
) -> None:
    """Leave-one-country-out backtests over the corpus of published national series.

    Refits the pooled priors on all but one country, forecasts that country from each year with
    a stock figure, scores the later figures; writes the validation page with its calibration
    plot. Exit status 1 when a target is missed (80 % band covering 70–90 %, P50 error ≤ 0.7 ×
    the naive method's).
    """
    from rich.progress import Progress

    from demine.planning.pooled import save_pooled
    from demine.planning.validation import checkpoints, load_corpus, validate
    from demine.planning.validation_report import figures_of, update_readme, write_report

    series = load_corpus(corpus)
    total = sum(len(checkpoints(p)) for p in series)
    with Progress(console=err_console, transient=True, disable=json_out) as progress:
        task = progress.add_task("backtests", total=total)

        def step(label: str) -> None:
            progress.update(task, advance=1, description=f"backtest {label}")

        result = validate(series, trials, seed, progress=step)
    written = write_report(result, series, out)
    if fit:
        written["pooled"] = save_pooled(result.pooled)
    if readme.exists() and update_readme(readme, figures_of(result)):
        written["readme"] = readme
    summary = result.summary()
    if json_out:
        print_json({**summary, "written": {k: str(v) for k, v in written.items()}})
    else:
        _print_validation(summary, written)
    if not all(summary["targets"].values()):
        raise typer.Exit(ExitCode.FINDINGS)


def register(app: typer.Typer) -> None:
    """Add ``forecast``, ``backtest`` and ``validate`` to the ``demine`` app."""
    app.command("forecast")(forecast)
    app.command("backtest")(backtest_command)
    app.command("validate")(validate_command)


def _print_validation(summary: dict[str, Any], written: dict[str, Path]) -> None:
    cov = summary["coverage"]
    t = Table(title="Leave-one-country-out validation (pooled)")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("target", justify="right")
    t.add_row(
        "countries / checkpoints / later stocks",
        f"{summary['countries']} / {summary['checkpoints']} / {summary['stock_points']}",
        "",
    )
    t.add_row("inside P25–P75", _pct(cov["50"], signed=False), "≈ 50%")
    t.add_row("inside P10–P90", _pct(cov["80"], signed=False), "70–90%")
    t.add_row("inside P5–P95", _pct(cov["90"], signed=False), "≈ 90%")
    t.add_row(
        "median |P50 error| / naive",
        f"{_pct(summary['median_abs_p50_error'], signed=False)} / "
        f"{_pct(summary['median_abs_naive_error'], signed=False)}",
        "ratio ≤ 0.7",
    )
    t.add_row(
        "ratio", f"{summary['error_ratio']:.2f}" if summary["error_ratio"] is not None else "—", "≤ 0.70"
    )
    t.add_row(
        "completion dates inside P10–P90",
        f"{summary['completions_inside_band']} of {summary['completions']}",
        "",
    )
    console.print(t)
    for kind, path in written.items():
        console.print(f"wrote {kind}: {path}")
    missed = [k for k, ok in summary["targets"].items() if not ok]
    if missed:
        console.print(f"[red]targets missed:[/] {', '.join(missed)}")


# --- printing --------------------------------------------------------------------------------


def _print_forecast(report: dict[str, Any], regions: int) -> None:
    _print_header(report)
    console.print(_completion_table({"forecast": report}))
    _print_naive(report)
    _print_binding(report)
    console.print(_trajectory_table({"remaining": report}))
    _print_regions(report, regions)
    _print_notes(report)


def _print_comparison(report: dict[str, Any], regions: int) -> None:
    base, scen, comp = report["baseline"], report["scenario"], report["comparison"]
    _print_header(base)
    name = comp["scenario"]["name"]
    console.print(_completion_table({"baseline": base, name: scen}))
    saved = comp["years_saved_p50"]
    by_trial = comp["years_saved_by_trial"]
    console.print(
        f"years saved (P50 completion): [bold]{_years(saved)}[/]; per trial P10–P90: "
        f"{_years(by_trial['p10'])} to {_years(by_trial['p90'])}; the scenario is not later in "
        f"{comp['earlier_or_same_share']:.0%} of trials"
    )
    _print_naive(base)
    rows = comp["released_by_year"]
    unit, per = table_area_unit(r[k] for r in rows for k in ("baseline_p50", "scenario_p50", "extra_p50"))
    released = Table(title=f"Area released by year (P50, {unit})")
    for col in ("year", "baseline", name, "extra"):
        released.add_column(col, justify="right")
    for r in _thin(rows):
        released.add_row(
            str(r["year"]), *(fmt_area_in(r[k], per) for k in ("baseline_p50", "scenario_p50", "extra_p50"))
        )
    console.print(released)
    console.print(_trajectory_table({"baseline": base, name: scen}))
    _print_binding(base, "baseline")
    _print_binding(scen, name)
    _print_regions(scen, regions, f"Regions finishing last with {name}")
    _print_notes(base)


def _print_header(report: dict[str, Any]) -> None:
    inputs = report["inputs"]
    by_class = ", ".join(f"{k} {fmt_m2(v)}" for k, v in inputs["stock_by_class_m2"].items())
    teams = ", ".join(f"{k} {fmt_teams(v)}" for k, v in inputs["teams"].items() if v) or "none"
    console.print(
        f"[bold]Forecast[/] from {inputs['source']} on {inputs['start']} · {report['trials']:,} trials · "
        f"seed {report['seed']}\nstock {fmt_m2(inputs['stock_m2'])} in {inputs['hazards']:,} hazards "
        f"({by_class}) · teams: {teams}"
    )


def _completion_table(reports: dict[str, dict[str, Any]]) -> Table:
    t = Table(title="Completion: all known land released")
    t.add_column("")
    for name in reports:
        t.add_column(name, justify="right")
        t.add_column("years", justify="right")
    for q in ("p10", "p50", "p90"):
        row = [q.upper()]
        for rep in reports.values():
            c = rep["completion"]
            when = c[q]
            if when is None:
                row += [f"after {c['horizon_end']}", f"> {rep['horizon_years']:g}"]
            else:
                years = (date.fromisoformat(when) - date.fromisoformat(rep["start"])).days / DAYS_PER_YEAR
                row += [when, f"{years:.1f}"]
        t.add_row(*row)
    shares = [rep["completion"]["not_within_horizon_share"] for rep in reports.values()]
    if any(shares):
        t.caption = "not finished within the horizon: " + ", ".join(
            f"{name} {s:.0%} of trials" for name, s in zip(reports, shares, strict=True)
        )
    return t


def _print_naive(report: dict[str, Any]) -> None:
    naive = report["naive_years"]
    rate = report["inputs"]["recent_cleared_m2_per_year"]
    if naive is None:
        console.print("naive estimate: no recent clearance to divide by")
        return
    rate_text = f"{fmt_m2(rate)}/yr" if rate is not None else "the first year's clearance capacity"
    console.print(
        f"for comparison, the naive estimate (stock ÷ recent clearance rate of {rate_text}): "
        f"[bold]{naive:,.1f} years[/] → {report['naive_completion']}"
    )


def _print_binding(report: dict[str, Any], label: str = "") -> None:
    b = report["binding_stage"]
    if b["binding"] is None:
        return
    shares = ", ".join(f"{s.upper() if s != 'clearance' else s} {v:.0%}" for s, v in b["shares"].items())
    stage_years = ", ".join(
        f"{s.upper() if s != 'clearance' else s} {_years(y)}" for s, y in b["stage_p50_years"].items()
    )
    prefix = f"{label}: " if label else ""
    console.print(
        f"{prefix}binding stage: [bold]{b['binding']}[/] (last to finish: {shares} of trials); "
        f"median stage completion: {stage_years}"
    )


def _trajectory_table(reports: dict[str, dict[str, Any]]) -> Table:
    unit, per = table_area_unit(
        band[q] for rep in reports.values() for band in rep["trajectory"] for q in ("p10", "p50", "p90")
    )
    t = Table(title=f"Remaining area at the end of each year (P10 / P50 / P90, {unit})")
    t.add_column("year", justify="right")
    for name in reports:
        for q in ("P10", "P50", "P90"):
            t.add_column(f"{name} {q}" if len(reports) > 1 else q, justify="right")
    by_year: dict[int, list[str]] = {}
    n = len(reports)
    for k, rep in enumerate(reports.values()):
        for band in rep["trajectory"]:
            cells = by_year.setdefault(band["year"], ["—"] * (3 * n))
            cells[3 * k : 3 * k + 3] = [fmt_area_in(max(band[q], 0.0), per) for q in ("p10", "p50", "p90")]
    rows = [{"year": y, "cells": c} for y, c in sorted(by_year.items())]
    for r in _thin(rows):
        t.add_row(str(r["year"]), *r["cells"])
    return t


def _print_regions(report: dict[str, Any], limit: int, title: str = "Regions finishing last") -> None:
    rows = report["regions"]
    if limit <= 0 or len(rows) <= 1:
        return
    # Regions not done within the horizon first, then the latest P50.
    latest = [r for r in rows if r["p50"] is None] + sorted(
        (r for r in rows if r["p50"] is not None), key=lambda r: r["p50"], reverse=True
    )
    t = Table(title=f"{title} (top {min(limit, len(rows))} of {len(rows)})")
    unit, per = table_area_unit(r["stock_m2"] for r in latest[:limit])
    for col in ("region", "hazards", f"stock ({unit})", "P50", "P90"):
        t.add_column(col, justify="left" if col == "region" else "right")
    for r in latest[:limit]:
        t.add_row(
            r["name"],
            f"{r['hazards']:,}",
            fmt_area_in(r["stock_m2"], per),
            r["p50"] or "beyond",
            r["p90"] or "beyond",
        )
    console.print(t)


def _print_notes(report: dict[str, Any]) -> None:
    calibration = report["inputs"].get("calibration", [])
    if calibration:
        console.print("[bold]What the data overruled[/] (one line per input: from the data, over the prior)")
        for n in calibration:
            console.print(f"  • {n}", markup=False, highlight=False)
    notes = [n for n in report["inputs"]["notes"] if n not in calibration]
    if notes:
        console.print("[bold]Where the numbers come from[/]")
        for n in notes:
            console.print(f"  • {n}", markup=False, highlight=False)
    for w in report["warnings"]:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)


def _print_backtest(result: BacktestResult) -> None:
    d = result.to_dict()
    console.print(
        f"[bold]Backtest[/] of {d['programme']}: forecast from {d['start']} with the history up to {d['at']} "
        f"({fmt_m2(d['stock_m2'])} remaining) · {d['trials']:,} trials"
    )
    t = Table(title="Later figures (km²) against the forecast made then")
    for col in ("year", "figure", "observed", "P10–P90", "P50 (error)", "naive (error)"):
        t.add_column(col, justify="left" if col == "figure" else "right")
    for p in d["points"]:
        observed = _km2(p["observed_m2"])
        naive = "—" if p["naive_m2"] is None else f"{_km2(p['naive_m2'])} ({_pct(p['naive_error'])})"
        t.add_row(
            str(p["year"]),
            "stock" if p["kind"] == "remaining" else p["kind"],
            observed if p["inside_band"] else f"[red]{observed}[/]",
            f"{_km2(p['p10_m2'])}–{_km2(p['p90_m2'])}",
            f"{_km2(p['p50_m2'])} ({_pct(p['p50_error'])})",
            naive,
        )
    t.caption = "observed in red: outside the P10–P90 band"
    console.print(t)
    if d["coverage"] is not None:
        console.print(
            f"P10–P90 band covers [bold]{d['coverage']:.0%}[/] of {d['figures']} later figures; mean |error| "
            f"on {d['primary_kind']} area: P50 {_pct(d['p50_mean_abs_error'], signed=False)}, naive "
            f"{_pct(d['naive_mean_abs_error'], signed=False)}"
        )
    check = d["completion_check"]
    if check:
        console.print(
            f"completed on {check['completed_on']} ({check['observed_years']:.1f} years after the start): "
            f"forecast P10/P50/P90 {_years(check['p10_years'])} / {_years(check['p50_years'])} / "
            f"{_years(check['p90_years'])}; naive {_years(check['naive_years'])}"
        )
    c = d["completion"]
    console.print(
        f"completion forecast then: P10 {c['p10'] or 'beyond'}, P50 {c['p50'] or 'beyond'}, "
        f"P90 {c['p90'] or 'beyond'}; naive {_years(d['naive_years'])}"
    )
    console.print("[bold]Where the numbers come from[/]")
    for n in d["notes"]:
        console.print(f"  • {n}", markup=False, highlight=False)
    for w in d["warnings"]:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)


def _thin(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most ``MAX_TRAJECTORY_ROWS`` rows: every k-th year, always the first and the last."""
    if len(rows) <= MAX_TRAJECTORY_ROWS:
        return rows
    step = -(-len(rows) // MAX_TRAJECTORY_ROWS)
    picked = rows[::step]
    return picked if picked[-1] is rows[-1] else [*picked, rows[-1]]


def _km2(m2: float) -> str:
    km2 = m2 / 1e6
    return f"{km2:,.1f}" if abs(km2) >= 10 else f"{km2:,.2f}"


def _years(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} yr"


def _pct(value: float | None, *, signed: bool = True) -> str:
    if value is None:
        return "—"
    return f"{value:+.0%}" if signed else f"{value:.0%}"


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise DemineError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from exc
