"""The greedy heuristic: month by month, the best next deployment first.

In each month, among the (team, task) pairs that may work — the team is accredited and in season,
and the previous stage has finished ground in an earlier month that this stage has not yet
worked — it deploys the pair with the highest value per team-day spent *including travel*, for as
many days as the team has left or the ground allows, then re-scores and repeats until no
deployment adds value. It is fast (vectorised over pairs) and serves three purposes: the fallback
plan for instances too large for the MILP, the MILP's starting solution (so the MILP is never
worse), and the yardstick the MILP's objective is compared with.

It is myopic: it never leaves a team idle now so that a better-placed team can take a task, and
never works a stage early to open the next stage's ground sooner; the tests show instances where
it misses the optimum.
"""

from __future__ import annotations

import heapq
import time

import numpy as np

from demine.workplan.instance import Instance
from demine.workplan.solution import TOL, Solution, objective


def solve_greedy(inst: Instance) -> Solution:
    """A feasible plan built greedily (see the module docstring).

    Within a month a pair's score (value per day spent, travel included) can only fall as its
    team's days and its task's ground are used up, so a lazy max-heap finds the best deployment:
    pop the top, re-score it, deploy it if it is still the best, else push it back. That keeps a
    month at O(P log P) for P candidate pairs, fast enough for the largest instances.
    """
    started = time.perf_counter()
    P, T = inst.pair_team.size, inst.months
    y = np.zeros((P, T))
    if P == 0:
        return Solution(y, "greedy", "feasible", 0.0)
    k, j = inst.pair_team, inst.pair_task
    stage = inst.task_stage[j]
    rate = inst.rate[k, stage]
    travel = inst.pair_travel_days
    done = np.zeros(inst.n_tasks)  # m² worked so far
    per_day = inst.gain[j] * rate  # value of one team-day, before earliness
    pred = inst.pred
    with_pred = pred >= 0
    k_list, j_list, rate_list = k.tolist(), j.tolist(), rate.tolist()
    travel_list, per_day_list = travel.tolist(), per_day.tolist()
    for t in range(T):
        # Sector precedence: a stage may work the share the previous stage had done by last month.
        allowed = inst.work.copy()
        allowed[with_pred] *= done[pred[with_pred]] / inst.work[pred[with_pred]]
        rem = np.maximum(allowed - done, 0.0).tolist()
        cap = inst.team_days[:, t].tolist()
        usable = (
            inst.able[k, stage, t]
            & (np.maximum(allowed - done, 0.0)[j] > 1e-9 * inst.work[j])
            & (per_day > 0)
        )
        used: set[int] = set()  # pairs deployed this month: working more there costs no second travel

        def score(
            p: int, cap: list[float] = cap, rem: list[float] = rem, used: set[int] = used
        ) -> tuple[float, float, float]:
            trav = 0.0 if p in used else travel_list[p]
            days = min(cap[k_list[p]] - trav, rem[j_list[p]] / rate_list[p])
            if days <= TOL:
                return 0.0, 0.0, trav
            return per_day_list[p] * days / (days + trav), days, trav

        heap = []
        for p in np.flatnonzero(usable).tolist():
            value = score(p)[0]
            if value > 0:
                heap.append((-value, p))
        heapq.heapify(heap)
        while heap:
            neg, p = heapq.heappop(heap)
            value, days, trav = score(p)
            if value <= 0:
                continue
            if heap and value < -heap[0][0] * (1 - 1e-12) and value < -neg * (1 - 1e-12):
                heapq.heappush(heap, (-value, p))  # fell behind another pair: re-queue
                continue
            y[p, t] += days
            cap[k_list[p]] -= days + trav
            rem[j_list[p]] -= days * rate_list[p]
            done[j_list[p]] += days * rate_list[p]
            used.add(p)
    return Solution(y, "greedy", "feasible", objective(inst, y), seconds=time.perf_counter() - started)
