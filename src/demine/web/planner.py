"""The planner page: the forecast fan chart, scenarios beside the baseline, priorities, the workplan.

The page loads its parts as HTML fragments (``/web/planner/...``) so it shows at once and each
slow part says it is working: the Monte Carlo forecast (about a second), the explained
priority ranking, and the team workplan (HiGHS with a time limit, run only on request). The
work is the library's: :mod:`demine.planning`, :mod:`demine.prioritisation`,
:mod:`demine.workplan`.
"""

from __future__ import annotations

import base64
import tempfile
import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from demine.accounts.roles import planner_limits
from demine.api.reports import within_planner_limits
from demine.api.security import Ctx, CurrentUser
from demine.web.session import PageSession

router = APIRouter(include_in_schema=False)
TEAM_TYPES = ("manual", "mdd", "mechanical", "nts", "ts")
# One workplan solve at a time per server process: HiGHS takes a core for its whole time limit,
# and two at once would take the machine from everyone else's edits.
_SOLVING = threading.Semaphore(1)


def _templates() -> Any:
    from demine.web.routes import render

    return render


@router.get("/planner")
def planner_page(request: Request, info: PageSession) -> Response:
    """The planner: forecast, scenario editor, priorities, workplan."""
    today = date.today()
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return _templates()(
        request,
        info,
        "planner.html",
        team_types=TEAM_TYPES,
        today=today,
        next_month=next_month,
        limits=planner_limits(info.user.role),
    )


def _prepared(ctx: Any, start: date | None) -> Any:
    from demine.planning.register_history import prepare_from_register

    with ctx.reading() as conn:
        return prepare_from_register(conn, start or date.today())


def fan_chart(result: Any, scenario: Any = None, scenario_name: str = "scenario") -> str:
    """The burn-down fan chart as a PNG data URI."""
    from demine.planning.charts import burn_down_chart

    with tempfile.TemporaryDirectory() as folder:
        path = burn_down_chart(
            result, Path(folder) / "fan.png", scenario=scenario, scenario_name=scenario_name, dpi=96
        )
        data = path.read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _fragment(request: Request, template: str, **data: Any) -> HTMLResponse:
    from demine.web.routes import templates

    return templates.TemplateResponse(request, template, data)


@router.get("/web/planner/baseline")
def baseline(
    request: Request,
    user: CurrentUser,
    ctx: Ctx,
    trials: Annotated[int, Query(ge=50, le=2000)] = 500,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Response:
    """The baseline forecast: fan chart, completion percentiles, the burn-down by year."""
    from demine.planning.prepared import forecast_report

    within_planner_limits(user, trials=trials)
    prepared = _prepared(ctx, None)
    result = prepared.forecast(trials, seed)
    report = forecast_report(prepared, result)
    return _fragment(request, "partials/forecast.html", report=report, chart=fan_chart(result))


class ScenarioRun(BaseModel):
    """A scenario from the editor (the scenario TOML keys, as JSON) and the run's size."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    scenario: dict[str, Any]
    trials: Annotated[int, Field(ge=50, le=2000)] = 500
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0


@router.post("/web/planner/scenario")
def scenario(request: Request, body: ScenarioRun, user: CurrentUser, ctx: Ctx) -> Response:
    """Baseline and scenario side by side, on the same random draws."""
    from demine.planning.prepared import comparison_report
    from demine.planning.scenario import scenario_from_dict

    within_planner_limits(user, trials=body.trials)
    plan = scenario_from_dict(body.scenario, source="scenario")  # ScenarioError → 422 with problems
    prepared = _prepared(ctx, None)
    comparison = prepared.compare(plan, body.trials, body.seed)
    report = comparison_report(prepared, comparison)
    chart = fan_chart(comparison.baseline, comparison.with_scenario, plan.name)
    return _fragment(request, "partials/scenario.html", report=report, chart=chart, name=plan.name)


@router.get("/web/planner/priorities")
def priorities(
    request: Request,
    user: CurrentUser,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 25,
) -> Response:
    """The open hazards ranked by impact, each factor's value, weight and contribution."""
    from demine.prioritisation import default_weights, score_hazards, scoring_inputs

    with ctx.reading() as conn:
        ranking = score_hazards(scoring_inputs(conn, date.today()), default_weights())
    data = ranking.to_dict(limit)
    return _fragment(request, "partials/priorities.html", data=data)


class WorkplanRun(BaseModel):
    """What the workplan form sends."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    months: Annotated[int, Field(ge=1, le=36)] = 12
    time_limit: Annotated[float, Field(ge=1, le=120)] = 10.0
    greedy: bool = False


@router.post("/web/planner/workplan")
def workplan(request: Request, body: WorkplanRun, user: CurrentUser, ctx: Ctx) -> Response:
    """The team workplan for the coming months (HiGHS within the time limit, greedy fallback)."""
    from demine.prioritisation import default_weights, score_hazards, scoring_inputs
    from demine.workplan import PlanConfig, build_instance, make_plan, register_inputs

    within_planner_limits(user, months=body.months, seconds=body.time_limit)
    if not _SOLVING.acquire(blocking=False):
        raise HTTPException(
            503, "another workplan is being solved; try again in a minute", headers={"Retry-After": "30"}
        )
    try:
        today = date.today()
        first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        config = PlanConfig(months=body.months, time_limit_s=body.time_limit)
        with ctx.reading() as conn:
            ranking = score_hazards(scoring_inputs(conn, today), default_weights())
            scores = dict(zip(ranking.codes, ranking.normalised_score.tolist(), strict=True))
            inputs = register_inputs(conn, scores, config)
        instance = build_instance(inputs.hazards, inputs.teams, first, config)
        plan = make_plan(instance, config, greedy_only=body.greedy)
    finally:
        _SOLVING.release()
    data = plan.to_dict()
    data["hazards"] = sorted(data["hazards"], key=lambda h: (h["start"] or date.max, -h["score"]))
    return _fragment(request, "partials/workplan.html", data=data)
