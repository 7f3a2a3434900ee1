"""The deterministic half of a forecast: hazards in service order, clock and capacity curves.

:func:`build_model` checks the inputs against the parameters and lays out everything that does
not depend on random draws, once, for all trials. The vectorised engine reads it; the day-by-day
reference deliberately recomputes what it needs on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from demine.domain.errors import Problem, ValidationError
from demine.planning.capacity import CapacityPlan
from demine.planning.inputs import RECORD, ForecastInputs
from demine.planning.parameters import STAGE_OF, STAGES, TEAM_TYPES, Parameters
from demine.planning.timeline import DAYS_PER_YEAR, Timeline

DEFAULT_HORIZON_YEARS = 100.0
TYPE_INDEX = {t: i for i, t in enumerate(TEAM_TYPES)}
STAGE_TYPES: dict[str, tuple[int, ...]] = {
    s: tuple(TYPE_INDEX[t] for t in TEAM_TYPES if STAGE_OF[t] == s) for s in STAGES
}


@dataclass(frozen=True, eq=False)
class Model:
    """Hazards in service order plus the clock and capacity, ready for the engines."""

    inputs: ForecastInputs
    parameters: Parameters
    capacity: CapacityPlan
    timeline: Timeline
    area: np.ndarray  # (n,) m², service order
    hazard_class: np.ndarray  # (n,) service order
    region: np.ndarray  # (n,) service order
    position: np.ndarray  # (n,) share of the stock served before the hazard's middle, 0..1
    team_days: np.ndarray  # (types, days) team-days worked per day
    budget_m2: np.ndarray  # (days,) clearance m² bought per day
    arrival_years: np.ndarray  # (days,) cumulative years of new contamination arrival by day end

    @property
    def n(self) -> int:
        return int(self.area.size)

    @property
    def days(self) -> int:
        return self.timeline.days

    @cached_property
    def cum_team_days(self) -> np.ndarray:
        """Cumulative team-days by the end of each day, per type."""
        return np.cumsum(self.team_days, axis=1)

    @cached_property
    def cum_budget_m2(self) -> np.ndarray:
        return np.cumsum(self.budget_m2)

    @cached_property
    def region_last(self) -> np.ndarray:
        """Service position of each region's last hazard (-1 for a region with none)."""
        last = np.full(self.inputs.n_regions, -1, dtype=np.int64)
        # Positions increase along the order, so a maximum per region is its last hazard.
        np.maximum.at(last, self.region, np.arange(self.n))
        return last

    @cached_property
    def region_stock(self) -> np.ndarray:
        return np.bincount(self.region, weights=self.area, minlength=self.inputs.n_regions)

    def stage_capacity_m2(self, stage: str, productivity: np.ndarray) -> np.ndarray:
        """Cumulative capacity (effort units) of ``stage`` by the end of each day, per trial.

        ``productivity``: ``(trials, types)`` m² per team-day. Returns ``(trials, days)``.
        """
        idx = list(STAGE_TYPES[stage])
        cap = productivity[:, idx] @ self.cum_team_days[idx]
        if stage == "clearance":
            cap += self.cum_budget_m2
        return cap

    def naive_rate_m2_per_year(self) -> float:
        """First-year clearance at median productivity: what a "stock ÷ rate" planner assumes."""
        if self.inputs.recent_cleared_m2_per_year is not None:
            return float(self.inputs.recent_cleared_m2_per_year)
        days = min(self.days, round(DAYS_PER_YEAR))
        m2 = float(self.budget_m2[:days].sum())
        for k in STAGE_TYPES["clearance"]:
            m2 += self.parameters.productivity[TEAM_TYPES[k]].median * float(self.team_days[k, :days].sum())
        return m2 * DAYS_PER_YEAR / days

    def warnings(self) -> list[str]:
        """Things the caller should know: a stage with work to do and no capacity at all."""
        out = []
        if self.n and self.area.sum() > 0:
            for stage in STAGES:
                idx = list(STAGE_TYPES[stage])
                total = self.team_days[idx].sum()
                if stage == "clearance":
                    total += self.budget_m2.sum()
                if total <= 0:
                    names = ", ".join(TEAM_TYPES[k] for k in idx)
                    out.append(
                        f"no {stage} capacity ({names}) within the horizon: hazards needing "
                        f"{stage} cannot be completed"
                    )
        return out


def build_model(
    inputs: ForecastInputs,
    parameters: Parameters,
    capacity: CapacityPlan,
    horizon_years: float = DEFAULT_HORIZON_YEARS,
) -> Model:
    """Check inputs against parameters and lay out the deterministic part of the forecast."""
    problems = []
    n_classes = len(parameters.class_names)
    if inputs.n_hazards and inputs.hazard_class.max() >= n_classes:
        problems.append(
            Problem(
                RECORD,
                "hazard_class",
                f"class {int(inputs.hazard_class.max())} has no parameters "
                f"(classes are {list(parameters.class_names)})",
            )
        )
    if not (np.isfinite(horizon_years) and 0 < horizon_years <= 500):
        problems.append(Problem(RECORD, "horizon_years", "must be > 0 and ≤ 500"))
    if problems:
        raise ValidationError(problems)
    timeline = Timeline.for_years(inputs.start, horizon_years)
    order = inputs.order
    area = inputs.area_m2[order]
    total = area.sum()
    before = np.cumsum(area) - area
    position = (before + area / 2) / total if total > 0 else np.zeros_like(area)
    days = timeline.days
    years = parameters.new_contamination_years
    arrival_days = days if years is None else min(days, round(years * DAYS_PER_YEAR))
    arrival = np.minimum(np.arange(1, days + 1), arrival_days) / DAYS_PER_YEAR
    return Model(
        inputs=inputs,
        parameters=parameters,
        capacity=capacity,
        timeline=timeline,
        area=area,
        hazard_class=inputs.hazard_class[order],
        region=inputs.region[order],
        position=position,
        team_days=capacity.daily_team_days(timeline),
        budget_m2=capacity.daily_budget_m2(timeline),
        arrival_years=arrival,
    )
