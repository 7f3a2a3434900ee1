"""A solution of the planning instance as arrays, its objective, and checks of its feasibility.

Both solvers return a :class:`Solution`: team-days ``y`` of each candidate pair in each month.
The objective and every constraint are evaluated here, once, so the MILP and the greedy
heuristic are scored by the same arithmetic and tests can verify any plan independently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from demine.workplan.instance import Instance

TOL = 1e-6


@dataclass
class Solution:
    """Team-days per (pair, month): ``y[p, t]``; a deployment costs its travel days."""

    y: np.ndarray  # (P, T)
    solver: str
    status: str
    objective: float = 0.0
    bound: float | None = None
    gap: float | None = None
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def deployed(self) -> np.ndarray:
        """(P, T) bool: the team works on the task that month (and pays its travel)."""
        return self.y > TOL


def objective(inst: Instance, y: np.ndarray) -> float:
    """Impact-weighted m² released, earlier months weighing more (see :mod:`demine.workplan`)."""
    if y.size == 0:
        return 0.0
    P, T = y.shape
    coef = inst.coefficient(np.repeat(np.arange(P), T), np.tile(np.arange(T), P)).reshape(P, T)
    return float((coef * y).sum())


def progress(inst: Instance, y: np.ndarray) -> np.ndarray:
    """(J, T) m² worked on each task in each month."""
    out = np.zeros((inst.n_tasks, inst.months))
    if y.size:
        m2 = y * inst.rate[inst.pair_team, inst.task_stage[inst.pair_task]][:, None]
        np.add.at(out, inst.pair_task, m2)
    return out


def finish_month(inst: Instance, y: np.ndarray, rel_tol: float = 1e-6) -> np.ndarray:
    """(J,) month in which each task's work is complete; ``months`` if not within the horizon."""
    cum = np.cumsum(progress(inst, y), axis=1)
    done = cum >= inst.work[:, None] * (1 - rel_tol) - 1e-6
    return np.where(done.any(axis=1), done.argmax(axis=1), inst.months)


def violations(inst: Instance, y: np.ndarray, tol: float = 1e-5) -> list[str]:
    """Every constraint the plan breaks (empty for a feasible plan)."""
    out: list[str] = []
    if y.size == 0:
        return out
    T = inst.months
    if (y < -tol).any():
        out.append("negative team-days")
    k, j = inst.pair_team, inst.pair_task
    stage = inst.task_stage[j]
    active = y > TOL
    # team capacity, with travel
    used = np.zeros((inst.n_teams, T))
    np.add.at(used, k, y + active * inst.pair_travel_days[:, None])
    for kk, t in zip(*np.nonzero(used > inst.team_days + tol), strict=True):
        out.append(
            f"team {inst.teams[kk].code} month {t}: {used[kk, t]:.2f} > {inst.team_days[kk, t]:.2f} days"
        )
    # accreditation, season and type
    for p, t in zip(*np.nonzero(active & ~inst.able[k, stage]), strict=True):
        out.append(f"team {inst.teams[k[p]].code} month {t}: not able to work stage {stage[p]}")
    # no more work than the task holds
    worked = progress(inst, y)
    for jj in np.flatnonzero(worked.sum(axis=1) > inst.work * (1 + 1e-6) + 1e-3):
        out.append(f"task {jj}: worked {worked[jj].sum():.1f} > {inst.work[jj]:.1f} m²")
    # precedence by sectors: share of a stage done by t ≤ share of the previous stage by t − 1
    share = np.cumsum(worked, axis=1) / inst.work[:, None]
    lagged = np.hstack([np.zeros((inst.n_tasks, 1)), share[:, :-1]])
    for jj in np.flatnonzero(inst.pred >= 0):
        late = np.flatnonzero(share[jj] > lagged[inst.pred[jj]] + 1e-6)
        if late.size:
            t = int(late[0])
            out.append(
                f"task {jj} (stage {inst.task_stage[jj]}) has {share[jj, t]:.3f} of its ground done by month "
                f"{t} but the previous stage only {lagged[inst.pred[jj], t]:.3f} by month {t - 1}"
            )
    return out
