"""Team capacity over time: how many team-days of each type are worked on each day.

Capacity is deterministic (expected values, fractional teams allowed); the uncertainty is in
how much land a team-day releases (see :mod:`demine.planning.parameters`). Counted teams are
accredited teams only: the caller passes the counts (the register knows which accreditations
are valid on the start date).

For team type ``k`` on day ``d``::

    teams_k(d)     = max(0, accredited_k + Σ additions·ramp + pipeline_k(d) − Σ removals)
    team_days_k(d) = teams_k(d) × open_k(d)
    open_k(d)      = working_days_per_year_k / 365.25, or 0 in a closed month

so ``working_days_per_year`` is what a team would work in a year with no closed months
(weekends, holidays, weather, stand-downs), and closed months (winter, or hot months for dogs:
SFOR 2001: no dog work above 30 °C) come on top.

A team that joins on day ``a`` works at ``ramp(d − a) = min(1, (d − a + 1) / R)`` of full output,
``R`` = ramp-up in days. A training pipeline takes in trainees every day of its window; they
graduate ``course_months`` later at ``pass_rate``, form teams of ``staff_per_team``, ramp up, and
leave at ``annual_attrition`` per year (exponential survival). Only graduations from the start
date on count: earlier graduates are already among the accredited teams.

A budget buys clearance directly: ``money_per_year / cost_per_m2`` m² per year, spread evenly over
calendar days (contracted capacity, priced per m² cleared on reference land).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np

from demine.planning.parameters import (
    COST_PER_M2_USD,
    RAMP_UP_MONTHS,
    TEAM_TYPES,
    WORKING_DAYS_PER_YEAR,
)
from demine.planning.timeline import DAYS_PER_MONTH, DAYS_PER_YEAR, Timeline


@dataclass(frozen=True)
class Season:
    """When a team type works: days per year without closures, and months closed."""

    working_days_per_year: float = WORKING_DAYS_PER_YEAR
    closed_months: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if not 0 <= self.working_days_per_year <= DAYS_PER_YEAR:
            raise ValueError(
                f"working_days_per_year must be between 0 and 365.25, got {self.working_days_per_year}"
            )
        bad = [m for m in self.closed_months if not 1 <= m <= 12]
        if bad:
            raise ValueError(f"closed_months must be 1–12, got {sorted(bad)}")
        object.__setattr__(self, "closed_months", frozenset(self.closed_months))

    def open_fraction_on(self, month: int) -> float:
        """Team-days worked per team on one calendar day of ``month``."""
        if month in self.closed_months:
            return 0.0
        return self.working_days_per_year / DAYS_PER_YEAR

    def open_fraction(self, months: np.ndarray) -> np.ndarray:
        """:meth:`open_fraction_on` for an array of months."""
        frac = np.full(months.shape, self.working_days_per_year / DAYS_PER_YEAR)
        if self.closed_months:
            frac[np.isin(months, sorted(self.closed_months))] = 0.0
        return frac

    def to_dict(self) -> dict[str, Any]:
        return {
            "working_days_per_year": self.working_days_per_year,
            "closed_months": sorted(self.closed_months),
        }


@dataclass(frozen=True)
class TeamChange:
    """``teams`` teams of ``team_type`` joining (or leaving) from ``start`` until ``end``."""

    team_type: str
    teams: float
    start: date
    end: date | None = None
    ramp_up_months: float | None = None

    def __post_init__(self) -> None:
        _check_type(self.team_type)
        if not self.teams >= 0:
            raise ValueError(f"teams must be ≥ 0, got {self.teams}")
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")


@dataclass(frozen=True)
class TrainingPipeline:
    """A course that turns trainees into accredited teams of ``team_type``.

    ``course_months``, ``pass_rate`` and ``annual_attrition`` have no sourced defaults; the values
    here are assumptions to be replaced by the programme's own.
    """

    team_type: str
    trainees_per_month: float
    start: date
    end: date | None = None
    course_months: float = 2.0
    pass_rate: float = 0.8
    annual_attrition: float = 0.1
    staff_per_team: float = 8.0
    ramp_up_months: float | None = None

    def __post_init__(self) -> None:
        _check_type(self.team_type)
        if not self.trainees_per_month >= 0:
            raise ValueError("trainees_per_month must be ≥ 0")
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if not self.course_months >= 0:
            raise ValueError("course_months must be ≥ 0")
        if not 0 <= self.pass_rate <= 1:
            raise ValueError("pass_rate must be between 0 and 1")
        if not 0 <= self.annual_attrition < 1:
            raise ValueError("annual_attrition must be ≥ 0 and < 1")
        if not self.staff_per_team > 0:
            raise ValueError("staff_per_team must be > 0")

    @property
    def teams_per_day(self) -> float:
        """Teams graduating per calendar day while the course runs."""
        return self.trainees_per_month / DAYS_PER_MONTH * self.pass_rate / self.staff_per_team

    @property
    def daily_survival(self) -> float:
        """Share of a team still in service one day later."""
        return (1.0 - self.annual_attrition) ** (1.0 / DAYS_PER_YEAR)


@dataclass(frozen=True)
class Budget:
    """Money per year that buys clearance at ``cost_per_m2`` (m² of reference land)."""

    money_per_year: float
    cost_per_m2: float = COST_PER_M2_USD
    start: date | None = None
    end: date | None = None
    currency: str = "USD"

    def __post_init__(self) -> None:
        if not self.money_per_year >= 0:
            raise ValueError("money_per_year must be ≥ 0")
        if not self.cost_per_m2 > 0:
            raise ValueError("cost_per_m2 must be > 0")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")

    @property
    def m2_per_day(self) -> float:
        return self.money_per_year / self.cost_per_m2 / DAYS_PER_YEAR


@dataclass(frozen=True)
class CapacityPlan:
    """Accredited teams now, by type, and how that changes over time."""

    teams: Mapping[str, float]
    seasons: Mapping[str, Season] = field(default_factory=dict)
    additions: tuple[TeamChange, ...] = ()
    removals: tuple[TeamChange, ...] = ()
    pipelines: tuple[TrainingPipeline, ...] = ()
    budgets: tuple[Budget, ...] = ()
    ramp_up_months: float = RAMP_UP_MONTHS

    def __post_init__(self) -> None:
        for t, n in self.teams.items():
            _check_type(t)
            if not n >= 0:
                raise ValueError(f"teams[{t!r}] must be ≥ 0, got {n}")
        for t in self.seasons:
            _check_type(t)
        if not self.ramp_up_months >= 0:
            raise ValueError("ramp_up_months must be ≥ 0")
        object.__setattr__(self, "teams", dict(self.teams))
        object.__setattr__(self, "seasons", dict(self.seasons))

    def season(self, team_type: str) -> Season:
        """The working pattern of ``team_type`` (the default if none was set)."""
        return self.seasons.get(team_type, Season())

    def ramp_days(self, months: float | None) -> int:
        """Ramp-up length in whole days (``None``: the plan's default)."""
        m = self.ramp_up_months if months is None else months
        return round(m * DAYS_PER_MONTH)

    def replace(self, **changes: Any) -> CapacityPlan:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def daily_team_days(self, timeline: Timeline) -> np.ndarray:
        """Team-days worked on each day: array ``(len(TEAM_TYPES), timeline.days)``."""
        d = np.arange(timeline.days)
        out = np.zeros((len(TEAM_TYPES), timeline.days))
        for k, team_type in enumerate(TEAM_TYPES):
            teams = np.full(timeline.days, float(self.teams.get(team_type, 0.0)))
            for add in self.additions:
                if add.team_type == team_type:
                    a, e = _window(timeline, add.start, add.end)
                    ramp = ramp_factor(d - a, self.ramp_days(add.ramp_up_months))
                    teams += np.where((d >= a) & (d < e), add.teams * ramp, 0.0)
            for pipe in self.pipelines:
                if pipe.team_type == team_type:
                    teams += self._pipeline_teams(pipe, timeline)
            for rem in self.removals:
                if rem.team_type == team_type:
                    a, e = _window(timeline, rem.start, rem.end)
                    teams -= np.where((d >= a) & (d < e), rem.teams, 0.0)
            np.maximum(teams, 0.0, out=teams)
            out[k] = teams * self.season(team_type).open_fraction(timeline.month)
        return out

    def daily_budget_m2(self, timeline: Timeline) -> np.ndarray:
        """Clearance m² bought by budgets on each day."""
        d = np.arange(timeline.days)
        out = np.zeros(timeline.days)
        for b in self.budgets:
            a, e = _window(timeline, b.start or timeline.start, b.end)
            out += np.where((d >= a) & (d < e), b.m2_per_day, 0.0)
        return out

    def _pipeline_teams(self, pipe: TrainingPipeline, timeline: Timeline) -> np.ndarray:
        """Teams in service from one pipeline: graduations convolved with survival × ramp."""
        n = timeline.days
        i0, i1 = _window(timeline, pipe.start, pipe.end)
        course = round(pipe.course_months * DAYS_PER_MONTH)
        g0, g1 = max(i0 + course, 0), min(i1 + course, n)
        grads = np.zeros(n)
        if g1 > g0:
            grads[g0:g1] = pipe.teams_per_day
        r = pipe.daily_survival
        ramp_days = self.ramp_days(pipe.ramp_up_months)
        # Split the kernel r^τ·ramp(τ) at τ0, after which ramp = 1: the head is a short direct
        # convolution, the tail a first-order recursion (exact, O(days)).
        tau0 = max(ramp_days - 1, 0)
        tau = np.arange(tau0)
        head_kernel = r**tau * ramp_factor(tau, ramp_days)
        out = np.convolve(grads, head_kernel)[:n] if tau0 else np.zeros(n)
        # scipy.signal takes over half a second to import: only pipelines need it.
        from scipy.signal import lfilter

        tail = lfilter([1.0], [1.0, -r], grads) * r**tau0
        out[tau0:] += tail[: n - tau0]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "teams": {t: float(self.teams.get(t, 0.0)) for t in TEAM_TYPES},
            "seasons": {t: self.season(t).to_dict() for t in TEAM_TYPES},
            "additions": [_change_dict(c) for c in self.additions],
            "removals": [_change_dict(c) for c in self.removals],
            "pipelines": [
                {
                    "team_type": p.team_type,
                    "trainees_per_month": p.trainees_per_month,
                    "start": p.start.isoformat(),
                    "end": p.end.isoformat() if p.end else None,
                    "course_months": p.course_months,
                    "pass_rate": p.pass_rate,
                    "annual_attrition": p.annual_attrition,
                    "staff_per_team": p.staff_per_team,
                }
                for p in self.pipelines
            ],
            "budgets": [
                {
                    "money_per_year": b.money_per_year,
                    "cost_per_m2": b.cost_per_m2,
                    "currency": b.currency,
                    "start": b.start.isoformat() if b.start else None,
                    "end": b.end.isoformat() if b.end else None,
                }
                for b in self.budgets
            ],
            "ramp_up_months": self.ramp_up_months,
        }


def ramp_factor(age_days: np.ndarray, ramp_days: int) -> np.ndarray:
    """Share of full output of a team ``age_days`` after joining (0 before it joins)."""
    age = np.asarray(age_days, dtype=float)
    if ramp_days <= 0:
        return np.where(age >= 0, 1.0, 0.0)
    return np.clip((age + 1.0) / ramp_days, 0.0, 1.0)


def _window(timeline: Timeline, start: date, end: date | None) -> tuple[int, int]:
    """Day indices [a, e) of a date window (``end`` inclusive, ``None`` = open-ended).

    ``a`` may be negative (a window that opened before the start): ramps count from there.
    """
    a = timeline.index_of(start)
    e = timeline.days if end is None else min(timeline.index_of(end) + 1, timeline.days)
    return a, e


def _check_type(team_type: str) -> None:
    if team_type not in TEAM_TYPES:
        raise ValueError(f"unknown team type {team_type!r}; expected one of {list(TEAM_TYPES)}")


def _change_dict(c: TeamChange) -> dict[str, Any]:
    return {
        "team_type": c.team_type,
        "teams": c.teams,
        "start": c.start.isoformat(),
        "end": c.end.isoformat() if c.end else None,
        "ramp_up_months": c.ramp_up_months,
    }
