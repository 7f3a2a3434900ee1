"""Reading geometry the way users give it: GeoJSON or WKT, in any CRS, into WGS 84.

The text the user entered and its CRS are returned alongside, so the store can keep them
(field teams survey in UTM or a national grid; the original numbers are evidence).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from demine.domain.errors import Problem, ValidationError

WGS84_CRS = "EPSG:4326"


@dataclass(frozen=True)
class EnteredGeometry:
    """A geometry in WGS 84 plus what the user actually entered."""

    geometry: shapely.Geometry
    entered_text: str
    entered_crs: str


def _from_geojson(value: Any) -> shapely.Geometry:
    if isinstance(value, dict) and value.get("type") == "FeatureCollection":
        features = value.get("features") or []
        if len(features) != 1:
            raise ValueError(f"a FeatureCollection with {len(features)} features; give exactly one")
        value = features[0]
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if value is None:
        raise ValueError("the feature has no geometry")
    return shapely.from_geojson(json.dumps(value))


def read_geometry(text: str, record: str, field: str, crs: str | None = None) -> EnteredGeometry:
    """Parse GeoJSON (geometry, Feature or one-feature collection) or WKT into WGS 84.

    ``crs`` is the coordinate system the text is written in (default WGS 84 lon/lat).
    Raises :class:`ValidationError` naming ``record`` and ``field`` when it cannot be read.
    """
    stripped = text.strip()
    try:
        is_json = stripped.startswith("{")
        geom = _from_geojson(json.loads(stripped)) if is_json else shapely.from_wkt(stripped)
    except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
        raise ValidationError([Problem(record, field, f"cannot read geometry: {exc}")]) from exc
    source = crs or WGS84_CRS
    try:
        source_crs = CRS.from_user_input(source)
    except CRSError as exc:
        raise ValidationError([Problem(record, field, f"unknown CRS {source!r}")]) from exc
    if not source_crs.equals(CRS.from_epsg(4326)):
        transformer = Transformer.from_crs(source_crs, 4326, always_xy=True)
        projected = geom
        geom = shapely.transform(geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
        # Far outside a projection's zone the inverse lands on a plausible but wrong place;
        # going back and comparing catches it (e.g. a northing typed with an extra digit).
        back = shapely.transform(
            geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1], direction="INVERSE"))
        )
        drift = shapely.hausdorff_distance(projected, back) if not geom.is_empty else 0.0
        if not np.isfinite(drift) or drift > 1.0:
            raise ValidationError(
                [Problem(record, field, f"coordinates are outside the area where {source} is defined")]
            )
    return EnteredGeometry(geometry=geom, entered_text=stripped, entered_crs=source)
