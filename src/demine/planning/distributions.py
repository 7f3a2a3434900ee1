"""Probability distributions for forecast parameters, drawn once per Monte Carlo trial.

Four shapes are needed: a fixed value (for known quantities and tests), a lognormal (for
productivities and rates, which are positive and quoted as ranges spanning several-fold), a
normal (for depletion fitted on a trend, which may be negative), and a Dirichlet over the land
release funnel (cancelled, reduced, cleared shares that sum to one).
Each has ``sample(rng, n)`` and a JSON-ready ``to_dict()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

# Standard normal quantile of 0.9; ranges quoted as "10th to 90th percentile" map to ±Z90 sigma.
Z90 = 1.2815515655446004


@dataclass(frozen=True)
class Fixed:
    """A known value: every trial gets the same number."""

    value: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise ValueError(f"Fixed value must be finite, got {self.value!r}")

    @property
    def median(self) -> float:
        return float(self.value)

    def quantile(self, q: float) -> float:
        """The value, whatever the quantile."""
        return float(self.value)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` copies of the value (consumes no random numbers)."""
        return np.full(n, float(self.value))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "fixed", "value": float(self.value)}


@dataclass(frozen=True)
class Lognormal:
    """A positive quantity whose logarithm is normal: ``median * exp(sigma * Z)``."""

    median: float
    sigma: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.median) and self.median > 0):
            raise ValueError(f"lognormal median must be > 0, got {self.median!r}")
        if not (math.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"lognormal sigma must be ≥ 0, got {self.sigma!r}")

    @classmethod
    def from_median_p90(cls, median: float, p90: float) -> Lognormal:
        """The lognormal with this median and 90th percentile (``p90 ≥ median``)."""
        if p90 < median:
            raise ValueError(f"p90 ({p90}) must be ≥ median ({median})")
        return cls(median, math.log(p90 / median) / Z90)

    @classmethod
    def from_p10_p90(cls, p10: float, p90: float) -> Lognormal:
        """The lognormal whose 10th and 90th percentiles are ``p10`` and ``p90``."""
        if not 0 < p10 <= p90:
            raise ValueError(f"need 0 < p10 ≤ p90, got {p10}, {p90}")
        return cls(math.sqrt(p10 * p90), math.log(p90 / p10) / (2 * Z90))

    def quantile(self, q: float) -> float:
        """The ``q`` quantile (0 < q < 1)."""
        from statistics import NormalDist

        return self.median * math.exp(self.sigma * NormalDist().inv_cdf(q))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws (always consumes ``n`` normals, even when sigma is 0)."""
        return self.median * np.exp(self.sigma * rng.standard_normal(n))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "lognormal",
            "median": self.median,
            "sigma": self.sigma,
            "p10": self.quantile(0.1),
            "p90": self.quantile(0.9),
        }


@dataclass(frozen=True)
class Normal:
    """A quantity that may be negative: ``mean + sd * Z`` (e.g. a trend, or depletion fitted on one)."""

    mean: float
    sd: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mean) and math.isfinite(self.sd) and self.sd >= 0):
            raise ValueError(f"normal needs a finite mean and sd ≥ 0, got {self.mean!r}, {self.sd!r}")

    @property
    def median(self) -> float:
        return float(self.mean)

    def quantile(self, q: float) -> float:
        """The ``q`` quantile (0 < q < 1)."""
        from statistics import NormalDist

        return self.mean + self.sd * NormalDist().inv_cdf(q)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws (always consumes ``n`` normals)."""
        return self.mean + self.sd * rng.standard_normal(n)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "normal",
            "mean": self.mean,
            "sd": self.sd,
            "p10": self.quantile(0.1),
            "p90": self.quantile(0.9),
        }


Distribution = Fixed | Lognormal | Normal


@dataclass(frozen=True)
class Funnel:
    """Shares of remaining area that end up cancelled by NTS, reduced by TS and cleared.

    ``mean`` sums to one. ``concentration`` is the Dirichlet total (larger = surer); ``None`` fixes
    the shares at ``mean`` in every trial. A zero share stays zero (e.g. no TS reduction where the
    law does not allow it, as in Croatia before 2015).
    """

    cancelled: float
    reduced: float
    cleared: float
    concentration: float | None = None

    def __post_init__(self) -> None:
        shares = (self.cancelled, self.reduced, self.cleared)
        if any(not math.isfinite(s) or s < 0 for s in shares):
            raise ValueError(f"funnel shares must be ≥ 0, got {shares}")
        if abs(sum(shares) - 1.0) > 1e-6:
            raise ValueError(f"funnel shares must sum to 1, got {sum(shares)}")
        if self.concentration is not None and not (
            math.isfinite(self.concentration) and self.concentration > 0
        ):
            raise ValueError(f"funnel concentration must be > 0, got {self.concentration}")

    @property
    def mean(self) -> tuple[float, float, float]:
        return (self.cancelled, self.reduced, self.cleared)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``(n, 3)`` share vectors. Uses gamma draws per non-zero share (a Dirichlet)."""
        # Float even for whole-number shares (Funnel(0, 0, 1)): the engine divides in place.
        mean = np.array(self.mean, dtype=float)
        if self.concentration is None:
            return np.tile(mean, (n, 1))
        out = np.zeros((n, 3))
        for k in range(3):
            if mean[k] > 0:
                out[:, k] = rng.standard_gamma(mean[k] * self.concentration, n)
        total = out.sum(axis=1, keepdims=True)
        # A gamma draw can underflow to 0 for tiny shapes; fall back to the mean for that row.
        bad = total[:, 0] <= 0
        out[bad] = mean
        total[bad] = 1.0
        return out / total

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "dirichlet" if self.concentration is not None else "fixed",
            "cancelled": self.cancelled,
            "reduced": self.reduced,
            "cleared": self.cleared,
            "concentration": self.concentration,
        }
