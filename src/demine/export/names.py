"""Short column names for the Shapefile format, shared by export and import.

A DBF field name holds at most 10 characters. Rather than let GDAL cut names into
``hazard_typ``/``hazard_t_1``, every exported column has a chosen short name, and the
importer knows them as aliases: a Shapefile written by ``demine export`` reads back by itself.
"""

from __future__ import annotations

SHORT_NAMES: dict[str, str] = {
    "hazard_type": "haz_type",
    "organisation": "org",
    "admin_pcode": "adm_pcode",
    "reported_on": "reported",
    "eo_categories": "eo_cats",
    "benchmark_lon": "bm_lon",
    "benchmark_lat": "bm_lat",
    "remaining_area_m2": "remain_m2",
    "original_area_m2": "orig_m2",
    "release_date": "rel_date",
    "entered_crs": "ent_crs",
    "released_on": "released",
    "released_area_m2": "rel_m2",
    "clearance_depth_cm": "depth_cm",
    "disposal_method": "disposal",
    "accident_kind": "acc_kind",
    "eo_category": "eo_cat",
    "occurred_on": "occurred",
    "description": "descript",
    "parent_pcode": "parent",
    "activity_at_time": "activity_t",
    "identification": "ident",
    "birth_date": "birth",
    "team_type": "team_type",
}


def short_name(name: str) -> str:
    """The Shapefile name of a column (10 characters at most)."""
    if name.endswith("_label"):
        return short_name(name.removesuffix("_label"))[:8] + "_l"
    return SHORT_NAMES.get(name, name)[:10]
