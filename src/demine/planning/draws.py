"""Random draws: the one place randomness enters a forecast.

Protocol (so that both engines, and a baseline and its scenario, see the very same numbers):

* ``SeedSequence(seed)`` spawns two children: one stream for trial-level values, one parent
  that spawns one child per trial for hazard-level values.
* Trial-level values are drawn for all trials at once, in a fixed order: productivity of each
  team type (``TEAM_TYPES`` order), the funnel of each hazard class, the clearance factor of each
  class, depletion, new contamination; then, per calendar year of the longest horizon
  (``YEARS``, whatever the forecast's own horizon, so a trial is the same trial at any
  horizon), the output level, walk and noise and the stock revisions
  (:class:`~demine.planning.parameters.Volatility`), then each year's new contamination
  around the trial's rate (``discovery_year_sigma``).
* Hazard-level values of trial ``t`` are float32 uniforms from trial ``t``'s own stream, in
  service order: ``u_share`` (2 × n: cancelled, then the cleared part of the rest) when
  ``hazard_share_spread > 0``, then ``u_effort`` (n) when ``hazard_effort_spread > 0``.

Nothing here depends on capacity, so comparing capacity scenarios uses common random numbers.
Per-trial streams make results independent of how trials are split into blocks or threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from demine.planning.parameters import (
    DEPLETION_MAX,
    DEPLETION_MIN,
    REVISION_LOG_MAX,
    REVISION_LOG_MIN,
    TEAM_TYPES,
    Parameters,
)

# Calendar years drawn per trial: the longest horizon (500 years) touches at most 502.
YEARS = 502


@dataclass(frozen=True, eq=False)
class TrialDraws:
    """Trial-level parameter values (one row per trial) and the seeds of hazard-level draws."""

    productivity: np.ndarray  # (trials, len(TEAM_TYPES)) m² per team-day
    funnel: np.ndarray  # (trials, classes, 3) cancelled, reduced, cleared shares
    class_factor: np.ndarray  # (trials, classes) clearance speed multiplier per class
    depletion: np.ndarray  # (trials,) extra effort per m² on the last land
    new_m2_per_year: np.ndarray  # (trials,) newly found contamination
    output_factor: np.ndarray  # (trials, YEARS) capacity multiplier in calendar year start + y
    stock_factor: np.ndarray  # (trials, YEARS + 1) stock revision factor Z during year y (Z[0] = 1)
    discovery_factor: np.ndarray  # (trials, YEARS) new contamination found in year y ÷ the trial's rate
    share_spread: float
    effort_spread: float
    hazard_seeds: tuple[np.random.SeedSequence, ...]

    @property
    def trials(self) -> int:
        return int(self.depletion.size)

    def hazard_uniforms(
        self, trial: int, n: int
    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """``(u_cancel, u_split, u_effort)`` for trial ``trial`` (``None`` when not used)."""
        u_cancel = u_split = u_effort = None
        rng = np.random.Generator(np.random.PCG64(self.hazard_seeds[trial]))
        if self.share_spread > 0:
            u_cancel = rng.random(n, dtype=np.float32)
            u_split = rng.random(n, dtype=np.float32)
        if self.effort_spread > 0:
            u_effort = rng.random(n, dtype=np.float32)
        return u_cancel, u_split, u_effort

    def fill_hazard_uniforms(
        self,
        trials: range,
        n: int,
        u_cancel: np.ndarray | None,
        u_split: np.ndarray | None,
        u_effort: np.ndarray | None,
    ) -> None:
        """Write :meth:`hazard_uniforms` of ``trials`` into rows of preallocated float32 arrays.

        Row ``k`` gets trial ``trials[k]`` in its first ``n`` columns (arrays may be padded).
        """
        for k, t in enumerate(trials):
            rng = np.random.Generator(np.random.PCG64(self.hazard_seeds[t]))
            if self.share_spread > 0:
                assert u_cancel is not None and u_split is not None
                rng.random(out=u_cancel[k, :n], dtype=np.float32)
                rng.random(out=u_split[k, :n], dtype=np.float32)
            if self.effort_spread > 0:
                assert u_effort is not None
                rng.random(out=u_effort[k, :n], dtype=np.float32)


def draw_trials(
    parameters: Parameters, trials: int, seed: int, stock_m2: float, first_year: float = 1.0
) -> TrialDraws:
    """Draw every trial-level value for ``trials`` trials from ``seed``.

    ``first_year``: the share of its first calendar year the forecast covers (a forecast from
    2 December has one month before its first year end, so one twelfth of a year's revision).
    """
    if trials < 1:
        raise ValueError(f"trials must be ≥ 1, got {trials}")
    root = np.random.SeedSequence(seed)
    trial_seq, hazard_seq = root.spawn(2)
    rng = np.random.Generator(np.random.PCG64(trial_seq))
    productivity = np.column_stack([parameters.productivity[t].sample(rng, trials) for t in TEAM_TYPES])
    funnel = np.stack([f.sample(rng, trials) for f in parameters.funnel], axis=1)
    class_factor = np.column_stack([d.sample(rng, trials) for d in parameters.clearance_class_factor])
    depletion = np.clip(parameters.depletion.sample(rng, trials), DEPLETION_MIN, DEPLETION_MAX)
    if parameters.new_contamination_m2_per_year is not None:
        new = parameters.new_contamination_m2_per_year.sample(rng, trials)
    else:
        new = parameters.new_contamination_share_per_year.sample(rng, trials) * stock_m2
    if np.any(productivity < 0) or np.any(class_factor <= 0) or np.any(new < 0):
        raise ValueError("productivity and new contamination must be ≥ 0, class factors > 0")
    output_factor, stock_factor = _year_factors(parameters, rng, trials, first_year)
    sigma = parameters.volatility.discovery_year_sigma
    found = rng.standard_normal((trials, YEARS))
    discovery_factor = (
        np.exp(np.clip(sigma * found - sigma**2 / 2, -27.6, 27.6)) if sigma > 0 else np.ones_like(found)
    )
    return TrialDraws(
        productivity=productivity,
        funnel=funnel,
        class_factor=class_factor,
        depletion=depletion,
        new_m2_per_year=np.maximum(new, 0.0),
        output_factor=output_factor,
        stock_factor=stock_factor,
        discovery_factor=discovery_factor,
        share_spread=parameters.hazard_share_spread,
        effort_spread=parameters.hazard_effort_spread,
        hazard_seeds=tuple(hazard_seq.spawn(trials)),
    )


def _year_factors(
    parameters: Parameters, rng: np.random.Generator, trials: int, first_year: float
) -> tuple[np.ndarray, np.ndarray]:
    """Output multipliers per year and the stock revision factor (always the same draws)."""
    v = parameters.volatility
    level = rng.standard_normal((trials, 1))
    walk = rng.standard_normal((trials, YEARS))
    noise = rng.standard_normal((trials, YEARS))
    event = rng.random((trials, YEARS))
    size = rng.standard_normal((trials, YEARS))
    if v.is_zero:
        return np.ones((trials, YEARS)), np.ones((trials, YEARS + 1))
    # The walk starts after the first year: year 0 differs from the measured output only by
    # the level and its own noise.
    walk[:, 0] = 0.0
    # A year's noise is around the output the programme sustains on average (mean one); the
    # level's uncertainty and the walk are symmetric in logs (median one).
    log_output = (
        v.level_sigma * level
        + v.walk_sigma * np.cumsum(walk, axis=1)
        + v.year_sigma * noise
        - v.year_sigma**2 / 2
    )
    rate = np.full(YEARS, v.revision_rate)
    rate[0] *= min(max(first_year, 0.0), 1.0)
    jump = np.where(
        event < rate,
        np.clip(v.revision_log_mean + v.revision_log_sigma * size, REVISION_LOG_MIN, REVISION_LOG_MAX),
        0.0,
    )
    jump += v.revision_drift
    jump[:, 0] -= v.revision_drift * (1.0 - min(max(first_year, 0.0), 1.0))
    if v.revision_years is not None:
        # Year y's revision comes at its end: it counts while the end is within the years.
        jump[:, max(math.floor(v.revision_years), 0) :] = 0.0
    log_stock = np.zeros((trials, YEARS + 1))
    np.cumsum(jump, axis=1, out=log_stock[:, 1:])
    np.clip(log_stock, REVISION_LOG_MIN, REVISION_LOG_MAX, out=log_stock)
    # exp() of a 500-year walk can overflow; a factor beyond 1e±12 means "never" or "at once".
    return np.exp(np.clip(log_output, -27.6, 27.6)), np.exp(np.clip(log_stock, -27.6, 27.6))
