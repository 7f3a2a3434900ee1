"""The day-by-day reference simulation: the same model, written the obvious way.

This is the correctness oracle for :mod:`demine.planning.simulate`, and the baseline its speed
is measured against. It shares only the random draws (:class:`~demine.planning.draws.TrialDraws`)
and the input/parameter/capacity objects with the fast engine; everything else — hazard order
and positions, per-hazard shares and efforts, each day's team-days (with training cohorts aged
one day at a time), the queue of new contamination — is recomputed here with plain Python loops.

Each day, for each stage (NTS, TS, clearance): capacity = Σ productivity × team-days worked
(+ budget m² for clearance), times the year's output factor; newly found contamination arrives
and is worked first; what is left works the current hazard in priority order (in m² of the
starting estimate: divided by the stock's revision factor), and a team that finishes a hazard
moves on to the next the same day. On 31 December the released and remaining areas are written
down and the estimate of the land left is revised to the next year's factor.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np

from demine.planning.capacity import CapacityPlan, TrainingPipeline
from demine.planning.draws import TrialDraws
from demine.planning.inputs import ForecastInputs
from demine.planning.model import DEFAULT_HORIZON_YEARS
from demine.planning.parameters import STAGE_OF, STAGES, TEAM_TYPES, Parameters
from demine.planning.results import TrialOutcomes
from demine.planning.timeline import DAYS_PER_MONTH, DAYS_PER_YEAR, Timeline

# A hazard whose remaining effort is within this relative margin of the day's capacity is
# finished that day: float rounding must not push a completion to the next day.
_TOLERANCE = 1e-9


@dataclass(frozen=True, eq=False)
class ReferenceRun:
    """Outcomes of the selected trials, plus each hazard's completion day in each stage."""

    trials: tuple[int, ...]
    outcomes: TrialOutcomes
    hazard_stage_day: np.ndarray  # (trials, stages, hazards) by service position; inf = never


def simulate_reference(
    inputs: ForecastInputs,
    parameters: Parameters,
    capacity: CapacityPlan,
    draws: TrialDraws,
    trials: Iterable[int] | None = None,
    *,
    horizon_years: float = DEFAULT_HORIZON_YEARS,
) -> ReferenceRun:
    """Simulate ``trials`` (default: all) of ``draws`` one day at a time."""
    chosen = tuple(range(draws.trials) if trials is None else trials)
    timeline = Timeline.for_years(inputs.start, horizon_years)
    year_end_days = {}
    for y in range(inputs.start.year, timeline.date_of(timeline.days - 1).year + 1):
        d = timeline.index_of(date(y, 12, 31))
        if 0 <= d < timeline.days:
            year_end_days[d] = len(year_end_days)
    years = np.array(sorted(timeline.date_of(d).year for d in year_end_days), dtype=np.int64)
    n_regions = inputs.n_regions
    out = TrialOutcomes.empty(len(chosen), n_regions, years)
    hazard_days = np.full((len(chosen), len(STAGES), inputs.n_hazards), math.inf)
    for row, t in enumerate(chosen):
        _one_trial(inputs, parameters, capacity, draws, t, timeline, year_end_days, out, row, hazard_days)
    return ReferenceRun(chosen, out, hazard_days)


def _one_trial(
    inputs: ForecastInputs,
    parameters: Parameters,
    capacity: CapacityPlan,
    draws: TrialDraws,
    t: int,
    timeline: Timeline,
    year_end_days: dict[int, int],
    out: TrialOutcomes,
    row: int,
    hazard_days: np.ndarray,
) -> None:
    order = [int(i) for i in inputs.order]
    area = [float(inputs.area_m2[i]) for i in order]
    cls = [int(inputs.hazard_class[i]) for i in order]
    region = [int(inputs.region[i]) for i in order]
    n = len(area)
    total = sum(area)

    productivity = {k: float(draws.productivity[t, i]) for i, k in enumerate(TEAM_TYPES)}
    funnel = draws.funnel[t]
    factor = draws.class_factor[t]
    depletion = float(draws.depletion[t])
    rate = float(draws.new_m2_per_year[t])
    u_cancel, u_split, u_effort = draws.hazard_uniforms(t, n)
    share_spread, effort_spread = draws.share_spread, draws.effort_spread

    def split_of(c: int) -> float:
        reduced, cleared = float(funnel[c][1]), float(funnel[c][2])
        return cleared / (reduced + cleared) if reduced + cleared > 0 else 0.0

    # Per hazard: effort per stage and the area each stage releases.
    effort = {s: [0.0] * n for s in STAGES}
    release = {s: [0.0] * n for s in STAGES}
    before = 0.0
    for i in range(n):
        a, c = area[i], cls[i]
        position = (before + a / 2) / total if total > 0 else 0.0
        before += a
        cancel = float(funnel[c][0])
        split = split_of(c)
        if share_spread > 0:
            assert u_cancel is not None and u_split is not None
            cancel += share_spread * min(cancel, 1 - cancel) * (2 * float(u_cancel[i]) - 1)
            split += share_spread * min(split, 1 - split) * (2 * float(u_split[i]) - 1)
        noise = 1.0
        if effort_spread > 0:
            assert u_effort is not None
            noise = 1 + effort_spread * (2 * float(u_effort[i]) - 1)
        cancelled = a * cancel
        kept = a - cancelled
        cleared = kept * split
        harder = 1 + depletion * position
        effort["nts"][i] = a * harder
        effort["ts"][i] = kept * harder
        effort["clearance"][i] = cleared * harder * noise / float(factor[c])
        release["nts"][i] = cancelled
        release["ts"][i] = kept - cleared
        release["clearance"][i] = cleared

    # New contamination: class 0's trial funnel, no depletion. Effort per m² found, and m²
    # released per unit of effort, per stage.
    c0, g0, q0 = float(funnel[0][0]), split_of(0), float(factor[0])
    new_effort = {"nts": 1.0, "ts": 1 - c0, "clearance": (1 - c0) * g0 / q0}
    new_yield = {"nts": c0, "ts": 1 - g0, "clearance": q0}
    years = parameters.new_contamination_years
    arrival_days = timeline.days if years is None else round(years * DAYS_PER_YEAR)

    teams = _LiteralCapacity(capacity, timeline)
    backlog = dict.fromkeys(STAGES, 0.0)
    new_done = dict.fromkeys(STAGES, 0.0)
    released = dict.fromkeys(STAGES, 0.0)  # m², at the estimate of the day it was released
    released_first = dict.fromkeys(STAGES, 0.0)  # m² of the starting estimate
    revised = 0.0
    output_factor = [float(x) for x in draws.output_factor[t]]
    stock_factor = [float(x) for x in draws.stock_factor[t]]
    discovery_factor = [float(x) for x in draws.discovery_factor[t]]
    calendar_year = timeline.year
    current = dict.fromkeys(STAGES, 0)
    left = {s: list(effort[s]) for s in STAGES}
    arrived = 0.0
    months = timeline.month
    for d in range(timeline.days):
        yi = int(calendar_year[d]) - inputs.start.year
        output, z = output_factor[yi], stock_factor[yi]
        team_days = teams.day(d, int(months[d]))
        arriving = rate / DAYS_PER_YEAR * discovery_factor[yi] if d < arrival_days else 0.0
        arrived += arriving
        for si, stage in enumerate(STAGES):
            cap = sum(productivity[k] * team_days[k] for k in TEAM_TYPES if STAGE_OF[k] == stage)
            if stage == "clearance":
                cap += teams.budget_m2(d)
            cap *= output
            backlog[stage] += arriving * new_effort[stage]
            work = min(backlog[stage], cap)
            backlog[stage] -= work
            new_done[stage] += work
            # What is left works the stock, whose every m² now stands for z m² of the start's.
            cap = (cap - work) / z
            j = current[stage]
            rem = left[stage]
            while j < n:
                if rem[j] <= cap + _TOLERANCE * max(rem[j], 1.0):
                    cap = max(cap - rem[j], 0.0)
                    rem[j] = 0.0
                    hazard_days[row, si, j] = d
                    released[stage] += release[stage][j] * z
                    released_first[stage] += release[stage][j]
                    j += 1
                else:
                    rem[j] -= cap
                    break
            current[stage] = j
        y = year_end_days.get(d)
        if y is not None:
            new_released = [new_done[s] * new_yield[s] for s in STAGES]
            out.released[row, y] = [released[s] + new_released[i] for i, s in enumerate(STAGES)]
            out.arrived[row, y] = arrived
            # The year's revision of the estimate of the land not yet released.
            unreleased = total - sum(released_first.values())
            revised += (stock_factor[yi + 1] - z) * unreleased
            out.revised[row, y] = revised
            out.remaining[row, y] = stock_factor[yi + 1] * unreleased + arrived - sum(new_released)

    for si in range(len(STAGES)):
        days = hazard_days[row, si]
        out.stage_completion_day[row, si] = days.max() if n else 0.0
    out.completion_day[row] = out.stage_completion_day[row].max()
    for r in range(out.region_day.shape[1]):
        positions = [j for j in range(n) if region[j] == r]
        out.region_day[row, r] = (
            max(hazard_days[row, si, positions[-1]] for si in range(len(STAGES))) if positions else 0.0
        )


class _LiteralCapacity:
    """Team-days by type, one day at a time, with training cohorts aged day by day."""

    def __init__(self, plan: CapacityPlan, timeline: Timeline) -> None:
        self.plan = plan
        self.timeline = timeline
        self.pipelines = [_Cohorts(p, plan, timeline) for p in plan.pipelines]

    def day(self, d: int, month: int) -> dict[str, float]:
        plan = self.plan
        teams = {k: float(plan.teams.get(k, 0.0)) for k in TEAM_TYPES}
        for add in plan.additions:
            start = self.timeline.index_of(add.start)
            end = self._end(add.end)
            if start <= d < end:
                teams[add.team_type] += add.teams * _ramp(d - start, plan.ramp_days(add.ramp_up_months))
        for cohorts in self.pipelines:
            teams[cohorts.pipe.team_type] += cohorts.step(d)
        for rem in plan.removals:
            if self.timeline.index_of(rem.start) <= d < self._end(rem.end):
                teams[rem.team_type] -= rem.teams
        return {k: max(teams[k], 0.0) * plan.season(k).open_fraction_on(month) for k in TEAM_TYPES}

    def budget_m2(self, d: int) -> float:
        m2 = 0.0
        for b in self.plan.budgets:
            start = self.timeline.index_of(b.start or self.timeline.start)
            if start <= d < self._end(b.end):
                m2 += b.money_per_year / b.cost_per_m2 / DAYS_PER_YEAR
        return m2

    def _end(self, end: date | None) -> int:
        return self.timeline.days if end is None else self.timeline.index_of(end) + 1


class _Cohorts:
    """Graduates of one training pipeline: cohorts still ramping up, and a pool of full teams."""

    def __init__(self, pipe: TrainingPipeline, plan: CapacityPlan, timeline: Timeline) -> None:
        self.pipe = pipe
        self.intake_start = timeline.index_of(pipe.start)
        self.intake_end = timeline.days if pipe.end is None else timeline.index_of(pipe.end) + 1
        self.course = round(pipe.course_months * DAYS_PER_MONTH)
        self.ramp_days = plan.ramp_days(pipe.ramp_up_months)
        self.survival = (1.0 - pipe.annual_attrition) ** (1.0 / DAYS_PER_YEAR)
        self.per_day = pipe.trainees_per_month / DAYS_PER_MONTH * pipe.pass_rate / pipe.staff_per_team
        self.ramping: list[list[float]] = []  # [age in days, teams]
        self.pool = 0.0
        self.last_day = -1

    def step(self, d: int) -> float:
        """Teams in service on day ``d`` (call once per day, in order), ramp-weighted."""
        if self.last_day >= 0:
            self.pool *= self.survival
            for cohort in self.ramping:
                cohort[0] += 1
                cohort[1] *= self.survival
        self.last_day = d
        if self.intake_start <= d - self.course < self.intake_end:
            self.ramping.append([0.0, self.per_day])
        still = []
        for age, size in self.ramping:
            if _ramp(int(age), self.ramp_days) >= 1.0:
                self.pool += size
            else:
                still.append([age, size])
        self.ramping = still
        return self.pool + sum(size * _ramp(int(age), self.ramp_days) for age, size in still)


def _ramp(age: int, ramp_days: int) -> float:
    if age < 0:
        return 0.0
    if ramp_days <= 0:
        return 1.0
    return min(1.0, (age + 1) / ramp_days)
