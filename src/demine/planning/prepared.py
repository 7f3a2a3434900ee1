"""A forecast ready to run: inputs, calibrated parameters and capacity, with what was assumed.

Both sources of a forecast, the register (:mod:`.register_history`) and a national programme
summary file (:mod:`.programme_file`), produce a :class:`PreparedForecast`; the command line
runs it and prints :func:`forecast_report` / :func:`comparison_report`, which add to the
engine's ``to_dict()`` what a reader needs to judge the answer: where the numbers came from,
and which land release stage holds the programme back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from demine.planning.calibrate import History
from demine.planning.capacity import CapacityPlan
from demine.planning.compare import Comparison, compare
from demine.planning.inputs import ForecastInputs
from demine.planning.model import DEFAULT_HORIZON_YEARS
from demine.planning.parameters import STAGES, TEAM_TYPES, Parameters
from demine.planning.results import ForecastResult, TrialOutcomes
from demine.planning.scenario import Scenario
from demine.planning.simulate import forecast
from demine.planning.timeline import DAYS_PER_YEAR

# The first word of the notes that say how data moved a prior (see PreparedForecast.calibration).
CALIBRATED = (
    "funnel",
    "release level",
    "productivity",
    "output trend",
    "output volatility",
    "depletion",
    "stock revisions",
    "new contamination",
    "nts:",
    "ts:",
    "clearance:",
)


@dataclass(frozen=True, eq=False)
class PreparedForecast:
    """Everything a forecast needs, and the notes and warnings of how it was put together.

    ``notes`` say where each input came from (shown with the result); ``warnings`` are things
    the reader must know to trust the answer (a stale register, a stage without teams).
    """

    source: str
    inputs: ForecastInputs
    parameters: Parameters
    capacity: CapacityPlan
    history: History = field(default_factory=History)
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def calibration(self) -> tuple[str, ...]:
        """One line per input that data can move: what the data gave, and the prior they moved.

        These are the notes about the funnel, the release level, productivity, the output trend
        and depletion, volatility, stock revisions and new contamination.
        """
        return tuple(n for n in self.notes if n.startswith(CALIBRATED))

    def forecast(
        self, trials: int = 1000, seed: int = 0, *, horizon_years: float = DEFAULT_HORIZON_YEARS
    ) -> ForecastResult:
        """The Monte Carlo forecast of the baseline capacity."""
        return forecast(
            self.inputs, self.parameters, self.capacity, trials, seed, horizon_years=horizon_years
        )

    def compare(
        self,
        scenario: Scenario,
        trials: int = 1000,
        seed: int = 0,
        *,
        horizon_years: float = DEFAULT_HORIZON_YEARS,
    ) -> Comparison:
        """Baseline and ``scenario`` on the same random draws."""
        return compare(
            self.inputs,
            self.parameters,
            self.capacity,
            scenario,
            trials,
            seed,
            horizon_years=horizon_years,
        )

    def with_discovery_years(self, years: float) -> PreparedForecast:
        """The same forecast with new contamination stopping ``years`` years after the start.

        The calibrated rate assumes discoveries go on for the whole horizon; an analyst who
        knows the baseline survey ends (say in five years) can say so.
        """
        if not years >= 0:
            raise ValueError(f"discovery years must be ≥ 0, got {years}")
        return replace(
            self,
            parameters=self.parameters.replace(new_contamination_years=float(years)),
            notes=(*self.notes, f"new contamination stops after {years:g} years (assumption given)"),
        )

    def describe(self) -> dict[str, Any]:
        """JSON-ready description of the inputs: stock, teams, notes, warnings."""
        inputs = self.inputs
        by_class = np.bincount(
            inputs.hazard_class, weights=inputs.area_m2, minlength=len(self.parameters.class_names)
        )
        return {
            "source": self.source,
            "start": inputs.start.isoformat(),
            "hazards": inputs.n_hazards,
            "stock_m2": inputs.stock_m2,
            "stock_by_class_m2": {
                name: float(by_class[c]) for c, name in enumerate(self.parameters.class_names)
            },
            "regions": inputs.n_regions,
            "teams": {t: float(self.capacity.teams.get(t, 0.0)) for t in TEAM_TYPES},
            "working_days_per_year": {t: self.capacity.season(t).working_days_per_year for t in TEAM_TYPES},
            "recent_cleared_m2_per_year": inputs.recent_cleared_m2_per_year,
            "notes": list(self.notes),
            "calibration": list(self.calibration),
            "warnings": list(self.warnings),
        }


def binding_stages(outcomes: TrialOutcomes) -> dict[str, Any]:
    """Which land release stage finishes last, i.e. sets the completion date, and how often.

    In each trial the binding stage is the one whose completion day is the latest (a stage
    that never finishes within the horizon binds). Returns the share of trials per stage, the
    most frequent one, and each stage's median completion in years from the start.
    """
    days = outcomes.stage_completion_day
    trials = days.shape[0]
    if trials == 0:
        return {"shares": {s: 0.0 for s in STAGES}, "binding": None, "stage_p50_years": {}}
    last = np.argmax(days, axis=1)
    shares = np.bincount(last, minlength=len(STAGES)) / trials
    p50 = np.quantile(days, 0.5, axis=0, method="inverted_cdf")
    return {
        "shares": {s: float(shares[i]) for i, s in enumerate(STAGES)},
        "binding": STAGES[int(np.argmax(shares))],
        "stage_p50_years": {
            s: (float(p50[i] / DAYS_PER_YEAR) if np.isfinite(p50[i]) else None) for i, s in enumerate(STAGES)
        },
    }


def forecast_report(prepared: PreparedForecast, result: ForecastResult) -> dict[str, Any]:
    """``result.to_dict()`` with the binding stage, the inputs and every warning."""
    out = result.to_dict()
    out["binding_stage"] = binding_stages(result.outcomes)
    out["inputs"] = prepared.describe()
    out["warnings"] = [*prepared.warnings, *result.warnings]
    unfinished = result.completion.not_within_horizon_share
    if unfinished > 0:
        out["warnings"].append(
            f"{unfinished:.0%} of trials do not finish within {result.horizon_years:g} years (new "
            "contamination outpacing the work, or a stage without capacity): percentiles beyond that are null"
        )
    return out


def comparison_report(prepared: PreparedForecast, comparison: Comparison) -> dict[str, Any]:
    """``{"baseline": ..., "scenario": ..., "comparison": ...}`` for a scenario run."""
    return {
        "baseline": forecast_report(prepared, comparison.baseline),
        "scenario": forecast_report(prepared, comparison.with_scenario),
        "comparison": comparison.to_dict(),
    }
