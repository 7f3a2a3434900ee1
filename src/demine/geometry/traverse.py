"""Traverse polygons: building a hazard polygon from a field survey sheet of bearings and distances.

Survey teams without a reliable GPS fix record a hazardous area as a traverse: a fixed
**benchmark** (BM) with known coordinates, a **reference point** (RP) measured from it, and
**turning points** (TP1, TP2, ...) each measured from the previous one, by compass bearing and
taped distance. The polygon is the ring of turning points, closed back to TP1.

Every leg is computed on the WGS 84 ellipsoid with ``pyproj.Geod.fwd`` (the bearing is the
azimuth at the station it was taken from, which is what a compass measures). The legs form a
chain (each starts where the previous one ended), so they are computed one after another;
only the final adjustment, which moves every point at once, is a single vectorised call.

CSV format (UTF-8, comma or semicolon separated, one header row; column names are
case-insensitive and in any order; extra columns such as ``remarks`` are ignored):

=============  ==========================================================================
column         meaning
=============  ==========================================================================
point          the point's name (BM, RP, TP1 ...); required on every row
type           ``benchmark``, ``reference`` or ``turning``
bearing        bearing from the previous point (reference and turning rows)
unit           ``deg`` (360 per circle) or ``mil`` (NATO, 6400 per circle); if the column is
               absent every bearing is in degrees
north          ``true`` or ``magnetic`` (magnetic bearings are corrected with the declination);
               if the column is absent every bearing is true
distance_m     horizontal distance in metres from the previous point (> 0)
x, y           benchmark coordinates (``lon``/``lat`` are accepted as names too), in the CRS
               of the sheet: WGS 84 longitude/latitude unless a CRS is given
=============  ==========================================================================

Comment lines start with ``#``; two of them are read as settings:
``# declination = 2.5`` (degrees, east positive; ``2.5E`` and ``2.5W`` also work) and
``# crs = EPSG:32636`` (the CRS of the benchmark coordinates). Options given to
:func:`read_sheet` (``--declination``, ``--crs``) override them.

Rows: exactly one benchmark, first; at most one reference point, next (without one, TP1 is
measured from the benchmark); then at least three turning points with distinct names. A last
turning row that repeats TP1's name is the **closing leg**: the sheet closes explicitly and
the distance between where that leg ends and TP1 is the **misclosure**, refused above the
tolerance (by default 1 % of the loop's length, at least 1 m: compass-and-tape accuracy).
Without a closing leg the ring is closed by assumption and the misclosure is unknown.

Example::

    # declination = 2.5
    point,type,bearing,unit,north,distance_m,x,y
    BM,benchmark,,,,,31.204110,48.102300
    RP,reference,45,deg,magnetic,30.5,,
    TP1,turning,0,deg,true,12,,
    TP2,turning,87.5,deg,magnetic,40,,
    TP3,turning,3200,mil,true,30,,
    TP4,turning,270,deg,true,40,,
    TP1,turning,0,deg,true,30,,

Errors name the row (its line number in the file), the point and the column, and all of a
sheet's errors are reported together as a :class:`~demine.domain.errors.ValidationError`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from demine.domain.errors import DemineError, Problem, ValidationError
from demine.geometry.area import WGS84

MILS_PER_CIRCLE = 6400.0  # NATO mil
DEFAULT_MAX_MISCLOSURE_SHARE = 0.01  # 1:100, compass and tape
MIN_MAX_MISCLOSURE_M = 1.0
POINT_TYPES = ("benchmark", "reference", "turning")
_SYNONYMS = {"lon": "x", "lat": "y", "longitude": "x", "latitude": "y", "distance": "distance_m"}
_REQUIRED_COLUMNS = ("point", "type", "bearing", "distance_m")
_SETTING = re.compile(r"^#\s*(declination|crs)\s*[=:]\s*(.+?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SheetRow:
    """One measured point of a sheet, bearings already converted to true degrees."""

    line: int  # line number in the file, for messages
    name: str
    kind: str  # benchmark | reference | turning
    bearing_deg: float | None = None  # true azimuth from the previous point
    distance_m: float | None = None
    lon: float | None = None  # benchmark only, WGS 84
    lat: float | None = None


@dataclass(frozen=True)
class Sheet:
    """A parsed survey sheet: the benchmark, the optional reference point, the turning points."""

    source: str
    benchmark: SheetRow
    reference: SheetRow | None
    turning: list[SheetRow]  # TP1..TPn, without the closing leg
    closing: SheetRow | None  # the leg back to TP1, when the sheet closes explicitly
    declination_deg: float | None = None


@dataclass(frozen=True)
class SurveyPoint:
    """A point of the computed traverse, in WGS 84."""

    name: str
    kind: str
    lon: float
    lat: float


@dataclass
class Traverse:
    """The polygon built from a sheet, with its measurements."""

    benchmark: SurveyPoint
    reference: SurveyPoint | None
    turning: list[SurveyPoint]
    polygon: shapely.Polygon  # counter-clockwise exterior (GeoJSON's convention)
    area_m2: float
    perimeter_m: float
    closed_explicitly: bool
    misclosure_m: float | None
    max_misclosure_m: float | None
    loop_length_m: float
    adjusted: bool = False
    declination_deg: float | None = None
    closing_point: SurveyPoint | None = field(default=None)

    @property
    def precision(self) -> float | None:
        """The loop length divided by the misclosure (the N of '1:N'); None when unknown or exact."""
        if self.misclosure_m is None or self.misclosure_m <= 0:
            return None
        return self.loop_length_m / self.misclosure_m

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary: the polygon as GeoJSON, areas, misclosure and the points."""
        return {
            "polygon": shapely.geometry.mapping(self.polygon),
            "area_m2": self.area_m2,
            "perimeter_m": self.perimeter_m,
            "closed_explicitly": self.closed_explicitly,
            "misclosure_m": self.misclosure_m,
            "max_misclosure_m": self.max_misclosure_m,
            "precision": self.precision,
            "adjusted": self.adjusted,
            "declination_deg": self.declination_deg,
            # Where the closing leg ended: the misclosure is its distance from the first turning point.
            "closing_point": (
                {"lon": self.closing_point.lon, "lat": self.closing_point.lat} if self.closing_point else None
            ),
            "points": [
                {"point": p.name, "type": p.kind, "lon": p.lon, "lat": p.lat}
                for p in [self.benchmark, *([self.reference] if self.reference else []), *self.turning]
            ],
        }

    def feature_collection(self) -> dict[str, Any]:
        """GeoJSON: the polygon with its figures, then the benchmark, reference and turning points."""
        summary = self.as_dict()
        props = {k: v for k, v in summary.items() if k not in ("polygon", "points", "closing_point")}
        features = [
            {"type": "Feature", "geometry": summary["polygon"], "properties": {"kind": "polygon", **props}}
        ]
        for p in summary["points"]:
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"]]},
                    "properties": {"kind": p["type"], "point": p["point"]},
                }
            )
        return {"type": "FeatureCollection", "features": features}

    def geojson(self) -> str:
        """The feature collection as text."""
        return json.dumps(self.feature_collection(), indent=2)


def parse_declination(text: str) -> float:
    """Degrees east positive from '2.5', '-1.25', '2.5E' or '3W'; raises ValueError otherwise."""
    value = text.strip().upper()
    sign = 1.0
    if value.endswith(("E", "W")):
        sign = -1.0 if value.endswith("W") else 1.0
        value = value[:-1].strip()
    number = float(value) * sign
    if not math.isfinite(number) or abs(number) > 90:
        raise ValueError(f"{text!r} is not a declination between -90 and 90 degrees")
    return number


def read_sheet(
    path: str | Path,
    declination: float | None = None,
    crs: str | None = None,
) -> Sheet:
    """Read a survey sheet CSV file (see the module docstring for the format)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DemineError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise DemineError(f"{path} is not UTF-8 text: {exc.reason}") from exc
    return parse_sheet(text, Path(path).name, declination, crs)


def parse_sheet(
    text: str,
    source: str = "sheet",
    declination: float | None = None,
    crs: str | None = None,
) -> Sheet:
    """Parse survey sheet CSV text; ``declination`` and ``crs`` override the sheet's settings."""
    problems: list[Problem] = []
    settings: dict[str, tuple[int, str]] = {}
    data: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            match = _SETTING.match(stripped)
            if match:
                settings[match.group(1).lower()] = (number, match.group(2))
            continue
        data.append((number, line))
    if not data:
        raise ValidationError([Problem(source, "header", "the sheet has no header row and no points")])
    if declination is None and "declination" in settings:
        line, value = settings["declination"]
        try:
            declination = parse_declination(value)
        except ValueError:
            problems.append(
                Problem(f"{source} line {line}", "declination", f"{value!r} is not a number of degrees")
            )
    transformer = _transformer(crs or (settings["crs"][1] if "crs" in settings else None), source, problems)

    header_line, header_text = data[0]
    delimiter = ";" if header_text.count(";") > header_text.count(",") else ","
    rows = list(csv.reader(io.StringIO("\n".join(line for _, line in data)), delimiter=delimiter))
    header = [h.strip() for h in rows[0]]
    missing = [c for c in _REQUIRED_COLUMNS if c not in {_column(h) for h in header}]
    if missing:
        raise ValidationError(
            [Problem(f"{source} line {header_line}", "header", f"missing column(s): {', '.join(missing)}")]
        )
    records = [
        (line, dict(zip(header, values, strict=False)))
        for (line, _), values in zip(data[1:], rows[1:], strict=True)
    ]
    return _sheet(records, source, declination, transformer, problems)


def sheet_from_records(
    records: Iterable[tuple[int, Mapping[str, Any]]],
    source: str = "sheet",
    declination: float | None = None,
    crs: str | None = None,
) -> Sheet:
    """A sheet from rows already read (a spreadsheet, a form): ``(row number, {column: value})``.

    Column names and meanings are those of the CSV format; values may be text or numbers.
    """
    problems: list[Problem] = []
    transformer = _transformer(crs, source, problems)
    records = list(records)
    columns = {_column(str(k)) for _, record in records for k in record}
    missing = [c for c in _REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ValidationError([Problem(source, "header", f"missing column(s): {', '.join(missing)}")])
    return _sheet(records, source, declination, transformer, problems)


def _column(name: str) -> str:
    name = name.strip().lower()
    return _SYNONYMS.get(name, name)


def _sheet(
    records: list[tuple[int, Mapping[str, Any]]],
    source: str,
    declination: float | None,
    transformer: Transformer | None,
    problems: list[Problem],
) -> Sheet:
    parsed: list[SheetRow] = []
    for line, record in records:
        cells = {_column(str(k)): "" if v is None else str(v).strip() for k, v in record.items()}
        row = _parse_row(cells, line, source, declination, transformer, problems)
        if row is not None:
            parsed.append(row)
    sheet = _assemble(parsed, source, declination, problems)
    if problems:
        raise ValidationError(problems)
    assert sheet is not None
    return sheet


def _transformer(crs: str | None, source: str, problems: list[Problem]) -> Transformer | None:
    if crs is None:
        return None
    try:
        src = CRS.from_user_input(crs)
    except CRSError:
        problems.append(Problem(source, "crs", f"unknown CRS {crs!r}"))
        return None
    if src.equals(CRS.from_epsg(4326)):
        return None
    return Transformer.from_crs(src, 4326, always_xy=True)


def _number(text: str, where: str, column: str, problems: list[Problem]) -> float | None:
    if not text:
        problems.append(Problem(where, column, "is required"))
        return None
    try:
        value = float(text)
    except ValueError:
        problems.append(Problem(where, column, f"{text!r} is not a number"))
        return None
    if not math.isfinite(value):
        problems.append(Problem(where, column, f"{text!r} is not a finite number"))
        return None
    return value


def _parse_row(
    cells: dict[str, str],
    line: int,
    source: str,
    declination: float | None,
    transformer: Transformer | None,
    problems: list[Problem],
) -> SheetRow | None:
    name = cells.get("point", "")
    where = f"{source} line {line}" + (f" ({name})" if name else "")
    if not name:
        problems.append(Problem(where, "point", "is required"))
    kind = cells.get("type", "").lower()
    if kind not in POINT_TYPES:
        problems.append(
            Problem(where, "type", f"{kind or '(blank)'!r} must be one of {', '.join(POINT_TYPES)}")
        )
        return None
    if kind == "benchmark":
        before = len(problems)
        x = _number(cells.get("x", ""), where, "x", problems)
        y = _number(cells.get("y", ""), where, "y", problems)
        if len(problems) > before or x is None or y is None:
            return None
        if transformer is not None:
            x, y = (float(v) for v in transformer.transform(x, y))
            if not (math.isfinite(x) and math.isfinite(y)):
                problems.append(Problem(where, "x", "the coordinates cannot be converted to WGS 84"))
                return None
        if not (-180 <= x <= 180 and -90 <= y <= 90):
            problems.append(
                Problem(
                    where, "x", f"({x:g}, {y:g}) is outside [-180,180]×[-90,90]; longitude (x) comes first"
                )
            )
            return None
        return SheetRow(line, name, kind, lon=x, lat=y)

    before = len(problems)
    bearing = _number(cells.get("bearing", ""), where, "bearing", problems)
    distance = _number(cells.get("distance_m", ""), where, "distance_m", problems)
    unit = cells.get("unit", "").lower() if "unit" in cells else "deg"
    north = cells.get("north", "").lower() if "north" in cells else "true"
    full_circle = {"deg": 360.0, "mil": MILS_PER_CIRCLE}.get(unit)
    if full_circle is None:
        problems.append(Problem(where, "unit", f"{unit or '(blank)'!r} must be deg or mil"))
    elif bearing is not None and not 0 <= bearing <= full_circle:
        problems.append(Problem(where, "bearing", f"{bearing:g} {unit} is outside 0–{full_circle:g}"))
    if north not in ("true", "magnetic"):
        hint = " (convert grid bearings to true first)" if north == "grid" else ""
        problems.append(Problem(where, "north", f"{north or '(blank)'!r} must be true or magnetic{hint}"))
    elif north == "magnetic" and declination is None:
        problems.append(
            Problem(
                where,
                "north",
                "a magnetic bearing needs the declination: pass --declination or add a "
                "'# declination = …' line",
            )
        )
    if distance is not None and distance <= 0:
        problems.append(Problem(where, "distance_m", f"{distance:g} must be greater than 0"))
    if len(problems) > before or bearing is None or full_circle is None:
        return None
    degrees = bearing * 360.0 / full_circle
    if north == "magnetic":
        degrees += declination or 0.0
    return SheetRow(line, name, kind, bearing_deg=degrees % 360.0, distance_m=distance)


def _assemble(
    rows: list[SheetRow], source: str, declination: float | None, problems: list[Problem]
) -> Sheet | None:
    benchmarks = [r for r in rows if r.kind == "benchmark"]
    references = [r for r in rows if r.kind == "reference"]
    turning = [r for r in rows if r.kind == "turning"]
    if problems:
        return None
    if len(benchmarks) != 1:
        problems.append(
            Problem(source, "type", f"the sheet has {len(benchmarks)} benchmark rows; it needs exactly one")
        )
    elif rows[0].kind != "benchmark":
        problems.append(
            Problem(f"{source} line {rows[0].line} ({rows[0].name})", "type", "the benchmark must come first")
        )
    if len(references) > 1:
        r = references[1]
        problems.append(
            Problem(f"{source} line {r.line} ({r.name})", "type", "a sheet has at most one reference point")
        )
    elif references and turning and references[0].line > turning[0].line:
        r = references[0]
        problems.append(
            Problem(
                f"{source} line {r.line} ({r.name})",
                "type",
                "the reference point must come before the turning points",
            )
        )
    closing = None
    if len(turning) > 1 and turning[-1].name == turning[0].name:
        closing, turning = turning[-1], turning[:-1]
    seen: dict[str, int] = {}
    for r in [*benchmarks, *references, *turning]:
        if r.name in seen:
            problems.append(
                Problem(
                    f"{source} line {r.line} ({r.name})",
                    "point",
                    f"the name is already used on line {seen[r.name]}",
                )
            )
        seen.setdefault(r.name, r.line)
    if len(turning) < 3:
        problems.append(
            Problem(
                source, "type", f"the sheet has {len(turning)} turning points; a polygon needs at least 3"
            )
        )
    if problems:
        return None
    return Sheet(
        source=source,
        benchmark=benchmarks[0],
        reference=references[0] if references else None,
        turning=turning,
        closing=closing,
        declination_deg=declination,
    )


def compute_traverse(sheet: Sheet, max_misclosure_m: float | None = None, adjust: bool = False) -> Traverse:
    """Build the polygon of a sheet on the WGS 84 ellipsoid.

    ``max_misclosure_m`` is the largest misclosure accepted (default: 1 % of the loop length,
    at least 1 m). ``adjust`` distributes the misclosure over the turning points in proportion
    to the distance travelled (the compass or Bowditch rule), so the loop closes exactly.
    Raises :class:`ValidationError` when the misclosure is too large or the turning points
    make an invalid polygon.
    """
    bm = sheet.benchmark
    assert bm.lon is not None and bm.lat is not None
    lon, lat = bm.lon, bm.lat
    reference = None
    if sheet.reference is not None:
        lon, lat = _forward(lon, lat, sheet.reference)
        reference = SurveyPoint(sheet.reference.name, "reference", lon, lat)
    legs = [*sheet.turning, *([sheet.closing] if sheet.closing else [])]
    points: list[tuple[float, float]] = []
    for leg in legs:
        lon, lat = _forward(lon, lat, leg)
        points.append((lon, lat))
    # The loop runs from TP1 round to the closing point (or the last TP): TP1's own leg only
    # places the loop, it is not part of it.
    loop_legs = np.array([leg.distance_m for leg in legs[1:]], dtype=float)
    loop_length = float(loop_legs.sum())
    misclosure = None
    closing_point = None
    limit = None
    record = (
        f"{sheet.source} line {sheet.closing.line} ({sheet.closing.name})" if sheet.closing else sheet.source
    )
    if sheet.closing is not None:
        (x0, y0), (xc, yc) = points[0], points[-1]
        towards_first, _, misclosure = WGS84.inv(xc, yc, x0, y0)
        closing_point = SurveyPoint(sheet.closing.name, "closing", xc, yc)
        limit = (
            max_misclosure_m
            if max_misclosure_m is not None
            else max(MIN_MAX_MISCLOSURE_M, DEFAULT_MAX_MISCLOSURE_SHARE * loop_length)
        )
        if misclosure > limit:
            raise ValidationError(
                [
                    Problem(
                        record,
                        "distance_m",
                        f"the traverse does not close: the closing leg ends {misclosure:,.2f} m from "
                        f"{sheet.turning[0].name} (1:{loop_length / misclosure:,.0f}); at most "
                        f"{limit:,.2f} m is accepted. Check the bearings, units and declination",
                    )
                ]
            )
        points = points[:-1]
        if adjust and misclosure > 0:
            # Bowditch: each point moves towards closure in proportion to the distance
            # travelled to reach it from TP1.
            share = np.cumsum(loop_legs)[:-1] / loop_length
            xs = np.array([p[0] for p in points[1:]])
            ys = np.array([p[1] for p in points[1:]])
            nx, ny, _ = WGS84.fwd(xs, ys, np.full(len(xs), towards_first), share * misclosure)
            points = [points[0], *zip(np.asarray(nx).tolist(), np.asarray(ny).tolist(), strict=True)]
    ring = shapely.Polygon(points)
    if not ring.is_valid:
        raise ValidationError(
            [
                Problem(
                    record,
                    "bearing",
                    f"the turning points make an invalid polygon ({shapely.is_valid_reason(ring)}); "
                    "check the bearings and the order of the rows",
                )
            ]
        )
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    area, perimeter = WGS84.polygon_area_perimeter(xs, ys)
    turning = [SurveyPoint(r.name, "turning", x, y) for r, (x, y) in zip(sheet.turning, points, strict=True)]
    return Traverse(
        benchmark=SurveyPoint(bm.name, "benchmark", bm.lon, bm.lat),
        reference=reference,
        turning=turning,
        polygon=shapely.geometry.polygon.orient(ring, 1.0),
        area_m2=abs(float(area)),
        perimeter_m=float(perimeter),
        closed_explicitly=sheet.closing is not None,
        misclosure_m=float(misclosure) if misclosure is not None else None,
        max_misclosure_m=limit,
        loop_length_m=loop_length,
        adjusted=bool(adjust and misclosure),
        declination_deg=sheet.declination_deg,
        closing_point=closing_point,
    )


def traverse_from_csv(
    path: str | Path,
    declination: float | None = None,
    crs: str | None = None,
    max_misclosure_m: float | None = None,
    adjust: bool = False,
) -> Traverse:
    """Read a survey sheet file and build its polygon (what ``demine traverse`` does)."""
    return compute_traverse(read_sheet(path, declination, crs), max_misclosure_m, adjust)


def _forward(lon: float, lat: float, leg: SheetRow) -> tuple[float, float]:
    x, y, _ = WGS84.fwd(lon, lat, leg.bearing_deg, leg.distance_m)
    return float(x), float(y)
