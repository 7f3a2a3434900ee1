"""Calibration: blend a programme's own history with the sourced priors.

:class:`History` is plain arrays and dicts so the database layer (or a programme summary file)
can fill it without knowing the model. :func:`calibrate` returns new :class:`Parameters`:

* **Productivity** (per team type, from daily progress report samples of m² per team-day). The
  forecast needs the programme's *average* output per team-day, so the statistic is the log of
  the sample mean; its sampling variance is ≈ CV²/n. Prior and data combine as two normal
  estimates of the log-mean (precision-weighted, the conjugate normal update). ``n`` is capped at
  ``max_samples`` (100) because daily reports of one team are strongly correlated, and the posterior
  sigma never falls below ``floor_sigma``: the land still to clear differs from the land cleared.
* **Funnel** (per hazard class, from released hazards' cancelled/reduced/cleared m²). Each
  released hazard is one pseudo-count added to the Dirichlet prior (concentration κ): posterior
  mean = (κ·prior + n·observed)/(κ + n), concentration κ + n (``n`` capped at ``max_hazards``).
  Without per-class data, national annual totals shift every class's mean by the observed/prior
  ratio, with ``weight_per_year`` (50) pseudo-counts per year of data: across national series a
  programme's yearly shares differ from its own mean less than programmes differ from each other
  (pooled sds about 0.18 and 0.24 for the cancelled share), so one year of its own figures is
  worth about twice a prior of 20–30 pseudo-counts.
* **New contamination** (area newly recorded per year, and the stock then): each year's share of
  stock found is one observation of the log share; conjugate normal update as for productivity.
  The model's rate is a share of the *forecast's* initial stock (a constant m² per year), so
  when the caller passes that stock (``stock_m2``) each year's find is divided by it instead of
  by that year's stock: a programme finding 4 km² a year while its stock halves keeps finding
  4 km² a year, not a growing share.

With an empty :class:`History`, the priors come back unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from demine.planning.distributions import Distribution, Fixed, Funnel, Lognormal
from demine.planning.parameters import Parameters

# Spread of one observation when there are too few to measure it (log scale): daily outputs of
# one team vary by about ±50% (HALO Trust: 10–50 m²/deminer-day "depending on the terrain").
DEFAULT_LOG_SPREAD = 0.5
# A year without new contamination counts as finding this share of the stock.
MIN_FOUND_SHARE = 0.001


@dataclass
class History:
    """What the programme has recorded, as plain arrays (all optional; empty means unknown).

    ``years`` labels the annual series ``cancelled_m2``, ``reduced_m2``, ``cleared_m2`` (area
    released per year by method), ``discovered_m2`` (area newly recorded as hazardous that year)
    and ``stock_m2`` (area open on 1 January). ``productivity`` maps a team type to samples of m²
    per team-day (one per daily progress report). ``release_by_class`` maps a hazard class code to
    an ``(n, 3)`` array: one row per fully released hazard, its cancelled, reduced and cleared m².
    """

    years: list[int] | np.ndarray = field(default_factory=list)
    cancelled_m2: list[float] | np.ndarray = field(default_factory=list)
    reduced_m2: list[float] | np.ndarray = field(default_factory=list)
    cleared_m2: list[float] | np.ndarray = field(default_factory=list)
    discovered_m2: list[float] | np.ndarray = field(default_factory=list)
    stock_m2: list[float] | np.ndarray = field(default_factory=list)
    productivity: dict[str, np.ndarray | list[float]] = field(default_factory=dict)
    release_by_class: dict[int, np.ndarray | list[list[float]]] = field(default_factory=dict)

    def recent_cleared_m2_per_year(self, years: int = 3) -> float | None:
        """Mean cleared m² over the last ``years`` years recorded (``None`` if none)."""
        cleared = np.asarray(self.cleared_m2, dtype=float)
        if cleared.size == 0:
            return None
        order = np.argsort(np.asarray(self.years)) if len(self.years) == cleared.size else None
        recent = cleared[order][-years:] if order is not None else cleared[-years:]
        return float(recent.mean())


def calibrate(
    history: History,
    priors: Parameters,
    *,
    max_samples: int = 100,
    max_hazards: int = 500,
    weight_per_year: float = 50.0,
    floor_sigma: float = 0.1,
    stock_m2: float | None = None,
) -> Parameters:
    """Parameters that blend ``history`` into ``priors`` (unchanged where there is no data).

    ``stock_m2``: the stock the forecast starts from; discoveries are then read as m² per year
    and expressed as a share of it (see the module docstring).
    """
    sources = dict(priors.sources)
    productivity: dict[str, Distribution] = dict(priors.productivity)
    for team_type, samples in history.productivity.items():
        if team_type not in productivity:
            raise ValueError(f"productivity samples for unknown team type {team_type!r}")
        x = np.asarray(samples, dtype=float)
        x = x[np.isfinite(x) & (x > 0)]
        if x.size == 0:
            continue
        productivity[team_type] = _blend_log_mean(productivity[team_type], x, max_samples, floor_sigma)
        sources[f"productivity.{team_type}"] = (
            f"calibrated on {x.size} daily reports, prior: "
            f"{priors.sources.get(f'productivity.{team_type}', 'default')}"
        )

    funnel = list(priors.funnel)
    for c, rows in history.release_by_class.items():
        if not 0 <= c < len(funnel):
            raise ValueError(f"release_by_class has unknown hazard class {c}")
        arr = np.asarray(rows, dtype=float).reshape(-1, 3)
        arr = arr[np.all(np.isfinite(arr) & (arr >= 0), axis=1) & (arr.sum(axis=1) > 0)]
        if arr.shape[0] == 0:
            continue
        shares = arr.sum(axis=0) / arr.sum()
        funnel[c] = _blend_funnel(funnel[c], shares, min(arr.shape[0], max_hazards))
        sources[f"funnel.{priors.class_names[c]}"] = f"calibrated on {arr.shape[0]} released hazards"
    if not history.release_by_class:
        totals = _annual_totals(history)
        if totals is not None:
            shares, n_years = totals
            prior_mean = np.mean([f.mean for f in funnel], axis=0)
            for c, f in enumerate(funnel):
                target = np.asarray(f.mean) * np.divide(
                    shares, prior_mean, out=np.ones(3), where=prior_mean > 0
                )
                target = target / target.sum() if target.sum() > 0 else np.asarray(f.mean)
                funnel[c] = _blend_funnel(f, target, n_years * weight_per_year)
            sources["funnel"] = f"shifted by {n_years} years of national release totals"

    new_share = priors.new_contamination_share_per_year
    new_abs = priors.new_contamination_m2_per_year
    found = np.asarray(history.discovered_m2, dtype=float)
    stock = np.asarray(history.stock_m2, dtype=float)
    if stock_m2 is not None and stock_m2 > 0:
        stock = np.full(found.size, float(stock_m2))
    if found.size:
        if stock.size == found.size and np.all(stock > 0):
            share = found / stock
            # A year that found nothing says the rate is low: it counts at a floor (logs need
            # a positive share), not as a gap.
            share = np.maximum(share[np.isfinite(share) & (share >= 0)], MIN_FOUND_SHARE)
            if share.size:
                new_share = _blend_log_obs(new_share, np.log(share), floor_sigma)
                new_abs = None
                sources["new_contamination"] = f"calibrated on {share.size} years of finds"
        else:
            rate = found[np.isfinite(found) & (found > 0)]
            if rate.size:
                prior = new_abs if new_abs is not None else Lognormal(float(rate.mean()), 1.0)
                new_abs = _blend_log_obs(prior, np.log(rate), floor_sigma)
                sources["new_contamination"] = f"calibrated on {rate.size} years of finds (m²)"

    return priors.replace(
        productivity=productivity,
        funnel=tuple(funnel),
        new_contamination_share_per_year=new_share,
        new_contamination_m2_per_year=new_abs,
        sources=sources,
    )


def _blend_log_mean(prior: Distribution, x: np.ndarray, max_samples: int, floor_sigma: float) -> Distribution:
    """Normal update of the log of the mean output per team-day."""
    if isinstance(prior, Fixed):
        return prior  # a fixed prior means "known": data do not move it
    n = min(x.size, max_samples)
    mean = float(x.mean())
    cv = float(x.std(ddof=1) / mean) if x.size >= 2 and mean > 0 else 0.0
    obs_var = (cv if cv > 0 else DEFAULT_LOG_SPREAD) ** 2 / n
    return _normal_update(prior, math.log(mean), obs_var, floor_sigma)


def _blend_log_obs(prior: Distribution, logs: np.ndarray, floor_sigma: float) -> Distribution:
    """Normal update of a log-median from several log observations (one per year)."""
    if isinstance(prior, Fixed):
        return prior
    spread = float(logs.std(ddof=1)) if logs.size >= 2 else DEFAULT_LOG_SPREAD
    spread = max(spread, floor_sigma)
    return _normal_update(prior, float(logs.mean()), spread**2 / logs.size, floor_sigma)


def _normal_update(prior: Lognormal, obs_log: float, obs_var: float, floor_sigma: float) -> Lognormal:
    prior_var = prior.sigma**2
    if prior_var == 0:
        return prior
    precision = 1 / prior_var + 1 / obs_var
    mu = (math.log(prior.median) / prior_var + obs_log / obs_var) / precision
    return Lognormal(math.exp(mu), max(math.sqrt(1 / precision), floor_sigma))


def _blend_funnel(prior: Funnel, observed: np.ndarray, n: float) -> Funnel:
    if prior.concentration is None:
        return prior
    kappa = prior.concentration
    mean = (kappa * np.asarray(prior.mean) + n * observed) / (kappa + n)
    mean = mean / mean.sum()
    return Funnel(float(mean[0]), float(mean[1]), float(mean[2]), kappa + n)


def _annual_totals(history: History) -> tuple[np.ndarray, int] | None:
    cols = [np.asarray(v, dtype=float) for v in (history.cancelled_m2, history.reduced_m2)]
    cols.append(np.asarray(history.cleared_m2, dtype=float))
    n = min(c.size for c in cols)
    if n == 0:
        return None
    totals = np.array([np.nansum(c[:n]) for c in cols])
    if totals.sum() <= 0:
        return None
    return totals / totals.sum(), n


def discovery_spread(found: list[float] | np.ndarray) -> float:
    """Log sd of a year's new contamination around the rate.

    Assumption: ±50 % (``DEFAULT_LOG_SPREAD``, 0.5) with no record, moved by the years on
    record (an inverse-gamma update worth four years; a year that found nothing counts at the
    floor share).
    """
    x = np.asarray(found, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2 or x.max() <= 0:
        return DEFAULT_LOG_SPREAD
    logs = np.log(np.maximum(x, x.max() * MIN_FOUND_SHARE))
    ss = float(np.sum((logs - logs.mean()) ** 2))
    return float(math.sqrt((4 * DEFAULT_LOG_SPREAD**2 + ss) / (4 + x.size - 1)))
