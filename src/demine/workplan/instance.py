"""The planning instance: hazards split into stage tasks, teams with monthly availability.

A pure library step (no database): :func:`build_instance` turns :class:`HazardInput` and
:class:`TeamInput` records into numpy arrays the solvers share, and lists every hazard stage
that cannot be planned with the reason (never silently dropped).

Tasks. Each open hazard has the stages it still needs, in order (``nts`` → ``ts`` →
``clearance``). A task is one stage of one hazard with the m² of work it takes and the m² it is
expected to release (:func:`stage_work` splits a hazard with the forecast's land release funnel).

Teams. A team can work a stage when its type can (``PlanConfig.stages_of_type``) and, for a
given month, when a valid accreditation for the stage's activity covers every day of the month
(IMAS 07.30; renewals recorded ahead extend the cover, :func:`demine.domain.accreditation.covered_until`),
the month is not closed for its type (dogs in hot months) and, for machines, the hazard is not
steeper than ``max_machine_slope_deg``. A team works ``working_days_per_year / 365.25`` team-days
per calendar day of an open month (the forecast's :class:`demine.planning.capacity.Season`).

Value. A stage's work is worth the land it releases *and* the ground it hands on to the next
stage: ground waiting for a stage has a potential of ``unlock_credit ** (stages left)`` of its
hazard's score per m² (ready for clearance ½, for TS ¼, for NTS ⅛ with the default ½), so one m²
worked is worth ``score × (released share + unreleased share × potential after − potential
before)``. The sum over a hazard's stages telescopes: a hazard taken to the end is worth its
score × the m² it releases whatever the credit, and a technical survey on a high-scoring
confirmed area is credited with the clearance it opens, not only with the 20 % it reduces.
``unlock_credit = 0`` gives the plain impact-weighted land released.

Candidates. Every (team, task) pair a team may work in some month is enumerated (the *whole*
problem, :attr:`Instance.full_team`…), with geodesic travel (WGS 84 ellipsoid) from the team's
base to the hazard's reference point. Only some pairs get MILP variables: each team's nearest
able tasks holding a few times its capacity, each task's nearest able teams (see
:class:`~demine.workplan.config.PlanConfig`), and always at least one team that can really work
the task in some month. :mod:`demine.workplan.milp` adds pairs the LP duals price as profitable
(column generation), so the bound it reports is a bound of the whole problem. Small problems get
every pair.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from pyproj import Geod

from demine.domain.accreditation import Accreditation, covered_until
from demine.planning.capacity import Season
from demine.workplan.config import ACTIVITY_OF_STAGE, STAGES, PlanConfig

GEOD = Geod(ellps="WGS84")
EARTH_RADIUS_KM = 6371.0088  # mean radius: ranking candidates only
STAGE_INDEX = {s: i for i, s in enumerate(STAGES)}
TOL = 1e-6


@dataclass(frozen=True)
class StageWork:
    """One stage of a hazard: m² to work and m² that work is expected to release."""

    stage: str
    work_m2: float
    release_m2: float


@dataclass(frozen=True)
class HazardInput:
    """An open hazard as the planner needs it."""

    code: str
    lon: float
    lat: float
    score: float
    stages: tuple[StageWork, ...]
    slope_deg: float | None = None
    hazard_type: str = ""
    remaining_m2: float = 0.0


@dataclass(frozen=True)
class TeamInput:
    """A team: type, base, accreditations, and its m² per team-day for each stage it can do."""

    code: str
    team_type: str
    lon: float | None
    lat: float | None
    accreditations: tuple[Accreditation, ...]
    rate_m2_per_day: Mapping[str, float]


@dataclass(frozen=True)
class Issue:
    """Something that could not be planned, and why."""

    kind: str  # hazard | team
    code: str
    stage: str | None
    reason: str

    def to_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "code": self.code, "stage": self.stage, "reason": self.reason}


@dataclass(eq=False)
class Instance:
    """Arrays shared by the MILP and the greedy heuristic.

    Teams ``k``, tasks ``j``, months ``t``; candidate pairs ``p`` = (team, task).
    """

    start: date
    months: int
    month_starts: list[date]
    hazards: list[HazardInput]
    teams: list[TeamInput]
    # teams
    team_days: np.ndarray  # (K, T) team-days a team works in the month when it works at all
    able: np.ndarray  # (K, S, T) bool: accredited, open month, type can do the stage
    rate: np.ndarray  # (K, S) m² per team-day
    # tasks
    task_hazard: np.ndarray  # (J,)
    task_stage: np.ndarray  # (J,)
    work: np.ndarray  # (J,) m²
    release: np.ndarray  # (J,) m² released when the task is done
    pred: np.ndarray  # (J,) index of the task that must finish first, -1 if none
    value: np.ndarray  # (J,) hazard score
    gain: np.ndarray  # (J,) objective value of one m² worked (released plus ground handed on)
    # candidate pairs (those with variables): rows of the full pair list below
    pair_team: np.ndarray
    pair_task: np.ndarray
    pair_travel_days: np.ndarray
    pair_km: np.ndarray
    earliness: np.ndarray  # (T,) weight of land released in month t
    issues: list[Issue] = field(default_factory=list)
    planned_teams: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # every pair a team may work in some month: the whole problem
    full_team: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    full_task: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    full_km: np.ndarray = field(default_factory=lambda: np.zeros(0))
    full_travel_days: np.ndarray = field(default_factory=lambda: np.zeros(0))
    full_usable: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))  # (F, T)
    pair_full: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (P,)
    depth: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (J,)

    @property
    def n_teams(self) -> int:
        return len(self.teams)

    @property
    def n_tasks(self) -> int:
        return int(self.work.size)

    def month_end(self, t: int) -> date:
        """Last day of month ``t``."""
        d = self.month_starts[t]
        return d.replace(day=calendar.monthrange(d.year, d.month)[1])

    def coefficient(self, p: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Objective value of one team-day of pair ``p`` in month ``t``."""
        j = self.pair_task[p]
        k = self.pair_team[p]
        return self.gain[j] * self.rate[k, self.task_stage[j]] * self.earliness[t]

    @property
    def complete(self) -> bool:
        """Whether every pair of the whole problem is a candidate (so the MILP is the whole problem)."""
        return self.pair_full.size == self.full_team.size

    def usable(self) -> np.ndarray:
        """(P, T) bool: the candidate pair may work in the month (accredited, open, time to travel,
        and the stages before it could have started)."""
        return self.full_usable[self.pair_full]

    def add_pairs(self, full_index: np.ndarray) -> np.ndarray:
        """Make pairs of the full list candidates (appended, so plans keep their rows); returns
        the new candidate indices."""
        new = np.setdiff1d(np.asarray(full_index, dtype=np.int64), self.pair_full)
        first = self.pair_full.size
        self.pair_full = np.concatenate([self.pair_full, new])
        self.pair_team = np.concatenate([self.pair_team, self.full_team[new]])
        self.pair_task = np.concatenate([self.pair_task, self.full_task[new]])
        self.pair_km = np.concatenate([self.pair_km, self.full_km[new]])
        self.pair_travel_days = np.concatenate([self.pair_travel_days, self.full_travel_days[new]])
        return np.arange(first, self.pair_full.size)

    @property
    def release_per_work(self) -> np.ndarray:
        return np.divide(self.release, self.work, out=np.zeros_like(self.work), where=self.work > 0)


def month_starts(start: date, months: int) -> list[date]:
    """First days of ``months`` consecutive months from ``start``'s month."""
    out, y, m = [], start.year, start.month
    for _ in range(months):
        out.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def stage_work(
    stages: Sequence[str], remaining_m2: float, funnel: tuple[float, float, float]
) -> tuple[StageWork, ...]:
    """Split a hazard's remaining area into stage tasks with the funnel's mean shares.

    ``funnel`` = (cancelled, reduced, cleared) shares of the area a hazard has at NTS (the
    forecast's :class:`demine.planning.distributions.Funnel` mean for its class). NTS surveys the
    whole area and cancels its share; TS works what NTS left and reduces its share; clearance
    works and releases the rest (the forecast's effort model, :mod:`demine.planning`). A hazard
    past NTS has the shares of the stages left, renormalised.
    """
    shares = dict(zip(STAGES, funnel, strict=True))
    left = [s for s in STAGES if s in stages]
    total = sum(shares[s] for s in left)
    if total <= 0:
        shares = {s: (1.0 if s == "clearance" else 0.0) for s in STAGES}
        total = 1.0 if "clearance" in left else 0.0
    out, remaining = [], remaining_m2
    for s in left:
        release = remaining_m2 * shares[s] / total if total else 0.0
        out.append(StageWork(s, remaining, release))
        remaining = max(remaining - release, 0.0)
    return tuple(out)


def _accredited_months(accs: Sequence[Accreditation], activity: str, starts: list[date]) -> np.ndarray:
    """For each month, whether one unbroken accreditation cover spans all of it."""
    held = [a for a in accs if a.activity_type == activity]
    out = np.zeros(len(starts), dtype=bool)
    for t, first in enumerate(starts):
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        end = covered_until(held, first)
        out[t] = end is not None and end >= last
    return out


def build_instance(
    hazards: Sequence[HazardInput],
    teams: Sequence[TeamInput],
    start: date,
    config: PlanConfig | None = None,
) -> Instance:
    """The planning instance, with every unplannable hazard stage or team listed as an issue."""
    config = config or PlanConfig()
    T = config.months
    starts = month_starts(start, T)
    S = len(STAGES)
    issues: list[Issue] = []

    # --- teams: monthly availability per stage ------------------------------------------------
    K = len(teams)
    team_days = np.zeros((K, T))
    able = np.zeros((K, S, T), dtype=bool)
    rate = np.zeros((K, S))
    planned = []
    for k, team in enumerate(teams):
        stages = config.stages_of_type.get(team.team_type, ())
        if not stages:
            issues.append(
                Issue("team", team.code, None, f"team type {team.team_type!r} does no area release")
            )
            continue
        if team.lon is None or team.lat is None:
            issues.append(Issue("team", team.code, None, "no base location: travel cannot be costed"))
            continue
        season = Season(config.working_days_per_year, frozenset(config.closed_months.get(team.team_type, ())))
        for t, first in enumerate(starts):
            days_in_month = calendar.monthrange(first.year, first.month)[1]
            team_days[k, t] = season.open_fraction_on(first.month) * days_in_month
        any_month = False
        for s in stages:
            i = STAGE_INDEX[s]
            r = float(team.rate_m2_per_day.get(s, 0.0))
            if r <= 0:
                continue
            rate[k, i] = r
            able[k, i] = _accredited_months(team.accreditations, ACTIVITY_OF_STAGE[s], starts) & (
                team_days[k] > 0
            )
            any_month |= bool(able[k, i].any())
        if any_month:
            planned.append(k)
        else:
            issues.append(
                Issue(
                    "team",
                    team.code,
                    None,
                    f"not accredited for {', '.join(ACTIVITY_OF_STAGE[s] for s in stages)} for a whole "
                    "working month of the horizon",
                )
            )

    # --- tasks ------------------------------------------------------------------------------
    supply = _stage_supply(teams, able, rate, config)
    task_hazard, task_stage, work, release, pred, value = [], [], [], [], [], []
    for h, hz in enumerate(hazards):
        previous = -1
        blocked: str | None = None
        if not (np.isfinite(hz.lon) and np.isfinite(hz.lat)):
            issues.append(
                Issue("hazard", hz.code, None, "no geometry or benchmark point: travel cannot be costed")
            )
            continue
        if not any(sw.work_m2 > 0 for sw in hz.stages):
            reason = "open but nothing remains to release (0 m²): close it in the register"
            issues.append(Issue("hazard", hz.code, None, reason))
            continue
        for sw in hz.stages:
            s = STAGE_INDEX[sw.stage]
            if blocked is not None:
                issues.append(
                    Issue("hazard", hz.code, sw.stage, f"waits for {blocked}, which cannot be planned")
                )
                continue
            if sw.work_m2 <= 0:
                continue
            reason = _stage_blocker(hz, sw.stage, supply[s], config)
            if reason:
                issues.append(Issue("hazard", hz.code, sw.stage, reason))
                blocked = sw.stage
                continue
            task_hazard.append(h)
            task_stage.append(s)
            work.append(sw.work_m2)
            release.append(sw.release_m2)
            pred.append(previous)
            value.append(hz.score)
            previous = len(work) - 1

    task_hazard_a = np.asarray(task_hazard, dtype=np.int64)
    task_stage_a = np.asarray(task_stage, dtype=np.int64)
    work_a = np.asarray(work, dtype=float)
    release_a = np.asarray(release, dtype=float)
    value_a = np.asarray(value, dtype=float)
    pred_a = np.asarray(pred, dtype=np.int64)
    depth = np.zeros(pred_a.size, dtype=np.int64)
    for j in range(pred_a.size):  # tasks are built in stage order: predecessors come first
        if pred_a[j] >= 0:
            depth[j] = depth[pred_a[j]] + 1
    inst = Instance(
        start=starts[0],
        months=T,
        month_starts=starts,
        hazards=list(hazards),
        teams=list(teams),
        team_days=team_days,
        able=able,
        rate=rate,
        task_hazard=task_hazard_a,
        task_stage=task_stage_a,
        work=work_a,
        release=release_a,
        pred=pred_a,
        value=value_a,
        gain=unlock_gain(value_a, task_stage_a, work_a, release_a, config.unlock_credit),
        pair_team=np.zeros(0, dtype=np.int64),
        pair_task=np.zeros(0, dtype=np.int64),
        pair_travel_days=np.zeros(0),
        pair_km=np.zeros(0),
        earliness=(T - np.arange(T)) / T,
        issues=issues,
        planned_teams=np.asarray(planned, dtype=np.int64),
        depth=depth,
    )
    _full_pairs(inst, config)
    _candidate_pairs(inst, config)
    return inst


def unlock_gain(
    score: np.ndarray, stage: np.ndarray, work: np.ndarray, release: np.ndarray, credit: float
) -> np.ndarray:
    """Objective value of one m² worked at each task (see the module docstring, *Value*).

    Ground waiting for stage ``s`` has potential ``credit ** (stages from s to the end)``;
    working an m² releases ``release/work`` of it and hands the rest to the next stage (none
    after clearance). With ``credit`` in [0, 1) every gain is ≥ 0.
    """
    n = len(STAGES)
    released = np.divide(release, work, out=np.zeros_like(work), where=work > 0)
    before = credit ** (n - stage).astype(float)
    after = np.where(stage < n - 1, credit ** (n - 1 - stage).astype(float), 0.0)
    return score * np.maximum(released + (1.0 - released) * after - before, 0.0)


@dataclass(frozen=True)
class _StageSupply:
    """Which teams could work a stage at all in the horizon (counted once per stage)."""

    types: tuple[str, ...]
    capable: int  # teams of an able type with a productivity for it
    accredited: int  # of those, accredited for a whole working month
    accredited_not_machines: int


def _stage_supply(
    teams: Sequence[TeamInput], able: np.ndarray, rate: np.ndarray, config: PlanConfig
) -> list[_StageSupply]:
    out = []
    for s, stage in enumerate(STAGES):
        types = tuple(sorted(t for t, stages in config.stages_of_type.items() if stage in stages))
        capable = [k for k, team in enumerate(teams) if team.team_type in types and rate[k, s] > 0]
        accredited = [k for k in capable if able[k, s].any()]
        others = [k for k in accredited if teams[k].team_type != "mechanical"]
        out.append(_StageSupply(types, len(capable), len(accredited), len(others)))
    return out


def _stage_blocker(hz: HazardInput, stage: str, supply: _StageSupply, config: PlanConfig) -> str | None:
    """Why no team at all could work this stage in the horizon (None if one could)."""
    if supply.capable == 0:
        return f"no {stage}-capable team ({', '.join(supply.types)}) in the register"
    if supply.accredited == 0:
        return (
            f"no accredited {stage.upper() if stage != 'clearance' else 'clearance'} team during the "
            f"horizon (needs accreditation for '{ACTIVITY_OF_STAGE[stage]}' covering a whole working month)"
        )
    steep = hz.slope_deg is not None and hz.slope_deg > config.max_machine_slope_deg
    if steep and supply.accredited_not_machines == 0:
        return (
            f"only mechanical teams are accredited for {stage} and the slope "
            f"({hz.slope_deg:g}°) exceeds the {config.max_machine_slope_deg:g}° limit for machines"
        )
    return None


def _unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lam, phi = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def _great_circle_km(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Great-circle km between unit vectors: for ranking candidates (travel uses the ellipsoid)."""
    chord = np.linalg.norm(u - v, axis=-1)
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))


def _full_pairs(inst: Instance, config: PlanConfig) -> None:
    """Every (team, task) pair of the whole problem: the team's type and accreditation allow the
    stage in some month at or after the task's depth, with time left after travel, and a machine
    is not sent to a steep hazard."""
    T = inst.months
    planned = inst.planned_teams
    inst.full_usable = np.zeros((0, T), dtype=bool)
    if inst.n_tasks == 0 or planned.size == 0:
        return
    slope = np.array([np.nan if hz.slope_deg is None else hz.slope_deg for hz in inst.hazards])[
        inst.task_hazard
    ]
    steep = slope > config.max_machine_slope_deg
    able_any = inst.able.any(axis=2)  # (K, S)
    teams, tasks = [], []
    for k in planned:
        ok = able_any[k, inst.task_stage]
        if inst.teams[k].team_type == "mechanical":
            ok &= ~steep
        j = np.flatnonzero(ok)
        teams.append(np.full(j.size, k, dtype=np.int64))
        tasks.append(j)
    team = np.concatenate(teams)
    task = np.concatenate(tasks)
    lon = np.array([hz.lon for hz in inst.hazards], dtype=float)[inst.task_hazard]
    lat = np.array([hz.lat for hz in inst.hazards], dtype=float)[inst.task_hazard]
    team_lon = np.array([np.nan if t.lon is None else t.lon for t in inst.teams], dtype=float)
    team_lat = np.array([np.nan if t.lat is None else t.lat for t in inst.teams], dtype=float)
    _, _, metres = GEOD.inv(team_lon[team], team_lat[team], lon[task], lat[task])
    km = np.asarray(metres, dtype=float).reshape(-1) / 1000.0
    travel = config.setup_days + 2.0 * km / config.travel_km_per_day
    usable = inst.able[team, inst.task_stage[task]] & (inst.team_days[team] > travel[:, None] + TOL)
    usable &= np.arange(T)[None, :] >= inst.depth[task][:, None]
    keep = usable.any(axis=1)
    inst.full_team, inst.full_task = team[keep], task[keep]
    inst.full_km, inst.full_travel_days = km[keep], travel[keep]
    inst.full_usable = usable[keep]


def _candidate_pairs(inst: Instance, config: PlanConfig) -> None:
    """The (team, task) pairs that get variables at first (column generation may add more).

    For each team: its nearest able tasks until their work is ``candidate_coverage`` times what the
    team can do in the horizon (at least ``min_candidates``, at most ``max_candidates``). For each
    task: its ``teams_per_task`` nearest able teams, and in any case its nearest team that can
    really work it in some month (so a task never lacks a capable team when one exists). (Ranking a
    team's tasks by value instead gives every nearby team the same few tasks and a larger, slower
    model for a worse plan.) When the whole problem is small (``full_milp_columns``), every pair.
    """
    F = inst.full_team.size
    if F == 0:
        return
    # the whole MILP's columns: y and z per pair-month, and at most one S per task-month
    if 2 * int(inst.full_usable.sum()) + inst.n_tasks * inst.months <= config.full_milp_columns:
        inst.add_pairs(np.arange(F))
        return
    K = len(inst.teams)
    full_keys = inst.full_task * K + inst.full_team
    order_full = np.argsort(full_keys, kind="stable")
    keys = np.union1d(_heuristic_keys(inst, config), _valuable_keys(inst, config, full_keys))
    pos = np.searchsorted(full_keys[order_full], keys)
    pos = np.minimum(pos, F - 1)
    hit = full_keys[order_full][pos] == keys
    chosen = order_full[pos[hit]]
    # every task keeps its nearest usable team
    covered = np.zeros(inst.n_tasks, dtype=bool)
    covered[inst.full_task[chosen]] = True
    lacking = ~covered[inst.full_task]
    if lacking.any():
        idx = np.flatnonzero(lacking)
        idx = idx[np.lexsort((inst.full_km[idx], inst.full_task[idx]))]
        first = np.r_[True, inst.full_task[idx][1:] != inst.full_task[idx][:-1]]
        chosen = np.concatenate([chosen, idx[first]])
    chosen = np.unique(chosen)
    inst.add_pairs(chosen[np.lexsort((inst.full_task[chosen], inst.full_team[chosen]))])


def _valuable_keys(inst: Instance, config: PlanConfig, full_keys: np.ndarray) -> np.ndarray:
    """``task · K + team`` linking the tasks most worth doing to their nearest able teams.

    Per stage, the tasks of highest value per m² whose work adds up to ``value_coverage`` times
    what all teams able for the stage can do in the horizon are the ones the LP will want; each
    gets its ``teams_per_valuable_task`` nearest teams that can work it (the whole problem's
    pairs), so column generation starts close to the LP of the whole problem.
    """
    if config.value_coverage <= 0 or config.teams_per_valuable_task <= 0:
        return np.zeros(0, dtype=np.int64)
    horizon_days = inst.team_days.sum(axis=1)
    chosen = []
    for s in np.unique(inst.task_stage):
        able = np.flatnonzero(inst.able[:, s].any(axis=1))
        capacity = float((horizon_days[able] * inst.rate[able, s]).sum())
        tasks = np.flatnonzero(inst.task_stage == s)
        order = tasks[np.argsort(-inst.gain[tasks], kind="stable")]
        n = int(np.searchsorted(np.cumsum(inst.work[order]), config.value_coverage * capacity)) + 1
        chosen.append(order[:n])
    valuable = np.zeros(inst.n_tasks, dtype=bool)
    valuable[np.concatenate(chosen)] = True
    idx = np.flatnonzero(valuable[inst.full_task])
    idx = idx[np.lexsort((inst.full_km[idx], inst.full_task[idx]))]
    task = inst.full_task[idx]
    first = np.r_[0, np.flatnonzero(np.diff(task)) + 1]
    rank = np.arange(idx.size) - np.repeat(first, np.diff(np.r_[first, idx.size]))
    return full_keys[idx[rank < config.teams_per_valuable_task]]


def _heuristic_keys(inst: Instance, config: PlanConfig) -> np.ndarray:
    """``task · K + team`` of the nearest-neighbour candidates of :func:`_candidate_pairs`."""
    J = inst.n_tasks
    planned = inst.planned_teams
    if J == 0 or planned.size == 0:
        return np.zeros(0, dtype=np.int64)
    lon = np.array([hz.lon for hz in inst.hazards], dtype=float)[inst.task_hazard]
    lat = np.array([hz.lat for hz in inst.hazards], dtype=float)[inst.task_hazard]
    task_u = _unit_vectors(lon, lat)
    team_u = _unit_vectors(
        np.array([inst.teams[k].lon for k in planned], dtype=float),
        np.array([inst.teams[k].lat for k in planned], dtype=float),
    )
    slope = np.array([np.nan if hz.slope_deg is None else hz.slope_deg for hz in inst.hazards])[
        inst.task_hazard
    ]
    steep = slope > config.max_machine_slope_deg
    horizon_days = inst.team_days.sum(axis=1)
    chosen: list[np.ndarray] = []
    able_any = inst.able.any(axis=2)  # (K, S)
    for i, k in enumerate(planned):
        ok = able_any[k, inst.task_stage]
        if inst.teams[k].team_type == "mechanical":
            ok &= ~steep
        cand = np.flatnonzero(ok)
        if cand.size == 0:
            continue
        order = cand[np.argsort(_great_circle_km(team_u[i], task_u[cand]), kind="stable")]
        capacity = horizon_days[k] * inst.rate[k, inst.task_stage[order]]
        covered = np.cumsum(inst.work[order] / np.maximum(capacity, 1e-9))
        n = int(np.searchsorted(covered, config.candidate_coverage)) + 1
        n = min(max(n, config.min_candidates), config.max_candidates, order.size)
        chosen.append(order[:n] * len(inst.teams) + k)
    # each task's nearest able teams, by stage (a machine is skipped on a steep hazard)
    for s in np.unique(inst.task_stage):
        tasks = np.flatnonzero(inst.task_stage == s)
        able_teams = np.flatnonzero(able_any[planned, s])
        if able_teams.size == 0 or config.teams_per_task <= 0:
            continue
        machine = np.array([inst.teams[planned[i]].team_type == "mechanical" for i in able_teams])
        for start in range(0, tasks.size, 2048):
            block = tasks[start : start + 2048]
            km = _great_circle_km(task_u[block][:, None, :], team_u[able_teams][None, :, :])
            km[np.ix_(steep[block], machine)] = np.inf
            order = np.argsort(km, axis=1, kind="stable")[:, : config.teams_per_task]
            for c in range(order.shape[1]):
                ok = np.isfinite(km[np.arange(block.size), order[:, c]])
                teams = planned[able_teams[order[ok, c]]]
                chosen.append(block[ok] * len(inst.teams) + teams)
    return np.unique(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)
