"""Baseline versus scenario on common random numbers.

Both forecasts use the same seed, and the draws do not depend on capacity (see
:mod:`demine.planning.draws`), so trial ``t`` of the baseline and trial ``t`` of the scenario
face the same land, the same productivities and the same new contamination. Differences are then
due to the scenario alone, and per-trial differences (years saved) have far less noise than the
difference of two independent forecasts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from demine.planning.capacity import CapacityPlan
from demine.planning.inputs import ForecastInputs
from demine.planning.model import DEFAULT_HORIZON_YEARS
from demine.planning.parameters import Parameters
from demine.planning.results import ForecastResult, quantile_days
from demine.planning.scenario import Scenario
from demine.planning.simulate import forecast
from demine.planning.timeline import DAYS_PER_YEAR


@dataclass(frozen=True)
class YearComparison:
    """Area released during ``year`` (m², P50 over trials) without and with the scenario."""

    year: int
    baseline_p50: float
    scenario_p50: float
    extra_p50: float  # median over trials of (scenario − baseline), same draws

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "baseline_p50": self.baseline_p50,
            "scenario_p50": self.scenario_p50,
            "extra_p50": self.extra_p50,
        }


@dataclass(frozen=True, eq=False)
class Comparison:
    """A baseline forecast, the same forecast under a scenario, and what the scenario changes."""

    scenario: Scenario
    baseline: ForecastResult
    with_scenario: ForecastResult
    years_saved_p50: float | None  # baseline P50 completion − scenario P50 completion, in years
    years_saved_by_trial: tuple[float | None, float | None, float | None]  # P10, P50, P90
    earlier_or_same_share: float  # share of trials where the scenario is not later
    released_by_year: tuple[YearComparison, ...]

    def to_dict(self) -> dict[str, Any]:
        p10, p50, p90 = self.years_saved_by_trial
        return {
            "scenario": self.scenario.to_dict(),
            "baseline": {"completion": self.baseline.completion.to_dict()},
            "with_scenario": {"completion": self.with_scenario.completion.to_dict()},
            "years_saved_p50": self.years_saved_p50,
            "years_saved_by_trial": {"p10": p10, "p50": p50, "p90": p90},
            "earlier_or_same_share": self.earlier_or_same_share,
            "released_by_year": [y.to_dict() for y in self.released_by_year],
            "trials": self.baseline.trials,
            "seed": self.baseline.seed,
        }


def compare(
    inputs: ForecastInputs,
    parameters: Parameters,
    baseline_capacity: CapacityPlan,
    scenario: Scenario,
    trials: int = 1000,
    seed: int = 0,
    *,
    horizon_years: float = DEFAULT_HORIZON_YEARS,
    precision: str = "float32",
    workers: int | None = None,
) -> Comparison:
    """Forecast with and without ``scenario`` on the same random draws."""
    options = {"horizon_years": horizon_years, "precision": precision, "workers": workers}
    base = forecast(inputs, parameters, baseline_capacity, trials, seed, **options)
    scen = forecast(inputs, parameters, scenario.apply(baseline_capacity), trials, seed, **options)
    b_days = base.outcomes.completion_day
    s_days = scen.outcomes.completion_day

    saved_p50 = None
    if base.completion.p50 is not None and scen.completion.p50 is not None:
        saved_p50 = (base.completion.p50 - scen.completion.p50).days / DAYS_PER_YEAR

    # Per trial: inf − inf is undefined (neither finishes), inf − finite is "more than the
    # horizon" (kept as inf so quantiles report it honestly as None).
    both = np.isfinite(b_days) | np.isfinite(s_days)
    diff = (b_days[both] - s_days[both]) / DAYS_PER_YEAR
    by_trial: tuple[float | None, ...] = (None, None, None)
    if diff.size:
        by_trial = tuple(_finite_or_none(float(quantile_days(diff, q))) for q in (0.1, 0.5, 0.9))

    years = base.outcomes.years
    keep = max(len(base.trajectory), len(scen.trajectory))
    b_rel = np.diff(base.outcomes.released.sum(axis=2)[:, :keep], axis=1, prepend=0.0)
    s_rel = np.diff(scen.outcomes.released.sum(axis=2)[:, :keep], axis=1, prepend=0.0)
    rows = tuple(
        YearComparison(
            int(years[i]),
            float(np.median(b_rel[:, i])),
            float(np.median(s_rel[:, i])),
            float(np.median(s_rel[:, i] - b_rel[:, i])),
        )
        for i in range(keep)
    )
    return Comparison(
        scenario=scenario,
        baseline=base,
        with_scenario=scen,
        years_saved_p50=saved_p50,
        years_saved_by_trial=by_trial,
        earlier_or_same_share=float(np.mean(~(s_days > b_days))),
        released_by_year=rows,
    )


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None
