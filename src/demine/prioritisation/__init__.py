"""Impact prioritisation: an explained score for every open hazard.

Each hazard gets raw values for a set of factors — from the register (EO types, CHA or SHA,
recorded blockages, direct beneficiaries, victims of recent accidents nearby, the priority the
national authority recorded) and from spatial joins with context layers (people in settlements
within a radius, distance to the nearest road, railway, power line, school, health facility and
water point, share of the hazard on farmland or in protected areas, overlapping polygons counted
once). Each raw value is normalised to 0–1, multiplied by its weight, and the contributions add
up to the score; the JSON output lists all of it per hazard, so a planner can defend the
ranking. Factors are grouped as Ukraine's 2024 formula groups them (security, social, economic,
ecological) plus the authority's own priority (authority), and the default weights follow the
Landmine Impact Survey where it has weights — quoted from memory and unverified
(docs/sources.md#lis-weights; see :mod:`demine.prioritisation.weights` for every default and its
source, and the TOML format).

Spatial joins are shapely 2 ``STRtree`` queries over all hazards at once, in metres in a local
Lambert azimuthal equal-area projection (:mod:`demine.prioritisation.spatial`). Context layers
are the register's ``settlement`` and ``road`` tables and the ``context_point``,
``context_line`` and ``context_area`` tables (``layer`` = school, health_facility, water_point,
road, railway, power_line, farmland, protected_area).
"""

from demine.prioritisation.load import scoring_inputs
from demine.prioritisation.scoring import Accidents, Ranking, ScoringInputs, score_hazards
from demine.prioritisation.weights import (
    DEFAULT_FACTORS,
    Factor,
    Weights,
    default_weights,
    load_weights,
    weights_from_dict,
)

__all__ = [
    "DEFAULT_FACTORS",
    "Accidents",
    "Factor",
    "Ranking",
    "ScoringInputs",
    "Weights",
    "default_weights",
    "load_weights",
    "score_hazards",
    "scoring_inputs",
    "weights_from_dict",
]
