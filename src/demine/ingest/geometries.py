"""From raw source geometry to a WGS 84 geometry fit to store, or a reason why not.

Each step works on a whole batch with shapely 2's vectorised functions; only the rare
invalid polygon is handled one at a time. In order:

1. **read** WKB (GDAL formats), WKT or GeoJSON text, or a pair of coordinate columns;
2. **missing**: no geometry, or an empty one;
3. **type**: polygons (hazards, releases, admin areas) must be Polygon or MultiPolygon,
   points (finds, accidents) a Point; Z and M are dropped (the register is 2D);
4. **coordinates**: NaN or infinite coordinates, or any outside [-180,180]×[-90,90] once
   reprojected to WGS 84 (always_xy), are out of range;
5. **polygon checks** (GICHD geocheck's basic rules, as :func:`demine.geometry.polygons.
   polygon_problems`): at least three distinct vertices per part, then OGC validity;
6. **plausibility** (:func:`demine.geometry.polygons.implausible`): too many vertices, a
   polygon the long way round the antimeridian, an area no hazard reaches;
7. **area of interest**: the geometry must lie inside ``--aoi``.

Safe repairs, after which a feature counts as *repaired* (and its geometry as entered is
still kept in ``entered_geometry``):

* ``duplicate_vertices``: consecutive duplicate vertices are dropped (nothing moves);
* ``closed_ring``: a ring whose last vertex is not its first is closed (GDAL passes such
  rings through from some Shapefiles and KML);
* ``made_valid``: an invalid polygon is replaced by the polygonal part of
  ``shapely.make_valid`` **only when that changes its area by at most 1 %** (a spike, a
  self-touching ring, a small overshoot loop where a digitiser crossed its own line). A
  larger change means the shape itself is wrong — a bow-tie from two swapped vertices, a
  hole outside its shell — and only its author can say what was meant: it is rejected with
  GEOS's reason;
* ``collection_part``: a GeometryCollection whose only areal parts are polygons keeps them;
  a single-part MultiPoint or a collection of one point becomes that point.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.enums import TransformDirection
from pyproj.exceptions import CRSError

from demine.domain.errors import DemineError
from demine.geometry.polygons import as_multipolygon, implausible
from demine.ingest.report import Rejection

# A repair may change a polygon's area by this share at most (see the module docstring).
MAX_REPAIR_AREA_CHANGE = 0.01

POLYGON_TYPES = (3, 6)  # shapely type ids: Polygon, MultiPolygon
TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    2: "LinearRing",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}


@dataclass(frozen=True)
class Reprojection:
    """The source CRS, how it is named in the register, and the transform to WGS 84."""

    crs: CRS
    name: str  # "EPSG:32636" where the CRS has an authority code, else its WKT
    transformer: Transformer | None  # None when the source is already WGS 84 lon/lat
    assumed: bool  # True when the file named no CRS and none was given

    @classmethod
    def from_source(cls, declared: str | None, override: str | None) -> Reprojection:
        """The CRS to read coordinates in: ``--crs`` first, then the file's, then WGS 84."""
        text = override or declared or "EPSG:4326"
        try:
            crs = CRS.from_user_input(text)
        except CRSError as exc:
            raise DemineError(f"unknown CRS {text!r}: give it as EPSG:XXXX") from exc
        authority = crs.to_authority(min_confidence=90)
        name = f"{authority[0]}:{authority[1]}" if authority else crs.to_wkt()
        wgs84 = CRS.from_epsg(4326)
        if crs.equals(wgs84, ignore_axis_order=True):
            transformer = None
        else:
            try:
                transformer = Transformer.from_crs(crs, wgs84, always_xy=True)
            except CRSError as exc:
                raise DemineError(f"cannot transform {name} to WGS 84: {exc}") from exc
        return cls(crs, name, transformer, assumed=override is None and declared is None)

    @property
    def urn(self) -> str | None:
        """The OGC URN of the CRS for a GeoJSON ``crs`` member (None for WGS 84 lon/lat)."""
        if self.transformer is None:
            return None
        authority = self.crs.to_authority(min_confidence=90)
        return f"urn:ogc:def:crs:{authority[0]}::{authority[1]}" if authority else None


@dataclass
class PreparedGeometries:
    """One batch's geometries after checking: each row has a geometry or a rejection."""

    geometries: list[shapely.Geometry | None]  # WGS 84, repaired: what will be stored
    entered: list[shapely.Geometry | None]  # as read, in the source CRS (for the rejection file)
    entered_text: list[str | None]  # the WKT (or text) as entered, where it differs from what is stored
    rejections: list[Rejection | None]
    repairs: list[str | None]  # the repair made, when one was


def _quiet(func: Any) -> Any:
    """Run ``func`` with numpy's floating-point warnings off: NaN coordinates are expected input
    here (they are rejected one by one), not a reason to warn."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(all="ignore"):
            return func(*args, **kwargs)

    return wrapper


def _number(value: Any) -> float:
    """A coordinate from a cell: numbers as they are, text with a decimal point or comma."""
    if isinstance(value, bool):
        raise ValueError("a boolean")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if "," in text and "." not in text and text.count(",") == 1:
        text = text.replace(",", ".")  # decimal comma, as spreadsheets in many locales write
    return float(text)


@_quiet
def read_wkb(wkb: Sequence[bytes | None]) -> tuple[np.ndarray, list[Rejection | None], list[str | None]]:
    """Parse WKB; an unclosed ring is closed (a repair), anything else unreadable is rejected."""
    raw = np.empty(len(wkb), dtype=object)
    raw[:] = list(wkb)
    geoms = shapely.from_wkb(raw, on_invalid="ignore")
    rejections: list[Rejection | None] = [None] * len(wkb)
    repairs: list[str | None] = [None] * len(wkb)
    for i in np.flatnonzero(shapely.is_missing(geoms) & (raw != None)):  # noqa: E711 (elementwise)
        try:
            fixed = shapely.from_wkb(raw[i], on_invalid="fix")
        except (shapely.errors.GEOSException, ValueError, TypeError):
            fixed = None
        if fixed is None:
            rejections[i] = Rejection("invalid_geometry", "the geometry cannot be read (damaged WKB)")
        else:
            geoms[i] = fixed
            repairs[i] = "closed_ring"
    return geoms, rejections, repairs


@_quiet
def read_text(texts: Sequence[Any]) -> tuple[np.ndarray, list[Rejection | None], list[str | None]]:
    """Parse WKT or GeoJSON text from a column, one value at a time (each may fail alone)."""
    geoms = np.empty(len(texts), dtype=object)
    rejections: list[Rejection | None] = [None] * len(texts)
    repairs: list[str | None] = [None] * len(texts)
    for i, value in enumerate(texts):
        text = "" if value is None else str(value).strip()
        if not text:
            continue
        try:
            if text.startswith("{"):
                geoms[i] = shapely.from_geojson(json.dumps(_geojson_geometry_of(json.loads(text))))
            else:
                geoms[i] = shapely.from_wkt(text)
        except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
            try:
                geoms[i] = None if text.startswith("{") else shapely.from_wkt(text, on_invalid="fix")
            except (ValueError, TypeError, shapely.errors.GEOSException):
                geoms[i] = None
            if geoms[i] is None:
                message = " ".join(str(exc).split())[:200]
                rejections[i] = Rejection("invalid_geometry", f"the geometry cannot be read: {message}")
            else:
                repairs[i] = "closed_ring"
    return geoms, rejections, repairs


def _geojson_geometry_of(value: Any) -> Any:
    if isinstance(value, dict) and value.get("type") == "Feature":
        return value.get("geometry")
    return value


@_quiet
def read_xy(xs: Sequence[Any], ys: Sequence[Any]) -> tuple[np.ndarray, list[Rejection | None]]:
    """Points from two coordinate columns (x/longitude first)."""
    geoms = np.empty(len(xs), dtype=object)
    rejections: list[Rejection | None] = [None] * len(xs)
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        blank_x = x is None or str(x).strip() == ""
        blank_y = y is None or str(y).strip() == ""
        if blank_x and blank_y:
            continue
        if blank_x or blank_y:
            rejections[i] = Rejection(
                "missing_geometry", "needs both coordinates (x/longitude and y/latitude)"
            )
            continue
        try:
            geoms[i] = shapely.Point(_number(x), _number(y))
        except (ValueError, TypeError):
            rejections[i] = Rejection("invalid_geometry", f"coordinates ({x!r}, {y!r}) are not numbers")
    return geoms, rejections


@_quiet
def prepare(
    geoms: np.ndarray,
    rejections: list[Rejection | None],
    repairs: list[str | None],
    kind_geometry: str,
    reprojection: Reprojection,
    aoi: tuple[float, float, float, float] | None = None,
    entered_text: Sequence[str | None] | None = None,
) -> PreparedGeometries:
    """Check, repair and reproject one batch (``kind_geometry`` is "polygon" or "point")."""
    n = len(geoms)
    rejections = list(rejections)
    repairs = list(repairs)
    ok = np.array([r is None for r in rejections], dtype=bool)

    def reject(index: Any, reason: str, message: str) -> None:
        for i in np.atleast_1d(index):
            if ok[i]:
                rejections[i] = Rejection(reason, message)
                ok[i] = False

    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    reject(np.flatnonzero(missing & ok), "missing_geometry", "the feature has no geometry (or an empty one)")
    entered = list(geoms)
    extra_dimensions = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(ok)
    extra_dimensions[idx] = shapely.has_z(geoms[idx]) | shapely.has_m(geoms[idx])
    work = np.full(n, None, dtype=object)
    idx = np.flatnonzero(ok)
    work[idx] = shapely.force_2d(geoms[idx])

    # Types.
    idx = np.flatnonzero(ok)
    type_ids = shapely.get_type_id(work[idx])
    for i, type_id in zip(idx, type_ids, strict=True):
        geom = work[i]
        if kind_geometry == "polygon":
            if type_id in POLYGON_TYPES:
                continue
            polys = as_multipolygon(geom) if type_id == 7 else None
            if polys is not None:
                work[i], repairs[i] = polys, repairs[i] or "collection_part"
                continue
            reject(i, "wrong_geometry_type", f"must be a Polygon or MultiPolygon, got {TYPE_NAMES[type_id]}")
        else:
            if type_id == 0:
                continue
            points = (
                [p for p in shapely.get_parts(geom) if p.geom_type == "Point"] if type_id in (4, 7) else []
            )
            if len(points) == 1 and len(shapely.get_parts(geom)) == 1:
                work[i], repairs[i] = points[0], repairs[i] or "collection_part"
                continue
            reject(i, "wrong_geometry_type", f"must be a Point, got {TYPE_NAMES[type_id]}")

    # Coordinates: finite before reprojection, in range after.
    idx = np.flatnonzero(ok)
    if len(idx):
        coords, owner = shapely.get_coordinates(work[idx], return_index=True)
        bad = np.zeros(len(idx), dtype=bool)
        np.logical_or.at(bad, owner, ~np.isfinite(coords).all(axis=1))
        reject(idx[bad], "out_of_range_coordinates", "has NaN or infinite coordinates")
    idx = np.flatnonzero(ok)
    if len(idx) and reprojection.transformer is not None:
        transformer = reprojection.transformer
        before, owner = shapely.get_coordinates(work[idx], return_index=True)
        work[idx] = shapely.transform(
            work[idx], lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
        )
        # Far outside its zone a projection wraps round instead of failing (a UTM northing of
        # 90,000 km comes back as a plausible 147°W 42°N): coordinates that do not survive
        # the trip back are out of range, not somewhere else on Earth.
        after = shapely.get_coordinates(work[idx])
        back = np.column_stack(
            transformer.transform(after[:, 0], after[:, 1], direction=TransformDirection.INVERSE)
        )
        drift = ~np.isclose(back, before, rtol=1e-7, atol=1e-4).all(axis=1)
        lost = np.zeros(len(idx), dtype=bool)
        np.logical_or.at(lost, owner, drift)
        reject(
            idx[lost],
            "out_of_range_coordinates",
            f"coordinates outside the range of {reprojection.name} (they do not transform back)",
        )
    idx = np.flatnonzero(ok)
    if len(idx):
        bounds = shapely.bounds(work[idx])
        with np.errstate(invalid="ignore"):
            inside = (
                np.isfinite(bounds).all(axis=1)
                & (bounds[:, 0] >= -180)
                & (bounds[:, 2] <= 180)
                & (bounds[:, 1] >= -90)
                & (bounds[:, 3] <= 90)
            )
        hint = "; the file names no CRS: pass --crs" if reprojection.assumed else "; is longitude first?"
        for i, box in zip(idx[~inside], bounds[~inside], strict=True):
            reject(
                i,
                "out_of_range_coordinates",
                "coordinates outside [-180,180]×[-90,90] in WGS 84 "
                f"(bounds {box[0]:g},{box[1]:g},{box[2]:g},{box[3]:g}){hint}",
            )

    if kind_geometry == "polygon":
        idx = np.flatnonzero(ok)
        for i, reason in zip(idx, implausible(work[idx]), strict=True):
            if reason is not None:
                reject(i, "implausible_geometry", reason)
        _check_polygons(work, ok, reject, repairs)

    idx = np.flatnonzero(ok)
    if aoi is not None and len(idx):
        inside = shapely.covered_by(work[idx], shapely.box(*aoi))
        reject(
            idx[~inside],
            "outside_area_of_interest",
            "lies outside the area of interest {:g},{:g},{:g},{:g}".format(*aoi),
        )
    final = [work[i] if ok[i] else None for i in range(n)]
    repairs = [repairs[i] if ok[i] else None for i in range(n)]
    # The geometry as entered is kept where it differs from the one stored: another CRS, a
    # repair, Z or M values. Otherwise the stored geometry is the entered one (NULL, as for
    # hazards registered directly in WGS 84) and the register does not hold it twice.
    differs = ok & (np.array([r is not None for r in repairs]) | extra_dimensions)
    if reprojection.transformer is not None:
        differs = ok.copy()
    texts: list[str | None] = [None] * n
    idx = np.flatnonzero(differs)
    if len(idx):
        if entered_text is not None:
            for i in idx:
                texts[i] = entered_text[i]
        else:
            for i, text in zip(idx, shapely.to_wkt(geoms[idx], rounding_precision=-1), strict=True):
                texts[i] = text
    return PreparedGeometries(final, entered, texts, rejections, repairs)


def _check_polygons(work: np.ndarray, ok: np.ndarray, reject: Any, repairs: list[str | None]) -> None:
    idx = np.flatnonzero(ok)
    if not len(idx):
        return
    before = shapely.get_num_coordinates(work[idx])
    try:
        cleaned = shapely.remove_repeated_points(work[idx], 0.0)
    except shapely.errors.GEOSException:
        cleaned = np.array([_remove_repeated(g) for g in work[idx]], dtype=object)
    after = shapely.get_num_coordinates(cleaned)
    for i, g, b, a in zip(idx, cleaned, before, after, strict=True):
        if g is None:
            continue
        if a < b:
            work[i], repairs[i] = g, repairs[i] or "duplicate_vertices"

    # At least three distinct vertices in each part's outer ring.
    parts, owner = shapely.get_parts(work[idx], return_index=True)
    # With repeats gone, a closed ring of three distinct vertices has four coordinates. Rings
    # that repeat a vertex non-consecutively are caught as invalid below.
    closed_length = shapely.get_num_coordinates(shapely.get_exterior_ring(parts))
    few = np.zeros(len(idx), dtype=bool)
    np.logical_or.at(few, owner, closed_length < 4)
    for i in idx[few]:
        counts = [len(set(p.exterior.coords)) for p in shapely.get_parts(work[i])]
        reject(i, "invalid_geometry", f"a polygon needs 3 or more distinct vertices (has {min(counts)})")

    idx = np.flatnonzero(ok)
    if not len(idx):
        return
    valid = shapely.is_valid(work[idx])
    for i in idx[~valid]:
        geom = work[i]
        reason = shapely.is_valid_reason(geom)
        try:
            fixed = as_multipolygon(shapely.make_valid(geom))
        except shapely.errors.GEOSException:
            fixed = None
        # The area of an invalid polygon as its rings enclose it (shoelace): a bow-tie's
        # halves cancel, a spike adds nothing. make_valid's result must keep it within 1 %.
        was = abs(float(shapely.area(geom)))
        now = float(fixed.area) if fixed is not None else 0.0
        if fixed is not None and was > 0 and abs(now - was) <= MAX_REPAIR_AREA_CHANGE * was:
            work[i], repairs[i] = fixed, "made_valid"
            continue
        change = ""
        if was > 0 and abs(now - was) > 10 * was:
            # The rings' halves all but cancel (a bow-tie, a ring drawn back over itself): a
            # percentage of almost nothing would read as 70368744177850 %.
            change = (
                "; its crossing rings enclose almost no area, and repairing it would create land they do not"
            )
        elif was > 0:
            change = f"; repairing it would change its area by {abs(now - was) / was:.0%}"
        reject(i, "invalid_geometry", f"invalid polygon: {reason}{change}; correct it at the source")


def _remove_repeated(geom: shapely.Geometry) -> shapely.Geometry | None:
    try:
        return shapely.remove_repeated_points(geom, 0.0)
    except shapely.errors.GEOSException:
        return None
