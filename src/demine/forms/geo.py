"""ODK's geo answers as text: ``"lat lon alt acc"`` points and ``"lat lon alt acc;…"`` shapes.

ODK Collect and Enketo store a geopoint as latitude, longitude, altitude and accuracy
separated by spaces, and a geoshape as such points separated by semicolons, the first point
repeated at the end. KoboToolbox and ODK Central export them so in CSV and XLSX. Latitude
comes *first*: the opposite of GeoJSON and WKT. Every reader here either returns a value or
raises :class:`~demine.ingest.values.ValueProblem` with a reason code; nothing else escapes.
"""

from __future__ import annotations

import math
import re
from typing import Any

import shapely

from demine.ingest.values import ValueProblem, as_text

_SEPARATORS = re.compile(r"[\s,]+")


def _numbers(text: str, field: str) -> list[float]:
    parts = [p for p in _SEPARATORS.split(text.strip()) if p]
    if not 2 <= len(parts) <= 4:
        raise ValueProblem(
            "invalid_geometry", f"{field}: {text!r} is not 'latitude longitude [altitude [accuracy]]'"
        )
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ValueProblem(
            "invalid_geometry", f"{field}: {text!r} has a value that is not a number"
        ) from None
    if not all(math.isfinite(n) for n in numbers):
        raise ValueProblem("out_of_range_coordinates", f"{field}: {text!r} has NaN or infinite coordinates")
    lat, lon = numbers[0], numbers[1]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueProblem(
            "out_of_range_coordinates",
            f"{field}: latitude {lat:g}, longitude {lon:g} out of range (ODK writes latitude first)",
        )
    return numbers


def parse_geopoint(value: Any, field: str) -> tuple[float, float] | None:
    """``(lon, lat)`` from an ODK geopoint string; None for a blank answer."""
    text = as_text(value)
    if text is None:
        return None
    numbers = _numbers(text, field)
    return (numbers[1], numbers[0])


def parse_geoshape(value: Any, field: str) -> shapely.Polygon | None:
    """A polygon (lon/lat) from an ODK geoshape string; None for a blank answer.

    An unclosed ring is closed (Enketo and older Collect versions do not repeat the first
    point). Fewer than three distinct points is an invalid geometry, not a crash.
    """
    text = as_text(value)
    if text is None:
        return None
    points = []
    for part in text.split(";"):
        if part.strip():
            lat_lon = _numbers(part, field)
            points.append((lat_lon[1], lat_lon[0]))
    if points and points[0] != points[-1]:
        points.append(points[0])
    if len(set(points)) < 3:
        raise ValueProblem(
            "invalid_geometry", f"{field}: a shape needs at least 3 distinct points, got {len(set(points))}"
        )
    try:
        return shapely.Polygon(points)
    except (ValueError, shapely.errors.GEOSException) as exc:
        raise ValueProblem("invalid_geometry", f"{field}: {exc}") from None


def from_geojson(geometry: Any, field: str) -> shapely.Geometry | None:
    """A shapely geometry from a GeoJSON geometry object (a Kobo GeoJSON export's features)."""
    if geometry is None:
        return None
    try:
        return shapely.geometry.shape(geometry)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, shapely.errors.GEOSException):
        raise ValueProblem("invalid_geometry", f"{field}: the GeoJSON geometry cannot be read") from None
