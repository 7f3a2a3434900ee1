"""The vectorised engine agrees with the day-by-day reference on the same draws."""

from datetime import date

import numpy as np
import pytest

from demine.planning import (
    Budget,
    CapacityPlan,
    ForecastInputs,
    Season,
    TeamChange,
    TrainingPipeline,
    build_model,
    default_parameters,
    draw_trials,
    simulate,
    simulate_reference,
)
from demine.planning.distributions import Normal
from demine.planning.parameters import Volatility

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

START = date(2025, 3, 15)


def hazards(n: int, seed: int, regions: int = 3, median_m2: float = 20_000.0) -> ForecastInputs:
    rng = np.random.default_rng(seed)
    return ForecastInputs(
        area_m2=rng.lognormal(np.log(median_m2), 1.0, n),
        hazard_class=(rng.random(n) < 0.3).astype(int),
        region=rng.integers(0, regions, n),
        start=START,
        order=rng.permutation(n),
    )


RICH_CAPACITY = CapacityPlan(
    {"manual": 3, "mdd": 1, "mechanical": 0.5, "nts": 1, "ts": 1},
    seasons={"mdd": Season(200, frozenset({7, 8})), "manual": Season(210, frozenset({1}))},
    additions=(TeamChange("manual", 2, date(2026, 1, 1)), TeamChange("ts", 1, date(2024, 12, 1))),
    removals=(TeamChange("mechanical", 0.5, date(2027, 6, 1), date(2028, 6, 1)),),
    pipelines=(TrainingPipeline("manual", 10, date(2025, 1, 1), date(2027, 1, 1)),),
    budgets=(Budget(100_000, 2.0, date(2026, 1, 1), date(2028, 12, 31)),),
)

# Every source of year-to-year movement at once, strongly, so the engines must agree on each.
VOLATILE = Volatility(
    level_sigma=0.3,
    walk_sigma=0.2,
    year_sigma=0.3,
    revision_rate=0.4,
    revision_log_mean=-0.1,
    revision_log_sigma=0.6,
    revision_years=6.0,
    revision_drift=0.02,
    discovery_year_sigma=0.5,
)

CASES = {
    "defaults": (default_parameters(), CapacityPlan({"manual": 4, "nts": 1, "ts": 1})),
    "output and stock volatility, negative depletion": (
        default_parameters().replace(volatility=VOLATILE, depletion=Normal(-0.3, 0.2)),
        RICH_CAPACITY,
    ),
    "rich capacity": (default_parameters(), RICH_CAPACITY),
    "class factors and new contamination in m²": (
        default_parameters().replace(
            clearance_class_factor=(
                default_parameters().depletion,
                default_parameters().depletion,
            ),
            new_contamination_m2_per_year=default_parameters().new_contamination_share_per_year,
            new_contamination_years=4.0,
        ),
        RICH_CAPACITY,
    ),
    "no spread, no depletion": (
        default_parameters().replace(
            hazard_share_spread=0.0,
            hazard_effort_spread=0.0,
            depletion=default_parameters().clearance_class_factor[0],
        ),
        CapacityPlan({"manual": 2, "mdd": 1, "nts": 1, "ts": 1}),
    ),
}


def run_both(inputs, parameters, capacity, trials, seed, horizon, precision):
    model = build_model(inputs, parameters, capacity, horizon)
    draws = draw_trials(parameters, trials, seed, inputs.stock_m2)
    fast = simulate(model, draws, precision=precision)
    ref = simulate_reference(inputs, parameters, capacity, draws, horizon_years=horizon)
    return fast, ref.outcomes


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_days_and_areas_as_reference_in_float64(case):
    parameters, capacity = CASES[case]
    inputs = hazards(40, seed=len(case))
    fast, ref = run_both(inputs, parameters, capacity, trials=4, seed=7, horizon=25, precision="float64")
    # Same draws, same model: the only difference is rounding, which can move an event that
    # falls exactly on a day boundary by one day.
    assert np.array_equal(np.isfinite(fast.completion_day), np.isfinite(ref.completion_day))
    finite = np.isfinite(ref.stage_completion_day)
    assert np.all(np.abs(fast.stage_completion_day[finite] - ref.stage_completion_day[finite]) <= 1)
    assert np.all(np.abs(fast.region_day - ref.region_day)[np.isfinite(ref.region_day)] <= 1)
    # Most events land on exactly the same day.
    assert np.mean(fast.region_day == ref.region_day) >= 0.9
    scale = inputs.stock_m2
    assert np.allclose(fast.remaining, ref.remaining, rtol=0, atol=1e-6 * scale)
    assert np.allclose(fast.released, ref.released, rtol=0, atol=1e-6 * scale)
    assert np.allclose(fast.arrived, ref.arrived, rtol=1e-9)
    assert np.allclose(fast.revised, ref.revised, rtol=0, atol=1e-6 * scale)


def test_float32_engine_within_a_day_of_reference():
    parameters, capacity = CASES["rich capacity"]
    inputs = hazards(60, seed=11)
    fast, ref = run_both(inputs, parameters, capacity, trials=3, seed=3, horizon=25, precision="float32")
    finite = np.isfinite(ref.completion_day)
    assert np.all(np.abs(fast.completion_day[finite] - ref.completion_day[finite]) <= 1)
    assert np.allclose(fast.remaining, ref.remaining, rtol=0, atol=1e-4 * inputs.stock_m2)


def test_agreement_when_horizon_too_short():
    # Far too little capacity: neither engine may invent a completion.
    parameters = default_parameters()
    inputs = hazards(30, seed=5, median_m2=2e6)
    capacity = CapacityPlan({"manual": 1, "nts": 1, "ts": 1})
    fast, ref = run_both(inputs, parameters, capacity, trials=2, seed=1, horizon=3, precision="float64")
    assert np.all(np.isinf(ref.completion_day))
    assert np.all(np.isinf(fast.completion_day))
    assert np.allclose(fast.remaining, ref.remaining, rtol=1e-9)


def test_monte_carlo_summary_agrees_with_reference():
    # Over many trials the two engines give the same completion percentiles (they are the
    # same trials, so this also holds far tighter than Monte Carlo error).
    parameters, capacity = CASES["defaults"]
    inputs = hazards(25, seed=2)
    fast, ref = run_both(inputs, parameters, capacity, trials=24, seed=99, horizon=20, precision="float32")
    for q in (0.1, 0.5, 0.9):
        a = np.quantile(fast.completion_day, q, method="inverted_cdf")
        b = np.quantile(ref.completion_day, q, method="inverted_cdf")
        assert abs(a - b) <= 1
