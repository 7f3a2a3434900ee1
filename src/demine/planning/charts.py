"""Burn-down fan chart: remaining area against time, as a PNG.

The P10–P90 band of the remaining area at each year end, the P50 line, the straight line a
"stock ÷ recent clearance rate" planner would draw, and, for a
scenario, its P50 line and band. Drawn with matplotlib's Agg canvas directly (no pyplot, no
display, no global state), so it works on a server and from several threads.
"""

from __future__ import annotations

import textwrap
from datetime import date, datetime, timedelta
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from demine.domain import palette
from demine.planning.results import ForecastResult
from demine.planning.timeline import DAYS_PER_YEAR

BASELINE_COLOUR = palette.BLUE
SCENARIO_COLOUR = palette.VERMILLION
NAIVE_COLOUR = "#555555"


def burn_down_chart(
    result: ForecastResult,
    path: str | Path,
    *,
    scenario: ForecastResult | None = None,
    scenario_name: str = "scenario",
    title: str | None = None,
    dpi: int = 120,
) -> Path:
    """Write the burn-down fan chart of ``result`` (and ``scenario``) to ``path`` as PNG."""
    fig = fan_figure(result, scenario=scenario, scenario_name=scenario_name, title=title, dpi=dpi)
    out = Path(path)
    fig.savefig(out, format="png")
    return out


def fan_figure(
    result: ForecastResult,
    *,
    scenario: ForecastResult | None = None,
    scenario_name: str = "scenario",
    title: str | None = None,
    dpi: int = 120,
) -> Figure:
    """The burn-down fan chart as a matplotlib figure."""
    # Constrained layout keeps the title, the axis labels and the legend below the axes inside
    # the figure whatever their length.
    fig = Figure(figsize=(9, 5.6), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x_end = _series_end(result)
    if scenario is not None:
        x_end = max(x_end, _series_end(scenario))
    peak = max([result.stock_m2, *(b.p90 for b in result.trajectory)])
    if scenario is not None:
        peak = max([peak, *(b.p90 for b in scenario.trajectory)])
    unit, per = area_unit(peak)

    xs, p10, p50, p90 = _series(result, per)
    ax.fill_between(xs, p10, p90, color=BASELINE_COLOUR, alpha=0.22, linewidth=0, label="baseline P10–P90")
    ax.plot(xs, p50, color=BASELINE_COLOUR, linewidth=2.2, label="baseline P50")
    if scenario is not None:
        sx, s10, s50, s90 = _series(scenario, per)
        ax.fill_between(
            sx, s10, s90, color=SCENARIO_COLOUR, alpha=0.15, linewidth=0, label=f"{scenario_name} P10–P90"
        )
        ax.plot(sx, s50, color=SCENARIO_COLOUR, linewidth=2.2, linestyle="--", label=f"{scenario_name} P50")

    naive = _naive_line(result, x_end, per)
    if naive is not None:
        years = result.naive_years or 0.0
        ax.plot(
            *naive,
            color=NAIVE_COLOUR,
            linewidth=1.4,
            linestyle=":",
            label=f"naive: stock ÷ recent rate ({years:,.0f} years)",
        )

    for res, colour, name in (
        (result, BASELINE_COLOUR, "baseline"),
        (scenario, SCENARIO_COLOUR, scenario_name),
    ):
        if res is not None and res.completion.p50 is not None:
            ax.axvline(
                _dt(res.completion.p50),
                color=colour,
                linewidth=0.9,
                alpha=0.7,
                label=f"{name} P50 completion ({res.completion.p50:%Y-%m})",
            )

    ax.set_xlim(_dt(result.start), x_end)
    ax.set_ylim(0, peak / per * 1.05 or 1.0)
    ax.set_xlabel("year")
    ax.set_ylabel(f"remaining area ({unit})")
    ax.set_title(_wrap(title or _title(result, scenario, scenario_name)), fontsize=11)
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    # A long scenario name is wrapped, and takes fewer columns, so the legend fits the width.
    labels = [textwrap.fill(label, 48) for label in labels]
    longest = max(len(line) for label in labels for line in label.split("\n"))
    columns = 1 if longest > 60 else 2 if len(labels) <= 4 or longest > 40 else 3
    fig.legend(handles, labels, loc="outside lower center", ncol=columns, fontsize=8.5, frameon=False)
    return fig


def area_unit(peak_m2: float) -> tuple[str, float]:
    """One area unit for a whole chart, chosen from its largest value: (label, m² per unit)."""
    if peak_m2 >= 1e6:
        return "km²", 1e6
    if peak_m2 >= 1e4:
        return "ha", 1e4
    return "m²", 1.0


def _wrap(text: str, width: int = 90) -> str:
    """Break a long title into lines that fit the figure's width (about 90 characters at 11 pt)."""
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def _series(
    result: ForecastResult, per: float
) -> tuple[list[datetime], list[float], list[float], list[float]]:
    """The start point then one point per year end, in the chart's unit (``per`` m² each)."""
    xs = [_dt(result.start)]
    stock = result.stock_m2 / per
    p10, p50, p90 = [stock], [stock], [stock]
    for band in result.trajectory:
        xs.append(datetime(band.year, 12, 31))
        p10.append(max(band.p10, 0.0) / per)
        p50.append(max(band.p50, 0.0) / per)
        p90.append(max(band.p90, 0.0) / per)
    return xs, p10, p50, p90


def _series_end(result: ForecastResult) -> datetime:
    last = result.trajectory[-1].year if result.trajectory else result.start.year
    return datetime(last, 12, 31)


def _naive_line(
    result: ForecastResult, x_end: datetime, per: float
) -> tuple[list[datetime], list[float]] | None:
    """From (start, stock) down to zero at the naive completion, cut at the chart's edge."""
    if not result.naive_years or result.naive_years <= 0:
        return None
    start = _dt(result.start)
    span_days = (x_end - start).days
    naive_days = result.naive_years * DAYS_PER_YEAR
    stock = result.stock_m2 / per
    if naive_days <= span_days:
        return [start, start + timedelta(days=naive_days)], [stock, 0.0]
    return [start, x_end], [stock, stock * (1 - span_days / naive_days)]


def _title(result: ForecastResult, scenario: ForecastResult | None, scenario_name: str) -> str:
    def p50(r: ForecastResult) -> str:
        return r.completion.p50.isoformat() if r.completion.p50 else "beyond the horizon"

    if scenario is None:
        head = f"Remaining area: P50 completion {p50(result)}"
    else:
        head = f"Remaining area: P50 completion {p50(result)} (baseline), {p50(scenario)} ({scenario_name})"
    return f"{head}\nforecast from {result.start}, {result.trials:,} trials; band: P10–P90 of the trials"


def _dt(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)
