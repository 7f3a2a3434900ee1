"""A small map of one record as inline SVG: its polygon, what remains of it, releases, finds.

No tiles and no script: the record page must read offline and print. Coordinates are
longitude/latitude drawn in an equirectangular projection scaled by the cosine of the
middle latitude, which is true to a few parts per thousand over a hazard's extent; a scale
bar in metres and a north arrow say how big and which way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

import shapely
from markupsafe import Markup

WIDTH, HEIGHT, PAD = 480, 320, 18
METRES_PER_DEGREE = 111_320.0  # along a meridian, and along the equator


@dataclass(frozen=True)
class Shape:
    """One geometry to draw, with its style and the text a pointer shows over it."""

    geometry: shapely.Geometry
    fill: str
    stroke: str
    label: str
    dashed: bool = False
    opacity: float = 0.55


def _nice_length(metres: float) -> float:
    """The largest 1, 2 or 5 × 10ⁿ metres not above ``metres`` (a scale bar's length)."""
    if metres <= 0:
        return 1.0
    exp = math.floor(math.log10(metres))
    for step in (5, 2, 1):
        if step * 10**exp <= metres:
            return float(step * 10**exp)
    return float(10**exp)


def _length_text(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


class _Projection:
    def __init__(self, bounds: Sequence[float]) -> None:
        minx, miny, maxx, maxy = bounds
        self.kx = math.cos(math.radians((miny + maxy) / 2))
        span_x = max((maxx - minx) * self.kx, 1e-9)
        span_y = max(maxy - miny, 1e-9)
        self.scale = min((WIDTH - 2 * PAD) / span_x, (HEIGHT - 2 * PAD) / span_y)
        # Centre the drawing in the frame.
        self.x0 = minx - ((WIDTH - 2 * PAD) / self.scale - span_x) / 2 / self.kx
        self.y0 = maxy + ((HEIGHT - 2 * PAD) / self.scale - span_y) / 2

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return PAD + (lon - self.x0) * self.kx * self.scale, PAD + (self.y0 - lat) * self.scale

    @property
    def metres_per_pixel(self) -> float:
        return METRES_PER_DEGREE / self.scale


def _ring(proj: _Projection, coords: Iterable[Sequence[float]]) -> str:
    points = [proj.xy(c[0], c[1]) for c in coords]
    return "M" + "L".join(f"{x:.1f} {y:.1f}" for x, y in points) + "Z"


def _path(proj: _Projection, geometry: shapely.Geometry) -> str:
    parts = []
    for polygon in shapely.get_parts(geometry):
        if polygon.geom_type != "Polygon":
            continue
        parts.append(_ring(proj, polygon.exterior.coords))
        parts.extend(_ring(proj, ring.coords) for ring in polygon.interiors)
    return "".join(parts)


def record_map(title: str, shapes: Sequence[Shape]) -> Markup | None:
    """The SVG of ``shapes`` (polygons and points), or None when there is nothing to draw."""
    drawn = [s for s in shapes if s.geometry is not None and not s.geometry.is_empty]
    if not drawn:
        return None
    bounds = shapely.total_bounds([s.geometry for s in drawn])
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    if maxx - minx < 2e-4 and maxy - miny < 2e-4:  # a lone point: show about 40 m around it
        minx, miny, maxx, maxy = minx - 2e-4, miny - 2e-4, maxx + 2e-4, maxy + 2e-4
    proj = _Projection((minx, miny, maxx, maxy))
    out = [
        f'<svg class="minimap" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f'<rect class="minimap-bg" width="{WIDTH}" height="{HEIGHT}"/>'
    ]
    for shape in drawn:
        tip = f"<title>{escape(shape.label)}</title>"
        dash = ' stroke-dasharray="5 3"' if shape.dashed else ""
        if shape.geometry.geom_type in ("Point", "MultiPoint"):
            for point in shapely.get_parts(shape.geometry):
                x, y = proj.xy(point.x, point.y)
                out.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{shape.fill}" stroke="{shape.stroke}" '
                    f'stroke-width="1.5">{tip}</circle>'
                )
            continue
        d = _path(proj, shape.geometry)
        if d:
            out.append(
                f'<path d="{d}" fill="{shape.fill}" fill-opacity="{shape.opacity}" fill-rule="evenodd" '
                f'stroke="{shape.stroke}" stroke-width="1.5"{dash}>{tip}</path>'
            )
    out += _scale_bar(proj) + _north_arrow()
    out.append("</svg>")
    return Markup("".join(out))


def _scale_bar(proj: _Projection) -> list[str]:
    metres = _nice_length(proj.metres_per_pixel * WIDTH / 4)
    length = metres / proj.metres_per_pixel
    x, y = PAD, HEIGHT - 10
    return [
        f'<g class="minimap-scale"><rect x="{x - 4}" y="{y - 17}" width="{length + 8:.1f}" height="22" '
        f'fill="#fff" fill-opacity="0.8"/>'
        f'<path d="M{x} {y - 4}V{y}H{x + length:.1f}V{y - 4}" fill="none" stroke="#222" stroke-width="1.5"/>'
        f'<text x="{x + length / 2:.1f}" y="{y - 6}" text-anchor="middle">{_length_text(metres)}</text></g>'
    ]


def _north_arrow() -> list[str]:
    x, y = WIDTH - 16, 14
    return [
        f'<g class="minimap-north" aria-hidden="true"><path d="M{x} {y}l-5 12h10z" fill="#222"/>'
        f'<text x="{x}" y="{y + 24}" text-anchor="middle">N</text></g>'
    ]
