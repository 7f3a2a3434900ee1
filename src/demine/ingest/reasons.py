"""The reason codes an import rejects a feature with, and what each means.

A module of its own, with no imports, so that ``demine import-reasons`` answers at once.
"""

from __future__ import annotations

# Reason code -> what it means. The keys are part of the command's JSON output: keep them.
REASONS: dict[str, str] = {
    "missing_geometry": "the feature has no geometry, or an empty one",
    "invalid_geometry": "the geometry cannot be read, or is invalid and not safely repairable",
    "wrong_geometry_type": "a point where a polygon is needed, a line, or the like",
    "implausible_geometry": "over 50,000 vertices, across the antimeridian, or over 10,000 km²",
    "out_of_range_coordinates": "coordinates outside [-180,180]×[-90,90] after reprojection, or NaN",
    "outside_area_of_interest": "the geometry does not lie inside --aoi",
    "duplicate": "the same record appears earlier in the file, or is already in the register",
    "missing_required_field": "a required field is missing or blank",
    "bad_code_list_value": "a value is neither a code nor a label of its code list",
    "bad_date": "a date cannot be read, lies in the future or contradicts another date",
    "bad_number": "a number cannot be read",
    "invalid_value": "a value breaks a rule of the register (negative depth, zero quantity ...)",
    "unknown_reference": "a hazard, activity or organisation named by the row does not exist",
    "release_outside_hazard": "a release product lies outside its hazard",
    "release_overlap": "a release product overlaps land an earlier product released",
    "release_not_applicable": "the hazard is closed or has nothing left to release",
    "release_changed": "a re-imported release product changed shape, hazard, method or date",
    "hazard_has_releases": "a re-imported hazard changed its polygon, but releases depend on it",
}
