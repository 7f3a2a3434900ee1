"""What a national series of published figures says: outputs, trends and revisions of the stock.

Pure functions over :class:`~demine.planning.programme_file.ProgrammeYear` rows, shared by the
forecast of one programme (:mod:`.national`) and the priors pooled over many
(:mod:`.pooled`), so both read the figures the same way:

* the **current series** is the rows from the last ``series_break`` on: a stock measured
  another way says nothing about the one measured now;
* a year's **output** is the area released that year (the published total; or the stock's fall
  where a programme publishes no release figures at all);
* a **revision** is what the stock did beyond its releases over a span between two stock
  figures (:func:`stock_changes`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from demine.planning.programme_file import ProgrammeYear

# A year releasing more than this many times the median of the programme's other years is a
# sweep (a re-survey or a new baseline that cancels a backlog at once), not yearly capacity.
SWEEP_FACTOR = 4.0
# A change of the estimate by less than this share of the stock in a year is the rounding and
# bookkeeping of national figures, not a revision (and the same in logs).
REVISION_THRESHOLD = 0.10
REVISION_LOG = math.log1p(REVISION_THRESHOLD)


def current_series(rows: Sequence[ProgrammeYear]) -> list[ProgrammeYear]:
    """The rows from the last series break on (all rows when there is none)."""
    last = max((i for i, r in enumerate(rows) if r.series_break), default=0)
    return list(rows[last:])


def output_by_year(rows: Sequence[ProgrammeYear]) -> tuple[dict[int, float], str]:
    """Area released per year, and where it came from (``"published"`` or ``"stock fall"``).

    Published totals where the series has any; otherwise, for a series of stocks only, each
    span's fall per year (spans where the stock did not fall say nothing and are skipped).
    """
    published = {r.year: float(r.released_m2) for r in rows if r.released_m2 is not None}
    if published:
        return published, "published"
    out: dict[int, float] = {}
    stocks = [r for r in rows if r.remaining_m2 is not None]
    for r0, r1 in pairwise(stocks):
        years = (r1.stock_date - r0.stock_date).days / 365.25
        fall = float(r0.remaining_m2) - float(r1.remaining_m2)  # type: ignore[arg-type]
        if years > 0 and fall > 0:
            out[r1.year] = fall / years
    return out, "stock fall"


def sweeps(out: dict[int, float]) -> set[int]:
    """Years whose release is more than ``SWEEP_FACTOR`` × the median of the other years."""
    years = [y for y, v in out.items() if v > 0]
    if len(years) < 3:
        return set()
    found = set()
    for y in years:
        others = float(np.median([out[x] for x in years if x != y]))
        if out[y] > SWEEP_FACTOR * others:
            found.add(y)
    return found


def without_sweeps(out: dict[int, float]) -> dict[int, float]:
    """``out`` without its sweep years (see :func:`sweeps`)."""
    drop = sweeps(out)
    return {y: v for y, v in out.items() if y not in drop}


def release_ratios(rows: Sequence[ProgrammeYear], out: dict[int, float]) -> list[float]:
    """``log(released in year y ÷ stock at the end of y − 1)`` for every year where both are known."""
    stock = {
        r.year: float(r.remaining_m2) for r in rows if r.remaining_m2 is not None and r.remaining_on is None
    }
    dated = {r.year: float(r.remaining_m2) for r in rows if r.remaining_m2 is not None}
    ratios = []
    for y, released in sorted(out.items()):
        before = stock.get(y - 1, dated.get(y - 1))
        if before and released > 0:
            ratios.append(math.log(released / before))
    return ratios


@dataclass(frozen=True)
class StockChange:
    """What the estimate of the land left did over a span between two stock figures.

    ``log_factor`` = ``log(R1 ÷ (R0 − released + added))``: zero when the stock fell by exactly
    what was released; the release over the span is the published one (the years' totals, or
    their median for the years without one, or the series' median release where no year of the
    span has one).
    """

    first_year: int
    last_year: int
    years: float
    log_factor: float
    stock_m2: float  # the first stock figure


def regular_additions(rows: Sequence[ProgrammeYear]) -> bool:
    """Published additions are a steady flow: in at least two years, and half the series' years.

    Otherwise an addition is a one-off (a survey that found an area), which the forecast
    models as an upward revision of the estimate, not as a yearly rate.
    """
    years = [r.year for r in rows if r.added_m2 is not None]
    if len(years) < 2 or not rows:
        return False
    return len(years) * 2 >= rows[-1].year - rows[0].year + 1


def stock_changes(rows: Sequence[ProgrammeYear]) -> list[StockChange]:
    """:class:`StockChange` of every span between consecutive stock figures of a series.

    A sweep year's release (:func:`sweeps`) is not counted as release: the stock's fall it
    explains shows as a (downward) revision, which is how the forecast models sweeps; one-off
    additions (:func:`regular_additions`) likewise show as upward revisions. A
    series without any release figure says nothing about revisions (its stock falls by
    release and revision together): no spans.
    """
    by_year = {r.year: r for r in rows}
    published = {r.year: float(r.released_m2) for r in rows if r.released_m2 is not None}
    if not published:
        return []
    swept = sweeps(published)
    regular = {y: v for y, v in published.items() if y not in swept}
    steady_additions = regular_additions(rows)
    typical = float(np.median(list(regular.values()))) if regular else 0.0
    out = []
    stocks = [r for r in rows if r.remaining_m2 is not None]
    for r0, r1 in pairwise(stocks):
        if r1.series_break or not r0.remaining_m2:
            continue
        years = (r1.stock_date - r0.stock_date).days / 365.25
        if years <= 0.2:
            continue
        span = range(r0.year + 1, r1.year + 1)
        known = [regular[y] for y in span if y in regular]
        n_swept = sum(y in swept for y in span)
        per_year = float(np.median(known)) if known else typical
        released = sum(known) + per_year * max(years - len(known) - n_swept, 0.0)
        added = (
            sum(float(by_year[y].added_m2 or 0.0) for y in span if y in by_year) if steady_additions else 0.0
        )
        r0m = float(r0.remaining_m2)
        left = max(r0m - released + added, 0.05 * r0m)
        if not r1.remaining_m2:
            continue  # a stock worked to nothing says how fast, not how it was revised
        out.append(StockChange(r0.year, r1.year, years, math.log(float(r1.remaining_m2) / left), r0m))
    return out


def theil_sen(x: Sequence[float], y: Sequence[float]) -> float:
    """Median of pairwise slopes: a trend that one odd year cannot swing."""
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    i, j = np.triu_indices(xs.size, k=1)
    dx = xs[j] - xs[i]
    ok = dx != 0
    return float(np.median((ys[j] - ys[i])[ok] / dx[ok])) if np.any(ok) else 0.0


def log_trend(years: Sequence[int], values: Sequence[float]) -> tuple[float, float] | None:
    """Robust trend of ``log(values)`` per year and its standard error (``None``: under 3 points).

    The error is the residual spread around the Theil–Sen line over the spread of the years,
    as for least squares; positive values only.
    """
    pts = [(y, math.log(v)) for y, v in zip(years, values, strict=True) if v > 0]
    if len(pts) < 3:
        return None
    x = np.array([p[0] for p in pts], float)
    ly = np.array([p[1] for p in pts], float)
    slope = theil_sen(x, ly)
    resid = ly - slope * x
    resid -= np.median(resid)
    spread = float(np.sqrt(np.sum(resid**2) / max(x.size - 2, 1)))
    sxx = float(np.sum((x - x.mean()) ** 2))
    return slope, spread / math.sqrt(sxx)


def robust_level(years: Sequence[int], values: Sequence[float], trend: float, last: int, k: int = 5) -> float:
    """The output level at year ``last``: median over the last ``k`` years, detrended by ``trend``.

    A median, so one sweep year (a re-survey that cancels 150 km² once) does not become yearly
    capacity.
    """
    pts = sorted(((y, v) for y, v in zip(years, values, strict=True) if v > 0), reverse=True)[:k]
    if not pts:
        return 0.0
    return float(np.exp(np.median([math.log(v) - trend * (y - last) for y, v in pts])))


def band_sigma(values: Sequence[float]) -> float:
    """The normal sigma whose 10–90 % range matches the values' own (robust to a few outliers)."""
    v = np.asarray(values, float)
    if v.size < 2:
        return 0.0
    q10, q90 = np.quantile(v, [0.1, 0.9])
    return float((q90 - q10) / (2 * 1.2815515655446004))


def precision_blend(prior: float, prior_sd: float, value: float, value_sd: float) -> tuple[float, float]:
    """Two normal estimates of one quantity combined by their precisions: (mean, sd)."""
    w0, w1 = 1 / prior_sd**2, 1 / value_sd**2
    return (prior * w0 + value * w1) / (w0 + w1), math.sqrt(1 / (w0 + w1))


# A trend read off exactly steady figures still has this much uncertainty (log per year).
MIN_TREND_SE = 0.005


def shrunk_trend(fit: tuple[float, float], prior: float, prior_sd: float) -> tuple[float, float]:
    """A programme's own trend (slope, standard error) blended with a pooled one: (mean, sd)."""
    slope, se = fit
    return precision_blend(prior, prior_sd, slope, max(se, MIN_TREND_SE))


def depletion_from_trend(mean: float, sd: float, years: float) -> tuple[float, float]:
    """Depletion (mean, sd) from an output trend over a stock that takes ``years`` at today's pace.

    Output per year falls as ``1 / (1 + δ·position)`` and the position moves ``1 / years`` a
    year, so at the start ``d log output / dt = −δ / years``: ``δ = −trend × years``, within the
    model's bounds.
    """
    from demine.planning.parameters import DEPLETION_MAX, DEPLETION_MIN

    return float(np.clip(-mean * years, DEPLETION_MIN, DEPLETION_MAX)), float(min(sd * years, DEPLETION_MAX))
