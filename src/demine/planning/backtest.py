"""Backtest: forecast from an earlier year of a programme file and score it against what followed.

:func:`backtest` prepares the forecast with only the history up to ``at``
(:meth:`~demine.planning.programme_file.Programme.prepare`), starts it on 1 January of the next
year from that year's remaining area, and compares it with every later figure in the file:

* the remaining area at the end of each later year, against the trajectory band;
* the area released (in total, and cleared) during each later year, against the band of the
  forecast's releases in that year;
* the completion date, if the file has ``completed_on``.

For each figure: inside the P10–P90 band or not, the P50's relative error, and the error of the
naive method (a straight line at the recent clearance rate: the stock falls by that rate each
year, and that rate is all that is released). ``coverage`` is the share of figures inside the
band: an honest 80% band covers about 80% of them, over many programmes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from demine.domain.errors import Problem
from demine.planning.prepared import PreparedForecast, binding_stages
from demine.planning.programme_file import Programme, ProgrammeError
from demine.planning.results import ForecastResult, quantile_days
from demine.planning.timeline import DAYS_PER_YEAR

KINDS = ("remaining", "released", "cleared")


@dataclass(frozen=True)
class BacktestPoint:
    """One later figure and what the forecast (and the naive method) said it would be."""

    year: int
    kind: str  # remaining (end of year) | released | cleared (during the year)
    observed: float
    p10: float
    p50: float
    p90: float
    naive: float | None

    @property
    def inside(self) -> bool:
        return self.p10 <= self.observed <= self.p90

    @property
    def p50_error(self) -> float | None:
        """(P50 − observed) / observed; ``None`` when nothing was observed."""
        return (self.p50 - self.observed) / self.observed if self.observed > 0 else None

    @property
    def naive_error(self) -> float | None:
        if self.naive is None or self.observed <= 0:
            return None
        return (self.naive - self.observed) / self.observed

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "kind": self.kind,
            "observed_m2": self.observed,
            "p10_m2": self.p10,
            "p50_m2": self.p50,
            "p90_m2": self.p90,
            "inside_band": self.inside,
            "p50_error": self.p50_error,
            "naive_m2": self.naive,
            "naive_error": self.naive_error,
        }


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """A forecast made at the end of ``at`` and how it compares with the later figures."""

    programme: str
    at: int
    prepared: PreparedForecast
    forecast: ForecastResult
    naive_rate_m2_per_year: float | None
    points: tuple[BacktestPoint, ...]
    completed_on: date | None

    @property
    def coverage(self) -> float | None:
        """Share of later figures inside the P10–P90 band (``None`` with no later figures)."""
        return float(np.mean([p.inside for p in self.points])) if self.points else None

    @property
    def primary_kind(self) -> str | None:
        """The kind of figure the headline errors are about: remaining area when there is any.

        Errors are relative, so mixing kinds would let a tiny cleared area (BiH cleared 0.3 km²
        in 2017) swamp the rest.
        """
        return next((k for k in KINDS if any(p.kind == k for p in self.points)), None)

    @property
    def p50_mean_abs_error(self) -> float | None:
        """Mean |P50 − observed| / observed over the figures of :attr:`primary_kind`."""
        return _mean_abs([p.p50_error for p in self.points if p.kind == self.primary_kind])

    @property
    def naive_mean_abs_error(self) -> float | None:
        """The same for the naive straight line."""
        return _mean_abs([p.naive_error for p in self.points if p.kind == self.primary_kind])

    def completion_check(self) -> dict[str, Any] | None:
        """The observed completion against the forecast's, in years from the start."""
        if self.completed_on is None:
            return None
        start = self.forecast.start
        observed = (self.completed_on - start).days / DAYS_PER_YEAR
        days = self.forecast.outcomes.completion_day
        p10, p50, p90 = (float(quantile_days(days, q)) / DAYS_PER_YEAR for q in (0.1, 0.5, 0.9))
        naive = self.forecast.naive_years
        return {
            "completed_on": self.completed_on.isoformat(),
            "observed_years": observed,
            "p10_years": _finite(p10),
            "p50_years": _finite(p50),
            "p90_years": _finite(p90),
            "inside_band": p10 <= observed <= p90,
            "p50_error_years": _finite(p50 - observed),
            "naive_years": naive,
            "naive_error_years": None if naive is None else naive - observed,
        }

    def summary_by_kind(self) -> dict[str, dict[str, Any]]:
        out = {}
        for kind in KINDS:
            pts = [p for p in self.points if p.kind == kind]
            if pts:
                out[kind] = {
                    "figures": len(pts),
                    "coverage": float(np.mean([p.inside for p in pts])),
                    "p50_mean_abs_error": _mean_abs([p.p50_error for p in pts]),
                    "naive_mean_abs_error": _mean_abs([p.naive_error for p in pts]),
                }
        return out

    def to_dict(self) -> dict[str, Any]:
        f = self.forecast
        return {
            "programme": self.programme,
            "at": self.at,
            "start": f.start.isoformat(),
            "stock_m2": f.stock_m2,
            "trials": f.trials,
            "seed": f.seed,
            "completion": f.completion.to_dict(),
            "naive_years": f.naive_years,
            "naive_rate_m2_per_year": self.naive_rate_m2_per_year,
            "binding_stage": binding_stages(f.outcomes),
            "figures": len(self.points),
            "coverage": self.coverage,
            "primary_kind": self.primary_kind,
            "p50_mean_abs_error": self.p50_mean_abs_error,
            "naive_mean_abs_error": self.naive_mean_abs_error,
            "by_kind": self.summary_by_kind(),
            "points": [p.to_dict() for p in self.points],
            "completion_check": self.completion_check(),
            "notes": list(self.prepared.notes),
            "warnings": [*self.prepared.warnings, *f.warnings],
        }


def backtest(
    programme: Programme,
    at: int,
    trials: int = 1000,
    seed: int = 0,
    *,
    horizon_years: float = 100.0,
) -> BacktestResult:
    """Forecast from the end of year ``at`` with the history up to it; score the later figures."""
    later = [r for r in programme.history if r.year > at]
    has_later = any(v is not None for r in later for v in (r.remaining_m2, r.released_m2, r.cleared_m2)) or (
        programme.completed_on is not None and programme.completed_on >= date(at + 1, 1, 1)
    )
    if not has_later:
        raise ProgrammeError(
            [Problem(programme.path, "history", f"no figures after {at} to compare a backtest with")]
        )
    prepared = programme.prepare(at)
    result = prepared.forecast(trials, seed, horizon_years=horizon_years)
    outcomes = result.outcomes
    years = list(outcomes.years)
    released = np.diff(outcomes.released, axis=1, prepend=0.0)  # (trials, years, methods) in-year
    rate = prepared.inputs.recent_cleared_m2_per_year
    stock = prepared.inputs.stock_m2
    points = []
    for r in later:
        if r.year not in years:
            continue
        i = years.index(r.year)
        naive_remaining = None if rate is None else max(0.0, stock - rate * (r.year - at))
        series = {
            "remaining": (r.remaining_m2, outcomes.remaining[:, i], naive_remaining),
            "released": (r.released_m2, released[:, i, :].sum(axis=1), rate),
            "cleared": (r.cleared_m2, released[:, i, 2], rate),
        }
        for kind in KINDS:
            observed, values, naive = series[kind]
            if observed is None:
                continue
            # Rounding can leave −1e-9 m² where everything is released.
            q10, q50, q90 = np.maximum(np.quantile(values, [0.1, 0.5, 0.9]), 0.0)
            points.append(
                BacktestPoint(r.year, kind, float(observed), float(q10), float(q50), float(q90), naive)
            )
    completed = (
        programme.completed_on if programme.completed_on and programme.completed_on.year > at else None
    )
    return BacktestResult(
        programme=programme.name,
        at=at,
        prepared=prepared,
        forecast=result,
        naive_rate_m2_per_year=rate,
        points=tuple(points),
        completed_on=completed,
    )


def _mean_abs(values: list[float | None]) -> float | None:
    xs = [abs(v) for v in values if v is not None]
    return float(np.mean(xs)) if xs else None


def _finite(x: float) -> float | None:
    return x if np.isfinite(x) else None
