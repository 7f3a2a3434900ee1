"""Making a workplan and explaining it: which solver ran, how good the plan is, who goes where.

:func:`make_plan` runs the greedy heuristic, then (unless told not to, or the instance is too
large) the MILP from the greedy plan, and returns a :class:`Workplan` whose ``to_dict`` is the
JSON the CLI prints: the objective and its definition, the solver's status, bound and gap, the
greedy objective for comparison, what could not be planned and why, each team's monthly
schedule and each hazard's expected start and finish.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from demine.workplan.config import STAGES, PlanConfig
from demine.workplan.greedy import solve_greedy
from demine.workplan.instance import Instance
from demine.workplan.milp import count_columns, solve_milp
from demine.workplan.solution import TOL, Solution, progress, violations

OBJECTIVE = (
    "Σ over hazards, stages and months of score × (m² released + unlock credit for the m² handed on "
    "to the next stage − the credit the ground already had) × (months − month index) / months: "
    "impact-weighted land released, plus the value of ground a stage makes ready for the next one "
    "(ground waiting for clearance is worth unlock_credit of released land, for TS unlock_credit², "
    "for NTS unlock_credit³), a month counting fully in the first month of the horizon and "
    "1/months in the last. A hazard taken to the end is worth its score × the m² it releases; a "
    "technical survey is credited with the clearance it opens, not only with what it reduces. A "
    "stage's work releases land at its expected rate (the land release funnel)."
)


@dataclass
class Workplan:
    """The chosen plan, the greedy plan it is compared with, and the instance they solve."""

    instance: Instance
    config: PlanConfig
    solution: Solution
    greedy: Solution
    seconds: float
    notes: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)

    # --- derived tables -------------------------------------------------------------------
    def month_label(self, t: int) -> str:
        d = self.instance.month_starts[t]
        return f"{d.year:04d}-{d.month:02d}"

    def assignments(self) -> list[dict[str, Any]]:
        """One row per team, month and hazard stage worked."""
        inst, y = self.instance, self.solution.y
        rows = []
        for p, t in zip(*np.nonzero(y > TOL), strict=True):
            k, j = int(inst.pair_team[p]), int(inst.pair_task[p])
            s = int(inst.task_stage[j])
            rows.append(
                {
                    "team": inst.teams[k].code,
                    "team_type": inst.teams[k].team_type,
                    "month": self.month_label(int(t)),
                    "month_index": int(t),
                    "hazard": inst.hazards[int(inst.task_hazard[j])].code,
                    "stage": STAGES[s],
                    "team_days": round(float(y[p, t]), 2),
                    "travel_days": round(float(inst.pair_travel_days[p]), 2),
                    "distance_km": round(float(inst.pair_km[p]), 1),
                    "m2_worked": round(float(y[p, t] * inst.rate[k, s]), 1),
                    "m2_released": round(float(y[p, t] * inst.rate[k, s] * inst.release_per_work[j]), 1),
                }
            )
        rows.sort(key=lambda r: (r["team"], r["month_index"], -r["team_days"]))
        return rows

    def team_schedule(self) -> list[dict[str, Any]]:
        """Each planned team's months: days available, worked, travelling, and the hazards."""
        inst = self.instance
        by_team: dict[str, list[dict[str, Any]]] = {}
        for row in self.assignments():
            by_team.setdefault(row["team"], []).append(row)
        out = []
        for k in inst.planned_teams:
            team = inst.teams[int(k)]
            rows = by_team.get(team.code, [])
            months = []
            for t in range(inst.months):
                here = [r for r in rows if r["month_index"] == t]
                months.append(
                    {
                        "month": self.month_label(t),
                        "days_available": round(float(inst.team_days[k, t]), 2)
                        if inst.able[k, :, t].any()
                        else 0.0,
                        "team_days": round(sum(r["team_days"] for r in here), 2),
                        "travel_days": round(sum(r["travel_days"] for r in here), 2),
                        "tasks": [
                            {
                                key: r[key]
                                for key in ("hazard", "stage", "team_days", "m2_worked", "distance_km")
                            }
                            for r in here
                        ],
                    }
                )
            out.append(
                {
                    "team": team.code,
                    "team_type": team.team_type,
                    "base": None if team.lon is None else [round(team.lon, 5), round(team.lat, 5)],
                    "months": months,
                }
            )
        return out

    def hazard_timeline(self) -> list[dict[str, Any]]:
        """Each hazard with tasks: expected start and finish of each stage and of the whole."""
        inst = self.instance
        worked = progress(inst, self.solution.y)
        cum = np.cumsum(worked, axis=1)
        by_hazard: dict[int, list[int]] = {}
        for j, h in enumerate(inst.task_hazard):
            by_hazard.setdefault(int(h), []).append(j)
        out = []
        for h, tasks in by_hazard.items():
            hz = inst.hazards[h]
            stages = []
            for j in tasks:
                months = np.flatnonzero(worked[j] > 1e-6)
                share = float(cum[j, -1] / inst.work[j]) if inst.work[j] > 0 else 1.0
                finished = np.flatnonzero(cum[j] >= inst.work[j] * (1 - 1e-6) - 1e-6)
                stages.append(
                    {
                        "stage": STAGES[int(inst.task_stage[j])],
                        "work_m2": round(float(inst.work[j]), 1),
                        "expected_release_m2": round(float(inst.release[j]), 1),
                        "share_done": round(min(share, 1.0), 4),
                        "start": self.instance.month_starts[int(months[0])] if months.size else None,
                        "finish": self.instance.month_end(int(finished[0])) if finished.size else None,
                    }
                )
            starts = [s["start"] for s in stages if s["start"] is not None]
            last = stages[-1]
            status = (
                "finished"
                if last["finish"] is not None and last["stage"] == "clearance"
                else "started"
                if starts
                else "not started"
            )
            out.append(
                {
                    "hazard": hz.code,
                    "score": round(hz.score, 6),
                    "remaining_m2": round(hz.remaining_m2, 1),
                    "status": status,
                    "start": min(starts) if starts else None,
                    "finish": last["finish"] if status == "finished" else None,
                    "released_m2": round(
                        float(sum(inst.release[j] * min(cum[j, -1] / inst.work[j], 1.0) for j in tasks)), 1
                    ),
                    "stages": stages,
                }
            )
        out.sort(key=lambda r: (r["start"] or date.max, -r["score"], r["hazard"]))
        return out

    def summary(self) -> dict[str, Any]:
        inst = self.instance
        worked = progress(inst, self.solution.y)
        released = worked * inst.release_per_work[:, None]
        by_stage = {
            STAGES[s]: round(float(released[inst.task_stage == s].sum()), 1) for s in range(len(STAGES))
        }
        timeline = self.hazard_timeline()
        days = self.solution.y.sum()
        travel = (
            float((self.solution.y > TOL).sum(axis=1) @ inst.pair_travel_days)
            if inst.pair_travel_days.size
            else 0.0
        )
        capacity = float(sum(inst.team_days[k][inst.able[k].any(axis=0)].sum() for k in inst.planned_teams))
        started = sum(1 for r in timeline if r["status"] != "not started")
        return {
            # hazards the plan deploys a team to; those with a plannable stage but no work are not in it
            "hazards_in_plan": started,
            "hazards_plannable": len({int(h) for h in inst.task_hazard}),
            "hazards_started": started,
            "hazards_finished": sum(1 for r in timeline if r["status"] == "finished"),
            "teams_planned": int(inst.planned_teams.size),
            "team_days_available": round(capacity, 1),
            "team_days_worked": round(float(days), 1),
            "team_days_travelling": round(travel, 1),
            "released_m2_by_stage": by_stage,
            "released_m2_by_month": {
                self.month_label(t): round(float(released[:, t].sum()), 1) for t in range(inst.months)
            },
        }

    def priorities(self) -> dict[str, Any]:
        """The ``config.top_n`` highest-scoring hazards: started, or the reason they are not.

        Reasons, most specific first: the stage cannot be planned at all (the instance's issue);
        no team can work it in the horizon; no able team before a given month; the nearest able
        teams' capacity went to other hazards (named, with the value of a team-day there and
        here); or able teams had idle days but the plan found the travel not worth it.
        """
        inst = self.instance
        n = min(self.config.top_n, len(inst.hazards))
        ranked = sorted(
            range(len(inst.hazards)), key=lambda h: (-inst.hazards[h].score, inst.hazards[h].code)
        )
        timeline = {r["hazard"]: r for r in self.hazard_timeline()}
        issues: dict[str, list[str]] = {}
        for i in inst.issues:
            if i.kind == "hazard":
                issues.setdefault(i.code, []).append(f"{i.stage}: {i.reason}" if i.stage else i.reason)
        rows = []
        for rank, h in enumerate(ranked[:n], start=1):
            hz = inst.hazards[h]
            row = timeline.get(hz.code)
            started = row is not None and row["status"] != "not started"
            reason = None
            if not started:
                if hz.code in issues and (row is None or not row["stages"]):
                    reason = "cannot be planned: " + "; ".join(issues[hz.code])
                else:
                    reason = self._not_started_reason(h)
                    if hz.code in issues:
                        reason += "; later stages cannot be planned: " + "; ".join(issues[hz.code])
            rows.append(
                {
                    "rank": rank,
                    "hazard": hz.code,
                    "score": round(hz.score, 6),
                    "status": row["status"] if row is not None else "not plannable",
                    "start": row["start"] if row is not None else None,
                    "reason": reason,
                }
            )
        started_n = sum(1 for r in rows if r["reason"] is None)
        return {
            "top_n": n,
            "started": started_n,
            "share_started": round(started_n / n, 4) if n else None,
            "hazards": rows,
        }

    def _not_started_reason(self, h: int) -> str:
        """Why hazard ``h`` (with a plannable first stage) gets no work in the plan."""
        inst, y = self.instance, self.solution.y
        first = np.flatnonzero((inst.task_hazard == h) & (inst.pred < 0))
        if first.size == 0:
            return "no plannable stage"
        j = int(first[0])
        stage = STAGES[int(inst.task_stage[j])]
        label = stage.upper() if stage != "clearance" else "clearance"
        pairs = np.flatnonzero(inst.full_task == j)
        if pairs.size == 0:
            return (
                f"no {label} team can work it in any month of the horizon (travel from every able "
                "team's base leaves no working day, or only machines are able and it is too steep)"
            )
        usable = inst.full_usable[pairs]
        earliest = int(usable.any(axis=0).argmax())
        prefix = ""
        if earliest > 0:
            prefix = f"no {label} team accredited and in season before {self.month_label(earliest)}; "
        # the nearest able teams, and what they did with the months they could have come here
        nearest = pairs[np.argsort(inst.full_km[pairs], kind="stable")[:3]]
        used = np.zeros((inst.n_teams, inst.months))
        np.add.at(used, inst.pair_team, y + (y > TOL) * inst.pair_travel_days[:, None])
        rate_here = inst.rate[inst.full_team[nearest], inst.task_stage[j]]
        here = float(inst.gain[j] * rate_here.max())
        # a deployment pays its set-up and travel once a month: on a small task that weighs
        f0 = int(nearest[int(np.argmax(rate_here))])
        k0 = int(inst.full_team[f0])
        rate0 = float(inst.rate[k0, inst.task_stage[j]])
        days_here = min(float(inst.work[j]) / rate0, float(inst.team_days[k0].max()))
        travel_here = float(inst.full_travel_days[f0])
        net = float(inst.gain[j]) * rate0 * days_here / (days_here + travel_here)
        value_here = (
            f"value here {here:,.0f} per team-day before earliness, {net:,.0f} once "
            f"{travel_here:.1f} days of set-up and travel per {days_here:.1f} days of work count"
        )
        idle, elsewhere = [], {}
        for f in nearest:
            k = int(inst.full_team[f])
            months = inst.full_usable[f]
            spare = float((inst.team_days[k] - used[k])[months].sum())
            if spare > inst.full_travel_days[f] + 1.0:
                idle.append(f"{inst.teams[k].code} ({inst.full_km[f]:.0f} km, {spare:.0f} idle team-days)")
            mine = np.flatnonzero(inst.pair_team == k)
            days = y[mine][:, months].sum(axis=1)
            for p, d in zip(mine, days, strict=True):
                if d > TOL:
                    jj = int(inst.pair_task[p])
                    code = inst.hazards[int(inst.task_hazard[jj])].code
                    per_day = float(inst.gain[jj] * inst.rate[k, inst.task_stage[jj]])
                    old_days, old_value = elsewhere.get(code, (0.0, 0.0))
                    elsewhere[code] = (old_days + float(d), max(old_value, per_day))
        if idle:
            return prefix + (
                f"able {label} teams had idle days ({', '.join(idle)}) but the plan found other work "
                f"or no deployment worth the travel ({value_here})"
            )
        top = sorted(elsewhere.items(), key=lambda kv: -kv[1][0])[:4]
        names = ", ".join(f"{code} ({value:,.0f}/team-day)" for code, (_, value) in top)
        higher = bool(top) and all(value >= net for _, (_, value) in top)
        what = "higher-value work" if higher else "work the plan values more (timing, stages it opens)"
        teams = ", ".join(
            f"{inst.teams[int(inst.full_team[f])].code} ({inst.full_km[f]:.0f} km)" for f in nearest
        )
        return prefix + (
            f"capacity used by {what}: {names or 'other hazards'} — the nearest able "
            f"{label} teams {teams} are fully booked in the months they could work it ({value_here})"
        )

    def to_dict(self, detail: bool = True) -> dict[str, Any]:
        """The JSON the CLI prints (``detail=False`` leaves out the per-team and per-hazard lists)."""
        sol, greedy = self.solution, self.greedy
        inst = self.instance
        improvement = None
        if greedy.objective > 0:
            improvement = round((sol.objective - greedy.objective) / greedy.objective, 6)
        issues = [i.to_dict() for i in inst.issues]
        out: dict[str, Any] = {
            "horizon": {
                "start": inst.month_starts[0],
                "months": inst.months,
                "end": inst.month_end(inst.months - 1),
            },
            "objective": {"definition": OBJECTIVE, "value": round(sol.objective, 3)},
            "solver": {
                "name": sol.solver,
                "status": sol.status,
                "objective": round(sol.objective, 3),
                "bound": None if sol.bound is None else round(sol.bound, 3),
                "gap": None if sol.gap is None else round(sol.gap, 6),
                "seconds": round(sol.seconds, 3),
                "greedy_objective": round(greedy.objective, 3),
                "greedy_seconds": round(greedy.seconds, 3),
                "improvement_over_greedy": improvement,
                "details": sol.details,
            },
            "notes": self.notes,
            "config": self.config.to_dict(),
            "inputs": self.inputs,
            "summary": self.summary(),
            "priorities": self.priorities(),
            "infeasible": [i for i in issues if i["kind"] == "hazard"],
            "teams_not_planned": [i for i in issues if i["kind"] == "team"],
            "violations": violations(inst, sol.y),
            "seconds": round(self.seconds, 3),
        }
        if detail:
            out["teams"] = self.team_schedule()
            out["hazards"] = self.hazard_timeline()
        return out


def make_plan(inst: Instance, config: PlanConfig, greedy_only: bool = False) -> Workplan:
    """Solve ``inst``: greedy, then the MILP from it unless ``greedy_only`` or the model is too big."""
    started = time.perf_counter()
    greedy = solve_greedy(inst)
    notes: list[str] = []
    columns = count_columns(inst)
    if greedy_only:
        notes.append("greedy heuristic only (--greedy): no bound is known, so no optimality gap")
        solution = greedy
    elif columns > config.max_milp_columns:
        notes.append(
            f"the MILP would have {columns:,} columns (limit {config.max_milp_columns:,}): "
            "greedy plan returned; no bound is known, so no optimality gap"
        )
        solution = greedy
    else:
        solution = solve_milp(inst, config, greedy)
        if greedy.y.shape[0] != solution.y.shape[0]:  # column generation added candidate pairs
            pad = np.zeros((solution.y.shape[0] - greedy.y.shape[0], inst.months))
            greedy.y = np.vstack([greedy.y, pad])
    return Workplan(inst, config, solution, greedy, time.perf_counter() - started, notes)


def month_start(value: str) -> date:
    """``YYYY-MM`` → the first day of that month (ValueError if malformed)."""
    year, month = value.split("-")
    return date(int(year), int(month), 1)
