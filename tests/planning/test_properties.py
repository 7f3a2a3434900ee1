"""Properties that must hold for any input: determinism, monotonicity, conservation."""

import json
from datetime import date

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demine.planning import (
    CapacityPlan,
    ForecastInputs,
    Lognormal,
    TeamChange,
    TrainingPipeline,
    default_parameters,
    forecast,
)

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

START = date(2025, 7, 1)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def inputs_from(areas, classes, regions, seed=0):
    n = len(areas)
    rng = np.random.default_rng(seed)
    return ForecastInputs(
        np.asarray(areas, float),
        np.asarray(classes[:n]),
        np.asarray(regions[:n]),
        START,
        order=rng.permutation(n),
    )


small_programmes = st.integers(1, 12).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(0.0, 3e5, allow_nan=False), min_size=n, max_size=n),
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
        st.lists(st.integers(0, 2), min_size=n, max_size=n),
        st.integers(0, 2**16),
    )
)
capacities = st.fixed_dictionaries(
    {
        "manual": st.floats(0.5, 6),
        "mdd": st.floats(0, 3),
        "mechanical": st.floats(0, 1),
        "nts": st.floats(0.2, 2),
        "ts": st.floats(0.2, 2),
    }
)


def run(inputs, capacity, seed=0, parameters=None, trials=6, horizon=30):
    return forecast(inputs, parameters or default_parameters(), capacity, trials, seed, horizon_years=horizon)


def test_same_seed_same_result_and_workers_do_not_matter():
    rng = np.random.default_rng(1)
    inputs = ForecastInputs(rng.lognormal(9, 1, 500), rng.integers(0, 2, 500), rng.integers(0, 4, 500), START)
    capacity = CapacityPlan({"manual": 20, "mdd": 4, "nts": 3, "ts": 3})
    a = forecast(inputs, default_parameters(), capacity, 40, seed=123, workers=1)
    b = forecast(inputs, default_parameters(), capacity, 40, seed=123, workers=3)
    c = forecast(inputs, default_parameters(), capacity, 40, seed=124, workers=1)
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    assert np.array_equal(a.outcomes.remaining, b.outcomes.remaining)
    assert json.dumps(a.to_dict()) != json.dumps(c.to_dict())


@SETTINGS
@given(small_programmes, capacities, st.floats(0.5, 10), st.integers(0, 1000))
def test_more_teams_never_later(programme, teams, extra, seed):
    areas, classes, regions, order_seed = programme
    inputs = inputs_from(areas, classes, regions, order_seed)
    base = CapacityPlan(teams)
    more = base.replace(
        additions=(TeamChange("manual", extra, date(2026, 1, 1)),),
        pipelines=(TrainingPipeline("mdd", 4, START),),
    )
    a = run(inputs, base, seed).outcomes
    b = run(inputs, more, seed).outcomes
    assert np.all(b.completion_day <= a.completion_day)
    assert np.all(b.region_day <= a.region_day)
    assert np.all(b.remaining <= a.remaining + 1e-6 * (1 + a.remaining))


@SETTINGS
@given(small_programmes, capacities, st.floats(1e3, 1e6), st.integers(0, 1000))
def test_more_new_contamination_never_earlier(programme, teams, m2_per_year, seed):
    areas, classes, regions, order_seed = programme
    inputs = inputs_from(areas, classes, regions, order_seed)
    capacity = CapacityPlan(teams)
    low = default_parameters().replace(new_contamination_m2_per_year=Lognormal(m2_per_year, 0.3))
    high = low.replace(new_contamination_m2_per_year=Lognormal(2 * m2_per_year, 0.3))
    a = run(inputs, capacity, seed, low).outcomes
    b = run(inputs, capacity, seed, high).outcomes
    assert np.all(b.completion_day >= a.completion_day)
    assert np.all(b.region_day >= a.region_day)
    assert np.all(b.remaining >= a.remaining - 1e-6 * (1 + a.remaining))


@SETTINGS
@given(small_programmes, capacities, st.integers(0, 1000))
def test_conservation_released_plus_remaining_is_stock_plus_new(programme, teams, seed):
    areas, classes, regions, order_seed = programme
    inputs = inputs_from(areas, classes, regions, order_seed)
    result = run(inputs, CapacityPlan(teams), seed)
    o = result.outcomes
    stock = inputs.stock_m2
    scale = 1e-6 * (1 + stock + o.arrived.max())
    # Revisions of the estimate (o.revised) are neither release nor new land.
    assert np.allclose(o.released.sum(axis=2) + o.remaining, stock + o.arrived + o.revised, atol=scale)
    # Nothing is released twice or before it exists, and release only grows.
    assert np.all(o.released >= -scale)
    assert np.all(o.remaining >= -scale)
    assert np.all(np.diff(o.released.sum(axis=2), axis=1) >= -scale)
    # Once a trial is complete, all the stock has been released: what is open is new finds.
    for t in range(o.completion_day.size):
        if np.isfinite(o.completion_day[t]):
            done = date.fromordinal(START.toordinal() + int(o.completion_day[t]))
            after = o.years >= done.year
            assert np.all(o.remaining[t, after] <= o.arrived[t, after] + scale)  # no stock left to revise
    # Percentiles are ordered.
    c = result.completion
    dates = [d for d in (c.p10, c.p50, c.p90) if d is not None]
    assert dates == sorted(dates)
