"""Programme figures: ``/api/summary`` and the clearance forecast ``/api/forecast``.

The register holds approved records only (submissions wait in their own table until
approved), so the summary and the forecast count exactly the approved records, with no filter
here. The forecast is :func:`demine.planning.register_history.prepare_from_register` run
through the planner, as ``demine forecast --json`` does; a scenario (more teams, training,
budget: the planner's scenario format as JSON) is compared with the baseline on the same
random draws.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from demine.accounts.roles import planner_limits
from demine.accounts.users import User
from demine.api.geojson import dumps
from demine.api.security import Ctx, CurrentUser
from demine.reports.summary import programme_summary
from demine.workflow.errors import Forbidden

router = APIRouter(prefix="/api", tags=["Reports"])

Trials = Annotated[int, Query(ge=1, le=2000, description="Monte Carlo trials.")]
Seed = Annotated[int, Query(ge=0, le=2**31 - 1)]
Start = Annotated[
    date | None, Query(ge=date(1990, 1, 1), le=date(2100, 1, 1), description="Forecast from [today].")
]
# At least two years: a shorter horizon can hold no year end, which the planner's summary
# does not handle (IndexError in demine.planning.results.summarise with an empty stock).
Horizon = Annotated[float, Query(ge=2, le=200, description="Years to simulate before giving up.")]


class ScenarioIn(BaseModel):
    """A scenario (the planner's TOML format, as JSON) and the run's settings."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    scenario: dict[str, Any]
    trials: Annotated[int, Field(ge=1, le=2000)] = 500
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    start: Annotated[date, Field(ge=date(1990, 1, 1), le=date(2100, 1, 1))] | None = None
    horizon_years: Annotated[float, Field(ge=2, le=200)] = 100.0


@router.get("/summary")
def summary(user: CurrentUser, ctx: Ctx) -> Response:
    """Hazards by type and status, the land release balance, teams, EO found, accidents (counts only)."""
    with ctx.reading() as conn:
        data = programme_summary(conn)
    return Response(dumps(data), media_type="application/json")


def within_planner_limits(
    user: User, trials: int | None = None, months: int | None = None, seconds: float | None = None
) -> None:
    """Refuse (403) a planning run larger than the user's role may ask of the server."""
    limits = planner_limits(user.role)
    asked = [
        (trials, limits.trials, "trials"),
        (months, limits.months, "months"),
        (seconds, limits.solver_seconds, "seconds of solver time"),
    ]
    for value, most, what in asked:
        if value is not None and value > most:
            raise Forbidden(f"a {user.role} may run at most {most:g} {what} (asked for {value:g})")


def _prepared(ctx: Any, start: date | None) -> Any:
    # The planner imports scipy and matplotlib: only when a forecast is asked for.
    from demine.planning.register_history import prepare_from_register

    with ctx.reading() as conn:
        return prepare_from_register(conn, start or date.today())


@router.get("/forecast", responses={422: {}})
def forecast(
    user: CurrentUser,
    ctx: Ctx,
    trials: Trials = 500,
    seed: Seed = 0,
    start: Start = None,
    horizon_years: Horizon = 100.0,
) -> Response:
    """When will the open hazards be released: P10/P50/P90 completion, burn-down band, regions."""
    from demine.planning.prepared import forecast_report

    within_planner_limits(user, trials=trials)
    prepared = _prepared(ctx, start)
    result = prepared.forecast(trials, seed, horizon_years=horizon_years)
    return Response(dumps(forecast_report(prepared, result)), media_type="application/json")


@router.post("/forecast/scenario", responses={422: {}})
def forecast_scenario(body: ScenarioIn, user: CurrentUser, ctx: Ctx) -> Response:
    """Baseline and scenario side by side (common random numbers)."""
    from demine.planning.prepared import comparison_report
    from demine.planning.scenario import scenario_from_dict

    within_planner_limits(user, trials=body.trials)
    plan = scenario_from_dict(body.scenario, source="scenario")
    prepared = _prepared(ctx, body.start)
    comparison = prepared.compare(plan, body.trials, body.seed, horizon_years=body.horizon_years)
    return Response(dumps(comparison_report(prepared, comparison)), media_type="application/json")
