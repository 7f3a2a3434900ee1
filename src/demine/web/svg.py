"""Small charts as inline SVG: lines over time and (stacked) bars.

Hand-written SVG rather than matplotlib: the markup is small, crisp at any zoom, styled by the
page's CSS, and each chart carries a title for screen readers (the numbers themselves are in
the table printed next to every chart).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from demine.domain.palette import SERIES

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 16, 48
PALETTE = SERIES  # the register's one colour scheme (demine.domain.palette)


@dataclass(frozen=True)
class Series:
    """One line or one stack of bars."""

    name: str
    values: Sequence[float]
    colour: str | None = None


def nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ at least ``value`` (an axis that ends on a round number)."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * 10**exp >= value:
            return float(step * 10**exp)
    return float(10 ** (exp + 1))


def short_number(value: float) -> str:
    """1 234 567 → 1.2M: axis labels."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def _frame(title: str, y_max: float, y_label: str, labels: Sequence[str], x_of: list[float]) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for i in range(5):
        value = y_max * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{short_number(value)}</text>"
        )
    parts.append(
        f'<text class="axis-label" x="12" y="{TOP + plot_h / 2:.0f}" '
        f'transform="rotate(-90 12 {TOP + plot_h / 2:.0f})" text-anchor="middle">{escape(y_label)}</text>'
    )
    every = max(1, math.ceil(len(labels) / 12))
    for i, (label, x) in enumerate(zip(labels, x_of, strict=True)):
        if i % every == 0:
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    return parts


def _legend(series: Sequence[Series]) -> list[str]:
    parts, x = [], LEFT
    for i, s in enumerate(series):
        colour = s.colour or PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{HEIGHT - 18}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text class="legend" x="{x + 14}" y="{HEIGHT - 9}">{escape(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    return parts


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], y_label: str) -> Markup:
    """Lines over the categories ``labels`` (months, years)."""
    n = len(labels)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    y_max = nice_max(max((v for s in series for v in s.values), default=0.0))
    x_of = [LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2) for i in range(n)]
    parts = _frame(title, y_max, y_label, labels, x_of)
    for i, s in enumerate(series):
        colour = s.colour or PALETTE[i % len(PALETTE)]
        points = " ".join(
            f"{x:.1f},{TOP + plot_h - plot_h * v / y_max:.1f}" for x, v in zip(x_of, s.values, strict=True)
        )
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
    parts += _legend(series)
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series], y_label: str) -> Markup:
    """Bars per category; several series are stacked."""
    n = len(labels)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = [sum(s.values[i] for s in series) for i in range(n)]
    y_max = nice_max(max(totals, default=0.0))
    slot = plot_w / max(n, 1)
    bar = max(slot * 0.7, 1.0)
    x_of = [LEFT + slot * (i + 0.5) for i in range(n)]
    parts = _frame(title, y_max, y_label, labels, x_of)
    base = [0.0] * n
    for k, s in enumerate(series):
        colour = s.colour or PALETTE[k % len(PALETTE)]
        for i, v in enumerate(s.values):
            if v <= 0:
                continue
            h = plot_h * v / y_max
            y = TOP + plot_h - plot_h * base[i] / y_max - h
            parts.append(
                f'<rect x="{x_of[i] - bar / 2:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(labels[i])} {escape(s.name)}: {v:,.0f}</title></rect>'
            )
            base[i] += v
    if len(series) > 1:
        parts += _legend(series)
    parts.append("</svg>")
    return Markup("".join(parts))
