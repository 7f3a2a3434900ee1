"""The forecast's burn-down fan chart as inline SVG, with a hover/focus target per year end.

The planner page draws the same fan as :func:`demine.planning.charts.burn_down_chart` (the P10–P90
band and the P50 line of the remaining area, the naive "stock ÷ recent rate" line, the P50
completion, and a scenario's band and line beside the baseline), but as markup: text stays
crisp and readable at any zoom, and every point is a focusable target whose label holds the
year's P10/P50/P90, so the values are there for a keyboard, a screen reader and, through
``static/js/planner-chart.js``, a tooltip on hover or focus. It reads the report dicts the
command line prints (:func:`demine.planning.prepared.forecast_report`), never the forecast itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

from markupsafe import Markup

from demine.domain import palette
from demine.web.svg import nice_max

WIDTH, HEIGHT = 640, 340
LEFT, RIGHT, TOP, BOTTOM = 70, 18, 16, 46
DAYS_PER_YEAR = 365.25  # as demine.planning.timeline (not imported: it pulls in the planner)
BASELINE = palette.BLUE
SCENARIO = palette.VERMILLION
NAIVE = "#555555"
INK = "#222222"
FONT = 'font-family="system-ui, sans-serif"'
# At least 520 px wide (the figure scrolls on a narrower screen): text stays ≥ 10 px.
STYLE = "width:100%;max-width:760px;height:auto;min-width:520px;display:block"


@dataclass(frozen=True)
class Unit:
    """The chart's area unit: its label and how many m² one of it holds."""

    label: str
    per: float

    def text(self, m2: float) -> str:
        value = max(m2, 0.0) / self.per
        digits = 2 if value < 10 else 1 if value < 100 else 0
        return f"{value:,.{digits}f} {self.label}"


def unit_for(peak_m2: float) -> Unit:
    """km² from a million m², ha from ten thousand, else m² (as the PNG chart chooses)."""
    if peak_m2 >= 1e6:
        return Unit("km²", 1e6)
    if peak_m2 >= 1e4:
        return Unit("ha", 1e4)
    return Unit("m²", 1.0)


@dataclass(frozen=True)
class Fan:
    """One forecast's points: the start then each year end, with P10/P50/P90 remaining m²."""

    name: str
    colour: str
    days: list[float]  # days after the chart's start
    labels: list[str]
    p10: list[float]
    p50: list[float]
    p90: list[float]
    completion_p50: str | None


def _fan(report: dict[str, Any], name: str, colour: str, start: date) -> Fan:
    stock = float(report["stock_m2"])
    days, labels = [float((date.fromisoformat(report["start"]) - start).days)], [f"start ({report['start']})"]
    p10, p50, p90 = [stock], [stock], [stock]
    for band in report["trajectory"]:
        days.append(float((date(band["year"], 12, 31) - start).days))
        labels.append(f"end of {band['year']}")
        p10.append(max(float(band["p10"]), 0.0))
        p50.append(max(float(band["p50"]), 0.0))
        p90.append(max(float(band["p90"]), 0.0))
    return Fan(name, colour, days, labels, p10, p50, p90, report["completion"]["p50"])


def fan_chart_svg(
    report: dict[str, Any], scenario: dict[str, Any] | None = None, scenario_name: str = "scenario"
) -> Markup:
    """The fan chart of a forecast report (and a scenario's, on the same axes) as a figure."""
    start = date.fromisoformat(report["start"])
    fans = [_fan(report, "baseline", BASELINE, start)]
    if scenario is not None:
        fans.append(_fan(scenario, scenario_name, SCENARIO, start))
    x_days = max(max(f.days) for f in fans) or 1.0
    peak = max(max(f.p90) for f in fans)
    unit = unit_for(peak)
    y_max = nice_max(peak / unit.per * 1.02) if peak > 0 else 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(days: float) -> float:
        return LEFT + plot_w * min(max(days, 0.0), x_days) / x_days

    def y(m2: float) -> float:
        return TOP + plot_h - plot_h * min(m2 / unit.per, y_max) / y_max

    title = _title(fans, unit)
    out = [
        f'<svg class="fan-svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="group" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" style="{STYLE}" {FONT}>'
        f"<title>{escape(title)}</title>"
    ]
    out += _axes(start, x_days, y_max, unit, x, y)
    for fan in fans:
        upper = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in zip(fan.days, fan.p90, strict=True))
        lower = " ".join(
            f"{x(d):.1f},{y(v):.1f}" for d, v in zip(reversed(fan.days), reversed(fan.p10), strict=True)
        )
        out.append(
            f'<polygon points="{upper} {lower}" fill="{fan.colour}" fill-opacity="0.2" stroke="none"/>'
        )
    naive = _naive(report, x_days)
    if naive is not None:
        (d0, v0), (d1, v1) = naive
        out.append(
            f'<line x1="{x(d0):.1f}" y1="{y(v0):.1f}" x2="{x(d1):.1f}" y2="{y(v1):.1f}" stroke="{NAIVE}" '
            'stroke-width="1.6" stroke-dasharray="2 4"/>'
        )
    for i, fan in enumerate(fans):
        line = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in zip(fan.days, fan.p50, strict=True))
        dash = ' stroke-dasharray="7 4"' if i else ""
        out.append(f'<polyline points="{line}" fill="none" stroke="{fan.colour}" stroke-width="2.4"{dash}/>')
        if fan.completion_p50:
            cx = x(float((date.fromisoformat(fan.completion_p50) - start).days))
            out.append(
                f'<line x1="{cx:.1f}" y1="{TOP}" x2="{cx:.1f}" y2="{TOP + plot_h}" stroke="{fan.colour}" '
                'stroke-width="1" stroke-opacity="0.8"/>'
                f'<text x="{cx + 4:.1f}" y="{TOP + 14 + 16 * i}" font-size="13" fill="{INK}">'
                f"{escape(fan.name)} P50 {fan.completion_p50[:7]}</text>"
            )
    out.append(
        f'<line class="fan-guide" x1="0" y1="{TOP}" x2="0" y2="{TOP + plot_h}" stroke="{INK}" '
        'stroke-width="1" visibility="hidden"/>'
    )
    out += _targets(fans, unit, x, plot_h)
    out.append("</svg>")
    return Markup("".join(out))


def _title(fans: Sequence[Fan], unit: Unit) -> str:
    parts = [f"{f.name} P50 completion {f.completion_p50 or 'beyond the horizon'}" for f in fans]
    return f"Remaining area ({unit.label}) by year, P10–P90 band and P50 line: " + "; ".join(parts)


def _axes(start: date, x_days: float, y_max: float, unit: Unit, x: Any, y: Any) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    out = []
    step = y_max / 4
    decimals = next((d for d in (0, 1, 2) if abs(step * 10**d - round(step * 10**d)) < 1e-9), 3)
    for i in range(5):
        value = y_max * i / 4
        yy = y(value * unit.per)
        out.append(
            f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{WIDTH - RIGHT}" y2="{yy:.1f}" stroke="#e0ddd4"/>'
            f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" font-size="13" fill="{INK}" text-anchor="end">'
            f"{value:,.{decimals}f}</text>"
        )
    first, last = start.year + 1, (start.toordinal() + int(x_days))
    last_year = date.fromordinal(last).year
    span = max(last_year - first + 1, 1)
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100) if span / s <= 9)
    for year in range(math.ceil(first / step) * step, last_year + 1, step):
        xx = x(float((date(year, 1, 1) - start).days))
        out.append(
            f'<line x1="{xx:.1f}" y1="{TOP + plot_h}" x2="{xx:.1f}" y2="{TOP + plot_h + 5}" stroke="{INK}"/>'
            f'<text x="{xx:.1f}" y="{TOP + plot_h + 20}" font-size="13" fill="{INK}" text-anchor="middle">'
            f"{year}</text>"
        )
    out.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="{INK}"/>'
        f'<text x="{LEFT + (WIDTH - LEFT - RIGHT) / 2:.0f}" y="{HEIGHT - 6}" font-size="14" fill="{INK}" '
        'text-anchor="middle">year</text>'
        f'<text transform="translate(16 {TOP + plot_h / 2:.0f}) rotate(-90)" font-size="14" fill="{INK}" '
        f'text-anchor="middle">remaining area ({unit.label})</text>'
    )
    return out


def _naive(report: dict[str, Any], x_days: float) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """From (start, stock) to zero at the naive completion, cut at the chart's right edge."""
    years = report.get("naive_years")
    if not years or years <= 0:
        return None
    stock = float(report["stock_m2"])
    days = years * DAYS_PER_YEAR
    if days <= x_days:
        return (0.0, stock), (days, 0.0)
    return (0.0, stock), (x_days, stock * (1 - x_days / days))


def _targets(fans: Sequence[Fan], unit: Unit, x: Any, plot_h: float) -> list[str]:
    """One focusable column per point (of any fan), its values in its label and ``data-tip``."""
    days = sorted({d for f in fans for d in f.days})
    xs = [x(d) for d in days]
    by_day = [{d: i for i, d in enumerate(f.days)} for f in fans]
    out = ['<g class="fan-targets">']
    for i, day in enumerate(days):
        left = LEFT if i == 0 else (xs[i - 1] + xs[i]) / 2
        right = WIDTH - RIGHT if i == len(xs) - 1 else (xs[i] + xs[i + 1]) / 2
        lines: list[str] = []
        for fan, index in zip(fans, by_day, strict=True):
            j = index.get(day)
            if j is None:
                continue
            if not lines:
                lines.append(fan.labels[j])
            prefix = f"{fan.name}: " if len(fans) > 1 else ""
            values = (f"P{q} {unit.text(v[j])}" for q, v in ((10, fan.p10), (50, fan.p50), (90, fan.p90)))
            lines.append(prefix + " · ".join(values))
        tip = "\n".join(lines)
        label = tip.replace("\n", ": ", 1).replace("\n", "; ")
        out.append(
            f'<rect class="fan-hit" x="{left:.1f}" y="{TOP}" width="{max(right - left, 1):.1f}" '
            f'height="{plot_h:.1f}" fill="transparent" tabindex="0" role="img" data-x="{xs[i]:.1f}" '
            f'data-tip="{escape(tip)}" aria-label="{escape(label)}"/>'
        )
    out.append("</g>")
    return out
