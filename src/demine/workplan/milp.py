"""The workplan as a mixed-integer linear programme, solved by HiGHS (highspy).

Variables, for each candidate pair ``p`` = (team ``k``, task ``j``) and month ``t`` in which the
team may work the task's stage:

* ``y[p,t] ≥ 0`` team-days worked (continuous);
* ``z[p,t] ∈ {0,1}`` the team is deployed on the task that month and pays its travel days
  ``m[p]`` (set-up plus the round trip from its base).

Maximise ``Σ gain[j] · rate[k] · earliness[t] · y[p,t]`` — ``gain`` is the hazard's impact
score times the value of one m² worked: the share it releases plus the credit for ground handed
on to the next stage (:func:`demine.workplan.instance.unlock_gain`), work in month ``t``
counting ``(T − t)/T`` — subject to

* team capacity: ``Σ_p y[p,t] + m[p]·z[p,t] ≤ days[k,t]`` for each team and month;
* deployment: ``y[p,t] ≤ min(days[k,t] − m[p], work[j]/rate[k]) · z[p,t]``;
* work: ``Σ_{p,t} rate[k]·y[p,t] ≤ work[j]``;
* precedence, sector by sector: the share of a stage done by the end of month ``t`` is at most
  the share of the previous stage done by the end of month ``t − 1`` (TS works only ground NTS
  finished in an earlier month, clearance only ground TS finished). A stage therefore starts at
  least a month after the previous one starts and finishes at least a month after it finishes.

Accreditation, season, slope and type enter through which ``(p, t)`` get variables at all.

Solving. The candidate pairs of :mod:`demine.workplan.instance` are a small part of every pair
a team may work (the whole problem). The plan's bound must hold for the whole problem, so:

1. the bound: the LP relaxation (with ``z = y / y_max`` substituted, which loses nothing: a
   deployment only costs capacity) of the whole problem with like teams merged (same type,
   productivity and working days; a group's travel to a task is its nearest member's) — a
   relaxation of the whole problem's LP with as many columns as the candidate model, so one
   HiGHS solve bounds every plan. For every task that LP works with a group, the group's three
   nearest members become candidates (with the months the LP works it), and the greedy plan is
   rebuilt over the grown candidates;
2. when there is no bound yet, or the plan is still further from it than ``mip_gap``, column
   generation: solve the LP over the candidate pairs, price every other pair-month of the whole
   problem with the LP's duals, add the pairs that pay, repeat until the whole problem's bound
   is within ``pricing_gap`` of the restricted LP (or the time share runs out). The bound is
   Lagrangian: the share and precedence rows are relaxed with the LP's duals, which leaves one
   continuous knapsack per team-month over the columns of *every* pair — valid for any duals of
   the right sign, so every round bounds every plan, and the smallest bound is kept;
3. a model of at most ``full_milp_columns`` columns is then solved whole by HiGHS; a larger one
   is restricted to the (pair, month) columns the LP or the greedy plan use — a few per cent —
   and solved by HiGHS from the greedy plan, so the result is never worse than greedy;
4. with the time left, a neighbourhood search re-solves sub-MILPs, one spatial group of teams at
   a time with the rest of the plan fixed, over every month of the pairs in use.

The reported gap is ``(bound − objective) / objective`` against the whole problem's bound: the
smaller of the merged-teams LP and column generation's bound, or HiGHS's own MILP bound when
every pair of the problem is a candidate (small programmes, the tests). A plan is called
``optimal`` only when that gap is (numerically) zero; otherwise ``within_gap`` (≤ ``mip_gap``),
``time_limit`` or ``feasible``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from demine.workplan.config import PlanConfig
from demine.workplan.greedy import solve_greedy
from demine.workplan.instance import Instance
from demine.workplan.solution import TOL, Solution, objective, progress

# A tiny cost per travel day, so HiGHS never deploys a team that does no work.
TRAVEL_TIE_BREAK = 1e-7
# Binary columns per neighbourhood sub-MILP: small enough for HiGHS to solve in about a second.
LNS_BINARIES = 1200
LNS_SECONDS = 5.0  # at most this long on one neighbourhood
AGGREGATE_SHARE = 0.3  # of the time limit, at most, for the merged-teams LP (the bound)
LP_SHARE = 0.4  # of the time limit, at most, for it and column generation
QUICK_LP_SHARE = 0.03  # column generation only if the merged LP took at most this share
RESTRICTED_SHARE = 0.8  # of the time left, at most, for the restricted MILP


@dataclass
class Model:
    """The MILP in column form: ``y`` then ``z`` (one each per pair-month), then ``S``.

    ``S[j, t]`` is the share of task ``j`` done by the end of month ``t`` (continuous, for every
    task with columns): it keeps the precedence rows sparse (HiGHS's cut separation stalls on the
    dense cumulative rows otherwise).
    """

    pm_pair: np.ndarray
    pm_month: np.ndarray
    share_task: np.ndarray  # tasks with S columns, S[i, t] at 2·n_pm + i·T + t
    cost: np.ndarray
    upper: np.ndarray
    matrix: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    scale: float
    capacity_rows: int  # the team-month rows come first, then one deployment row per pair-month

    @property
    def n_pm(self) -> int:
        return int(self.pm_pair.size)

    @property
    def n_columns(self) -> int:
        return int(self.cost.size)


def pair_months(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    """(pair, month) combinations of the candidate pairs that get variables."""
    if inst.pair_team.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    p, t = np.nonzero(inst.usable())
    return p.astype(np.int64), t.astype(np.int64)


def count_columns(inst: Instance) -> int:
    """Columns the whole MILP has (two per pair-month)."""
    return 2 * pair_months(inst)[0].size


def build_model(inst: Instance, keep: np.ndarray | None = None, scale: float | None = None) -> Model:
    """The MILP of the module docstring; ``keep`` (bool per pair-month) restricts its columns.

    ``scale`` divides the objective (by default its largest coefficient, so HiGHS sees ≤ 1)."""
    T = inst.months
    pm_pair, pm_month = pair_months(inst)
    if keep is not None:
        pm_pair, pm_month = pm_pair[keep], pm_month[keep]
    n = pm_pair.size
    k = inst.pair_team[pm_pair]
    j = inst.pair_task[pm_pair]
    rate = inst.rate[k, inst.task_stage[j]]
    travel = inst.pair_travel_days[pm_pair]
    days = inst.team_days[k, pm_month]
    # A deployment works at most the month (less travel) or the whole task: the tighter bound makes
    # the relaxation charge a small task its full travel.
    y_max = np.maximum(np.minimum(days - travel, inst.work[j] / rate), 0.0)
    frac = rate / inst.work[j]  # share of the task per team-day

    tasks = np.unique(j)
    # a successor needs its predecessor's S columns even if the predecessor has no work columns
    preds = inst.pred[tasks]
    tasks = np.union1d(tasks, preds[preds >= 0])
    task_row = np.full(inst.n_tasks, -1)
    task_row[tasks] = np.arange(tasks.size)
    n_s = tasks.size * T
    y_col, z_col = np.arange(n), n + np.arange(n)
    s0 = 2 * n  # S[i, t] is column s0 + i*T + t

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []
    r = 0

    # team capacity, travel included
    uniq, row_of = np.unique(k * T + pm_month, return_inverse=True)
    rows += [r + row_of, r + row_of]
    cols += [y_col, z_col]
    vals += [np.ones(n), travel]
    lo.append(np.full(uniq.size, -np.inf))
    hi.append(inst.team_days.reshape(-1)[uniq])
    r += uniq.size

    # deployment
    rows += [r + np.arange(n), r + np.arange(n)]
    cols += [y_col, z_col]
    vals += [np.ones(n), -y_max]
    lo.append(np.full(n, -np.inf))
    hi.append(np.zeros(n))
    r += n

    # share done: S[j,t] − S[j,t−1] − Σ_p share·y[p,t] = 0
    i_all = np.repeat(np.arange(tasks.size), T)
    t_all = np.tile(np.arange(T), tasks.size)
    s_cols = s0 + i_all * T + t_all
    rows += [r + np.arange(n_s), r + np.flatnonzero(t_all > 0)]
    cols += [s_cols, s_cols[t_all < T - 1]]
    vals += [np.ones(n_s), -np.ones(int((t_all > 0).sum()))]
    rows.append(r + task_row[j] * T + pm_month)
    cols.append(y_col)
    vals.append(-frac)
    lo.append(np.zeros(n_s))
    hi.append(np.zeros(n_s))
    r += n_s

    # precedence by sectors: S[j',t] ≤ S[pred, t−1]; S[j',0] ≤ 0
    succ = tasks[inst.pred[tasks] >= 0]
    if succ.size:
        ii = np.repeat(task_row[succ], T)
        pi = np.repeat(task_row[inst.pred[succ]], T)
        tt = np.tile(np.arange(T), succ.size)
        m = succ.size * T
        rows.append(r + np.arange(m))
        cols.append(s0 + ii * T + tt)
        vals.append(np.ones(m))
        later = tt > 0
        rows.append(r + np.flatnonzero(later))
        cols.append(s0 + pi[later] * T + tt[later] - 1)
        vals.append(-np.ones(int(later.sum())))
        lo.append(np.full(m, -np.inf))
        hi.append(np.zeros(m))
        r += m

    n_cols = 2 * n + n_s
    matrix = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, n_cols)
    )
    coef = inst.coefficient(pm_pair, pm_month)
    if scale is None:
        scale = float(coef.max(initial=0.0)) or 1.0  # objective coefficients at most 1 for HiGHS
    cost = np.concatenate([coef / scale, -TRAVEL_TIE_BREAK * travel, np.zeros(n_s)])
    upper = np.concatenate([y_max, np.ones(n), np.ones(n_s)])  # S ≤ 1: no more work than the task
    return Model(
        pm_pair,
        pm_month,
        tasks,
        cost,
        upper,
        matrix,
        np.concatenate(lo),
        np.concatenate(hi),
        scale,
        uniq.size,
    )


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """HiGHS prints its banner on C's stdout when created; keep JSON output clean."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


@dataclass
class _Problem:
    """What HiGHS is given: columns, bounds, rows (``row_lower ≤ A x ≤ row_upper``), integrality."""

    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    matrix: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    integer: np.ndarray  # bool per column


def _problem(model: Model, integer: bool) -> _Problem:
    kinds = np.zeros(model.n_columns, dtype=bool)
    if integer:
        kinds[model.n_pm : 2 * model.n_pm] = True
    return _Problem(
        model.cost,
        np.zeros(model.n_columns),
        model.upper,
        model.matrix,
        model.row_lower,
        model.row_upper,
        kinds,
    )


def _subproblem(model: Model, free: np.ndarray, values: np.ndarray) -> _Problem:
    """The MILP over the ``free`` columns, every other column fixed at ``values``.

    Fixed columns move to the right-hand side and rows without a free column are dropped, so
    the sub-MILP is as small as the neighbourhood, whatever the size of the whole model.
    """
    fixed = ~free
    a_free = model.matrix[:, free]
    shift = model.matrix[:, fixed] @ values[fixed]
    touched = np.diff(a_free.tocsr().indptr) > 0
    kinds = np.zeros(model.n_columns, dtype=bool)
    kinds[model.n_pm : 2 * model.n_pm] = True
    return _Problem(
        model.cost[free],
        np.zeros(int(free.sum())),
        model.upper[free],
        a_free[touched].tocsc(),
        (model.row_lower - shift)[touched],
        (model.row_upper - shift)[touched],
        kinds[free],
    )


@dataclass
class _Run:
    values: np.ndarray | None
    status: str
    bound: float | None  # in the model's objective units (scaled)
    seconds: float
    nodes: int
    duals: np.ndarray | None = None  # row duals of an LP (c − Aᵀ·duals are the reduced costs)


def _highs(
    problem: _Problem,
    config: PlanConfig,
    time_limit: float,
    start: np.ndarray | None = None,
    rel_gap: float | None = None,
    lean_root: bool = False,
) -> _Run:
    """One HiGHS run (an LP when no column is integer).

    ``lean_root`` keeps HiGHS's root cut loop short and its heuristics busier: on the restricted
    workplan MILPs the default root separation can run for the whole time limit without trying
    a single heuristic (seen with HiGHS 1.16).
    """
    import highspy

    started = time.perf_counter()
    with _quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(float(time_limit), 0.2))
    h.setOptionValue("mip_rel_gap", float(config.mip_gap) / 4 if rel_gap is None else rel_gap)
    h.setOptionValue("random_seed", 1)
    if config.threads:
        h.setOptionValue("threads", int(config.threads))
    if lean_root:
        h.setOptionValue("mip_pool_soft_limit", 500)
        h.setOptionValue("mip_lp_age_limit", 3)
        h.setOptionValue("mip_heuristic_effort", 0.3)
    n_cols = int(problem.cost.size)
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = int(problem.row_upper.size)
    lp.col_cost_ = problem.cost
    lp.col_lower_ = problem.lower
    lp.col_upper_ = problem.upper
    lp.row_lower_ = np.where(np.isinf(problem.row_lower), -highspy.kHighsInf, problem.row_lower)
    lp.row_upper_ = np.where(np.isinf(problem.row_upper), highspy.kHighsInf, problem.row_upper)
    lp.sense_ = highspy.ObjSense.kMaximize
    m = problem.matrix
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = m.shape[1]
    lp.a_matrix_.num_row_ = m.shape[0]
    lp.a_matrix_.start_ = m.indptr.astype(np.int32)
    lp.a_matrix_.index_ = m.indices.astype(np.int32)
    lp.a_matrix_.value_ = m.data
    integer = bool(problem.integer.any())
    if integer:
        kinds = np.where(problem.integer, 1, 0)
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous for v in kinds
        ]
    h.passModel(lp)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(start)
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    values = np.asarray(h.getSolution().col_value) if info.primal_solution_status >= 2 else None
    if integer:
        bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else None
    else:
        bound = float(info.objective_function_value) if status == "Optimal" else None
    nodes = int(info.mip_node_count) if integer else 0
    duals = None
    if not integer and info.dual_solution_status >= 2:
        duals = np.asarray(h.getSolution().row_dual, dtype=float)
    return _Run(values, status, bound, time.perf_counter() - started, nodes, duals)


def _start(inst: Instance, model: Model, y: np.ndarray) -> np.ndarray:
    """Column values of a plan ``y[p, t]``."""
    yv = y[model.pm_pair, model.pm_month]
    share = np.cumsum(progress(inst, y), axis=1) / inst.work[:, None]
    return np.concatenate(
        [yv, (yv > TOL).astype(float), np.minimum(share[model.share_task].reshape(-1), 1.0)]
    )


def _plan(inst: Instance, model: Model, values: np.ndarray) -> np.ndarray:
    """The plan ``y[p, t]`` of the model's column values (only deployed work counts)."""
    y = np.zeros((inst.pair_team.size, inst.months))
    y[model.pm_pair, model.pm_month] = np.clip(values[: model.n_pm], 0.0, None)
    deployed = values[model.n_pm : 2 * model.n_pm] > 0.5
    y[model.pm_pair[~deployed], model.pm_month[~deployed]] = 0.0
    y[y < TOL] = 0.0
    return y


def _team_groups(inst: Instance, teams: np.ndarray, n_groups: int, seed: int) -> list[np.ndarray]:
    """Teams in ``n_groups`` spatial clusters of their bases (a few rounds of k-means)."""
    if n_groups <= 1 or teams.size <= n_groups:
        return [teams] if n_groups <= 1 else [teams[i : i + 1] for i in range(teams.size)]
    lat = np.array([inst.teams[k].lat for k in teams], dtype=float)
    lon = np.array([inst.teams[k].lon for k in teams], dtype=float)
    xy = np.column_stack(
        [lon * np.cos(np.radians(lat.mean())), lat]
    )  # local equirectangular, for grouping only
    rng = np.random.default_rng(seed)
    centres = xy[rng.choice(teams.size, n_groups, replace=False)]
    for _ in range(8):
        label = np.argmin(((xy[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
        for c in range(n_groups):
            if (label == c).any():
                centres[c] = xy[label == c].mean(axis=0)
    return [teams[label == c] for c in range(n_groups) if (label == c).any()]


def _neighbourhood_search(
    inst: Instance,
    config: PlanConfig,
    model: Model,
    incumbent: np.ndarray,
    deadline: float,
    bound: float | None,
) -> tuple[np.ndarray, int, int]:
    """Re-optimise one spatial group of teams at a time, the rest of the plan fixed.

    Each sub-MILP frees the columns of a group of nearby teams (and the shares ``S`` of the tasks
    they could work) and keeps every other column at its incumbent value, so it is small and any
    plan it returns is feasible for the whole model; a better one becomes the incumbent. Passes
    with a different number of groups move the group boundaries. Stops at the deadline, when a
    pass gains less than 0.01 %, or when the gap to ``bound`` reaches ``config.mip_gap``.
    """
    n, T = model.n_pm, inst.months
    pm_team = inst.pair_team[model.pm_pair]
    pm_task = inst.pair_task[model.pm_pair]
    share_row = np.full(inst.n_tasks, -1)
    share_row[model.share_task] = np.arange(model.share_task.size)
    teams = np.unique(pm_team)
    n_groups = max(1, int(np.ceil(n / LNS_BINARIES)))
    best = objective(inst, _plan(inst, model, incumbent))
    solved = improved = 0
    for round_ in range(1000):
        before = best
        for group in _team_groups(inst, teams, n_groups + round_, seed=round_):
            if time.perf_counter() >= deadline - 0.2:
                return incumbent, solved, improved
            mine = np.isin(pm_team, group)
            free = np.zeros(model.n_columns, dtype=bool)
            free[:n] = free[n : 2 * n] = mine
            rows = share_row[np.unique(pm_task[mine])]
            free[(2 * n + rows[:, None] * T + np.arange(T)[None, :]).reshape(-1)] = True
            sub = _subproblem(model, free, incumbent)
            # The gap is relative to the sub-MILP's own objective, a small part of the plan's.
            limit = min(deadline - time.perf_counter(), LNS_SECONDS)
            run = _highs(sub, config, limit, incumbent[free], rel_gap=1e-4)
            solved += 1
            if run.values is None:
                continue
            candidate = incumbent.copy()
            candidate[free] = run.values
            candidate = _clean(inst, model, candidate)
            obj = objective(inst, _plan(inst, model, candidate))
            if obj > best * (1 + 1e-9):
                incumbent, best = candidate, obj
                improved += 1
            if bound is not None and (bound - best) <= config.mip_gap * best:
                return incumbent, solved, improved
        if best <= before * (1 + 1e-4):
            break
    return incumbent, solved, improved


def _clean(inst: Instance, model: Model, values: np.ndarray) -> np.ndarray:
    """Column values with crumbs of work and idle deployments dropped, shares recomputed."""
    y = values[: model.n_pm].copy()
    y[(values[model.n_pm : 2 * model.n_pm] < 0.5) | (y < TOL)] = 0.0
    plan = np.zeros((inst.pair_team.size, inst.months))
    plan[model.pm_pair, model.pm_month] = y
    return _start(inst, model, plan)


def _full_scale(inst: Instance) -> float:
    """The largest objective coefficient of the whole problem: one scale for every round."""
    if inst.full_team.size == 0:
        return 1.0
    rate = inst.rate[inst.full_team, inst.task_stage[inst.full_task]]
    best = float((inst.gain[inst.full_task] * rate).max(initial=0.0) * inst.earliness.max(initial=0.0))
    return best or 1.0


class _PricingLP:
    """The LP relaxation of the whole problem's model, kept in one HiGHS instance so columns can
    be added and re-solved from the last basis (column generation).

    Rows: a capacity row for every team-month, a share row ``S[j,t] − S[j,t−1] − Σ share·y = 0``
    for every task-month, a precedence row ``S[j,t] − S[pred,t−1] ≤ 0`` for every task with a
    predecessor — the rows of :func:`build_model` for every pair there could be, so the columns
    of any pair can be added without new rows. Columns: ``S`` for every task-month, then ``y``
    (with ``z = y / y_max`` substituted: at the LP optimum ``z`` is exactly that, a deployment
    only costing capacity) for the pair-months added.
    """

    def __init__(self, inst: Instance, config: PlanConfig, scale: float) -> None:
        import highspy

        self.inst, self.config, self.scale = inst, config, scale
        K, J, T = inst.n_teams, inst.n_tasks, inst.months
        self.n_cap, self.n_share = K * T, J * T
        succ = np.flatnonzero(inst.pred >= 0)
        n_rows = self.n_cap + self.n_share + succ.size * T
        lower = np.concatenate(
            [np.full(self.n_cap, -np.inf), np.zeros(self.n_share), np.full(succ.size * T, -np.inf)]
        )
        upper = np.concatenate([inst.team_days.reshape(-1), np.zeros(self.n_share), np.zeros(succ.size * T)])
        self.row_lower, self.row_upper = lower, upper
        # S columns: j·T + t
        jj = np.repeat(np.arange(J), T)
        tt = np.tile(np.arange(T), J)
        share0, prec0 = self.n_cap, self.n_cap + self.n_share
        prec_row = np.full(J, -1)
        prec_row[succ] = np.arange(succ.size)
        rows = [share0 + jj * T + tt]
        cols = [np.arange(J * T)]
        vals = [np.ones(J * T)]
        nxt = tt < T - 1
        rows.append(share0 + jj[nxt] * T + tt[nxt] + 1)
        cols.append(np.flatnonzero(nxt))
        vals.append(-np.ones(int(nxt.sum())))
        own = prec_row[jj] >= 0
        rows.append(prec0 + prec_row[jj[own]] * T + tt[own])
        cols.append(np.flatnonzero(own))
        vals.append(np.ones(int(own.sum())))
        # S[pred, t] appears in its successor's precedence row at t + 1
        for i, j in enumerate(succ):
            pj = inst.pred[j]
            t = np.arange(T - 1)
            rows.append(prec0 + i * T + t + 1)
            cols.append(pj * T + t)
            vals.append(-np.ones(T - 1))
        matrix = sp.csc_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, J * T)
        )
        self.blocks = [matrix]
        self.cost = [np.zeros(J * T)]
        self.upper = [np.ones(J * T)]
        self.pm_pair = np.zeros(0, dtype=np.int64)
        self.pm_month = np.zeros(0, dtype=np.int64)
        with _quiet_stdout():
            self.h = highspy.Highs()
        h = self.h
        h.setOptionValue("output_flag", False)
        h.setOptionValue("random_seed", 1)
        if config.threads:
            h.setOptionValue("threads", int(config.threads))
        lp = highspy.HighsLp()
        lp.num_col_ = J * T
        lp.num_row_ = n_rows
        lp.col_cost_ = np.zeros(J * T)
        lp.col_lower_ = np.zeros(J * T)
        lp.col_upper_ = np.ones(J * T)
        lp.row_lower_ = np.where(np.isinf(lower), -highspy.kHighsInf, lower)
        lp.row_upper_ = np.where(np.isinf(upper), highspy.kHighsInf, upper)
        lp.sense_ = highspy.ObjSense.kMaximize
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_ = J * T
        lp.a_matrix_.num_row_ = n_rows
        lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
        lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
        lp.a_matrix_.value_ = matrix.data
        h.passModel(lp)

    def columns(self, team: np.ndarray, task: np.ndarray, travel: np.ndarray, usable: np.ndarray):
        """y columns (cost, upper bound, matrix block) of pairs over their usable months."""
        inst, T = self.inst, self.inst.months
        q, t = np.nonzero(usable)
        k, j = team[q], task[q]
        rate = inst.rate[k, inst.task_stage[j]]
        trav = travel[q]
        y_max = np.maximum(np.minimum(inst.team_days[k, t] - trav, inst.work[j] / rate), 0.0)
        inverse = np.divide(1.0, y_max, out=np.zeros_like(y_max), where=y_max > 0)
        cost = (inst.gain[j] * rate * inst.earliness[t]) / self.scale - TRAVEL_TIE_BREAK * trav * inverse
        n = q.size
        rows = np.concatenate([k * T + t, self.n_cap + j * T + t])
        vals = np.concatenate([1.0 + trav * inverse, -rate / inst.work[j]])
        cols = np.concatenate([np.arange(n), np.arange(n)])
        block = sp.csc_matrix((vals, (rows, cols)), shape=(self.row_lower.size, n))
        return q, t, cost, y_max, block

    def add(self, pairs: np.ndarray) -> None:
        """Add the y columns of candidate pairs ``pairs`` (indices into the instance's pairs)."""
        inst = self.inst
        q, t, cost, y_max, block = self.columns(
            inst.pair_team[pairs], inst.pair_task[pairs], inst.pair_travel_days[pairs], inst.usable()[pairs]
        )
        if q.size == 0:
            return
        self.h.addCols(
            int(q.size),
            cost,
            np.zeros(q.size),
            y_max,
            int(block.nnz),
            block.indptr[:-1].astype(np.int32),
            block.indices.astype(np.int32),
            block.data,
        )
        self.blocks.append(block)
        self.cost.append(cost)
        self.upper.append(y_max)
        self.pm_pair = np.concatenate([self.pm_pair, pairs[q]])
        self.pm_month = np.concatenate([self.pm_month, t])

    def solve(self, time_limit: float) -> tuple[str, float | None, np.ndarray | None, np.ndarray | None]:
        """Status, LP value (objective units), y values (in ``pm_pair`` order) and row duals."""
        h = self.h
        h.setOptionValue("time_limit", max(float(time_limit), 0.2))
        h.run()  # after columns are added, from the last basis
        status = h.modelStatusToString(h.getModelStatus())
        info = h.getInfo()
        if status != "Optimal" or info.dual_solution_status < 2:
            return status, None, None, None
        sol = h.getSolution()
        values = np.asarray(sol.col_value)[self.n_share :]
        return status, float(info.objective_function_value) * self.scale, values, np.asarray(sol.row_dual)

    def bound(self, duals: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """An upper bound on the LP relaxation of the *whole* problem, from LP duals.

        Lagrangian relaxation of the share and precedence rows with multipliers π (π ≥ 0 on the
        ≤ rows, free on the equalities; any such π gives a bound by weak duality): what is left
        splits into one continuous knapsack per team-month — its days filled with the y columns
        of *every* pair of the whole problem, each worth ``c + π_share · share per day``, best
        ratio to days used (work plus travel) first — and the ``S`` columns, each worth
        ``max(0, −Aᵀπ)`` at its upper bound 1. Right-hand sides of the relaxed rows are 0.
        Returns the bound (objective units) and, for the non-candidate pairs a knapsack takes,
        their value taken and their indices in the full list.
        """
        inst, T = self.inst, self.inst.months
        lo, hi = self.row_lower, self.row_upper
        relaxed = slice(self.n_cap, None)
        pi = np.where(np.isinf(lo) & np.isfinite(hi), np.maximum(duals, 0.0), duals)[relaxed]
        s_block = self.blocks[0][relaxed]
        value = float(np.maximum(-(s_block.T @ pi), 0.0).sum())
        pi_share = pi[: self.n_share].reshape(inst.n_tasks, T)
        candidate = np.zeros(inst.full_team.size, dtype=bool)
        candidate[inst.pair_full] = True
        taken = np.zeros(inst.full_team.size)
        starts = np.searchsorted(inst.full_team, np.arange(inst.n_teams + 1))
        for k in range(inst.n_teams):
            f = np.arange(starts[k], starts[k + 1])
            if f.size == 0:
                continue
            j = inst.full_task[f]
            rate = inst.rate[k, inst.task_stage[j]]
            travel = inst.full_travel_days[f][:, None]
            y_max = np.maximum(
                np.minimum(inst.team_days[k][None, :] - travel, (inst.work[j] / rate)[:, None]), 0.0
            )
            inverse = np.divide(1.0, y_max, out=np.zeros_like(y_max), where=y_max > 0)
            worth = (inst.gain[j] * rate)[:, None] * inst.earliness[None, :] / self.scale
            worth += pi_share[j] * (rate / inst.work[j])[:, None] - TRAVEL_TIE_BREAK * travel * inverse
            weight = 1.0 + travel * inverse
            on = inst.full_usable[f] & (worth > 0) & (y_max > 0)
            q, t = np.nonzero(on)
            if q.size == 0:
                continue
            ratio = worth[q, t] / weight[q, t]
            order = np.lexsort((-ratio, t))
            q, t = q[order], t[order]
            use = weight[q, t] * y_max[q, t]  # days a whole column would take
            cum = np.cumsum(use)
            first = np.r_[0, np.flatnonzero(np.diff(t)) + 1]
            before = np.repeat(cum[first] - use[first], np.diff(np.r_[first, q.size]))
            room = inst.team_days[k][t] - (cum - use - before)
            part = np.clip(room / use, 0.0, 1.0)
            gained = part * y_max[q, t] * worth[q, t]
            value += float(gained.sum())
            np.add.at(taken, f[q], gained)
        others = np.flatnonzero(~candidate & (taken > 0))
        return value * self.scale, taken[others] * self.scale, others


@dataclass
class _Pricing:
    """What column generation found: the whole problem's bound and the last restricted LP."""

    bound: float | None  # objective units, whole problem
    lp: float | None  # the last restricted LP, objective units
    pm_pair: np.ndarray | None = None  # the LP's (pair, month) columns …
    pm_month: np.ndarray | None = None
    values: np.ndarray | None = None  # … and their values
    rounds: int = 0
    added: int = 0
    seconds: float = 0.0
    status: str = ""


def _column_generation(inst: Instance, config: PlanConfig, deadline: float) -> _Pricing:
    """Grow the candidate pairs until the restricted LP meets the whole problem's LP bound."""
    started = time.perf_counter()
    lp = _PricingLP(inst, config, _full_scale(inst))
    lp.add(np.arange(inst.pair_team.size))
    out = _Pricing(None, None)
    while True:
        status, value, values, duals = lp.solve(deadline - time.perf_counter())
        out.status = status
        if value is None or values is None or duals is None:
            break
        out.lp, out.values = value, values
        out.pm_pair, out.pm_month = lp.pm_pair.copy(), lp.pm_month.copy()
        bound, gain, others = lp.bound(duals)
        out.bound = bound if out.bound is None else min(out.bound, bound)
        out.rounds += 1
        positive = np.flatnonzero(gain > 0)
        if out.bound - value <= config.pricing_gap * max(value, 1e-12) or positive.size == 0:
            break
        if time.perf_counter() >= deadline - 0.5:
            break
        # The most profitable pairs first; a round adds at most a quarter as many as there are.
        n_add = min(positive.size, max(500, inst.pair_full.size // 4))
        best = positive[np.argsort(-gain[positive], kind="stable")[:n_add]]
        new = inst.add_pairs(others[best])
        out.added += int(new.size)
        lp.add(new)
    out.seconds = time.perf_counter() - started
    return out


def _team_groups_by_kind(inst: Instance) -> tuple[np.ndarray, list[np.ndarray]]:
    """Planned teams grouped by type, m² per day for each stage and working days per month."""
    keys: dict[tuple, list[int]] = {}
    for k in inst.planned_teams:
        key = (inst.teams[k].team_type, *inst.rate[k].round(6).tolist(), *inst.team_days[k].round(6).tolist())
        keys.setdefault(key, []).append(int(k))
    groups = [np.asarray(v, dtype=np.int64) for v in keys.values()]
    return np.asarray([g[0] for g in groups], dtype=np.int64), groups


def _aggregate(inst: Instance) -> tuple[Instance, list[np.ndarray]]:
    """A relaxation of the whole problem with one "team" per group of like teams.

    Teams of one type with the same m² per day and working days are merged: the group may work a
    stage in a month when any member may, with the days of the members who may (the sum of
    their capacity rows); its travel to a task is its nearest member's. Every plan of the whole
    problem, summed over each group's members, is a plan of the merged one with the same value
    (travel and the per-deployment limit only loosen), so the merged LP's optimum bounds the whole
    problem's — and it has as many columns as the candidate model, not as the whole problem.
    """
    reps, groups = _team_groups_by_kind(inst)
    G, T, S = len(groups), inst.months, inst.able.shape[1]
    team_days = np.zeros((G, T))
    able = np.zeros((G, S, T), dtype=bool)
    member = np.full(inst.n_teams, -1)
    for g, ks in enumerate(groups):
        member[ks] = g
        able[g] = inst.able[ks].any(axis=0)
        # days of the members able for some stage that month
        team_days[g] = (inst.team_days[ks] * inst.able[ks].any(axis=1)).sum(axis=0)
    g_of = member[inst.full_team]
    key = g_of * max(inst.n_tasks, 1) + inst.full_task
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    travel = np.full(uniq.size, np.inf)
    np.minimum.at(travel, inverse, inst.full_travel_days)
    km = np.full(uniq.size, np.inf)
    np.minimum.at(km, inverse, inst.full_km)
    usable = np.zeros((uniq.size, T), dtype=bool)
    np.logical_or.at(usable, inverse, inst.full_usable)
    full_team = g_of[first]
    full_task = inst.full_task[first]
    usable &= team_days[full_team] > travel[:, None] + TOL
    agg = replace(
        inst,
        teams=[inst.teams[k] for k in reps],
        team_days=team_days,
        able=able,
        rate=inst.rate[reps],
        planned_teams=np.arange(G, dtype=np.int64),
        full_team=full_team,
        full_task=full_task,
        full_km=km,
        full_travel_days=travel,
        full_usable=usable,
        pair_full=np.zeros(0, dtype=np.int64),
        pair_team=np.zeros(0, dtype=np.int64),
        pair_task=np.zeros(0, dtype=np.int64),
        pair_km=np.zeros(0),
        pair_travel_days=np.zeros(0),
        issues=[],
    )
    agg.add_pairs(np.arange(full_team.size))
    return agg, groups


@dataclass
class _Aggregate:
    bound: float | None
    status: str
    seconds: float
    groups: int
    added: int
    columns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # pair · T + month


def _aggregate_bound(inst: Instance, config: PlanConfig, deadline: float, per_task: int) -> _Aggregate:
    """The whole problem's bound from the merged-teams LP; adds, for every task the LP works with
    a group, the group's ``per_task`` nearest members as candidates."""
    started = time.perf_counter()
    agg, groups = _aggregate(inst)
    lp = _PricingLP(agg, config, _full_scale(inst))
    lp.add(np.arange(agg.pair_team.size))
    status, value, values, duals = lp.solve(deadline - time.perf_counter())
    if value is None or values is None or duals is None:
        return _Aggregate(None, status, time.perf_counter() - started, len(groups), 0)
    bound, _, _ = lp.bound(duals)  # weak duality: valid whatever the duals' accuracy
    on = values > TOL
    J, T = max(inst.n_tasks, 1), inst.months
    g = agg.pair_team[lp.pm_pair[on]]
    j = agg.pair_task[lp.pm_pair[on]]
    months = np.zeros((agg.n_teams * J, T), dtype=bool)
    months[g * J + j, lp.pm_month[on]] = True
    wanted = np.unique(g * J + j)
    member = np.full(inst.n_teams, -1)
    for i, ks in enumerate(groups):
        member[ks] = i
    key = member[inst.full_team] * J + inst.full_task
    idx = np.flatnonzero(np.isin(key, wanted))
    idx = idx[np.lexsort((inst.full_km[idx], key[idx]))]
    first = np.r_[0, np.flatnonzero(np.diff(key[idx])) + 1]
    rank = np.arange(idx.size) - np.repeat(first, np.diff(np.r_[first, idx.size]))
    chosen = idx[rank < per_task]
    added = inst.add_pairs(chosen)
    # the MILP's columns: each chosen pair in the months its group works the task in the LP
    position = np.full(inst.full_team.size, -1)
    position[inst.pair_full] = np.arange(inst.pair_full.size)
    p, t = np.nonzero(months[key[chosen]] & inst.full_usable[chosen])
    columns = position[chosen[p]] * T + t
    return _Aggregate(bound, status, time.perf_counter() - started, len(groups), int(added.size), columns)


def _pad(y: np.ndarray, pairs: int) -> np.ndarray:
    """A plan over the first candidate pairs, with zero rows for pairs added since."""
    if y.shape[0] == pairs:
        return y
    return np.vstack([y, np.zeros((pairs - y.shape[0], y.shape[1]))])


def _status(gap: float | None, config: PlanConfig, timed_out: bool) -> str:
    if gap is not None and gap <= 1e-9:
        return "optimal"
    if gap is not None and gap <= config.mip_gap + 1e-12:
        return "within_gap"
    return "time_limit" if timed_out else "feasible"


def solve_milp(inst: Instance, config: PlanConfig, start: Solution) -> Solution:
    """The plan of the module docstring, starting from ``start`` (the greedy plan).

    May add candidate pairs to ``inst`` (column generation); the plan returned, like ``start``
    padded with zero rows, is over the pairs ``inst`` has on return.
    """
    started = time.perf_counter()
    deadline = started + config.time_limit_s
    details: dict[str, Any] = {"pairs_whole_problem": int(inst.full_team.size)}
    if inst.full_team.size == 0 or inst.pair_team.size == 0:
        y = _pad(start.y, inst.pair_team.size)
        return Solution(y, "highs-milp", "optimal", start.objective, bound=0.0, gap=0.0, details=details)
    bound: float | None = None
    merged = _Aggregate(None, "", 0.0, 0, 0)
    pricing = _Pricing(None, None)
    start_y, start_obj = start.y, start.objective
    if not inst.complete:
        merged = _aggregate_bound(
            inst, config, started + AGGREGATE_SHARE * config.time_limit_s, config.lp_teams_per_task
        )
        bound = merged.bound
        details["merged_teams_lp"] = {
            "groups": merged.groups,
            "status": merged.status,
            "bound": None if merged.bound is None else round(merged.bound, 3),
            "pairs_added": merged.added,
            "seconds": round(merged.seconds, 3),
        }
        # the greedy plan again, over the grown candidates: a better start for the MILP
        again = solve_greedy(inst)
        details["greedy_over_grown_candidates"] = round(again.objective, 3)
        if again.objective > start_obj:
            start_y, start_obj = again.y, again.objective
        # Column generation when the bound is missing, or the plan still far from it and the LPs
        # quick for the time limit (each round re-solves an LP as large as the merged one; on a
        # busy machine the time is better spent on the MILP): it grows the candidates where the
        # LP duals say the whole problem pays more, and tightens the bound.
        gap_now = None if bound is None else (bound - start_obj) / max(start_obj, 1e-12)
        time_left = time.perf_counter() < started + LP_SHARE * config.time_limit_s - 1.0
        quick = merged.seconds <= QUICK_LP_SHARE * config.time_limit_s
        if time_left and (gap_now is None or (gap_now > config.mip_gap and quick)):
            pricing = _column_generation(inst, config, started + LP_SHARE * config.time_limit_s)
        else:
            if not time_left:
                pricing.status = "not run: no time left"
            elif gap_now is not None and gap_now <= config.mip_gap:
                pricing.status = "not run: the plan is within mip_gap of the bound"
            else:
                pricing.status = "not run: the merged LP took over 3 % of the time limit"
        if pricing.bound is not None:
            bound = pricing.bound if bound is None else min(bound, pricing.bound)
        details["column_generation"] = {
            "rounds": pricing.rounds,
            "pairs_added": pricing.added,
            "lp_status": pricing.status,
            "restricted_lp": None if pricing.lp is None else round(pricing.lp, 3),
            "whole_problem_bound": None if pricing.bound is None else round(pricing.bound, 3),
            "seconds": round(pricing.seconds, 3),
        }
    start_y = _pad(start_y, inst.pair_team.size)
    details["candidate_pairs"] = int(inst.pair_team.size)
    full = build_model(inst)
    details.update(columns=full.n_columns, binary_columns=full.n_pm, rows=int(full.row_upper.size))
    best_y, best_obj = start_y, start_obj

    if full.n_columns <= config.full_milp_columns:
        # Small enough to solve whole; HiGHS's bound holds for the whole problem only when every
        # pair of it is a candidate.
        details["method"] = "whole MILP" + ("" if inst.complete else " over the grown candidate pairs")
        run = _highs(
            _problem(full, True), config, deadline - time.perf_counter(), _start(inst, full, start_y)
        )
        details["highs_status"] = run.status
        details["nodes"] = run.nodes
        if run.values is not None:
            y = _plan(inst, full, run.values)
            obj = objective(inst, y)
            if obj >= best_obj * (1 - 1e-9):
                best_y, best_obj = y, obj
        if inst.complete and run.bound is not None:
            bound = run.bound * full.scale
    else:
        details["method"] = (
            "bound: LP relaxation of the whole problem with like teams merged; candidates grown "
            "from that LP's solution and by column generation (LP duals); MILP restricted to the "
            "columns the LPs and greedy plans use; then neighbourhood search (sub-MILPs over "
            "spatial groups of teams)"
        )
        used = start_y[full.pm_pair, full.pm_month] > TOL
        if pricing.values is not None and pricing.pm_pair is not None and pricing.pm_month is not None:
            on = pricing.values > TOL
            lp_used = pricing.pm_pair[on] * inst.months + pricing.pm_month[on]
            used |= np.isin(full.pm_pair * inst.months + full.pm_month, lp_used)
        used |= np.isin(full.pm_pair * inst.months + full.pm_month, merged.columns)
        restricted = build_model(inst, keep=used)
        details["restricted_columns"] = restricted.n_columns
        limit = RESTRICTED_SHARE * (deadline - time.perf_counter())
        run = _highs(
            _problem(restricted, True),
            config,
            limit,
            _start(inst, restricted, start_y),
            rel_gap=config.mip_gap / 2,
            lean_root=True,
        )
        details["restricted_status"] = run.status
        details["restricted_seconds"] = round(run.seconds, 3)
        if run.values is not None:
            y = _plan(inst, restricted, run.values)
            obj = objective(inst, y)
            if obj > best_obj:
                best_y, best_obj = y, obj
        gap_now = None if bound is None else (bound - best_obj) / max(best_obj, 1e-12)
        if time.perf_counter() < deadline - 1.0 and (gap_now is None or gap_now > config.mip_gap):
            # Every month of the pairs in use, so work can move between months.
            pairs = np.unique(full.pm_pair[used])
            wider = build_model(inst, keep=np.isin(full.pm_pair, pairs))
            incumbent, solved, improved = _neighbourhood_search(
                inst, config, wider, _start(inst, wider, best_y), deadline, bound
            )
            details["sub_milps"] = solved
            details["improving_sub_milps"] = improved
            y = _plan(inst, wider, incumbent)
            obj = objective(inst, y)
            if obj > best_obj:
                best_y, best_obj = y, obj
    if bound is not None:
        details["bound_source"] = (
            "HiGHS MILP bound, every pair a candidate"
            if inst.complete
            else "LP relaxation of the whole problem (merged teams, or column generation's dual bound)"
        )
        bound = max(bound, best_obj)  # a rounding guard: a valid bound is never below a plan
    gap = None if bound is None else (0.0 if bound <= 0 else (bound - best_obj) / max(best_obj, 1e-12))
    status = _status(gap, config, time.perf_counter() >= deadline - 0.5)
    return Solution(
        best_y,
        "highs-milp",
        status,
        best_obj,
        bound=bound,
        gap=gap,
        seconds=time.perf_counter() - started,
        details=details,
    )
