"""The impact factors, their default weights and parameters, and the TOML file that overrides them.

Every factor turns a raw value into a normalised value between 0 and 1, which the weight
multiplies into a contribution; a hazard's score is the sum of its contributions.

============ ============================================ ===================================
kind         raw value                                    normalised
============ ============================================ ===================================
flag         0 or 1                                       the same
count        a count or amount (≥ 0)                      ``min(raw / saturation, 1)``, or
                                                          ``log(1 + raw) / log(1 + saturation)``
                                                          capped at 1 when ``scale = "log"``
proximity    metres to the nearest feature (``None`` if   ``max(0, 1 − raw / max_distance_m)``
             none within ``max_distance_m``)
share        a share of the hazard's area (0–1)           the same
level        the register's priority: high 1, medium 0.5, the same; no priority (``None``)
             low 0 (``None`` when the hazard has none)    is neutral, 0.5 like medium
============ ============================================ ===================================

Sources of the defaults: ``docs/sources.md#lis-weights`` and the entries after it. The Landmine Impact
Survey (LIS) scored communities with 2 points per mine type present, 1 per blocked resource and
2 per victim in the last 24 months — **these LIS weights are quoted from memory and are not
verified** (check them in the Survey Action Center's survey protocol); the defaults reproduce
them: ``ap_mines`` and ``at_mines`` 2, ``blockages`` 5 with saturation 5 (1 per blockage up to
5), ``recent_victims`` 10 with saturation 5 (2 per victim up to 5). Ukraine's 2024 formula
(Ministry of Economy, Humanitarian Demining Center, UNDP) combines economic, social and
ecological potential with a key security coefficient; its coefficients were not available, so
the factors are grouped that way but their weights are **our assumptions**, as are the radii
and distances (the TIME 2023 risk map's "proximity to schools and power lines" filters inspired
the proximity factors; Moulton & Benini's risk factors — casualties nearby, larger communities,
blocked water or pasture, UXO or AT mines — inspired ``population`` and ``water_proximity``).
Replace them with the programme's own: ``demine prioritise --weights FILE.toml``.

``register_priority`` (group ``authority``) is the priority the national authority recorded on
the hazard (code list ``priority``: high, medium, low). Land release rests with the national
authority (IMAS 07.11 *Land release*, Ed. 1 Am. 4, 2019; IMAS 07.10 has it define "all reasonable
effort"; both at mineactionstandards.org), and its priority is its own assessment — evidence the
factors above cannot see (a planned road, families about to return, a community's request). It
weighs 5 by default — **our assumption**: high rather than low moves a hazard as much as five
blocked resources, medium and a missing priority sit half way, so a hazard nobody has rated is
neither favoured nor held back. Set its weight to 0 to rank by the evidence factors alone.

The TOML file::

    [settings]
    accident_months = 24          # victims of accidents in the last N months

    [factors.population]
    weight = 3.0
    radius_m = 2000
    saturation = 10000
    scale = "log"

    [factors.confirmed]
    weight = 0                    # 0 keeps a factor in the explanation without weighing it

Keys left out keep their defaults; an unknown section, factor or parameter is an error that
names it.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from demine.domain.errors import Problem, ValidationError

GROUPS = ("security", "social", "economic", "ecological", "authority")
KINDS = ("flag", "count", "proximity", "share", "level")
# Parameters each kind of factor accepts (besides ``weight``).
KIND_PARAMETERS: dict[str, tuple[str, ...]] = {
    "flag": (),
    "count": ("saturation", "scale"),
    "proximity": ("max_distance_m",),
    "share": (),
    "level": (),
}
# The register's priority codes as a level factor's raw values; a hazard with no priority
# counts as NEUTRAL_LEVEL, the middle, so leaving the field empty neither helps nor hurts.
PRIORITY_LEVELS: dict[str, float] = {"high": 1.0, "medium": 0.5, "low": 0.0}
NEUTRAL_LEVEL = 0.5


@dataclass(frozen=True)
class Factor:
    """One impact factor: how its raw value is measured, normalised and weighed."""

    name: str
    group: str
    kind: str
    weight: float
    description: str
    source: str
    unit: str = ""
    saturation: float | None = None
    scale: str = "linear"  # count: linear | log
    max_distance_m: float | None = None
    radius_m: float | None = None  # count of features within this distance
    layer: str | None = None  # context layer it reads, if any

    def parameters(self) -> dict[str, Any]:
        """The tunable parameters, as they appear in the TOML file."""
        out: dict[str, Any] = {"weight": self.weight}
        for name in (*KIND_PARAMETERS[self.kind], "radius_m"):
            value = getattr(self, name)
            if value is not None and not (name == "scale" and self.kind != "count"):
                out[name] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "kind": self.kind,
            "unit": self.unit,
            **self.parameters(),
            "layer": self.layer,
            "description": self.description,
            "source": self.source,
        }


LIS = "Landmine Impact Survey style (docs/sources.md#lis-weights; LIS weights from memory, unverified)"
UA = "Ukraine 2024 prioritisation groups (docs/sources.md#ukraine-2024-groups); weight is an assumption"

DEFAULT_FACTORS: tuple[Factor, ...] = (
    Factor("ap_mines", "security", "flag", 2.0, "anti-personnel mines suspected or found", LIS),
    Factor("at_mines", "security", "flag", 2.0, "anti-vehicle mines suspected or found", LIS),
    Factor(
        "uxo",
        "security",
        "flag",
        1.0,
        "UXO, abandoned ordnance, submunitions, IEDs or other EO",
        "LIS 'presence of UXO' (docs/sources.md#lis-weights); weight 1 is an assumption",
    ),
    Factor(
        "recent_victims",
        "security",
        "count",
        10.0,
        "victims of accidents within radius_m (or recorded on the hazard) in the last accident_months",
        LIS + "; 2 per victim up to 5",
        unit="victims",
        saturation=5.0,
        radius_m=5000.0,
    ),
    Factor(
        "confirmed",
        "security",
        "flag",
        1.0,
        "confirmed (CHA) rather than suspected (SHA)",
        "assumption: evidence of EO raises the threat (few SHAs hold mines: docs/sources.md#threat-factors)",
    ),
    Factor(
        "population",
        "social",
        "count",
        3.0,
        "people living in settlements within radius_m",
        "Moulton & Benini: larger communities (docs/sources.md#community-factors); "
        "weight, radius, saturation assumed",
        unit="people",
        saturation=10_000.0,
        scale="log",
        radius_m=2000.0,
        layer="settlement",
    ),
    Factor(
        "beneficiaries",
        "social",
        "count",
        2.0,
        "direct beneficiaries recorded on the hazard",
        UA,
        unit="people",
        saturation=1000.0,
        scale="log",
    ),
    Factor(
        "school_proximity",
        "social",
        "proximity",
        2.0,
        "distance to the nearest school",
        "TIME 2023 risk map filter: proximity to schools (docs/sources.md#risk-map-filters); weight assumed",
        unit="m",
        max_distance_m=2000.0,
        layer="school",
    ),
    Factor(
        "health_proximity",
        "social",
        "proximity",
        1.0,
        "distance to the nearest health facility",
        UA,
        unit="m",
        max_distance_m=2000.0,
        layer="health_facility",
    ),
    Factor(
        "water_proximity",
        "social",
        "proximity",
        1.0,
        "distance to the nearest water point",
        "LIS blocked water; Moulton & Benini: mines blocking water (docs/sources.md#community-factors)",
        unit="m",
        max_distance_m=1000.0,
        layer="water_point",
    ),
    Factor(
        "blockages",
        "economic",
        "count",
        5.0,
        "blocked resources recorded on the hazard (roads, agriculture, housing, infrastructure, water)",
        LIS + "; 1 per blockage up to 5",
        unit="blockages",
        saturation=5.0,
    ),
    Factor(
        "farmland_share",
        "economic",
        "share",
        2.0,
        "share of the hazard's remaining area on farmland",
        "Ukraine 2024 economic potential; farmland payback of 1–2 harvests "
        "(docs/sources.md#farmland-and-roads)",
        unit="share",
        layer="farmland",
    ),
    Factor(
        "road_proximity",
        "economic",
        "proximity",
        1.0,
        "distance to the nearest road",
        "LIS blocked infrastructure (docs/sources.md#farmland-and-roads); weight and distance assumed",
        unit="m",
        max_distance_m=1000.0,
        layer="road",
    ),
    Factor(
        "railway_proximity",
        "economic",
        "proximity",
        1.0,
        "distance to the nearest railway",
        UA,
        unit="m",
        max_distance_m=1000.0,
        layer="railway",
    ),
    Factor(
        "power_line_proximity",
        "economic",
        "proximity",
        1.0,
        "distance to the nearest power line",
        "TIME 2023 risk map filter: proximity to power lines (docs/sources.md#risk-map-filters); "
        "weight assumed",
        unit="m",
        max_distance_m=500.0,
        layer="power_line",
    ),
    Factor(
        "protected_area_share",
        "ecological",
        "share",
        0.5,
        "share of the hazard's remaining area in protected natural areas",
        "Ukraine 2024 ecological potential (docs/sources.md#ukraine-2024-groups); weight assumed",
        unit="share",
        layer="protected_area",
    ),
    Factor(
        "register_priority",
        "authority",
        "level",
        5.0,
        "the priority the national authority recorded on the hazard: high 1, medium 0.5, low 0; "
        "none recorded counts as 0.5 (neutral)",
        "the national authority's own assessment, recorded in the register; land release rests "
        "with the national authority (IMAS 07.11 Land release, Ed. 1 Am. 4, 2019); weight 5 "
        "(high vs low = five blocked resources) is an assumption",
        unit="level",
    ),
)

DEFAULT_SETTINGS: dict[str, Any] = {"accident_months": 24}


@dataclass(frozen=True)
class Weights:
    """The factors in use and the settings of the register factors."""

    factors: tuple[Factor, ...] = DEFAULT_FACTORS
    accident_months: int = 24
    source: str = "defaults"

    def factor(self, name: str) -> Factor:
        return next(f for f in self.factors if f.name == name)

    @property
    def total_weight(self) -> float:
        return sum(f.weight for f in self.factors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "settings": {"accident_months": self.accident_months},
            "factors": {f.name: f.to_dict() for f in self.factors},
        }


def default_weights() -> Weights:
    """The documented defaults (see the module docstring for their sources)."""
    return Weights()


def weights_from_dict(data: Mapping[str, Any], source: str = "file") -> Weights:
    """Weights from parsed TOML: defaults overridden; any unknown key is an error naming it."""
    record = f"weights ({source})"
    problems: list[Problem] = []
    for key in data:
        if key not in ("settings", "factors"):
            problems.append(Problem(record, key, "unknown section; expected [settings] or [factors.NAME]"))
    settings = dict(DEFAULT_SETTINGS)
    raw_settings = data.get("settings", {})
    if not isinstance(raw_settings, Mapping):
        problems.append(Problem(record, "settings", "must be a table"))
        raw_settings = {}
    for key, value in raw_settings.items():
        if key not in DEFAULT_SETTINGS:
            problems.append(
                Problem(record, f"settings.{key}", f"unknown setting; expected {sorted(DEFAULT_SETTINGS)}")
            )
        elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
            problems.append(Problem(record, f"settings.{key}", f"must be a whole number ≥ 1, got {value!r}"))
        else:
            settings[key] = value
    by_name = {f.name: f for f in DEFAULT_FACTORS}
    raw_factors = data.get("factors", {})
    if not isinstance(raw_factors, Mapping):
        problems.append(Problem(record, "factors", "must be a table of [factors.NAME] tables"))
        raw_factors = {}
    for name, params in raw_factors.items():
        path = f"factors.{name}"
        if name not in by_name:
            problems.append(Problem(record, path, f"unknown factor; expected one of {sorted(by_name)}"))
            continue
        if not isinstance(params, Mapping):
            problems.append(Problem(record, path, "must be a table"))
            continue
        factor = by_name[name]
        allowed = (
            "weight",
            *KIND_PARAMETERS[factor.kind],
            *(("radius_m",) if factor.radius_m is not None else ()),
        )
        changes: dict[str, Any] = {}
        for key, value in params.items():
            problems_before = len(problems)
            if key not in allowed:
                problems.append(
                    Problem(record, f"{path}.{key}", f"unknown parameter; {name} takes {list(allowed)}")
                )
            elif key == "scale":
                if value not in ("linear", "log"):
                    problems.append(
                        Problem(record, f"{path}.scale", f"must be 'linear' or 'log', got {value!r}")
                    )
            elif not _number(value) or value < 0:
                problems.append(Problem(record, f"{path}.{key}", f"must be a number ≥ 0, got {value!r}"))
            elif key in ("saturation", "max_distance_m") and value <= 0:
                problems.append(Problem(record, f"{path}.{key}", f"must be > 0, got {value!r}"))
            if len(problems) == problems_before:
                changes[key] = float(value) if key != "scale" else value
        by_name[name] = replace(factor, **changes)
    if problems:
        raise ValidationError(problems)
    return Weights(
        tuple(by_name[f.name] for f in DEFAULT_FACTORS),
        accident_months=int(settings["accident_months"]),
        source=source,
    )


def load_weights(path: str | Path) -> Weights:
    """Read a weights TOML file (see the module docstring); errors name the file and the key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError([Problem(f"weights ({p})", "file", f"cannot read: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise ValidationError([Problem(f"weights ({p})", "file", f"not UTF-8 text: {exc.reason}")]) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError([Problem(f"weights ({p})", "toml", str(exc))]) from exc
    return weights_from_dict(data, source=str(p))


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
