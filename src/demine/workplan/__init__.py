"""The team workplan: which accredited team works which hazard in which month.

The question: given the open hazards (each with the land release stages it still needs and an
impact score from :mod:`demine.prioritisation`), the teams (type, base, accreditations, m² per
team-day) and a horizon of months, assign team-days to hazard stages month by month so that
as much impact-weighted land as possible is released, as early as possible.

Rules a plan obeys (:mod:`demine.workplan.instance`, checked by
:func:`demine.workplan.solution.violations`):

* a team works only the stages its type can (NTS teams NTS, TS teams TS, manual teams
  clearance, dogs and machines TS and clearance) and only in months wholly covered by a valid
  accreditation for the stage's activity;
* dogs rest in hot months (July–August by default), machines stay off hazards steeper than the
  limit (``hazard.slope_deg``; unknown slope is not restricted);
* a team works ``working_days_per_year / 365.25`` team-days per calendar day (the forecast's
  220 days a year), and each month it is deployed to a hazard costs it travel days (set-up plus
  the round trip from its base);
* precedence: NTS before TS before clearance on the same hazard, sector by sector — a stage may
  work in month t only the share of the hazard the previous stage had finished by month t − 1;
* capacity comes from the forecast's productivity estimates, calibrated on the programme's
  progress reports; how much each stage works and releases comes from the forecast's land
  release funnel (:mod:`demine.workplan.load`).

The objective and the MILP are in :mod:`demine.workplan.milp`, the greedy heuristic in
:mod:`demine.workplan.greedy`. A stage is valued for the land it releases and the ground it opens
for the next stage (:func:`demine.workplan.instance.unlock_gain`), so a survey of a top-priority
confirmed area is worth the clearance it makes possible. The bound and gap reported hold for the
whole problem — every team with every task it may work — not only for the candidate pairs the
MILP is given. Whatever cannot be planned is listed with its reason — a hazard stage no
accredited team can do, a team with no base or no valid accreditation — never silently dropped;
each of the ``top_n`` highest-scoring hazards is either started or given the reason it is not
(:meth:`demine.workplan.plan.Workplan.priorities`).
"""

from demine.workplan.config import STAGES, PlanConfig
from demine.workplan.greedy import solve_greedy
from demine.workplan.instance import (
    HazardInput,
    Instance,
    Issue,
    StageWork,
    TeamInput,
    build_instance,
    stage_work,
)
from demine.workplan.load import RegisterInputs, register_inputs
from demine.workplan.milp import solve_milp
from demine.workplan.plan import Workplan, make_plan
from demine.workplan.solution import Solution, objective, violations

__all__ = [
    "STAGES",
    "HazardInput",
    "Instance",
    "Issue",
    "PlanConfig",
    "RegisterInputs",
    "Solution",
    "StageWork",
    "TeamInput",
    "Workplan",
    "build_instance",
    "make_plan",
    "objective",
    "register_inputs",
    "solve_greedy",
    "solve_milp",
    "stage_work",
    "violations",
]
