"""Out-of-sample validation: leave one country out, forecast from each of its years, score what followed.

For every country of the corpus (``data/national-series``), the pooled priors are refitted on
the *other* countries (:func:`~demine.planning.pooled.fit_pooled`), so nothing the forecast
knows came from the country it is tested on. Then, for every **checkpoint** — a year with a
stock figure and at least ``MIN_LATER`` later figures (stocks of the same series up to
``MAX_HORIZON`` years on, yearly release totals, the completion date) — the forecast is made
from that year's stock with only the figures up to it (:meth:`Programme.prepare` with ``at``)
and compared with:

* every later **stock** of the same series: where it falls among the trials (its PIT), whether
  it is inside the P10–P90 band, the P50's relative error, and the error of the naive "stock ÷
  rate" line (the stock falls by the recent cleared area per year);
* the **completion date**, when the country declared completion after the checkpoint.

A stock dated between two year ends is compared with each trial's remaining area interpolated
linearly between them. Pooled over all countries, an honest 80 % band holds about 80 % of the
later stocks: coverage of the 50/80/90 % bands against their nominal level and the PIT
histogram show whether the bands are too narrow, too wide or shifted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from demine.domain.errors import DemineError
from demine.planning.national import prepare_programme
from demine.planning.pooled import PooledPriors, fit_pooled
from demine.planning.programme_file import Programme, ProgrammeError, load_series
from demine.planning.results import quantile_days
from demine.planning.timeline import DAYS_PER_YEAR

MIN_LATER = 2
MAX_HORIZON = 5.0
VALIDATION_HAZARDS = 200  # pieces of the stock: plenty for national totals, and fast
NOMINAL = (0.5, 0.8, 0.9)


@dataclass(frozen=True)
class StockPoint:
    """A later stock figure and where the forecast put it."""

    country: str
    at: int
    on: date
    horizon_years: float
    observed: float
    p10: float
    p50: float
    p90: float
    pit: float  # share of trials below the observed value (ties count half)
    naive: float | None  # None: no release rate on record to draw the naive line with

    @property
    def inside(self) -> bool:
        return self.p10 <= self.observed <= self.p90

    @property
    def p50_error(self) -> float | None:
        return abs(self.p50 - self.observed) / self.observed if self.observed > 0 else None

    @property
    def naive_error(self) -> float | None:
        if self.naive is None or not self.observed > 0:
            return None
        return abs(self.naive - self.observed) / self.observed


@dataclass(frozen=True)
class CompletionPoint:
    """A declared completion after a checkpoint, against the forecast's completion."""

    country: str
    at: int
    observed_years: float
    p10_years: float | None
    p50_years: float | None
    p90_years: float | None
    naive_years: float | None

    @property
    def inside(self) -> bool:
        lo = self.p10_years if self.p10_years is not None else math.inf
        hi = self.p90_years if self.p90_years is not None else math.inf
        return lo <= self.observed_years <= hi


@dataclass
class CountryResult:
    country: str
    name: str
    checkpoints: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    stocks: list[StockPoint] = field(default_factory=list)
    completions: list[CompletionPoint] = field(default_factory=list)


@dataclass
class ValidationResult:
    """Every country's points, and the pooled figures the targets are about."""

    countries: list[CountryResult]
    trials: int
    seed: int
    pooled: PooledPriors  # fitted on the whole corpus (what forecasts use)

    @property
    def stocks(self) -> list[StockPoint]:
        return [s for c in self.countries for s in c.stocks]

    @property
    def completions(self) -> list[CompletionPoint]:
        return [s for c in self.countries for s in c.completions]

    def coverage(self, nominal: float = 0.8, points: Sequence[StockPoint] | None = None) -> float | None:
        """Share of later stocks inside the central ``nominal`` band."""
        pts = self.stocks if points is None else points
        if not pts:
            return None
        lo, hi = (1 - nominal) / 2, (1 + nominal) / 2
        return float(np.mean([lo <= p.pit <= hi for p in pts]))

    def median_errors(self, points: Sequence[StockPoint] | None = None) -> tuple[float | None, float | None]:
        """Median |P50 error| and median |naive error| over the points the naive method can draw.

        A point from a checkpoint with no release on record has no naive line ("stock ÷ rate"
        needs a rate), so it is left out of both, for a like-for-like comparison.
        """
        pts = [
            p for p in (self.stocks if points is None else points) if p.observed > 0 and p.naive is not None
        ]
        if not pts:
            return None, None
        return (
            float(np.median([p.p50_error for p in pts])),
            float(np.median([p.naive_error for p in pts])),
        )

    def prior_only(self) -> list[StockPoint]:
        """Points forecast from a stock with no release figures before it (the pooled pace)."""
        return [p for p in self.stocks if p.naive is None]

    def error_ratio(self) -> float | None:
        model, naive = self.median_errors()
        return None if model is None or not naive else model / naive

    def by_horizon(self) -> list[tuple[int, list[StockPoint]]]:
        """Points grouped by whole years ahead (1 = up to a year, ..., 5)."""
        groups: dict[int, list[StockPoint]] = {}
        for p in self.stocks:
            groups.setdefault(max(1, math.ceil(p.horizon_years - 1e-9)), []).append(p)
        return sorted(groups.items())

    def meets_targets(self) -> dict[str, bool]:
        cov = self.coverage(0.8)
        ratio = self.error_ratio()
        return {
            "coverage_80_within_70_90": cov is not None and 0.7 <= cov <= 0.9,
            "p50_error_at_most_0.7_naive": ratio is not None and ratio <= 0.7,
        }

    def summary(self) -> dict[str, Any]:
        model, naive = self.median_errors()
        return {
            "countries": len([c for c in self.countries if c.stocks]),
            "checkpoints": sum(len(c.checkpoints) for c in self.countries),
            "stock_points": len(self.stocks),
            "coverage": {f"{int(q * 100)}": self.coverage(q) for q in NOMINAL},
            "median_abs_p50_error": model,
            "median_abs_naive_error": naive,
            "error_ratio": self.error_ratio(),
            "prior_only_points": len(self.prior_only()),
            "prior_only_coverage_80": self.coverage(0.8, self.prior_only()) if self.prior_only() else None,
            "completions": len(self.completions),
            "completions_inside_band": sum(c.inside for c in self.completions),
            "targets": self.meets_targets(),
        }


def load_corpus(directory: Path) -> list[Programme]:
    """Every ``*.toml`` series of the corpus directory, sorted by file name."""
    files = sorted(Path(directory).glob("*.toml"))
    if not files:
        raise DemineError(f"no national series (*.toml) in {directory}")
    return [load_series(f) for f in files]


def checkpoints(p: Programme) -> list[tuple[int, list[Any]]]:
    """Years with a positive stock and at least ``MIN_LATER`` later figures, and what to score.

    Later figures: stocks of the same series within ``MAX_HORIZON`` years, release totals of
    the later years in that window, and the completion date when it follows the stock. What is
    scored: those stocks (rows) and the completion (a date).
    """
    rows = list(p.history)
    out = []
    for i, r in enumerate(rows):
        if r.remaining_m2 is None or not r.remaining_m2 > 0:
            continue
        start = r.stock_date
        scored: list[Any] = []
        figures = 0
        for s in rows[i + 1 :]:
            if s.series_break or s.year > r.year + MAX_HORIZON + 1:
                break
            if (
                s.remaining_m2 is not None
                and (s.stock_date - start).days / DAYS_PER_YEAR <= MAX_HORIZON + 1e-9
            ):
                scored.append(s)
                figures += 1
            if s.released_m2 is not None and s.year <= r.year + MAX_HORIZON:
                figures += 1
        if p.completed_on is not None and p.completed_on > start:
            scored.append(p.completed_on)
            figures += 1
        if figures >= MIN_LATER and scored:
            out.append((r.year, scored))
    return out


def validate(
    corpus: Sequence[Programme],
    trials: int = 1000,
    seed: int = 0,
    *,
    progress: Callable[[str], None] | None = None,
) -> ValidationResult:
    """Leave-one-country-out backtests over ``corpus`` (see the module docstring)."""
    say = progress or (lambda _m: None)
    full = fit_pooled(corpus)
    results = []
    for p in corpus:
        others = [q for q in corpus if q is not p]
        pooled = fit_pooled(others)
        result = CountryResult(p.country or p.name, p.name)
        for at, later in checkpoints(p):
            result.checkpoints.append(at)
            say(f"{p.name} {at}")
            try:
                _score(p, at, later, pooled, trials, seed, result)
            except ProgrammeError as exc:
                result.skipped.append((at, exc.problems[0].message if exc.problems else str(exc)))
        results.append(result)
    return ValidationResult(results, trials, seed, full)


def _score(
    p: Programme,
    at: int,
    later: Iterable[Any],
    pooled: PooledPriors,
    trials: int,
    seed: int,
    result: CountryResult,
) -> None:
    small = replace(p, hazards=min(p.hazards, VALIDATION_HAZARDS))
    prepared = prepare_programme(small, at, None, pooled)
    forecast = prepared.forecast(trials, seed)
    outcomes = forecast.outcomes
    start = forecast.start
    stock = forecast.stock_m2
    rate = prepared.inputs.recent_cleared_m2_per_year
    days = [(date(int(y), 12, 31) - start).days for y in outcomes.years]
    path_days = np.array([-1.0, *days])
    paths = np.column_stack([np.full(outcomes.remaining.shape[0], stock), outcomes.remaining])
    for item in later:
        if isinstance(item, date):
            observed = (item - start).days / DAYS_PER_YEAR
            done = outcomes.completion_day
            q = [float(quantile_days(done, x)) / DAYS_PER_YEAR for x in (0.1, 0.5, 0.9)]
            result.completions.append(
                CompletionPoint(
                    result.country,
                    at,
                    observed,
                    *(v if math.isfinite(v) else None for v in q),
                    forecast.naive_years,
                )
            )
            continue
        if item.remaining_m2 is None:
            continue
        d = (item.stock_date - start).days
        h = d / DAYS_PER_YEAR
        values = np.array([np.interp(d, path_days, row) for row in paths])
        observed = float(item.remaining_m2)
        below = float(np.mean(values < observed) + 0.5 * np.mean(values == observed))
        q10, q50, q90 = (float(x) for x in np.quantile(values, [0.1, 0.5, 0.9]))
        result.stocks.append(
            StockPoint(
                result.country,
                at,
                item.stock_date,
                h,
                observed,
                q10,
                q50,
                q90,
                below,
                None if rate is None else max(0.0, stock - rate * h),
            )
        )
