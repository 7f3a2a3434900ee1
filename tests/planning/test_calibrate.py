"""Calibration: no history leaves the priors alone; data pull them, more data pulls harder."""

from datetime import date

import numpy as np
import pytest

from demine.planning import (
    CapacityPlan,
    Fixed,
    ForecastInputs,
    History,
    Lognormal,
    calibrate,
    default_parameters,
    forecast,
)

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free


def test_empty_history_returns_priors_unchanged():
    priors = default_parameters()
    assert calibrate(History(), priors) == priors


def test_productivity_moves_towards_data_and_narrows():
    priors = default_parameters()
    rng = np.random.default_rng(0)
    prior = priors.productivity["manual"]
    few = calibrate(History(productivity={"manual": rng.lognormal(np.log(90), 0.4, 5)}), priors)
    many = calibrate(History(productivity={"manual": rng.lognormal(np.log(90), 0.4, 400)}), priors)
    true_mean = 90 * np.exp(0.4**2 / 2)
    f, m = few.productivity["manual"], many.productivity["manual"]
    assert abs(np.log(m.median / true_mean)) < abs(np.log(f.median / true_mean))
    assert abs(np.log(f.median / true_mean)) < abs(np.log(prior.median / true_mean))
    assert m.sigma <= f.sigma < prior.sigma
    assert m.sigma >= 0.1  # never more certain than the floor
    assert "calibrated on 400" in many.sources["productivity.manual"]
    # Other team types are untouched.
    assert many.productivity["mdd"] == priors.productivity["mdd"]


def test_fixed_prior_is_not_moved():
    priors = default_parameters().replace(
        productivity={**default_parameters().productivity, "ts": Fixed(1234.0)}
    )
    out = calibrate(History(productivity={"ts": [10.0, 20.0, 30.0]}), priors)
    assert out.productivity["ts"] == Fixed(1234.0)


def test_funnel_blends_with_weight_of_evidence():
    priors = default_parameters()
    rows = np.tile([[10.0, 10.0, 80.0]], (50, 1))  # every hazard: 80% cleared
    out = calibrate(History(release_by_class={0: rows}), priors)
    sha = out.funnel[0]
    k = priors.funnel[0].concentration
    expected_cleared = (k * priors.funnel[0].cleared + 50 * 0.8) / (k + 50)
    assert sha.cleared == pytest.approx(expected_cleared)
    assert sha.concentration == k + 50
    assert out.funnel[1] == priors.funnel[1]


def test_national_totals_shift_all_classes():
    priors = default_parameters()
    history = History(
        years=[2019, 2020, 2021],
        cancelled_m2=[60e6, 70e6, 65e6],
        reduced_m2=[10e6, 10e6, 12e6],
        cleared_m2=[20e6, 25e6, 23e6],
    )
    out = calibrate(history, priors)
    assert out.funnel[0].cancelled > priors.funnel[0].cancelled
    assert out.funnel[1].cancelled > priors.funnel[1].cancelled
    assert history.recent_cleared_m2_per_year(2) == pytest.approx(24e6)


def test_new_contamination_share_from_finds():
    priors = default_parameters()
    history = History(
        years=[2020, 2021, 2022, 2023], discovered_m2=[5e5, 4e5, 6e5, 5e5], stock_m2=[1e7, 1e7, 1e7, 1e7]
    )
    out = calibrate(history, priors)
    assert out.new_contamination_share_per_year.median == pytest.approx(0.05, rel=0.35)
    assert out.new_contamination_share_per_year.median > priors.new_contamination_share_per_year.median


def test_calibration_recovers_synthetic_truth():
    # A programme whose manual teams really do 120 m²/day: after calibration on a season of
    # reports, the forecast's P50 is close to the forecast with the truth known.
    start = date(2025, 1, 1)
    rng = np.random.default_rng(3)
    n = 300
    inputs = ForecastInputs(rng.lognormal(np.log(10_000), 1, n), np.zeros(n, int), np.zeros(n, int), start)
    capacity = CapacityPlan({"manual": 10, "nts": 2, "ts": 2})
    truth = default_parameters().replace(
        productivity={**default_parameters().productivity, "manual": Lognormal(120.0, 0.0)}
    )
    samples = rng.lognormal(np.log(120) - 0.3**2 / 2, 0.3, 300)  # mean 120 m²/team-day
    fitted = calibrate(History(productivity={"manual": samples}), default_parameters())
    known = forecast(inputs, truth, capacity, 300, seed=1)
    learnt = forecast(inputs, fitted, capacity, 300, seed=1)
    prior = forecast(inputs, default_parameters(), capacity, 300, seed=1)
    days = lambda r: (r.completion.p50 - start).days  # noqa: E731
    assert abs(days(learnt) - days(known)) / days(known) < 0.1
    assert abs(days(learnt) - days(known)) < abs(days(prior) - days(known))
