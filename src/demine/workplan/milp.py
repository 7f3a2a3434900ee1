"""The workplan as a mixed-integer linear programme, solved by HiGHS (highspy).

Variables, for each candidate pair ``p`` = (team ``k``, task ``j``) and month ``t`` in which the
team may work the task's stage:

* ``y[p,t] ≥ 0`` team-days worked (continuous);
* ``z[p,t] ∈ {0,1}`` the team is deployed on the task that month and pays its travel days
  ``m[p]`` (set-up plus the round trip from its base).

Maximise ``Σ value[j] · (release[j]/work[j]) · rate[k] · earliness[t] · y[p,t]`` — the hazard's
impact score times the m² the work releases, land released in month ``t`` counting
``(T − t)/T`` — subject to

* team capacity: ``Σ_p y[p,t] + m[p]·z[p,t] ≤ days[k,t]`` for each team and month;
* deployment: ``y[p,t] ≤ min(days[k,t] − m[p], work[j]/rate[k]) · z[p,t]``;
* work: ``Σ_{p,t} rate[k]·y[p,t] ≤ work[j]``;
* precedence, sector by sector: the share of a stage done by the end of month ``t`` is at most
  the share of the previous stage done by the end of month ``t − 1`` (TS works only ground NTS
  finished in an earlier month, clearance only ground TS finished). A stage therefore starts at
  least a month after the previous one starts and finishes at least a month after it finishes.

Accreditation, season, slope and type enter through which ``(p, t)`` get variables at all.

Solving. A model with at most ``full_milp_columns`` columns (small programmes, the tests) is
solved whole by HiGHS from the greedy plan, which proves optimality or reports HiGHS's gap.
Larger models are decomposed, because at 2,000 hazards × 200 teams the whole MILP has ~10⁵
binaries and HiGHS's root cut loop alone outlasts a minute:

1. the LP relaxation of the whole model (with ``z = y / y_max`` substituted, which loses nothing:
   a deployment only costs capacity) gives an upper bound on every plan;
2. the MILP restricted to the (pair, month) columns the LP or the greedy plan use — a few per
   cent of the columns — is solved by HiGHS from the greedy plan, so the result is never worse
   than greedy;
3. with the time left, a neighbourhood search re-solves sub-MILPs, one spatial group of teams at
   a time with the rest of the plan fixed, over every month of the pairs in use.

The reported gap is ``(bound − objective) / objective`` with the best bound found (the LP's for
a decomposed model, HiGHS's own for a whole one), so it bounds the loss against *every* plan of
the model over the candidate pairs, not only against those the decomposition explored.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from demine.workplan.config import PlanConfig
from demine.workplan.instance import Instance
from demine.workplan.solution import TOL, Solution, objective, progress

# A tiny cost per travel day, so HiGHS never deploys a team that does no work.
TRAVEL_TIE_BREAK = 1e-7
# Binary columns per neighbourhood sub-MILP: small enough for HiGHS to solve in about a second.
LNS_BINARIES = 1200
LNS_SECONDS = 5.0  # at most this long on one neighbourhood
LP_SHARE = 0.5  # of the time limit, at most, for the LP relaxation
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


def _depth(inst: Instance) -> np.ndarray:
    """Earliest month each task can work: the number of unfinished stages before it."""
    depth = np.zeros(inst.n_tasks, dtype=np.int64)
    for j in range(inst.n_tasks):  # tasks are built in stage order: predecessors come first
        if inst.pred[j] >= 0:
            depth[j] = depth[inst.pred[j]] + 1
    return depth


def pair_months(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    """(pair, month) combinations that get variables."""
    T = inst.months
    if inst.pair_team.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    k, j = inst.pair_team, inst.pair_task
    ok = inst.able[k, inst.task_stage[j]] & (inst.team_days[k] > inst.pair_travel_days[:, None] + TOL)
    ok &= np.arange(T)[None, :] >= _depth(inst)[j][:, None]
    p, t = np.nonzero(ok)
    return p.astype(np.int64), t.astype(np.int64)


def count_columns(inst: Instance) -> int:
    """Columns the whole MILP has (two per pair-month)."""
    return 2 * pair_months(inst)[0].size


def build_model(inst: Instance, keep: np.ndarray | None = None) -> Model:
    """The MILP of the module docstring; ``keep`` (bool per pair-month) restricts its columns."""
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


def _relaxation(model: Model) -> _Problem:
    """The LP relaxation without ``z``: at its optimum ``z = y / y_max`` exactly (a deployment only
    costs capacity), so substituting it gives the same bound with half the columns and without the
    deployment rows — about twice as fast as relaxing the MILP as it stands."""
    n = model.n_pm
    y_max = model.upper[:n]
    inverse = np.divide(1.0, y_max, out=np.zeros(n), where=y_max > 0)
    a = model.matrix.tocsc()
    a_y = (a[:, :n] + a[:, n : 2 * n] @ sp.diags(inverse)).tocsc()
    matrix = sp.hstack([a_y, a[:, 2 * n :]]).tocsr()
    deployment = model.capacity_rows + np.arange(n)  # the deployment rows become y − y = 0
    keep = np.ones(matrix.shape[0], dtype=bool)
    keep[deployment] = False
    return _Problem(
        np.concatenate([model.cost[:n] + model.cost[n : 2 * n] * inverse, model.cost[2 * n :]]),
        np.zeros(matrix.shape[1]),
        np.concatenate([y_max, model.upper[2 * n :]]),
        matrix[keep].tocsc(),
        model.row_lower[keep],
        model.row_upper[keep],
        np.zeros(matrix.shape[1], dtype=bool),
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
    return _Run(values, status, bound, time.perf_counter() - started, nodes)


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


def solve_milp(inst: Instance, config: PlanConfig, start: Solution) -> Solution:
    """The plan of the module docstring, starting from ``start`` (the greedy plan)."""
    started = time.perf_counter()
    deadline = started + config.time_limit_s
    full = build_model(inst)
    details: dict[str, Any] = {
        "columns": full.n_columns,
        "binary_columns": full.n_pm,
        "rows": int(full.row_upper.size),
    }
    if full.n_pm == 0:
        return Solution(
            start.y, "highs-milp", "optimal", start.objective, bound=0.0, gap=0.0, details=details
        )
    best_y, best_obj, status = start.y, start.objective, "feasible"
    bound: float | None = None

    if full.n_columns <= config.full_milp_columns:
        # Small enough to solve whole: HiGHS proves optimality (or reports its gap).
        details["method"] = "whole MILP"
        run = _highs(
            _problem(full, True), config, deadline - time.perf_counter(), _start(inst, full, start.y)
        )
        details["highs_status"] = run.status
        details["nodes"] = run.nodes
        if run.values is not None:
            y = _plan(inst, full, run.values)
            obj = objective(inst, y)
            if obj >= best_obj * (1 - 1e-9):
                best_y, best_obj = y, obj
        if run.bound is not None:
            bound = run.bound * full.scale
        if run.status == "Optimal":
            status = "optimal"
    else:
        details["method"] = (
            "LP relaxation for the bound; MILP restricted to the columns the LP and greedy plans use; "
            "then neighbourhood search (sub-MILPs over spatial groups of teams)"
        )
        relax = _highs(_relaxation(full), config, LP_SHARE * (deadline - time.perf_counter()))
        details["lp_status"] = relax.status
        details["lp_seconds"] = round(relax.seconds, 3)
        if relax.bound is not None:
            bound = relax.bound * full.scale
        used = start.y[full.pm_pair, full.pm_month] > TOL
        if relax.values is not None:
            used |= relax.values[: full.n_pm] > TOL
        restricted = build_model(inst, keep=used)
        details["restricted_columns"] = restricted.n_columns
        limit = RESTRICTED_SHARE * (deadline - time.perf_counter())
        run = _highs(
            _problem(restricted, True),
            config,
            limit,
            _start(inst, restricted, start.y),
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
        bound = max(bound, best_obj)
    gap = None if bound is None else (0.0 if bound <= 0 else (bound - best_obj) / max(best_obj, 1e-12))
    if status != "optimal" and gap is not None and gap <= config.mip_gap + 1e-12:
        status = "optimal" if gap <= 1e-9 else "within_gap"
    elif status != "optimal" and time.perf_counter() >= deadline - 0.5:
        status = "time_limit"
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
