"""Forecast parameters and their sourced defaults.

Every default below is listed with its public source in ``docs/forecast-sources.md`` (the
comments name the source briefly) or is marked as an assumption. They are priors:
:func:`demine.planning.calibrate.calibrate` replaces them with a blend of the programme's own
history as that history grows.

Units: productivity is m² per team-day of work on "reference" land (the first land served; later
land costs more effort, see ``depletion``). Team types and the land release stage they work on:

========== ========= =====================================================
team type  stage     what its productivity measures
========== ========= =====================================================
nts        nts       m² of hazard area surveyed (all of a hazard's area)
ts         ts        m² of area left after NTS that is technically surveyed
manual     clearance m² cleared
mdd        clearance m² cleared (a dog pair, two dogs over the ground)
mechanical clearance m² cleared, machine with its follow-up
========== ========= =====================================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from demine.planning.distributions import Distribution, Fixed, Funnel, Lognormal

TEAM_TYPES: tuple[str, ...] = ("manual", "mdd", "mechanical", "nts", "ts")
STAGES: tuple[str, ...] = ("nts", "ts", "clearance")
STAGE_LABELS: dict[str, str] = {
    "nts": "non-technical survey",
    "ts": "technical survey",
    "clearance": "clearance",
}
STAGE_OF: dict[str, str] = {
    "manual": "clearance",
    "mdd": "clearance",
    "mechanical": "clearance",
    "nts": "nts",
    "ts": "ts",
}
CLASS_NAMES: tuple[str, ...] = ("SHA", "CHA")

# Deminers per manual team: 6–10 in programmes (Ukraine ≈6 per team, 2024); we take the middle.
DEMINERS_PER_TEAM = 8
# Manual clearance per deminer: 25 m²/day, 10–50 (HALO Trust; GLOBSEC 2023). We read 50 as the
# 90th percentile of the programme-wide average; the implied 10th percentile is 12.5 (close to 10).
MANUAL_M2_PER_DEMINER_DAY = Lognormal.from_median_p90(25.0, 50.0)
# (docs/forecast-sources.md): "Working days per year ~200–230 (assumption; set per country and season)".
WORKING_DAYS_PER_YEAR = 220.0
# Assumption: new teams reach full output linearly over 3 months. dogs need 1–6
# months of acclimatisation in country; Colombia took ~2 years to grow 4×.
RAMP_UP_MONTHS = 3.0
# Clearance cost: US$1–3/m² typical (Eaton 2003; Croatia 2023).
COST_PER_M2_USD = 2.0


def _default_productivity() -> dict[str, Distribution]:
    manual = Lognormal(MANUAL_M2_PER_DEMINER_DAY.median * DEMINERS_PER_TEAM, MANUAL_M2_PER_DEMINER_DAY.sigma)
    return {
        "manual": manual,
        # A dog pair clearing: 800 m²/day, 400–1,500 (SFOR Informer 113, 2001).
        "mdd": Lognormal.from_median_p90(800.0, 1500.0),
        # A machine with follow-up: 2,500–5,000 m²/day realistic; vendor claims of 15–30k discounted
        # (≈2,500 per machine in a 2-machine system, manufacturers' comparisons).
        "mechanical": Lognormal.from_median_p90(2500.0, 5000.0),
        # Assumption, order of magnitude only: no per-team NTS output was found. Ukraine
        # released ≈17,000 km² in 2024, mostly by survey, with ~684 teams and >200 machines,
        # i.e. ≈100,000 m² per team-day across all teams at 220 days (inference).
        "nts": Lognormal.from_median_p90(50_000.0, 150_000.0),
        # Assumption: "MDR (TS) 2,000+ m²/day per rat team" (APOPO) and "machine (ground
        # preparation / TS) 2,500–5,000 m²/day".
        "ts": Lognormal.from_median_p90(3000.0, 6000.0),
    }


def _default_funnel() -> tuple[Funnel, ...]:
    return (
        # SHA. NTS cancels 30–50% of released area, TS reduces 20–25%, 30–45% needs full
        # clearance; States Parties 2022 32/24/44%, Cambodia 2015 48/20/32%, 2016 42/21/37%.
        # Concentration 30 gives ±9 points (1 sd) on the cancelled share, the spread seen in these
        # figures (docs/sources.md#release-funnel).
        Funnel(0.40, 0.22, 0.38, concentration=30.0),
        # CHA. Assumption: a confirmed area has evidence of mines, so NTS rarely cancels it; most
        # of it is cleared, TS trims the edges (<3% of cleared land held any item).
        Funnel(0.05, 0.25, 0.70, concentration=20.0),
    )


@dataclass(frozen=True)
class Volatility:
    """Year-to-year movement of a programme: its output and its estimate of what is left.

    **Output.** All capacity (every team type, budgets) is multiplied in calendar year ``y`` by
    ``F_y = exp(level + Σ_{i≤y} walk_i + noise_y)``: ``level`` ~ N(0, ``level_sigma``) is how
    far the programme's true average output may be from the one measured; ``walk`` ~ N(0,
    ``walk_sigma``) per year are lasting changes (funding, teams, access) and ``noise`` ~ N(0,
    ``year_sigma``) a single year's luck (weather, a stand-down). Bands widen with the horizon
    through the walk.

    **Stock revisions.** At the end of each year, with probability ``revision_rate``, the
    estimate of the land still to be worked is revised: every m² not yet released becomes
    ``exp(J)`` m², ``J`` ~ N(``revision_log_mean``, ``revision_log_sigma``) clipped to
    [``REVISION_LOG_MIN``, ``REVISION_LOG_MAX``]; besides, every year it drifts by
    ``revision_drift`` (in logs: a stock that keeps growing a little beyond its releases as survey
    finds land, or keeps shrinking faster than they explain). A cut is a re-survey sweep or a new baseline
    that finds less (reported as cancelled by many programmes, as a revision by others); a
    rise is a survey that finds more. Revisions are land, not capacity: a one-off sweep never
    becomes yearly output. They go on for ``revision_years`` (``None``: the whole horizon): an
    estimate is revised while survey still finds and rules out land, and all together they
    never take it below ``REVISION_LOG_MIN`` or above ``REVISION_LOG_MAX`` of what it was.

    **New contamination** (:class:`Parameters`' rate) comes in bursts: each year's finds are the
    trial's rate times a mean-one lognormal with log sd ``discovery_year_sigma``.
    """

    level_sigma: float = 0.0
    walk_sigma: float = 0.0
    year_sigma: float = 0.0
    revision_rate: float = 0.0
    revision_log_mean: float = 0.0
    revision_log_sigma: float = 0.0
    revision_years: float | None = None
    revision_drift: float = 0.0
    discovery_year_sigma: float = 0.0

    def __post_init__(self) -> None:
        for name in ("level_sigma", "walk_sigma", "year_sigma", "revision_log_sigma", "discovery_year_sigma"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 5):
                raise ValueError(f"{name} must be between 0 and 5, got {value!r}")
        if not (math.isfinite(self.revision_rate) and 0 <= self.revision_rate <= 1):
            raise ValueError(f"revision_rate must be between 0 and 1, got {self.revision_rate!r}")
        if not (math.isfinite(self.revision_log_mean) and abs(self.revision_log_mean) <= 5):
            raise ValueError(f"revision_log_mean must be between -5 and 5, got {self.revision_log_mean!r}")
        if not (math.isfinite(self.revision_drift) and abs(self.revision_drift) <= 1):
            raise ValueError(f"revision_drift must be between -1 and 1, got {self.revision_drift!r}")
        if self.revision_years is not None and not (
            math.isfinite(self.revision_years) and self.revision_years >= 0
        ):
            raise ValueError(f"revision_years must be ≥ 0, got {self.revision_years!r}")

    @property
    def is_zero(self) -> bool:
        """No movement at all: every factor is exactly 1."""
        return self.level_sigma == self.walk_sigma == self.year_sigma == 0 and (
            self.revision_years == 0
            or (
                self.revision_drift == 0
                and (
                    self.revision_rate == 0 or (self.revision_log_mean == 0 and self.revision_log_sigma == 0)
                )
            )
        )

    def replace(self, **changes: Any) -> Volatility:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, float | None]:
        return {
            "level_sigma": self.level_sigma,
            "walk_sigma": self.walk_sigma,
            "year_sigma": self.year_sigma,
            "revision_rate": self.revision_rate,
            "revision_log_mean": self.revision_log_mean,
            "revision_log_sigma": self.revision_log_sigma,
            "revision_years": self.revision_years,
            "revision_drift": self.revision_drift,
            "discovery_year_sigma": self.discovery_year_sigma,
        }


# Depletion is drawn within these bounds: the last land costs from half to four times the effort
# per m² of the first. Below 0 (later land easier) only where a programme's own output trend
# says so (:mod:`.national`).
DEPLETION_MIN = -0.5
DEPLETION_MAX = 3.0
# Revisions never multiply the stock by less than e^-3 (a 95% cut) or more than e^1.5 (×4.5),
# one at a time or all together.
REVISION_LOG_MIN = -3.0
REVISION_LOG_MAX = 1.5


@dataclass(frozen=True)
class Parameters:
    """Everything uncertain about the land, the teams and the future, as distributions.

    ``productivity`` is per team type (m² per team-day on reference land); ``funnel`` and
    ``clearance_class_factor`` are per hazard class (index = class code, names in
    ``class_names``). ``depletion`` is the extra effort per m² on the last land served relative
    to the first (effort multiplier ``1 + depletion × position``, position = share of the stock
    served before, from 0 to 1). ``hazard_share_spread`` and ``hazard_effort_spread`` (0–1) set
    how much single hazards differ from the trial's average; they average out nationally but
    matter for small regions. New contamination arrives at ``new_contamination_m2_per_year`` or,
    when that is ``None``, at ``new_contamination_share_per_year`` × initial stock, for
    ``new_contamination_years`` (``None``: the whole horizon).
    """

    productivity: Mapping[str, Distribution] = field(default_factory=_default_productivity)
    funnel: tuple[Funnel, ...] = field(default_factory=_default_funnel)
    class_names: tuple[str, ...] = CLASS_NAMES
    # No source gives different per-m² speeds for SHA and CHA land; both 1 until calibrated.
    clearance_class_factor: tuple[Distribution, ...] = (Fixed(1.0), Fixed(1.0))
    # Assumption. Cambodia's dense A1 clearance averaged <2 km²/yr against ~10 needed,
    # after easy survey releases; and "easy land goes first". Median: the last land
    # costs 1.5× the effort per m² of the first; 90th percentile 2.5×.
    depletion: Distribution = field(default_factory=lambda: Lognormal.from_median_p90(0.5, 1.5))
    # Assumption: single hazards range from all-cancelled to all-cleared (two-thirds of
    # HI Mozambique's 2008 tasks found nothing); 0.5 lets a hazard's shares and effort vary by
    # ±50% of their room around the trial's average, uniformly.
    hazard_share_spread: float = 0.5
    hazard_effort_spread: float = 0.5
    new_contamination_m2_per_year: Distribution | None = None
    # Assumption: 1%/yr of the initial stock (90th percentile 3%). Mozambique found a
    # further 63,600 m² the year after completion; Cambodia's baseline survey found
    # 672.9 km² against an estimate of 648.8; Angola reduced its stock by ≈3 km²/yr
    # against a planned 10 (inference).
    new_contamination_share_per_year: Distribution = field(
        default_factory=lambda: Lognormal.from_median_p90(0.01, 0.03)
    )
    new_contamination_years: float | None = None
    # How national output and the stock estimate move from year to year (see
    # :class:`Volatility`); the defaults are fitted on the corpus of national series.
    volatility: Volatility = field(default_factory=lambda: Volatility())
    sources: Mapping[str, str] = field(
        default_factory=lambda: {
            "productivity.manual": "HALO Trust (25 m²/deminer-day, 10–50) × 8 deminers",
            "productivity.mdd": "SFOR Informer 113, 2001 (800 m²/day, 400–1,500)",
            "productivity.mechanical": "manufacturers' comparisons, discounted (2,500–5,000 m²/day)",
            "productivity.nts": "assumption (order of magnitude from Ukraine 2024)",
            "productivity.ts": "assumption (APOPO rat and machine TS figures)",
            "funnel.SHA": "Landmine Monitor 2023 (States Parties 2022); Cambodia 2015–16",
            "funnel.CHA": "assumption",
            "depletion": "assumption (Landmine Monitor on Cambodia, 2016)",
            "new_contamination": "assumption (Mozambique 2016, Cambodia 2010 baseline)",
            "working_days_per_year": "assumption (~200–230)",
        }
    )

    def __post_init__(self) -> None:
        unknown = set(self.productivity) - set(TEAM_TYPES)
        if unknown:
            raise ValueError(f"unknown team types in productivity: {sorted(unknown)}")
        missing = set(TEAM_TYPES) - set(self.productivity)
        if missing:
            raise ValueError(f"productivity missing for team types: {sorted(missing)}")
        n = len(self.class_names)
        if len(self.funnel) != n or len(self.clearance_class_factor) != n:
            raise ValueError("funnel and clearance_class_factor need one entry per hazard class")
        for name, value in (
            ("hazard_share_spread", self.hazard_share_spread),
            ("hazard_effort_spread", self.hazard_effort_spread),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.new_contamination_years is not None and self.new_contamination_years < 0:
            raise ValueError("new_contamination_years must be ≥ 0")

    def replace(self, **changes: Any) -> Parameters:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description of every distribution and where it came from."""
        return {
            "productivity_m2_per_team_day": {t: self.productivity[t].to_dict() for t in TEAM_TYPES},
            "funnel": {name: f.to_dict() for name, f in zip(self.class_names, self.funnel, strict=True)},
            "clearance_class_factor": {
                name: d.to_dict()
                for name, d in zip(self.class_names, self.clearance_class_factor, strict=True)
            },
            "depletion": self.depletion.to_dict(),
            "hazard_share_spread": self.hazard_share_spread,
            "hazard_effort_spread": self.hazard_effort_spread,
            "new_contamination_m2_per_year": (
                None
                if self.new_contamination_m2_per_year is None
                else self.new_contamination_m2_per_year.to_dict()
            ),
            "new_contamination_share_per_year": self.new_contamination_share_per_year.to_dict(),
            "new_contamination_years": self.new_contamination_years,
            "volatility": self.volatility.to_dict(),
            "sources": dict(self.sources),
        }


def default_parameters() -> Parameters:
    """The sourced priors, with the year-to-year volatility pooled over national programmes.

    The volatility (how much output drifts and how often the estimate of what is left is
    revised) comes from :func:`demine.planning.pooled.load_pooled`, fitted on the corpus of
    published national series.
    """
    from demine.planning.pooled import load_pooled

    pooled = load_pooled()
    p = Parameters(volatility=pooled.volatility)
    return p.replace(
        sources={
            **p.sources,
            "volatility": f"pooled over {len(pooled.countries) or 'no'} national series (pooled_priors.json)",
        }
    )


def deterministic_parameters(
    productivity: Mapping[str, float],
    funnel: tuple[float, float, float] = (0.0, 0.0, 1.0),
    *,
    depletion: float = 0.0,
    new_m2_per_year: float = 0.0,
    n_classes: int = 2,
) -> Parameters:
    """Parameters with no uncertainty at all: for known-answer checks and what-if arithmetic.

    Team types left out of ``productivity`` get 1 m²/team-day (they only matter if teams of that
    type exist).
    """
    shares = Funnel(*funnel)
    return Parameters(
        productivity={t: Fixed(float(productivity.get(t, 1.0))) for t in TEAM_TYPES},
        funnel=(shares,) * n_classes,
        class_names=CLASS_NAMES[:n_classes]
        if n_classes <= len(CLASS_NAMES)
        else tuple(f"class{i}" for i in range(n_classes)),
        clearance_class_factor=(Fixed(1.0),) * n_classes,
        depletion=Fixed(depletion),
        hazard_share_spread=0.0,
        hazard_effort_spread=0.0,
        new_contamination_m2_per_year=Fixed(new_m2_per_year),
        new_contamination_years=None,
        volatility=Volatility(),
        sources={"all": "deterministic (no uncertainty)"},
    )
