"""The planner page: the forecast fan chart, scenarios beside the baseline, priorities, the workplan.

The page loads its parts as HTML fragments (``/web/planner/...``) so it shows at once and each
slow part says it is working: the Monte Carlo forecast, the explained priority ranking, and the
team workplan (run only on request). The work is the library's: :mod:`demine.planning`,
:mod:`demine.prioritisation`, :mod:`demine.workplan`; :mod:`demine.web.planner_support` adds
what the page explains around it.

* The baseline runs the same function with the same defaults as ``demine forecast`` (its trials
  included), so both give the same answer on the same register; it is kept per server process
  for as long as the forecast's inputs do not change, and every role may see it.
* Scores are shown on one scale, 0–100 (the ranking's normalised score × 100), in the priority
  list and in the workplan.
* The MILP solver runs for the planning roles only (:data:`demine.accounts.roles.PLANNING_ROLES`),
  one solve at a time, within their time limit; anyone else sees the last plan a planner solved
  on the same inputs, or else the greedy plan.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from demine.accounts.roles import PLANNING_ROLES, planner_limits
from demine.api.reports import within_planner_limits
from demine.api.security import Ctx, CurrentUser
from demine.web.fanchart import fan_chart_svg
from demine.web.planner_support import (
    SCORE_SCALE,
    cache_of,
    cli_default_trials,
    content_key,
    left_out,
    stock_reconciliation,
)
from demine.web.session import PageSession

router = APIRouter(include_in_schema=False)
TEAM_TYPES = ("manual", "mdd", "mechanical", "nts", "ts")
# One workplan solve at a time per server process: HiGHS takes a core for its whole time limit,
# and two at once would take the machine from everyone else's edits.
_SOLVING = threading.Semaphore(1)
HIGH_PRIORITY = 25
"""The hazards the page calls high priority: the top of the ranking, as the priority list shows it."""


def _templates() -> Any:
    from demine.web.routes import render

    return render


@router.get("/planner")
def planner_page(request: Request, info: PageSession) -> Response:
    """The planner: forecast, scenario editor, priorities, workplan."""
    today = date.today()
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    limits = planner_limits(info.user.role)
    trials = cli_default_trials()
    return _templates()(
        request,
        info,
        "planner.html",
        team_types=TEAM_TYPES,
        today=today,
        next_month=next_month,
        limits=limits,
        default_trials=trials,
        scenario_trials=min(trials, limits.trials),
        can_solve=info.user.role in PLANNING_ROLES,
        planning_roles=sorted(PLANNING_ROLES),
        high_priority=HIGH_PRIORITY,
    )


def _prepared(ctx: Any, start: date | None) -> Any:
    from demine.planning.register_history import prepare_from_register

    with ctx.reading() as conn:
        return prepare_from_register(conn, start or date.today())


def _fragment(request: Request, template: str, **data: Any) -> HTMLResponse:
    from demine.web.routes import templates

    return templates.TemplateResponse(request, template, data)


@router.get("/web/planner/baseline")
def baseline(
    request: Request,
    user: CurrentUser,
    ctx: Ctx,
    trials: Annotated[int | None, Query(ge=50, le=2000)] = None,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Response:
    """The baseline forecast: fan chart, completion percentiles, the burn-down by year, the stock
    against the dashboard's remaining area.

    ``trials`` and ``seed`` default to ``demine forecast``'s; that run is the programme's
    forecast, open to every role (and computed once per change of its inputs); any other run is
    within the role's limits.
    """
    from demine.planning.prepared import forecast_report
    from demine.planning.register_history import prepare_from_register

    default = cli_default_trials()
    trials = default if trials is None else trials
    if trials != default or seed != 0:  # another run than the command line's own
        within_planner_limits(user, trials=trials)
    start = date.today()
    with ctx.reading() as conn:
        prepared = prepare_from_register(conn, start)
        stock = stock_reconciliation(conn, start, prepared.inputs.stock_m2)
    key = content_key(
        prepared.source,
        prepared.inputs,
        prepared.parameters,
        prepared.capacity,
        prepared.notes,
        prepared.warnings,
        trials,
        seed,
    )
    report, _ = cache_of(request.app, "forecast").get_or_compute(
        key, lambda: forecast_report(prepared, prepared.forecast(trials, seed))
    )
    return _fragment(
        request,
        "partials/forecast.html",
        report=report,
        chart=fan_chart_svg(report),
        stock=stock,
        default_trials=default,
    )


class ScenarioRun(BaseModel):
    """A scenario from the editor (the scenario TOML keys, as JSON) and the run's size."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    scenario: dict[str, Any]
    trials: Annotated[int | None, Field(ge=50, le=2000)] = None  # the CLI's default
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0


@router.post("/web/planner/scenario")
def scenario(request: Request, body: ScenarioRun, user: CurrentUser, ctx: Ctx) -> Response:
    """Baseline and scenario side by side, on the same random draws."""
    from demine.planning.prepared import comparison_report
    from demine.planning.scenario import scenario_from_dict

    trials = cli_default_trials() if body.trials is None else body.trials
    within_planner_limits(user, trials=trials)
    plan = scenario_from_dict(body.scenario, source="scenario")  # ScenarioError → 422 with problems
    prepared = _prepared(ctx, None)
    comparison = prepared.compare(plan, trials, body.seed)
    report = comparison_report(prepared, comparison)
    chart = fan_chart_svg(report["baseline"], report["scenario"], plan.name)
    return _fragment(request, "partials/scenario.html", report=report, chart=chart, name=plan.name)


@router.get("/web/planner/priorities")
def priorities(
    request: Request,
    user: CurrentUser,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = HIGH_PRIORITY,
) -> Response:
    """The open hazards ranked by impact, each factor's value, weight and contribution; the score
    and the contributions also in points out of 100."""
    from demine.prioritisation import default_weights, score_hazards, scoring_inputs

    with ctx.reading() as conn:
        ranking = score_hazards(scoring_inputs(conn, date.today()), default_weights())
    data = ranking.to_dict(limit)
    total = ranking.weights.total_weight or 1.0
    for h in data["ranking"]:
        h["points"] = h["normalised_score"] * SCORE_SCALE
        h["group_points"] = {g: v / total * SCORE_SCALE for g, v in h["groups"].items()}
        for f in h["factors"]:
            f["points"] = f["contribution"] / total * SCORE_SCALE
    return _fragment(request, "partials/priorities.html", data=data, scale=SCORE_SCALE, total_weight=total)


class WorkplanRun(BaseModel):
    """What the workplan form sends."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    months: Annotated[int, Field(ge=1, le=36)] = 12
    time_limit: Annotated[float, Field(ge=1, le=120)] = 10.0
    greedy: bool = False


@router.post("/web/planner/workplan")
def workplan(request: Request, body: WorkplanRun, user: CurrentUser, ctx: Ctx) -> Response:
    """The team workplan for the coming months.

    A planning role runs HiGHS within its time limit (greedy plan as the fallback); any other
    role sees the last plan a planner solved on the same inputs, or the greedy plan.
    """
    from demine.prioritisation import default_weights, score_hazards, scoring_inputs
    from demine.workplan import PlanConfig, build_instance, make_plan, register_inputs

    solver = user.role in PLANNING_ROLES and not body.greedy
    # Asking for more than the role may have is refused, even where the solver would not run.
    within_planner_limits(user, months=body.months, seconds=body.time_limit)
    today = date.today()
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    # Reasons for twice the high-priority list, so ties at its edge are covered too.
    config = PlanConfig(months=body.months, time_limit_s=body.time_limit, top_n=2 * HIGH_PRIORITY)
    with ctx.reading() as conn:
        ranking = score_hazards(scoring_inputs(conn, today), default_weights())
        scores = dict(zip(ranking.codes, ranking.normalised_score.tolist(), strict=True))
        inputs = register_inputs(conn, scores, config)
    key = content_key(inputs.hazards, inputs.teams, first, config.replace(time_limit_s=0.0))
    solved = cache_of(request.app, "workplan", size=4)
    source = "solved"
    if solver:
        if not _SOLVING.acquire(blocking=False):
            raise HTTPException(
                503, "another workplan is being solved; try again in a minute", headers={"Retry-After": "30"}
            )
        try:
            instance = build_instance(inputs.hazards, inputs.teams, first, config)
            data = _plan_data(make_plan(instance, config), ranking, scores)
        finally:
            _SOLVING.release()
        data["by"] = {"role": user.role, "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
        solved.put(key, data)
    else:
        # A planner who asks for the greedy plan gets it; anyone else the last solved plan first.
        data = None if body.greedy else solved.get(key)
        source = "last"
        if data is None:
            instance = build_instance(inputs.hazards, inputs.teams, first, config)
            data = _plan_data(make_plan(instance, config, greedy_only=True), ranking, scores)
            source = "greedy"
    return _fragment(
        request,
        "partials/workplan.html",
        data=data,
        source=source,
        asked_greedy=body.greedy,
        planning_roles=sorted(PLANNING_ROLES),
        high_priority=HIGH_PRIORITY,
    )


def _plan_data(plan: Any, ranking: Any, scores: dict[str, float]) -> dict[str, Any]:
    """The plan's JSON with scores in points out of 100, ranks, and the high-priority hazards:
    each started, or left out with the kind of reason and the workplan's explanation."""
    data = plan.to_dict()
    rank = {ranking.codes[int(i)]: r + 1 for r, i in enumerate(ranking.order)}
    for h in data["hazards"]:
        h["points"] = scores.get(h["hazard"], 0.0) * SCORE_SCALE
        h["rank"] = rank.get(h["hazard"])
    data["hazards"] = sorted(data["hazards"], key=lambda h: (h["start"] or date.max, -h["points"]))
    timeline = {h["hazard"]: h for h in data["hazards"]}
    why = left_out(plan)
    high = []
    for r, i in enumerate(ranking.order[:HIGH_PRIORITY]):
        code = ranking.codes[int(i)]
        row = timeline.get(code)
        started = row is not None and row["status"] != "not started"
        high.append(
            {
                "rank": r + 1,
                "hazard": code,
                "points": scores[code] * SCORE_SCALE,
                "status": row["status"] if row is not None else "not plannable",
                "start": row["start"] if row is not None else None,
                "left_out": None if started else why.get(code, _unexplained(plan, code)),
            }
        )
    data["high_priority"] = high
    return data


def _unexplained(plan: Any, code: str) -> dict[str, Any]:
    """A high-priority hazard the plan's own priority list did not reach (a tie at its edge):
    the instance's issues about it, or the workplan's reason for a hazard it did not start."""
    inst = plan.instance
    issues = [
        f"{i.stage}: {i.reason}" if i.stage else i.reason
        for i in inst.issues
        if i.kind == "hazard" and i.code == code
    ]
    index = next(h for h, hz in enumerate(inst.hazards) if hz.code == code)
    planned = bool((inst.task_hazard == index).any())
    return {
        "kind": "capacity" if planned else "unplannable",
        "label": "capacity taken by other hazards" if planned else "no team can take it on",
        "delayed_by_accreditation_or_season": False,
        "reason": plan._not_started_reason(index) if planned else "; ".join(issues),
    }
