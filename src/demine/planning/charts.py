"""Burn-down fan chart: remaining area against time, as a PNG.

The P10–P90 band of the remaining area at each year end, the P50 line, the straight line a
"stock ÷ recent clearance rate" planner would draw, and, for a
scenario, its P50 line and band. Drawn with matplotlib's Agg canvas directly (no pyplot, no
display, no global state), so it works on a server and from several threads.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from demine.planning.results import ForecastResult
from demine.planning.timeline import DAYS_PER_YEAR

BASELINE_COLOUR = "#1f5fa6"
SCENARIO_COLOUR = "#c4541b"
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
    fig = Figure(figsize=(9, 5.2), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x_end = _series_end(result)
    if scenario is not None:
        x_end = max(x_end, _series_end(scenario))

    xs, p10, p50, p90 = _series(result)
    ax.fill_between(xs, p10, p90, color=BASELINE_COLOUR, alpha=0.22, linewidth=0, label="baseline P10–P90")
    ax.plot(xs, p50, color=BASELINE_COLOUR, linewidth=2.2, label="baseline P50")
    if scenario is not None:
        sx, s10, s50, s90 = _series(scenario)
        ax.fill_between(sx, s10, s90, color=SCENARIO_COLOUR, alpha=0.15, linewidth=0)
        ax.plot(sx, s50, color=SCENARIO_COLOUR, linewidth=2.2, linestyle="--", label=f"{scenario_name} P50")

    naive = _naive_line(result, x_end)
    if naive is not None:
        years = result.naive_years or 0.0
        ax.plot(
            *naive,
            color=NAIVE_COLOUR,
            linewidth=1.4,
            linestyle=":",
            label=f"naive: stock ÷ rate ({years:,.0f} yr)",
        )

    for res, colour in ((result, BASELINE_COLOUR), (scenario, SCENARIO_COLOUR)):
        if res is not None and res.completion.p50 is not None:
            ax.axvline(_dt(res.completion.p50), color=colour, linewidth=0.8, alpha=0.6)

    ax.set_xlim(_dt(result.start), x_end)
    ax.set_ylim(0, max(result.stock_m2, max(p90)) / 1e6 * 1.05 or 1.0)
    ax.set_ylabel("remaining area (km²)")
    ax.set_title(title or _title(result, scenario, scenario_name))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=9, framealpha=0.9)
    fig.autofmt_xdate()
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, format="png")
    return out


def _series(result: ForecastResult) -> tuple[list[datetime], list[float], list[float], list[float]]:
    """The start point then one point per year end, in km²."""
    xs = [_dt(result.start)]
    km2 = result.stock_m2 / 1e6
    p10, p50, p90 = [km2], [km2], [km2]
    for band in result.trajectory:
        xs.append(datetime(band.year, 12, 31))
        p10.append(max(band.p10, 0.0) / 1e6)
        p50.append(max(band.p50, 0.0) / 1e6)
        p90.append(max(band.p90, 0.0) / 1e6)
    return xs, p10, p50, p90


def _series_end(result: ForecastResult) -> datetime:
    last = result.trajectory[-1].year if result.trajectory else result.start.year
    return datetime(last, 12, 31)


def _naive_line(result: ForecastResult, x_end: datetime) -> tuple[list[datetime], list[float]] | None:
    """From (start, stock) down to zero at the naive completion, cut at the chart's edge."""
    if not result.naive_years or result.naive_years <= 0:
        return None
    start = _dt(result.start)
    span_days = (x_end - start).days
    naive_days = result.naive_years * DAYS_PER_YEAR
    km2 = result.stock_m2 / 1e6
    if naive_days <= span_days:
        return [start, start + timedelta(days=naive_days)], [km2, 0.0]
    return [start, x_end], [km2, km2 * (1 - span_days / naive_days)]


def _title(result: ForecastResult, scenario: ForecastResult | None, scenario_name: str) -> str:
    def p50(r: ForecastResult) -> str:
        return r.completion.p50.isoformat() if r.completion.p50 else "beyond the horizon"

    text = f"Remaining area from {result.start}: P50 completion {p50(result)}"
    if scenario is not None:
        text += f", {scenario_name} {p50(scenario)}"
    return f"{text} ({result.trials:,} trials)"


def _dt(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)
