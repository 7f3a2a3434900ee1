"""Known answers: deterministic cases whose completion date follows from arithmetic."""

import math
from datetime import date, timedelta

import numpy as np
import pytest

from demine.planning import (
    CapacityPlan,
    Season,
    TeamChange,
    TrainingPipeline,
    deterministic_parameters,
    forecast,
    single_region,
)
from demine.planning.timeline import DAYS_PER_MONTH, DAYS_PER_YEAR

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

START = date(2026, 1, 1)
FAST = {"nts": 1e9, "ts": 1e9}  # survey capacity so large it never binds


def full_time(team_type: str) -> Season:
    return Season(working_days_per_year=DAYS_PER_YEAR)  # every calendar day, all day


def test_one_hazard_one_team_exact_date():
    area, rate = 10_000.0, 200.0
    params = deterministic_parameters({"manual": rate, **FAST})
    capacity = CapacityPlan(
        {"manual": 1, "nts": 1, "ts": 1},
        seasons={k: full_time(k) for k in ("manual", "nts", "ts")},
    )
    result = forecast(single_region([area], START), params, capacity, trials=5, seed=1)
    # 200 m² a day: the 50th day (index 49) finishes it.
    expected = START + timedelta(days=math.ceil(area / rate) - 1)
    assert result.completion.p10 == result.completion.p50 == result.completion.p90 == expected
    assert result.completion.not_within_horizon_share == 0.0


@pytest.mark.parametrize("working_days", [220.0, 180.0, 365.25])
def test_working_days_stretch_the_calendar(working_days):
    area, rate, teams = 1_000_000.0, 250.0, 3
    params = deterministic_parameters({"manual": rate, **FAST})
    capacity = CapacityPlan({"manual": teams, "nts": 1, "ts": 1}, seasons={"manual": Season(working_days)})
    result = forecast(single_region([area], START), params, capacity, trials=3, seed=0)
    per_day = teams * rate * working_days / DAYS_PER_YEAR
    expected = START + timedelta(days=math.ceil(area / per_day - 1e-9) - 1)
    assert result.completion.p50 == expected


def test_closed_months_add_whole_months():
    # 1 team at 100 m²/day every day, but nothing in January–March: 20,000 m² takes 200 working
    # days from 1 April.
    params = deterministic_parameters({"manual": 100.0, **FAST})
    capacity = CapacityPlan(
        {"manual": 1, "nts": 1, "ts": 1},
        seasons={"manual": Season(DAYS_PER_YEAR, frozenset({1, 2, 3}))},
    )
    result = forecast(single_region([20_000.0], START), params, capacity, trials=2, seed=0)
    assert result.completion.p50 == date(2026, 4, 1) + timedelta(days=199)


def test_funnel_only_clears_the_cleared_share():
    # Half cancelled, a quarter reduced: clearance works 2,500 of 10,000 m².
    params = deterministic_parameters({"manual": 100.0, **FAST}, funnel=(0.5, 0.25, 0.25))
    capacity = CapacityPlan({"manual": 1, "nts": 1, "ts": 1}, seasons={"manual": full_time("manual")})
    result = forecast(single_region([10_000.0], START), params, capacity, trials=1, seed=0)
    assert result.completion.p50 == START + timedelta(days=24)
    cleared = result.outcomes.released[0, 0]
    assert cleared == pytest.approx([5_000.0, 2_500.0, 2_500.0])


def test_depletion_makes_later_land_slower():
    # Two equal hazards, depletion δ = 1: positions 0.25 and 0.75 → effort ×1.25 and ×1.75.
    params = deterministic_parameters({"manual": 100.0, **FAST}, depletion=1.0)
    capacity = CapacityPlan({"manual": 1, "nts": 1, "ts": 1}, seasons={"manual": full_time("manual")})
    result = forecast(single_region([1_000.0, 1_000.0], START), params, capacity, trials=1, seed=0)
    effort = 1_000 * 1.25 + 1_000 * 1.75
    assert result.completion.p50 == START + timedelta(days=math.ceil(effort / 100) - 1)


def test_added_teams_with_ramp_up():
    # 1 team from the start, 1 more from day 10 ramping up over 10 days (output (age+1)/10).
    params = deterministic_parameters({"manual": 100.0, **FAST})
    capacity = CapacityPlan(
        {"manual": 1, "nts": 1, "ts": 1},
        seasons={"manual": full_time("manual")},
        additions=(TeamChange("manual", 1, START + timedelta(days=10), ramp_up_months=10 / DAYS_PER_MONTH),),
    )
    daily = np.ones(200) * 100
    daily[10:20] += 100 * np.arange(1, 11) / 10
    daily[20:] += 100
    area = 5_000.0
    expected_day = int(np.argmax(np.cumsum(daily) >= area))
    result = forecast(single_region([area], START), params, capacity, trials=1, seed=0)
    assert result.completion.p50 == START + timedelta(days=expected_day)


def test_training_pipeline_reaches_its_steady_state():
    # 30.4375 trainees a month = 1 a day; pass 50%; teams of 5 → 0.1 team/day graduates; with
    # attrition a, teams in service tend to 0.1 / (1 − r) for daily survival r.
    pipe = TrainingPipeline(
        "manual",
        DAYS_PER_MONTH,
        START,
        course_months=1,
        pass_rate=0.5,
        annual_attrition=0.2,
        staff_per_team=5,
        ramp_up_months=0,
    )
    plan = CapacityPlan({}, seasons={"manual": full_time("manual")}, pipelines=(pipe,))
    from demine.planning.timeline import Timeline

    team_days = plan.daily_team_days(Timeline.for_years(START, 60))[0]
    course = round(DAYS_PER_MONTH)
    assert np.all(team_days[:course] == 0)
    assert team_days[course] == pytest.approx(0.1)
    r = pipe.daily_survival
    assert team_days[-1] == pytest.approx(0.1 / (1 - r), rel=1e-3)


def test_naive_years_is_stock_over_first_year_clearance():
    params = deterministic_parameters({"manual": 100.0, **FAST})
    capacity = CapacityPlan({"manual": 2, "nts": 1, "ts": 1}, seasons={"manual": Season(200)})
    result = forecast(single_region([3_000_000.0], START), params, capacity, trials=1, seed=0)
    assert result.naive_years == pytest.approx(3_000_000 / (2 * 100 * 200), rel=1e-9)


def test_new_contamination_delays_by_the_arithmetic_amount():
    # Capacity 200 m²/day, new finds 36,525 m²/year = 100 m²/day, worked first: the stock of
    # 10,000 m² gets 100 m²/day → done on day 99.
    params = deterministic_parameters({"manual": 200.0, **FAST}, new_m2_per_year=36_525.0)
    capacity = CapacityPlan(
        {"manual": 1, "nts": 1, "ts": 1}, seasons={k: full_time(k) for k in ("manual", "nts", "ts")}
    )
    result = forecast(single_region([10_000.0], START), params, capacity, trials=1, seed=0)
    assert result.completion.p50 == START + timedelta(days=99)
