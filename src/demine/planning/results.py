"""Forecast results: raw per-trial outcomes, their percentile summary, and JSON-ready dicts.

Percentiles of dates use the empirical quantile of actual trials (``inverted_cdf``), so a
reported date is always one that some trial produced. A trial that does not finish within the
horizon counts as "later than any date": if more than 10% of trials do not finish, P90 is
``null`` — never a made-up date — and ``not_within_horizon_share`` says how many did not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from demine.planning.parameters import STAGES
from demine.planning.timeline import DAYS_PER_YEAR

METHODS: tuple[str, ...] = ("cancelled", "reduced", "cleared")


@dataclass(frozen=True, eq=False)
class TrialOutcomes:
    """What happened in each trial. Days count from the start date; ``inf`` = not in horizon."""

    completion_day: np.ndarray  # (trials,)
    stage_completion_day: np.ndarray  # (trials, stages)
    region_day: np.ndarray  # (trials, regions)
    years: np.ndarray  # (years,) calendar years whose 31 December is in the horizon
    remaining: np.ndarray  # (trials, years) m² open at year end (stock + new − released)
    released: np.ndarray  # (trials, years, 3) cumulative m² released by method by year end
    arrived: np.ndarray  # (trials, years) cumulative m² of new contamination by year end
    # (trials, years) cumulative m² added to (+) or cut from (−) the stock by revisions of its
    # estimate by year end: remaining = stock + arrived + revised − released.
    revised: np.ndarray

    @classmethod
    def empty(cls, trials: int, regions: int, years: np.ndarray) -> TrialOutcomes:
        y = len(years)
        return cls(
            completion_day=np.zeros(trials),
            stage_completion_day=np.zeros((trials, len(STAGES))),
            region_day=np.zeros((trials, regions)),
            years=np.asarray(years),
            remaining=np.zeros((trials, y)),
            released=np.zeros((trials, y, len(METHODS))),
            arrived=np.zeros((trials, y)),
            revised=np.zeros((trials, y)),
        )


@dataclass(frozen=True)
class Completion:
    """Completion date percentiles; ``None`` where that percentile is beyond the horizon."""

    p10: date | None
    p50: date | None
    p90: date | None
    not_within_horizon_share: float
    horizon_end: date

    def to_dict(self) -> dict[str, Any]:
        return {
            "p10": _iso(self.p10),
            "p50": _iso(self.p50),
            "p90": _iso(self.p90),
            "not_within_horizon_share": self.not_within_horizon_share,
            "horizon_end": self.horizon_end.isoformat(),
        }


@dataclass(frozen=True)
class YearBand:
    """Remaining area (m²) at the end of ``year``: P10, P50, P90 over trials."""

    year: int
    p10: float
    p50: float
    p90: float

    def to_dict(self) -> dict[str, Any]:
        return {"year": self.year, "p10": self.p10, "p50": self.p50, "p90": self.p90}


@dataclass(frozen=True)
class YearRelease:
    """Area released during ``year`` (m²): P50 by method, and P10/P50/P90 of the total.

    ``revised_p50``: the median change of the stock estimate in the year (negative: cut by a
    re-survey), which is not release.
    """

    year: int
    cancelled_p50: float
    reduced_p50: float
    cleared_p50: float
    total_p10: float
    total_p50: float
    total_p90: float
    revised_p50: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "cancelled_p50": self.cancelled_p50,
            "reduced_p50": self.reduced_p50,
            "cleared_p50": self.cleared_p50,
            "total_p10": self.total_p10,
            "total_p50": self.total_p50,
            "total_p90": self.total_p90,
            "revised_p50": self.revised_p50,
        }


@dataclass(frozen=True)
class RegionCompletion:
    """When the last hazard of one region is done."""

    region: int
    name: str
    stock_m2: float
    hazards: int
    p50: date | None
    p90: date | None
    not_within_horizon_share: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "name": self.name,
            "stock_m2": self.stock_m2,
            "hazards": self.hazards,
            "p50": _iso(self.p50),
            "p90": _iso(self.p90),
            "not_within_horizon_share": self.not_within_horizon_share,
        }


@dataclass(frozen=True, eq=False)
class ForecastResult:
    """A forecast's summary, plus the per-trial outcomes it was computed from."""

    start: date
    stock_m2: float
    completion: Completion
    trajectory: tuple[YearBand, ...]
    released: tuple[YearRelease, ...]
    naive_years: float | None
    regions: tuple[RegionCompletion, ...]
    parameters: dict[str, Any]
    capacity: dict[str, Any]
    trials: int
    seed: int
    horizon_years: float
    outcomes: TrialOutcomes = field(repr=False)
    warnings: tuple[str, ...] = ()

    @property
    def naive_completion(self) -> date | None:
        """Start + naive years: the date a "stock ÷ rate" planner would announce."""
        if self.naive_years is None:
            return None
        return _add_days(self.start, self.naive_years * DAYS_PER_YEAR)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ``YYYY-MM-DD``, areas in m², ``None`` for "not within horizon"."""
        return {
            "start": self.start.isoformat(),
            "stock_m2": self.stock_m2,
            "completion": self.completion.to_dict(),
            "trajectory": [b.to_dict() for b in self.trajectory],
            "released": [r.to_dict() for r in self.released],
            "naive_years": self.naive_years,
            "naive_completion": _iso(self.naive_completion),
            "regions": [r.to_dict() for r in self.regions],
            "parameters": self.parameters,
            "capacity": self.capacity,
            "trials": self.trials,
            "seed": self.seed,
            "horizon_years": self.horizon_years,
            "warnings": list(self.warnings),
        }


def quantile_days(days: np.ndarray, q: float, axis: int = 0) -> np.ndarray:
    """Empirical quantile of day counts that may hold ``inf`` (an actual trial's value)."""
    return np.quantile(days, q, axis=axis, method="inverted_cdf")


def day_to_date(start: date, day: float) -> date | None:
    """``start + day`` days, or ``None`` for ``inf`` (not within the horizon)."""
    if not math.isfinite(day):
        return None
    return _add_days(start, day)


def summarise(
    outcomes: TrialOutcomes,
    *,
    start: date,
    stock_m2: float,
    horizon_end: date,
    horizon_years: float,
    naive_years: float | None,
    region_names: list[str],
    region_stock: np.ndarray,
    region_hazards: np.ndarray,
    parameters: dict[str, Any],
    capacity: dict[str, Any],
    seed: int,
    warnings: list[str],
) -> ForecastResult:
    """Percentiles over trials of the outcomes, as a :class:`ForecastResult`."""
    trials = outcomes.completion_day.size
    done = outcomes.completion_day
    p10, p50, p90 = (float(quantile_days(done, q)) for q in (0.1, 0.5, 0.9))
    completion = Completion(
        p10=day_to_date(start, p10),
        p50=day_to_date(start, p50),
        p90=day_to_date(start, p90),
        not_within_horizon_share=float(np.mean(~np.isfinite(done))),
        horizon_end=horizon_end,
    )
    # Report years up to the one in which the P90 completion falls (all years if P90 is
    # beyond the horizon), so the band covers the whole burn-down.
    years = outcomes.years
    if completion.p90 is not None:
        keep = int(np.searchsorted(years, completion.p90.year, side="right"))
        keep = min(max(1, keep), len(years))
    else:
        keep = len(years)
    rem = outcomes.remaining[:, :keep]
    rq = np.quantile(rem, [0.1, 0.5, 0.9], axis=0) if keep else np.zeros((3, 0))
    trajectory = tuple(
        YearBand(int(years[i]), float(rq[0, i]), float(rq[1, i]), float(rq[2, i])) for i in range(keep)
    )
    cumulative = outcomes.released[:, :keep, :]
    per_year = np.diff(cumulative, axis=1, prepend=0.0)
    by_method = np.median(per_year, axis=0) if keep else np.zeros((0, 3))
    tq = np.quantile(per_year.sum(axis=2), [0.1, 0.5, 0.9], axis=0) if keep else np.zeros((3, 0))
    revised = np.diff(outcomes.revised[:, :keep], axis=1, prepend=0.0)
    rev_p50 = np.median(revised, axis=0) if keep else np.zeros(0)
    released = tuple(
        YearRelease(
            int(years[i]),
            float(by_method[i, 0]),
            float(by_method[i, 1]),
            float(by_method[i, 2]),
            float(tq[0, i]),
            float(tq[1, i]),
            float(tq[2, i]),
            float(rev_p50[i]),
        )
        for i in range(keep)
    )
    regions = []
    for r, name in enumerate(region_names):
        col = outcomes.region_day[:, r]
        regions.append(
            RegionCompletion(
                region=r,
                name=name,
                stock_m2=float(region_stock[r]),
                hazards=int(region_hazards[r]),
                p50=day_to_date(start, float(quantile_days(col, 0.5))),
                p90=day_to_date(start, float(quantile_days(col, 0.9))),
                not_within_horizon_share=float(np.mean(~np.isfinite(col))),
            )
        )
    return ForecastResult(
        start=start,
        stock_m2=stock_m2,
        completion=completion,
        trajectory=trajectory,
        released=released,
        naive_years=naive_years,
        regions=tuple(regions),
        parameters=parameters,
        capacity=capacity,
        trials=trials,
        seed=seed,
        horizon_years=horizon_years,
        outcomes=outcomes,
        warnings=tuple(warnings),
    )


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _add_days(start: date, days: float) -> date | None:
    """``start + days``, or ``None`` beyond the last date Python can hold (year 9999)."""
    from datetime import timedelta

    if not math.isfinite(days) or days > (date.max - start).days:
        return None
    return start + timedelta(days=int(days))
