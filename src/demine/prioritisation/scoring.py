"""Scoring hazards: raw factor values from the register and the context layers, then the ranking.

A pure step (no database): :class:`ScoringInputs` holds plain arrays and shapely geometries in
WGS 84; :func:`score_hazards` returns a :class:`Ranking` whose ``to_dict`` lists, for every hazard,
its rank, score and each factor's raw value, normalised value, weight and contribution.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import shapely

from demine.prioritisation import spatial
from demine.prioritisation.weights import (
    GROUPS,
    NEUTRAL_LEVEL,
    PRIORITY_LEVELS,
    Factor,
    Weights,
    default_weights,
)

AP_CATEGORIES = frozenset({"apm"})
AT_CATEGORIES = frozenset({"atm"})
UXO_CATEGORIES = frozenset({"uxo", "axo", "submunition", "ied", "other"})
CONTEXT_LAYERS = (
    "settlement",
    "road",
    "railway",
    "power_line",
    "farmland",
    "water_point",
    "school",
    "health_facility",
    "protected_area",
)


@dataclass
class Accidents:
    """Accidents as points, with their date, victims and the hazard they are recorded on (-1: none)."""

    geometry: np.ndarray
    occurred_on: np.ndarray  # datetime64[D]
    victims: np.ndarray
    hazard_index: np.ndarray

    @classmethod
    def empty(cls) -> Accidents:
        return cls(
            np.zeros(0, dtype=object),
            np.zeros(0, dtype="datetime64[D]"),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.int64),
        )


@dataclass
class ScoringInputs:
    """Open hazards and what surrounds them, in WGS 84.

    ``geometry`` is what remains of each hazard; ``eo_categories`` and ``blockages`` are the
    register's comma-separated codes; ``priority`` holds the register's priority code of each
    hazard (high, medium, low or None), or is None when no hazard has one. ``context`` maps a
    layer name (see ``CONTEXT_LAYERS``) to its geometries; ``population`` is the settlements'
    population, aligned with ``context['settlement']``.
    """

    codes: list[str]
    geometry: np.ndarray
    hazard_type: np.ndarray
    eo_categories: list[str]
    blockages: list[str]
    beneficiaries: np.ndarray
    as_of: date
    context: dict[str, np.ndarray] = field(default_factory=dict)
    population: np.ndarray = field(default_factory=lambda: np.zeros(0))
    accidents: Accidents = field(default_factory=Accidents.empty)
    priority: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.codes)


@dataclass
class Ranking:
    """Scores and their explanation, hazards in their input order (``order`` ranks them)."""

    codes: list[str]
    factors: tuple[Factor, ...]
    raw: np.ndarray  # (n, F); NaN where a proximity factor found nothing in range
    normalised: np.ndarray  # (n, F)
    contribution: np.ndarray  # (n, F)
    score: np.ndarray  # (n,)
    order: np.ndarray  # hazard indices, best first
    weights: Weights
    as_of: date
    projection: str
    layers: dict[str, int]
    warnings: list[str]
    seconds: float

    @property
    def normalised_score(self) -> np.ndarray:
        """Score ÷ the sum of weights: 0 (no factor) to 1 (every factor at its maximum)."""
        total = self.weights.total_weight
        return self.score / total if total > 0 else np.zeros_like(self.score)

    def rank_of(self) -> np.ndarray:
        """(n,) rank of each hazard (1 = highest priority)."""
        rank = np.empty(self.score.size, dtype=np.int64)
        rank[self.order] = np.arange(1, self.score.size + 1)
        return rank

    def hazard_dict(self, i: int, rank: int) -> dict[str, Any]:
        """The explained score of hazard ``i``."""
        factors = []
        groups = dict.fromkeys(GROUPS, 0.0)
        for f, factor in enumerate(self.factors):
            raw = self.raw[i, f]
            factors.append(
                {
                    "factor": factor.name,
                    "group": factor.group,
                    "raw": None if np.isnan(raw) else _tidy(raw),
                    "unit": factor.unit,
                    "normalised": round(float(self.normalised[i, f]), 6),
                    "weight": factor.weight,
                    "contribution": round(float(self.contribution[i, f]), 6),
                }
            )
            groups[factor.group] += float(self.contribution[i, f])
        return {
            "rank": rank,
            "code": self.codes[i],
            "score": round(float(self.score[i]), 6),
            "normalised_score": round(float(self.normalised_score[i]), 6),
            "groups": {g: round(v, 6) for g, v in groups.items()},
            "factors": factors,
        }

    def to_dict(self, limit: int | None = None) -> dict[str, Any]:
        """JSON-ready ranking, best first (``limit`` hazards at most)."""
        order = self.order if limit is None else self.order[:limit]
        return {
            "as_of": self.as_of.isoformat(),
            "hazards": int(self.score.size),
            "method": (
                "score = Σ weight × normalised factor value; normalised values lie in 0–1 (flag: 0/1; "
                "count: min(raw/saturation, 1) or log(1+raw)/log(1+saturation); proximity: "
                "max(0, 1 − metres/max_distance_m); share: share of the remaining area, overlapping "
                "context polygons counted once; level: the register's priority, high 1, medium 0.5, "
                "low 0, none 0.5). "
                "normalised_score = score ÷ Σ weights. Distances and areas in metres in the projection below."
            ),
            "projection": self.projection,
            "context_layers": self.layers,
            "warnings": self.warnings,
            "weights": self.weights.to_dict(),
            "seconds": round(self.seconds, 3),
            "ranking": [self.hazard_dict(int(i), r + 1) for r, i in enumerate(order)],
        }


def _tidy(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(float(value), 3)


def _has_any(codes: list[str], wanted: frozenset[str]) -> np.ndarray:
    return np.array([bool(wanted.intersection(c.split(","))) if c else False for c in codes], dtype=float)


def _normalise(factor: Factor, raw: np.ndarray) -> np.ndarray:
    if factor.kind == "level":  # no priority recorded: neutral, not low
        return np.where(np.isnan(raw), NEUTRAL_LEVEL, np.clip(raw, 0.0, 1.0))
    if factor.kind in ("flag", "share"):
        return np.clip(np.nan_to_num(raw), 0.0, 1.0)
    if factor.kind == "count":
        sat = float(factor.saturation or 1.0)
        x = np.maximum(np.nan_to_num(raw), 0.0)
        if factor.scale == "log":
            return np.minimum(np.log1p(x) / np.log1p(sat), 1.0)
        return np.minimum(x / sat, 1.0)
    # proximity: NaN (nothing within range) scores 0
    d = float(factor.max_distance_m or 1.0)
    return np.where(np.isnan(raw), 0.0, np.clip(1.0 - raw / d, 0.0, 1.0))


def _priority_levels(priority: np.ndarray | None, n: int) -> tuple[np.ndarray, dict[str, int]]:
    """The register's priorities as levels (NaN where none), and any code not in the code list."""
    levels = np.full(n, np.nan)
    unknown: dict[str, int] = {}
    if priority is None:
        return levels, unknown
    for i, code in enumerate(priority):
        if code is None or code == "":
            continue
        key = str(code).strip().lower()
        if key in PRIORITY_LEVELS:
            levels[i] = PRIORITY_LEVELS[key]
        else:
            unknown[str(code)] = unknown.get(str(code), 0) + 1
    return levels, unknown


def _victims(
    inputs: ScoringInputs, hazards_m: np.ndarray, accidents_m: np.ndarray, factor: Factor, months: int
) -> np.ndarray:
    """Victims of recent accidents within the radius of each hazard or recorded on it (once each)."""
    acc = inputs.accidents
    out = np.zeros(inputs.n)
    if acc.victims.size == 0:
        return out
    since = np.datetime64(inputs.as_of, "D") - np.timedelta64(round(months * 30.4375), "D")
    recent = (acc.occurred_on >= since) & (acc.occurred_on <= np.datetime64(inputs.as_of, "D"))
    h, a = spatial.pairs_within(hazards_m, accidents_m[recent], float(factor.radius_m or 0.0))
    a = np.flatnonzero(recent)[a]
    linked = np.flatnonzero(recent & (acc.hazard_index >= 0))
    h = np.concatenate([h, acc.hazard_index[linked]])
    a = np.concatenate([a, linked])
    keys = np.unique(h * max(acc.victims.size, 1) + a)  # an accident counts once per hazard
    np.add.at(out, keys // max(acc.victims.size, 1), acc.victims[keys % max(acc.victims.size, 1)])
    return out


def score_hazards(inputs: ScoringInputs, weights: Weights | None = None) -> Ranking:
    """Score and rank the hazards (see :mod:`demine.prioritisation`)."""
    started = time.perf_counter()
    weights = weights or default_weights()
    projection, warning = spatial.local_projection(inputs.geometry)
    warnings = [warning] if warning else []
    hazards_m = projection.project(inputs.geometry)
    missing = shapely.is_missing(hazards_m) | shapely.is_empty(hazards_m)
    if missing.any():
        warnings.append(
            f"{int(missing.sum())} hazard(s) have no remaining geometry: spatial factors are 0 for them"
        )
        hazards_m = np.where(missing, shapely.Point(1e12, 1e12), hazards_m)  # far from everything
    context_m: dict[str, np.ndarray] = {}
    layers: dict[str, int] = {}
    for name in CONTEXT_LAYERS:
        geoms = np.asarray(inputs.context.get(name, np.zeros(0, dtype=object)), dtype=object)
        layers[name] = int(geoms.size)
        context_m[name] = projection.project(geoms) if geoms.size else geoms
    for factor in weights.factors:
        if factor.layer and layers.get(factor.layer, 0) == 0 and factor.weight > 0:
            warnings.append(f"no '{factor.layer}' features: {factor.name} is 0 for every hazard")
    levels, unknown = _priority_levels(inputs.priority, inputs.n)
    if any(f.kind == "level" and f.weight > 0 for f in weights.factors):
        for code, count in sorted(unknown.items()):
            warnings.append(
                f"{count} hazard(s) have priority {code!r}, not high, medium or low: counted as neutral (0.5)"
            )
        unrated = int(np.isnan(levels).sum()) - sum(unknown.values())
        if unrated:
            warnings.append(
                f"{unrated} hazard(s) have no priority: register_priority counts them as neutral (0.5)"
            )

    n, F = inputs.n, len(weights.factors)
    raw = np.zeros((n, F))
    for f, factor in enumerate(weights.factors):
        raw[:, f] = _raw(factor, inputs, hazards_m, context_m, projection, weights)
    normalised = np.zeros((n, F))
    for f, factor in enumerate(weights.factors):
        normalised[:, f] = _normalise(factor, raw[:, f])
    w = np.array([factor.weight for factor in weights.factors])
    contribution = normalised * w[None, :]
    score = contribution.sum(axis=1)
    # Ties broken by code, so the ranking is reproducible.
    order = np.lexsort((np.array(inputs.codes, dtype=object).astype(str), -np.round(score, 9)))
    return Ranking(
        codes=list(inputs.codes),
        factors=weights.factors,
        raw=raw,
        normalised=normalised,
        contribution=contribution,
        score=score,
        order=order,
        weights=weights,
        as_of=inputs.as_of,
        projection=projection.describe(),
        layers=layers,
        warnings=warnings,
        seconds=time.perf_counter() - started,
    )


def _raw(
    factor: Factor,
    inputs: ScoringInputs,
    hazards_m: np.ndarray,
    context_m: dict[str, np.ndarray],
    projection: spatial.LocalProjection,
    weights: Weights,
) -> np.ndarray:
    name = factor.name
    if name == "ap_mines":
        return _has_any(inputs.eo_categories, AP_CATEGORIES)
    if name == "at_mines":
        return _has_any(inputs.eo_categories, AT_CATEGORIES)
    if name == "uxo":
        return _has_any(inputs.eo_categories, UXO_CATEGORIES)
    if name == "confirmed":
        return (np.asarray(inputs.hazard_type) == "CHA").astype(float)
    if name == "blockages":
        return np.array(
            [len([c for c in b.split(",") if c]) if b else 0 for b in inputs.blockages], dtype=float
        )
    if name == "register_priority":
        return _priority_levels(inputs.priority, inputs.n)[0]
    if name == "beneficiaries":
        return np.asarray(inputs.beneficiaries, dtype=float)
    if name == "recent_victims":
        accidents_m = projection.project(inputs.accidents.geometry)
        return _victims(inputs, hazards_m, accidents_m, factor, weights.accident_months)
    if name == "population":
        return spatial.sum_within(
            hazards_m, context_m["settlement"], inputs.population, float(factor.radius_m or 0)
        )
    layer = context_m[factor.layer or ""]
    if factor.kind == "proximity":
        return spatial.nearest_distance(hazards_m, layer, float(factor.max_distance_m or 0))
    if factor.kind == "share":
        return spatial.overlap_share(hazards_m, layer)
    raise ValueError(f"no rule for factor {name!r}")  # a new factor was added without its rule
