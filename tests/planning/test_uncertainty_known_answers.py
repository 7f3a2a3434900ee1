"""Known answers for the uncertainty itself: the spread of every draw, and of the dates it makes.

The other known-answer tests pin medians; a forecast whose spreads were zero, halved or
replaced by fixed shares would pass them. Here each distribution the engine draws is checked
against its closed form (quantiles and moments), through the engine's own sampling
(``Lognormal.sample``, ``Funnel.sample``, :func:`draw_trials`) and through :func:`forecast` on
cases small enough to solve by hand:

* a lognormal ``median·exp(σZ)`` has quantiles ``median·exp(σ z_p)``, log mean ``log median``,
  log sd ``σ`` and mean ``median·exp(σ²/2)``;
* a Dirichlet with mean shares ``m`` and concentration ``κ`` has share means ``m_i``, variances
  ``m_i(1 − m_i)/(κ + 1)``, covariances ``−m_i m_j/(κ + 1)`` and Beta(κm_i, κ(1 − m_i)) marginals;
* one hazard of ``A`` m² and ``n`` teams of lognormal productivity ``r`` finish after
  ``A/(n·r·open)`` days, a lognormal too: P10/P50/P90 are ``A/(n·open·r_{0.9, 0.5, 0.1})``;
* the binding stage is the one that finishes last, so with two lognormal stages it is
  clearance in a share ``Φ((μ_X)/σ_X)`` of trials (``X`` the log ratio of their speeds);
* a register that has recorded hazards for ``y`` years keeps finding them for ``y`` more.

Tolerances are a few standard errors of the statistic at the sample size (fixed seeds), so the
tests are not flaky and a spread off by a factor of two is many standard errors away.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import pytest
from register_support import add_steady_teams
from scipy import stats
from sqlalchemy import insert

from demine.planning import (
    CapacityPlan,
    Fixed,
    Funnel,
    Lognormal,
    Volatility,
    default_parameters,
    deterministic_parameters,
    draw_trials,
    forecast,
    single_region,
)
from demine.planning.distributions import Normal
from demine.planning.prepared import binding_stages
from demine.planning.register_history import prepare_from_register
from demine.planning.results import TrialOutcomes
from demine.planning.timeline import DAYS_PER_YEAR
from demine.storage import schema

START = date(2026, 1, 1)
Z = NormalDist()
QUANTILES = (0.1, 0.5, 0.9)
SE = 5.0  # tolerance in standard errors: a false alarm about once in 3.5 million checks


def z(p: float) -> float:
    return Z.inv_cdf(p)


def log_quantile_se(sigma: float, p: float, n: int) -> float:
    """Standard error of the sample ``p`` quantile of ``n`` normals with sd ``sigma``."""
    return sigma * math.sqrt(p * (1 - p) / n) / Z.pdf(z(p))


def assert_lognormal(x: np.ndarray, median: float, sigma: float, what: str) -> None:
    """``x`` looks like ``median·exp(σZ)``: its quantiles, log mean and log sd, to 5 standard errors."""
    n = x.size
    logs = np.log(x)
    for p in QUANTILES:
        got = float(np.quantile(logs, p))
        want = math.log(median) + sigma * z(p)
        assert got == pytest.approx(want, abs=SE * log_quantile_se(sigma, p, n)), (what, p, math.exp(got))
    assert float(logs.mean()) == pytest.approx(math.log(median), abs=SE * sigma / math.sqrt(n)), what
    # The sample sd of n normals has standard error σ/√(2(n − 1)).
    assert float(logs.std(ddof=1)) == pytest.approx(sigma, abs=SE * sigma / math.sqrt(2 * (n - 1))), what


# --- the distributions, through their own sampling ------------------------------------------------


@pytest.mark.store_free
@pytest.mark.parametrize(("median", "sigma"), [(200.0, 0.5408656188293053), (0.01, 0.857), (5.0, 0.1)])
def test_lognormal_samples_have_the_closed_form_quantiles_and_moments(median, sigma):
    n = 200_000
    x = Lognormal(median, sigma).sample(np.random.default_rng(11), n)
    assert_lognormal(x, median, sigma, "Lognormal.sample")
    # Mean median·e^{σ²/2}; variance (e^{σ²} − 1)·e^{2μ + σ²}.
    mean = median * math.exp(sigma**2 / 2)
    var = (math.exp(sigma**2) - 1) * median**2 * math.exp(sigma**2)
    assert float(x.mean()) == pytest.approx(mean, abs=SE * math.sqrt(var / n))
    # The sample variance's standard error needs the fourth central moment: taken from the sample.
    m4 = float(np.mean((x - x.mean()) ** 4))
    assert float(x.var(ddof=1)) == pytest.approx(var, abs=SE * math.sqrt(max(m4 - var**2, 0.0) / n))


@pytest.mark.store_free
def test_lognormal_from_a_sourced_range_reproduces_the_range():
    # "25 m²/deminer-day, 10th–90th percentile read as 12.5–50": the parameters give that range
    # back, and samples fall below each end one time in ten.
    d = Lognormal.from_median_p90(25.0, 50.0)
    assert d.sigma == pytest.approx(math.log(2) / z(0.9))
    assert d.quantile(0.1) == pytest.approx(12.5) and d.quantile(0.9) == pytest.approx(50.0)
    x = d.sample(np.random.default_rng(3), 100_000)
    se = math.sqrt(0.09 / x.size)
    assert float(np.mean(x < 12.5)) == pytest.approx(0.1, abs=SE * se)
    assert float(np.mean(x > 50.0)) == pytest.approx(0.1, abs=SE * se)
    r = Lognormal.from_p10_p90(400.0, 1500.0)
    assert (r.quantile(0.1), r.quantile(0.9)) == pytest.approx((400.0, 1500.0))


@pytest.mark.store_free
def test_fixed_samples_are_the_value_and_use_no_random_numbers():
    rng = np.random.default_rng(1)
    assert np.array_equal(Fixed(3.5).sample(rng, 4), [3.5] * 4)
    # The draws protocol relies on it: a fixed value leaves the stream where it was.
    assert rng.standard_normal() == np.random.default_rng(1).standard_normal()


@pytest.mark.store_free
def test_normal_samples_have_their_mean_and_sd():
    n = 100_000
    x = Normal(-0.2, 0.35).sample(np.random.default_rng(5), n)
    assert float(x.mean()) == pytest.approx(-0.2, abs=SE * 0.35 / math.sqrt(n))
    assert float(x.std(ddof=1)) == pytest.approx(0.35, abs=SE * 0.35 / math.sqrt(2 * (n - 1)))
    for p in QUANTILES:
        assert float(np.quantile(x, p)) == pytest.approx(
            -0.2 + 0.35 * z(p), abs=SE * log_quantile_se(0.35, p, n)
        )


def assert_dirichlet(shares: np.ndarray, mean: tuple[float, float, float], kappa: float, what: str) -> None:
    """Rows of ``shares`` look like Dirichlet(κ·mean): moments, covariances, Beta marginals."""
    n = shares.shape[0]
    assert np.allclose(shares.sum(axis=1), 1.0), what
    m = np.asarray(mean)
    for i in range(3):
        x = shares[:, i]
        if m[i] == 0:
            assert np.all(x == 0), (what, "a zero share stays zero")
            continue
        var = m[i] * (1 - m[i]) / (kappa + 1)
        assert float(x.mean()) == pytest.approx(m[i], abs=SE * math.sqrt(var / n)), (what, i)
        m4 = float(np.mean((x - x.mean()) ** 4))
        assert float(x.var(ddof=1)) == pytest.approx(var, abs=SE * math.sqrt((m4 - var**2) / n)), (what, i)
        beta = stats.beta(kappa * m[i], kappa * (1 - m[i]))
        for p in QUANTILES:
            q = beta.ppf(p)
            se = math.sqrt(p * (1 - p) / n) / beta.pdf(q)
            assert float(np.quantile(x, p)) == pytest.approx(q, abs=SE * se), (what, i, p)
    # Covariance −m_i m_j/(κ + 1): checked as the correlation, whose standard error is about
    # (1 − ρ²)/√n.
    for i, j in ((0, 1), (0, 2), (1, 2)):
        if m[i] == 0 or m[j] == 0:
            continue
        rho = -math.sqrt(m[i] * m[j] / ((1 - m[i]) * (1 - m[j])))
        got = float(np.corrcoef(shares[:, i], shares[:, j])[0, 1])
        assert got == pytest.approx(rho, abs=SE * (1 - rho**2) / math.sqrt(n)), (what, i, j)


@pytest.mark.store_free
@pytest.mark.parametrize(
    ("mean", "kappa"),
    [((0.40, 0.22, 0.38), 30.0), ((0.05, 0.25, 0.70), 20.0), ((0.5, 0.0, 0.5), 8.0)],
)
def test_funnel_samples_are_the_dirichlet(mean, kappa):
    shares = Funnel(*mean, concentration=kappa).sample(np.random.default_rng(17), 100_000)
    assert_dirichlet(shares, mean, kappa, "Funnel.sample")


@pytest.mark.store_free
def test_funnel_without_concentration_is_fixed():
    shares = Funnel(0.4, 0.22, 0.38).sample(np.random.default_rng(0), 10)
    assert np.array_equal(shares, np.tile([0.4, 0.22, 0.38], (10, 1)))


@pytest.mark.store_free
def test_fixed_funnel_of_whole_numbers_runs_like_floats():
    # Funnel(0, 0, 1) once came back as integers and the engine's in-place division failed.
    assert Funnel(0, 0, 1).sample(np.random.default_rng(0), 2).dtype == np.float64
    capacity = CapacityPlan({"manual": 1, "nts": 1, "ts": 1})
    days = [
        forecast(
            single_region([10_000.0], START),
            deterministic_parameters({"manual": 100.0, "nts": 1e9, "ts": 1e9}, funnel=shares),
            capacity,
            trials=2,
            seed=0,
            horizon_years=2,
        ).outcomes.completion_day
        for shares in ((0, 0, 1), (0.0, 0.0, 1.0))
    ]
    assert np.array_equal(days[0], days[1])
    assert days[0][0] == math.ceil(10_000 / (100 * 220 / DAYS_PER_YEAR)) - 1


# --- the same distributions, as the engine draws them from the default priors --------------------

# The sourced ranges (docs/forecast-sources.md), written out here rather than read back from
# the parameters, so that a prior whose spread changed is caught: (median, 90th percentile).
SOURCED_PRODUCTIVITY = {
    "manual": (25.0 * 8, 50.0 * 8),  # HALO Trust: 25 m²/deminer-day, 10–50, × 8 deminers
    "mdd": (800.0, 1500.0),  # SFOR Informer 113
    "mechanical": (2500.0, 5000.0),
    "nts": (50_000.0, 150_000.0),
    "ts": (3000.0, 6000.0),
}


@pytest.fixture(scope="module")
def default_draws():
    # 4,000 trials: the year factors are (trials × 502) arrays, so this is the size that stays small.
    stock = 10e6
    return draw_trials(default_parameters(), 4000, 2024, stock), stock


@pytest.mark.store_free
def test_engine_draws_productivity_with_the_sourced_spread(default_draws):
    draws, _ = default_draws
    from demine.planning import TEAM_TYPES

    for k, team_type in enumerate(TEAM_TYPES):
        median, p90 = SOURCED_PRODUCTIVITY[team_type]
        sigma = math.log(p90 / median) / z(0.9)
        assert_lognormal(draws.productivity[:, k], median, sigma, f"productivity.{team_type}")


@pytest.mark.store_free
def test_engine_draws_new_contamination_and_depletion_with_the_sourced_spread(default_draws):
    draws, stock = default_draws
    # New contamination: 1 %/yr of the stock, 90th percentile 3 %.
    assert_lognormal(draws.new_m2_per_year / stock, 0.01, math.log(3) / z(0.9), "new contamination")
    # Depletion: median 0.5, 90th percentile 1.5, clipped at 3 (beyond the 90th percentile, so
    # the 10th–90th percentiles are the lognormal's own).
    sigma = math.log(3) / z(0.9)
    logs = np.log(draws.depletion)
    for p in QUANTILES:
        want = math.log(0.5) + sigma * z(p)
        se = log_quantile_se(sigma, p, logs.size)
        assert float(np.quantile(logs, p)) == pytest.approx(want, abs=SE * se), p
    assert draws.depletion.max() <= 3.0


@pytest.mark.store_free
def test_engine_draws_the_funnel_as_the_default_dirichlet(default_draws):
    draws, _ = default_draws
    assert_dirichlet(draws.funnel[:, 0], (0.40, 0.22, 0.38), 30.0, "SHA funnel")
    assert_dirichlet(draws.funnel[:, 1], (0.05, 0.25, 0.70), 20.0, "CHA funnel")


@pytest.mark.store_free
def test_engine_draws_year_factors_with_their_spreads():
    v = Volatility(
        level_sigma=0.3,
        walk_sigma=0.2,
        year_sigma=0.3,
        revision_rate=0.3,
        revision_log_sigma=0.25,
        discovery_year_sigma=0.5,
    )
    n = 4000
    draws = draw_trials(default_parameters().replace(volatility=v), n, 99, 1e6)
    # log F_y = level + Σ_{1≤i≤y} walk_i + noise_y − σ_year²/2: variance σ_L² + y·σ_W² + σ_Y².
    for y in (0, 1, 10):
        logs = np.log(draws.output_factor[:, y])
        sd = math.sqrt(0.3**2 + y * 0.2**2 + 0.3**2)
        assert float(logs.mean()) == pytest.approx(-(0.3**2) / 2, abs=SE * sd / math.sqrt(n)), y
        assert float(logs.std(ddof=1)) == pytest.approx(sd, abs=SE * sd / math.sqrt(2 * (n - 1))), y
    # Each year's discoveries: a mean-one lognormal, log sd 0.5.
    found = draws.discovery_factor[:, :3].ravel()
    assert float(np.log(found).mean()) == pytest.approx(-0.125, abs=SE * 0.5 / math.sqrt(found.size))
    assert float(np.log(found).std(ddof=1)) == pytest.approx(0.5, abs=SE * 0.5 / math.sqrt(2 * found.size))
    assert float(found.mean()) == pytest.approx(1.0, abs=SE * math.sqrt(math.expm1(0.25) / found.size))
    # Stock revisions: at the first year end, a revision with probability 0.3 of log sd 0.25.
    jump = np.log(draws.stock_factor[:, 1])
    revised = jump != 0
    assert float(revised.mean()) == pytest.approx(0.3, abs=SE * math.sqrt(0.21 / n))
    k = int(revised.sum())
    assert float(jump[revised].std(ddof=1)) == pytest.approx(0.25, abs=SE * 0.25 / math.sqrt(2 * (k - 1)))


# --- one hazard, one kind of team: the completion date is lognormal ------------------------------


def one_hazard_parameters(**changes):
    """The default priors with only the lognormal productivity left uncertain.

    All land is cleared (no survey release), no depletion, no new contamination, no per-hazard
    noise and no year-to-year movement unless ``changes`` put some back.
    """
    return default_parameters().replace(
        funnel=(Funnel(0.0, 0.0, 1.0),) * 2,
        depletion=Fixed(0.0),
        hazard_share_spread=0.0,
        hazard_effort_spread=0.0,
        new_contamination_m2_per_year=Fixed(0.0),
        volatility=Volatility(),
        **changes,
    )


# Survey teams so many that NTS and TS finish on the first days whatever their draw.
SURVEY = {"nts": 1000, "ts": 1000}
# Trials per forecast, and a horizon (years) that the cases below finish well within: each
# forecast takes a second or two.
TRIALS = 2000
HORIZON = 10.0


def completion_quantiles(result, probs=QUANTILES) -> list[float]:
    days = result.outcomes.completion_day
    # A few trials in the far tail may run past the short horizon (inf): fine for P10–P90.
    assert result.completion.not_within_horizon_share < 0.01
    # Day d is the first whose cumulative capacity (d + 1 days' worth) covers the work.
    return [float(np.quantile(days + 1, p, method="inverted_cdf")) for p in probs]


@pytest.mark.store_free
@pytest.mark.parametrize("level", [False, True], ids=["productivity", "productivity-and-output-level"])
def test_one_hazard_one_team_lognormal_completion(level):
    # One manual team (median 200 m²/team-day, 90th percentile 400) working the default 220
    # days a year on 44,000 m² (a year at the median): A/(r·220/365.25) days, a lognormal with
    # the productivity's sigma. With the pooled uncertainty of the programme's output level
    # (exp(σ_L·Z), the same in every year) on top, still lognormal, with σ² = σ_r² + σ_L².
    area, trials = 44_000.0, TRIALS
    median_r, sigma_r = 200.0, math.log(2) / z(0.9)
    sigma_level = default_parameters().volatility.level_sigma
    params = one_hazard_parameters()
    sigma = sigma_r
    if level:
        params = params.replace(volatility=Volatility(level_sigma=sigma_level))
        sigma = math.hypot(sigma_r, sigma_level)
    capacity = CapacityPlan({"manual": 1, **SURVEY})
    result = forecast(
        single_region([area], START), params, capacity, trials=trials, seed=5, horizon_years=HORIZON
    )
    open_share = 220.0 / DAYS_PER_YEAR
    median_days = area / (median_r * open_share)
    got = completion_quantiles(result)
    for p, value in zip(QUANTILES, got, strict=True):
        # Time is area over rate: its p quantile is the rate's (1 − p) quantile.
        want = median_days * math.exp(sigma * z(p))
        tol = SE * log_quantile_se(sigma, p, trials) + 1 / want  # + one day of rounding
        assert math.log(value) == pytest.approx(math.log(want), abs=tol), (p, value, want)
    # The dates reported are those days.
    p10, p50, p90 = (START + timedelta(days=d - 1) for d in got)
    assert (result.completion.p10, result.completion.p50, result.completion.p90) == (p10, p50, p90)


@pytest.mark.store_free
def test_one_hazard_cleared_share_from_the_dirichlet_funnel():
    # Fixed productivity; the funnel's cleared share k ~ Beta(κ·0.38, κ·0.62) (κ = 30, the SHA
    # prior) decides the clearance work, A·k: completion quantiles are A/rate × Beta quantiles.
    area, rate, trials = 500_000.0, 500.0, TRIALS
    params = one_hazard_parameters(productivity={**default_parameters().productivity, "manual": Fixed(rate)})
    params = params.replace(funnel=(Funnel(0.40, 0.22, 0.38, concentration=30.0),) * 2)
    capacity = CapacityPlan({"manual": 1, **SURVEY})
    result = forecast(
        single_region([area], START), params, capacity, trials=trials, seed=8, horizon_years=HORIZON
    )
    open_share = 220.0 / DAYS_PER_YEAR
    beta = stats.beta(30 * 0.38, 30 * 0.62)
    for p, value in zip(QUANTILES, completion_quantiles(result), strict=True):
        q = beta.ppf(p)
        want = area * q / (rate * open_share)
        se = math.sqrt(p * (1 - p) / trials) / beta.pdf(q) * area / (rate * open_share)
        assert value == pytest.approx(want, abs=SE * se + 1), p
    # The released shares are each trial's funnel draw: their mean and variance are the Dirichlet's.
    released = result.outcomes.released[:, -1, :] / area
    assert_dirichlet(released, (0.40, 0.22, 0.38), 30.0, "released by method")


@pytest.mark.store_free
@pytest.mark.parametrize(("which", "mean"), [("effort", 1.0), ("share", 0.6)])
def test_one_hazard_per_hazard_spread_is_uniform(which, mean):
    # Fixed productivity and shares; a single hazard's effort (or its cancelled share, 0.4 ±
    # 0.5·0.4) varies uniformly by ±50 % of its room around the trial's value: the work is
    # uniform between A·mean·(1 ∓ s) and its quantiles are linear in p.
    area, rate, trials, spread = 500_000.0, 500.0, TRIALS, 0.5
    funnel = (0.0, 0.0, 1.0) if which == "effort" else (0.4, 0.0, 0.6)
    params = deterministic_parameters({"manual": rate, "nts": 1e9, "ts": 1e9}, funnel=funnel)
    params = params.replace(**{f"hazard_{which}_spread": spread})
    result = forecast(
        single_region([area], START),
        params,
        CapacityPlan({"manual": 1, "nts": 1, "ts": 1}),
        trials=trials,
        seed=2,
        horizon_years=HORIZON,
    )
    days = area * mean / (rate * 220.0 / DAYS_PER_YEAR)
    half = days * (spread if which == "effort" else 0.5 * 0.4 / 0.6)
    for p, value in zip(QUANTILES, completion_quantiles(result), strict=True):
        want = days - half + 2 * half * p
        se = 2 * half * math.sqrt(p * (1 - p) / trials)
        assert value == pytest.approx(want, abs=SE * se + 1), p


# --- the binding stage ---------------------------------------------------------------------------


def outcomes_with_stage_days(rows: list[list[float]]) -> TrialOutcomes:
    out = TrialOutcomes.empty(len(rows), 1, np.array([2026]))
    out.stage_completion_day[:] = np.array(rows, dtype=float)
    return out


@pytest.mark.store_free
def test_binding_stage_is_the_one_that_finishes_last():
    # Per trial (NTS, TS, clearance) completion days; the binding stage is the latest, and a
    # stage that never finishes (inf) binds.
    outcomes = outcomes_with_stage_days(
        [
            [10, 20, 30],  # clearance
            [50, 5, 6],  # NTS
            [1, 2, math.inf],  # clearance
            [3, 400, 100],  # TS
            [0, 0, 7],  # clearance
        ]
    )
    b = binding_stages(outcomes)
    assert b["shares"] == pytest.approx({"nts": 0.2, "ts": 0.2, "clearance": 0.6})
    assert b["binding"] == "clearance"
    # Medians over the five trials, in years (clearance's is 30 days).
    assert b["stage_p50_years"]["nts"] == pytest.approx(3 / DAYS_PER_YEAR)
    assert b["stage_p50_years"]["ts"] == pytest.approx(5 / DAYS_PER_YEAR)
    assert b["stage_p50_years"]["clearance"] == pytest.approx(30 / DAYS_PER_YEAR)


@pytest.mark.store_free
def test_binding_stage_with_no_survey_capacity_is_survey():
    # Deterministic: clearance takes 100 days; TS has no team at all and never finishes.
    params = deterministic_parameters({"manual": 100.0, "nts": 1e9}, funnel=(0.0, 0.5, 0.5))
    capacity = CapacityPlan({"manual": 1, "nts": 1}, seasons={})
    result = forecast(single_region([36_525.0], START), params, capacity, trials=3, seed=0, horizon_years=5)
    b = binding_stages(result.outcomes)
    assert b["binding"] == "ts" and b["shares"]["ts"] == 1.0
    assert b["stage_p50_years"]["ts"] is None
    assert b["stage_p50_years"]["clearance"] == pytest.approx(
        (math.ceil(36_525.0 * 0.5 / (100.0 * 220 / DAYS_PER_YEAR)) - 1) / DAYS_PER_YEAR
    )


@pytest.mark.store_free
def test_binding_stage_share_between_two_lognormal_stages():
    # One hazard, all land through TS and then cleared: TS work A with one TS team (median 3,000
    # m²/team-day), clearance work A with ten manual teams (10 × 200 = 2,000 m²/day): clearance
    # is slower at the medians, but both productivities are lognormal (σ = ln 2 / z₀.₉ each).
    # Clearance binds when 10·r_cl < r_ts, i.e. when X = log r_ts − log(10·r_cl) > 0, where
    # X ~ N(log 1.5, 2σ²): in Φ(log 1.5 / (σ√2)) ≈ 70 % of trials.
    area, trials = 500_000.0, TRIALS
    params = one_hazard_parameters()
    capacity = CapacityPlan({"manual": 10, "ts": 1, "nts": 1000})
    result = forecast(
        single_region([area], START), params, capacity, trials=trials, seed=4, horizon_years=HORIZON
    )
    b = binding_stages(result.outcomes)
    sigma = math.log(2) / z(0.9)
    share = Z.cdf(math.log(1.5) / (sigma * math.sqrt(2)))
    assert b["shares"]["clearance"] == pytest.approx(share, abs=SE * math.sqrt(share * (1 - share) / trials))
    assert b["shares"]["ts"] == pytest.approx(1 - share, abs=SE * math.sqrt(share * (1 - share) / trials))
    assert b["shares"]["nts"] == 0.0
    assert b["binding"] == "clearance"
    # Each stage's median completion: A over its median capacity.
    open_share = 220.0 / DAYS_PER_YEAR
    for stage, median_rate in (("ts", 3000.0), ("clearance", 2000.0)):
        want = area / (median_rate * open_share) / DAYS_PER_YEAR
        tol = SE * log_quantile_se(sigma, 0.5, trials) * want + 1 / DAYS_PER_YEAR
        assert b["stage_p50_years"][stage] == pytest.approx(want, abs=tol), stage


# --- the register's discovery horizon -------------------------------------------------------------

FIRST_REGISTERED = date(2020, 12, 1)


def _build_discovering_register(engine) -> None:
    """A register recording since 1 December 2020 that clears 8 km² and finds 3 km² every year.

    Ten manual teams, accredited throughout, report 4,000 m² on each of 200 days a year (8 km²
    a year). Twenty hazards were registered at the start (the baseline); one more hazard of
    3 km² is registered on 1 March of each year 2021–2025, and each year 8 km² is cleared
    (spread over the baseline hazards, none of them released in full), leaving 50 km² on
    1 January 2026.
    """
    s = schema
    years = (2021, 2022, 2023, 2024, 2025)
    with engine.begin() as conn:
        org = add_steady_teams(conn, "Finding demining", 4000.0)

        def hazard(code: str, area: float, registered: date, remaining: float) -> int:
            hid = conn.execute(
                insert(s.hazard).values(
                    code=code,
                    hazard_type="CHA",
                    status="open",
                    reported_on=registered,
                    area_m2=area,
                    remaining_area_m2=remaining,
                    organisation_id=org,
                )
            ).inserted_primary_key[0]
            conn.execute(
                insert(s.hazard_area_event).values(
                    hazard_id=hid,
                    occurred_on=registered,
                    event="registered",
                    change_m2=area,
                    remaining_m2=area,
                )
            )
            return hid

        # The baseline: 50 km² left after five years of 8 km² cleared, less the 15 km² found since.
        n_base = 20
        cleared_each = 8e6 / n_base
        left_each = (50e6 - 5 * 3e6) / n_base
        first = left_each + len(years) * cleared_each
        for h in range(n_base):
            hid = hazard(f"HA-{h:03d}", first, FIRST_REGISTERED, left_each)
            for k, year in enumerate(years):
                pid = conn.execute(
                    insert(s.release_product).values(
                        hazard_id=hid,
                        method="cleared",
                        released_on=date(year, 7, 1),
                        area_m2=cleared_each,
                        released_area_m2=cleared_each,
                    )
                ).inserted_primary_key[0]
                conn.execute(
                    insert(s.hazard_area_event).values(
                        hazard_id=hid,
                        occurred_on=date(year, 7, 1),
                        event="cleared",
                        change_m2=-cleared_each,
                        remaining_m2=first - (k + 1) * cleared_each,
                        release_product_id=pid,
                    )
                )
        for year in years:
            hazard(f"HA-N{year}", 3e6, date(year, 3, 1), 3e6)


def test_register_discovery_horizon_is_as_long_as_the_register_has_recorded(empty_db):
    _build_discovering_register(empty_db)
    with empty_db.connect() as conn:
        prepared = prepare_from_register(conn, START)
    assert prepared.inputs.stock_m2 == pytest.approx(50e6)
    # Recording since 1 December 2020: 1,857 days before the start, 5.1 years.
    horizon = round((START - FIRST_REGISTERED).days / DAYS_PER_YEAR, 1)
    assert horizon == 5.1
    assert prepared.parameters.new_contamination_years == pytest.approx(horizon)
    share = prepared.parameters.new_contamination_share_per_year
    assert share.median == pytest.approx(3e6 / 50e6, rel=0.1)  # 3 km² a year of 50
    assert any(f"for {horizon:g} more years" in n for n in prepared.notes)

    result = prepared.forecast(1000, 0, horizon_years=20)
    o = result.outcomes
    # New contamination arrives until 5.1 years after 1 January 2026, i.e. into February 2031,
    # then never again: in every trial, the arrived area grows in 2031 and is flat after it.
    arrived = {int(y): o.arrived[:, i] for i, y in enumerate(o.years)}
    assert np.all(arrived[2031] > arrived[2030])
    for y in range(2032, 2040):
        assert np.array_equal(arrived[y], arrived[2031]), y
    # 5.1 years at a net 8 − 3 = 5 km² a year, then the other 24.5 km² at 8: 8.2 years.
    # The pooled year-to-year volatility makes a long upper tail (about one trial in ten runs
    # past these 20 years), so the check is on P10 and P50; with discoveries going on five
    # times as long (25.5 years at a net 5 km²) the answer would be ten years.
    days = o.completion_day
    assert result.completion.not_within_horizon_share < 0.2
    p10, p50 = (float(np.quantile(days, q, method="inverted_cdf")) / DAYS_PER_YEAR for q in (0.1, 0.5))
    answer = horizon + (50 - 5 * horizon) / 8
    assert p10 <= answer, (p10, p50, answer)
    assert p50 == pytest.approx(answer, rel=0.10), (p10, p50, answer)


def test_a_prior_rate_of_new_contamination_keeps_the_prior_horizon(empty_db):
    """Progress reports calibrate productivity, but with no full year of registrations the rate
    of new contamination is the prior's: it must keep the prior's horizon (the whole forecast),
    not be cut off at the register's age as a measured rate is."""
    s = schema
    with empty_db.begin() as conn:
        org = conn.execute(
            insert(s.organisation).values(code="ORG", name="New programme", organisation_type="ngo")
        ).inserted_primary_key[0]
        team = conn.execute(
            insert(s.team).values(code="M0", name="Manual 0", organisation_id=org, team_type="manual")
        ).inserted_primary_key[0]
        conn.execute(
            insert(s.accreditation).values(
                organisation_id=org,
                team_id=team,
                activity_type="clearance",
                issued_on=date(2025, 1, 1),
                expires_on=date(2030, 1, 1),
            )
        )
        days = [date(2025, 9, 1) + timedelta(days=i) for i in range(60)]
        conn.execute(
            insert(s.progress_report), [{"team_id": team, "report_date": d, "area_m2": 500.0} for d in days]
        )
        registered = date(2025, 8, 1)
        hid = conn.execute(
            insert(s.hazard).values(
                code="HA-1",
                hazard_type="CHA",
                status="open",
                reported_on=registered,
                area_m2=2e5,
                remaining_area_m2=2e5,
                organisation_id=org,
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(s.hazard_area_event).values(
                hazard_id=hid, occurred_on=registered, event="registered", change_m2=2e5, remaining_m2=2e5
            )
        )
    with empty_db.connect() as conn:
        prepared = prepare_from_register(conn, START)
    assert prepared.parameters.sources != default_parameters().sources  # something was calibrated
    assert prepared.parameters.new_contamination_years is None  # the prior's: the whole horizon
    assert not any("registrations in  →" in n for n in prepared.notes)
