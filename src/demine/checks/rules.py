"""The catalogue of geometry checks: every rule's id, severity, description and source.

Severities follow GICHD geocheck's ``issue_count.sql`` where geocheck has the rule (HIGH:
invalid polygons, duplicate polygons, duplicate points in polygons, overlapping polygons;
MEDIUM: fewer than 3 points, duplicate single points, objects with the same ids; advisory:
vertices more than 5 km apart). Rules geocheck does not have (containment, land release
accounting, coordinate plausibility) are demine's own; their severity says whether the
register can be trusted with the record as it is (high), whether someone should look (medium),
or whether it is worth knowing (low).

A :class:`Finding` is one rule broken by one record; ``value`` is the measured quantity the
message quotes (a count, metres, a percentage), so findings can be sorted and filtered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SEVERITIES = ("high", "medium", "low")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

# Layers a finding can belong to: short names for the register's feature tables.
LAYER_TABLES = {
    "hazard": "hazard",
    "remaining": "hazard_remaining",
    "release": "release_product",
    "admin": "admin_area",
    "find": "eo_find",
    "accident": "accident",
}
POLYGON_LAYERS = ("hazard", "remaining", "release", "admin")
POINT_LAYERS = ("find", "accident")

GEOCHECK = "GICHD geocheck (issue_count.sql)"
DEMINE = "demine"


@dataclass(frozen=True)
class Rule:
    """One check: what it finds, how serious it is, where the rule comes from."""

    id: str
    severity: str
    description: str
    source: str
    repairable: bool = False


_RULES = [
    Rule("malformed_geometry", "high", "The stored geometry cannot be read as well-formed WKB.", DEMINE),
    Rule("missing_geometry", "high", "A record that needs a geometry has none, or an empty one.", DEMINE),
    Rule(
        "wrong_geometry_type",
        "high",
        "A polygon layer holds a non-polygon, or a point layer a non-point.",
        DEMINE,
    ),
    Rule(
        "coordinates_out_of_range",
        "high",
        "Coordinates outside [-180, 180] × [-90, 90], or not finite (NaN, infinity).",
        "GICHD IMSMA Core docs: WGS 84 decimal degrees (docs/sources.md#wgs84)",
    ),
    Rule(
        "lat_lon_swapped",
        "medium",
        "The geometry lies outside the programme area, but inside with longitude and latitude swapped.",
        DEMINE,
    ),
    Rule(
        "outside_area_of_interest",
        "medium",
        "The geometry lies outside the extent of the programme's administrative areas.",
        "GICHD IMSMA Core docs: check lat/long against the area of interest (docs/sources.md#wgs84)",
    ),
    Rule("too_few_vertices", "medium", "A polygon ring has fewer than 3 distinct vertices.", GEOCHECK),
    Rule(
        "duplicate_vertices",
        "high",
        "Consecutive vertices of a ring repeat each other (within 1e-9°, about 0.1 mm).",
        GEOCHECK,
        repairable=True,
    ),
    Rule(
        "invalid_polygon",
        "high",
        "The polygon is not valid (OGC simple features); the GEOS reason is given.",
        GEOCHECK,
        repairable=True,
    ),
    Rule(
        "long_segment",
        "low",
        "Consecutive vertices of a hazard or release product are more than 5 km apart (geodesic).",
        GEOCHECK,
    ),
    Rule("duplicate_polygon", "high", "Two records of a layer have the same polygon.", GEOCHECK),
    Rule("duplicate_point", "medium", "Two finds or accidents at the same place on the same date.", GEOCHECK),
    Rule(
        "duplicate_id",
        "medium",
        "Two records share a code (after trimming spaces and ignoring case) or a source id.",
        GEOCHECK,
    ),
    Rule(
        "hazard_overlap",
        "high",
        "Two hazards overlap; the overlap is given as a share of the smaller.",
        GEOCHECK,
    ),
    Rule("release_overlap", "medium", "Two release products of the same hazard overlap.", DEMINE),
    Rule("unknown_admin_area", "medium", "The hazard's admin P-code names no administrative area.", DEMINE),
    Rule(
        "outside_admin_area", "medium", "The hazard lies entirely outside the area its P-code names.", DEMINE
    ),
    Rule(
        "partly_outside_admin_area",
        "low",
        "Part of the hazard (more than the tolerance) lies outside the area its P-code names.",
        DEMINE,
    ),
    Rule(
        "release_outside_hazard",
        "high",
        "More of a release product than the tolerance lies outside its hazard's recorded polygon.",
        "demine.domain.landrelease (IMAS 07.11)",
    ),
    Rule(
        "forced_release_outside_hazard",
        "low",
        "A product recorded with --force lies partly outside its hazard (accepted knowingly).",
        "demine.domain.landrelease (IMAS 07.11)",
    ),
    Rule(
        "find_outside_hazard",
        "medium",
        "A find linked to a hazard lies outside it (beyond GPS tolerance).",
        DEMINE,
    ),
    Rule(
        "find_outside_release",
        "medium",
        "A find linked to a release product lies outside that product (beyond GPS tolerance).",
        DEMINE,
    ),
    Rule(
        "area_mismatch", "medium", "The stored area differs from the geodesic area of the geometry.", DEMINE
    ),
    Rule(
        "remaining_mismatch",
        "high",
        "The hazard's remaining area differs from its remaining-polygon record (or that record is missing).",
        DEMINE,
    ),
    Rule(
        "release_balance",
        "high",
        "Original area ≠ cancelled + reduced + cleared + remaining for the hazard.",
        "GICHD MDR and IMAS 07.10: land release identity (docs/sources.md#release-balance)",
    ),
]

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}


@dataclass(frozen=True)
class Finding:
    """One rule broken by one record."""

    rule: str
    layer: str
    record: str  # the code, P-code or id people know the record by
    record_id: int  # the row id in the layer's table
    message: str
    value: float | None = None

    @property
    def severity(self) -> str:
        return RULES[self.rule].severity

    def as_dict(self) -> dict[str, Any]:
        """The JSON form ``demine check --json`` prints."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "layer": self.layer,
            "record": self.record,
            "id": self.record_id,
            "message": self.message,
            "value": self.value,
        }


def sort_key(finding: Finding) -> tuple[int, str, str, int]:
    """Most severe first, then by rule, layer and record id: a stable, readable order."""
    return (SEVERITY_RANK[finding.severity], finding.rule, finding.layer, finding.record_id)
