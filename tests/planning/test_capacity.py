"""Capacity curves: the vectorised plan matches the day-by-day cohort bookkeeping."""

from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demine.planning import TEAM_TYPES, Budget, CapacityPlan, Season, TeamChange, TrainingPipeline
from demine.planning.reference import _LiteralCapacity
from demine.planning.timeline import Timeline

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

START = date(2025, 5, 10)


def literal(plan, timeline):
    cap = _LiteralCapacity(plan, timeline)
    team_days = np.array(
        [[v for v in cap.day(d, int(timeline.month[d])).values()] for d in range(timeline.days)]
    ).T
    budget = np.array([cap.budget_m2(d) for d in range(timeline.days)])
    return team_days, budget


def test_literal_and_vectorised_capacity_agree_on_a_rich_plan():
    plan = CapacityPlan(
        {"manual": 10, "mdd": 2, "nts": 1},
        seasons={"mdd": Season(180, frozenset({6, 7, 8})), "manual": Season(230, frozenset({12}))},
        additions=(
            TeamChange("manual", 5, date(2025, 9, 1), date(2027, 8, 31)),
            TeamChange("mdd", 1, date(2025, 1, 1), ramp_up_months=6),
        ),
        removals=(TeamChange("manual", 100, date(2028, 1, 1), date(2028, 3, 1)),),
        pipelines=(
            TrainingPipeline("manual", 20, date(2024, 11, 1), date(2026, 6, 30), course_months=3),
            TrainingPipeline("ts", 6, date(2026, 1, 1), annual_attrition=0.3, ramp_up_months=0),
        ),
        budgets=(Budget(1e6, 2.5, None, date(2026, 12, 31)), Budget(5e5, 1.0, date(2027, 1, 1))),
    )
    timeline = Timeline.for_years(START, 5)
    team_days, budget = literal(plan, timeline)
    assert np.allclose(plan.daily_team_days(timeline), team_days, rtol=1e-9, atol=1e-12)
    assert np.allclose(plan.daily_budget_m2(timeline), budget)
    # The removal takes manual teams to zero (clipped, never negative) in Jan–Feb 2028.
    jan = timeline.index_of(date(2028, 1, 15))
    assert team_days[TEAM_TYPES.index("manual"), jan] == 0.0
    # Dogs never work in June–August.
    summer = np.isin(timeline.month, [6, 7, 8])
    assert np.all(team_days[TEAM_TYPES.index("mdd"), summer] == 0.0)


@settings(max_examples=30, deadline=None)
@given(
    st.floats(0, 50),
    st.floats(0, 6),
    st.floats(0, 1),
    st.floats(0, 0.9),
    st.floats(0, 6),
    st.integers(-400, 400),
)
def test_pipeline_matches_cohort_bookkeeping(trainees, course, pass_rate, attrition, ramp, offset):
    from datetime import timedelta

    pipe = TrainingPipeline(
        "manual",
        trainees,
        START + timedelta(days=offset),
        course_months=course,
        pass_rate=pass_rate,
        annual_attrition=attrition,
        ramp_up_months=ramp,
    )
    plan = CapacityPlan({}, pipelines=(pipe,))
    timeline = Timeline.for_years(START, 2)
    team_days, _ = literal(plan, timeline)
    vec = plan.daily_team_days(timeline)
    assert np.allclose(vec, team_days, rtol=1e-9, atol=1e-12)


def test_bad_plans_are_refused():
    with pytest.raises(ValueError, match="unknown team type"):
        CapacityPlan({"rats": 2})
    with pytest.raises(ValueError, match="≥ 0"):
        CapacityPlan({"manual": -1})
    with pytest.raises(ValueError, match="before start"):
        TeamChange("manual", 1, date(2026, 1, 1), date(2025, 1, 1))
    with pytest.raises(ValueError, match="closed_months"):
        Season(200, frozenset({0}))
