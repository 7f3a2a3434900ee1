"""The reports' charts and static map, drawn with matplotlib and kept as SVG and PNG.

SVG goes into the HTML and PDF (sharp at any zoom), PNG into the XLSX (Excel does not show
SVG everywhere). Drawn on the Agg canvas directly, without pyplot, as in
:mod:`demine.planning.charts`: no display, no global state, safe on a server.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

# One colour per land release method, the same in every chart and the map.
METHOD_COLOURS = {"cancelled": "#8fb8de", "reduced": "#f2b134", "cleared": "#2e8b57"}
BAR_COLOUR = "#1f5fa6"
OUTLINE = "#777777"


@dataclass(frozen=True)
class Chart:
    """A chart as SVG text (HTML, PDF) and PNG bytes (XLSX)."""

    key: str
    title: str
    svg: str
    png: bytes
    raster: bool = False  # show the PNG in HTML/PDF too (maps: thousands of shapes make SVG slow)

    @property
    def html(self) -> str:
        """The markup that shows the chart in a page: inline SVG, or the PNG as a data URI."""
        if not self.raster:
            return self.svg
        data = base64.b64encode(self.png).decode("ascii")
        return f'<img src="data:image/png;base64,{data}" alt="{escape(self.title)}" style="width:100%">'


def _finish(fig: Figure, key: str, title: str, raster: bool = False) -> Chart:
    canvas = FigureCanvasAgg(fig)
    fig.tight_layout()
    text = ""
    if not raster:
        svg = io.BytesIO()
        fig.savefig(svg, format="svg")
        text = svg.getvalue().decode("utf-8")
        # Drop the XML prolog and DOCTYPE so the SVG can sit inline in HTML.
        text = text[text.index("<svg") :]
    png = io.BytesIO()
    canvas.print_png(png)
    return Chart(key, title, text, png.getvalue(), raster)


def _ha(value: float, _pos: object = None) -> str:
    return f"{value / 1e4:,.1f}"


def stacked_methods(
    key: str, title: str, labels: Sequence[str], by_method: dict[str, Sequence[float]], xlabel: str = ""
) -> Chart:
    """Bars of m² released per label, stacked by method, in hectares."""
    fig = Figure(figsize=(8, 3.6), dpi=110)
    ax = fig.add_subplot()
    bottom = [0.0] * len(labels)
    for method in ("cancelled", "reduced", "cleared"):
        values = list(by_method.get(method, [0.0] * len(labels)))
        ax.bar(labels, values, bottom=bottom, color=METHOD_COLOURS[method], label=method)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.yaxis.set_major_formatter(_ha)
    ax.set_ylabel("hectares released")
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(axis="x", labelrotation=30 if len(labels) > 4 else 0, labelsize=8)
    if not labels:
        ax.text(0.5, 0.5, "nothing released in the period", transform=ax.transAxes, ha="center")
    return _finish(fig, key, title)


def bars(key: str, title: str, labels: Sequence[str], values: Sequence[float], ylabel: str) -> Chart:
    """Plain horizontal bars (categories with long names)."""
    fig = Figure(figsize=(8, max(1.8, 0.35 * len(labels) + 0.8)), dpi=110)
    ax = fig.add_subplot()
    ax.barh(list(labels)[::-1], list(values)[::-1], color=BAR_COLOUR)
    ax.set_xlabel(ylabel)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)
    if not labels:
        ax.text(0.5, 0.5, "none in the period", transform=ax.transAxes, ha="center")
    return _finish(fig, key, title)


def _polygons(geoms: Sequence[shapely.Geometry]) -> np.ndarray:
    """The polygons of ``geoms`` (multipolygons split into their parts; other types dropped)."""
    parts = shapely.get_parts(np.asarray([g for g in geoms if g is not None], dtype=object))
    return parts[shapely.get_type_id(parts) == 3]


def release_map(
    key: str,
    title: str,
    boundaries: Sequence[shapely.Geometry],
    releases: Sequence[tuple[str, shapely.Geometry]],
    points: Sequence[tuple[float, float]] = (),
) -> Chart:
    """A static map: top-level boundaries, the period's releases by method, accident points."""
    fig = Figure(figsize=(8, 6), dpi=160)
    ax = fig.add_subplot()
    # One collection per layer, not one artist per polygon: an annual map of a national
    # programme holds tens of thousands of releases (43,187 took 40 s to draw one by one).
    outlines = [ring.coords for ring in shapely.get_exterior_ring(_polygons(boundaries)) if ring is not None]
    ax.add_collection(LineCollection(outlines, colors=OUTLINE, linewidths=0.7))
    by_colour: dict[str, list[shapely.Geometry]] = {}
    for method, geom in releases:
        if geom is not None and not geom.is_empty:
            by_colour.setdefault(METHOD_COLOURS.get(method, "#999999"), []).append(geom)
    for colour, shapes in by_colour.items():
        rings = shapely.get_exterior_ring(_polygons(shapes))
        polygons = PolyCollection([r.coords for r in rings], facecolors=colour, edgecolors="#333333")
        polygons.set_linewidth(0.4)
        ax.add_collection(polygons)
        # Releases are hectares in a region of many km: a dot at each keeps them visible.
        centres = shapely.get_coordinates(shapely.point_on_surface(np.asarray(shapes, dtype=object)))
        ax.scatter(
            centres[:, 0], centres[:, 1], s=9, color=colour, edgecolors="#333333", linewidths=0.3, zorder=4
        )
    ax.autoscale_view()
    if points:
        ax.scatter(
            [p[0] for p in points], [p[1] for p in points], marker="x", color="#c0392b", s=30, zorder=5
        )
    handles = [Patch(color=c, label=m) for m, c in METHOD_COLOURS.items()]
    ax.legend(handles=handles, frameon=False, fontsize=8, loc="lower left")
    bounds = [g.bounds for g in boundaries] + [g.bounds for _, g in releases]
    if bounds:
        lat = (min(b[1] for b in bounds) + max(b[3] for b in bounds)) / 2
        # Degrees of longitude shrink with latitude: keep the map's shapes true.
        ax.set_aspect(1 / max(math.cos(math.radians(lat)), 0.1))
    if not releases:
        ax.text(0.5, 0.5, "no land released in the period", transform=ax.transAxes, ha="center")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.tick_params(labelsize=7)
    return _finish(fig, key, title, raster=True)
