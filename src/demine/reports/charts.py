"""The reports' charts and static map, drawn with matplotlib and kept as SVG and PNG.

SVG goes into the HTML and PDF (sharp at any zoom), PNG into the XLSX (Excel does not show
SVG everywhere). Drawn on the Agg canvas directly, without pyplot, as in
:mod:`demine.planning.charts`: no display, no global state, safe on a server.

Fit to publish: each chart has one area unit, named in its axis label; legends sit outside
the axes so they hide no data (constrained layout keeps them, and the labels, inside the
figure). The map is drawn in metres, in a Lambert azimuthal equal-area projection centred on
the map (:class:`demine.prioritisation.spatial.LocalProjection`: areas true, distances within
0.1 % over a country), with a scale bar and a north arrow in a strip below the data, the
top-level administrative areas named, and the projection stated under the frame.
"""

from __future__ import annotations

import base64
import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
import shapely
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import Formatter, MaxNLocator
from matplotlib.transforms import blended_transform_factory
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from demine.domain import palette
from demine.prioritisation.spatial import local_projection

# One colour per land release method, the same in every chart, the web map and QGIS.
METHOD_COLOURS = dict(palette.RELEASE_METHOD)
# The methods as the tables head their columns.
METHOD_LABELS = {"cancelled": "cancelled (NTS)", "reduced": "reduced (TS)", "cleared": "cleared"}
ACCIDENT_COLOUR = palette.VERMILLION  # an x on white paper: the map's black dot would vanish
MAX_MAP_INCHES = 11.5  # the tallest map figure: an A4 page less its margins
MAX_MAP_LABELS = 40  # more area names than this would cover the map: none are written
BAR_COLOUR = palette.BLUE
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


def area_unit(peak_m2: float) -> tuple[str, float]:
    """One area unit for a whole chart, from its largest value: (label, m² per unit).

    km² once the largest value reaches 10 km² (so ticks are not 0.2, 0.4…), hectares from one
    hectare, m² below.
    """
    if peak_m2 >= 1e7:
        return "km²", 1e6
    if peak_m2 >= 1e4:
        return "ha", 1e4
    return "m²", 1.0


class _Thousands(Formatter):
    """Tick labels with thousands separators and the decimals the tick step needs."""

    _ticks: Sequence[float] = ()

    def set_locs(self, locs: Sequence[float]) -> None:
        self._ticks = list(locs)

    def __call__(self, value: float, pos: int | None = None) -> str:
        locs = sorted(self._ticks)
        step = min((b - a for a, b in itertools.pairwise(locs) if b > a), default=1.0)
        decimals = max(0, -math.floor(math.log10(step) + 1e-9))
        return f"{value:,.{decimals}f}"


def _numbers(axis: Axis) -> None:
    # Steps of 1, 2 or 5 (not 2.5): tick labels stay short and exact.
    axis.set_major_locator(MaxNLocator(steps=[1, 2, 5, 10]))
    axis.set_major_formatter(_Thousands())


def _figure(width: float, height: float, dpi: int = 110) -> Figure:
    # Constrained layout keeps titles, axis labels and legends outside the axes inside the figure.
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def stacked_methods_figure(
    labels: Sequence[str], by_method: dict[str, Sequence[float]], xlabel: str = ""
) -> Figure:
    """Bars of m² released per label, stacked by method, in one unit chosen for the chart."""
    fig = _figure(8, 3.8)
    ax = fig.add_subplot()
    stacks = [
        sum(v) for v in zip(*(by_method.get(m, [0.0] * len(labels)) for m in METHOD_COLOURS), strict=True)
    ]
    unit, per = area_unit(max(stacks, default=0.0))
    bottom = [0.0] * len(labels)
    for method in METHOD_COLOURS:
        values = [v / per for v in by_method.get(method, [0.0] * len(labels))]
        ax.bar(labels, values, bottom=bottom, color=METHOD_COLOURS[method], label=METHOD_LABELS[method])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    _numbers(ax.yaxis)
    ax.set_ylabel(f"area released ({unit})")
    if xlabel:
        ax.set_xlabel(xlabel)
    fig.legend(loc="outside upper center", ncol=3, frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(axis="x", labelrotation=30 if len(labels) > 4 else 0, labelsize=8)
    if not labels:
        ax.text(0.5, 0.5, "nothing released in the period", transform=ax.transAxes, ha="center")
    return fig


def stacked_methods(
    key: str, title: str, labels: Sequence[str], by_method: dict[str, Sequence[float]], xlabel: str = ""
) -> Chart:
    """Bars of m² released per label, stacked by method, in one unit chosen for the chart."""
    return _finish(stacked_methods_figure(labels, by_method, xlabel), key, title)


def bars_figure(labels: Sequence[str], values: Sequence[float], xlabel: str) -> Figure:
    """Plain horizontal bars (categories with long names); ``xlabel`` names the unit."""
    fig = _figure(8, max(1.8, 0.35 * len(labels) + 0.9))
    ax = fig.add_subplot()
    ax.barh(list(labels)[::-1], list(values)[::-1], color=BAR_COLOUR)
    _numbers(ax.xaxis)
    ax.set_xlabel(xlabel)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)
    if not labels:
        ax.text(0.5, 0.5, "none in the period", transform=ax.transAxes, ha="center")
    return fig


def bars(key: str, title: str, labels: Sequence[str], values: Sequence[float], xlabel: str) -> Chart:
    """Plain horizontal bars (categories with long names); ``xlabel`` names the unit."""
    return _finish(bars_figure(labels, values, xlabel), key, title)


def area_bars(key: str, title: str, labels: Sequence[str], values_m2: Sequence[float], what: str) -> Chart:
    """Horizontal bars of areas given in m², drawn in one unit chosen for the chart."""
    unit, per = area_unit(max(values_m2, default=0.0))
    return _finish(bars_figure(labels, [v / per for v in values_m2], f"{what} ({unit})"), key, title)


def _polygons(geoms: Sequence[shapely.Geometry]) -> np.ndarray:
    """The polygons of ``geoms`` (multipolygons split into their parts; other types dropped)."""
    parts = shapely.get_parts(np.asarray([g for g in geoms if g is not None], dtype=object))
    return parts[shapely.get_type_id(parts) == 3]


def _nice_length(span_m: float) -> float:
    """A round scale bar length (1, 2 or 5 × 10ⁿ m) of about a fifth of ``span_m``."""
    target = max(span_m / 5, 1.0)
    power = 10 ** math.floor(math.log10(target))
    return max(m * power for m in (1, 2, 5) if m * power <= target)


def _distance(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


def _scale_bar_and_north_arrow(ax: Axes, span_m: float, strip: tuple[float, float]) -> None:
    """A scale bar (lower left) and a north arrow (lower right) in ``strip``, the band of y
    (metres) below the data; ``span_m`` is the frame's width."""
    length = _nice_length(span_m)
    bar = AnchoredSizeBar(
        ax.transData,
        length,
        _distance(length),
        loc="lower left",
        pad=0.6,
        borderpad=0.4,
        sep=3,
        size_vertical=span_m / 250,
        frameon=False,
        fontproperties={"size": 8},
    )
    bar.set_gid("scale-bar")
    ax.add_artist(bar)
    # The projection is centred on the map: its central meridian runs straight up the frame.
    low, high = strip
    arrow = ax.annotate(
        "N",
        xy=(0.96, low + 0.9 * (high - low)),
        xytext=(0.96, low + 0.1 * (high - low)),
        xycoords=blended_transform_factory(ax.transAxes, ax.transData),
        ha="center",
        va="bottom",
        fontsize=9,
        fontweight="bold",
        arrowprops={"arrowstyle": "-|>", "color": "#222222", "linewidth": 1.2, "shrinkA": 2, "shrinkB": 0},
    )
    arrow.set_gid("north-arrow")


def release_map_figure(
    boundaries: Sequence[tuple[str, shapely.Geometry]],
    releases: Sequence[tuple[str, shapely.Geometry]],
    points: Sequence[tuple[float, float]] = (),
) -> Figure:
    """The release map: named top-level boundaries, the period's releases by method, accident
    points (longitude, latitude), projected to metres with a scale bar and a north arrow."""
    names = [n for n, g in boundaries if g is not None]
    outlines_ll = [g for _, g in boundaries if g is not None]
    shapes_ll = [(m, g) for m, g in releases if g is not None and not g.is_empty]
    points_ll = shapely.points(np.asarray(points, dtype=float).reshape(-1, 2))
    everything = np.asarray([*outlines_ll, *(g for _, g in shapes_ll), *points_ll], dtype=object)
    if everything.size == 0:
        fig = _figure(8, 3, dpi=150)
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no land released in the period", transform=ax.transAxes, ha="center")
        return fig
    projection, _ = local_projection(everything)
    outlines = projection.project(np.asarray(outlines_ll, dtype=object))
    shapes = projection.project(np.asarray([g for _, g in shapes_ll], dtype=object))
    accident_xy = shapely.get_coordinates(projection.project(points_ll))
    minx, miny, maxx, maxy = shapely.total_bounds(projection.project(everything))
    # The frame is at least a quarter as wide as tall (and as tall as wide), centred on the data.
    half_w = max(maxx - minx, (maxy - miny) / 4, 1000.0) / 2
    half_h = max(maxy - miny, (maxx - minx) / 4, 1000.0) / 2
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    pad = 0.03 * max(half_w, half_h) * 2
    xlim = (cx - half_w - pad, cx + half_w + pad)
    # A strip below the data, about 0.8 inch high on the page, holds the scale bar and the
    # north arrow, so they cover nothing. The frame is drawn 7.4 inches wide, or narrower when
    # a tall country reaches the figure's greatest height first.
    span = xlim[1] - xlim[0]
    frame_inches = min(7.4, (MAX_MAP_INCHES - 1.9) * span / (2 * half_h + 2 * pad))
    strip = 0.8 * span / frame_inches
    bottom = cy - half_h - pad
    ylim = (bottom - strip, cy + half_h + pad)
    # The figure takes the map's shape (a long thin country is not shrunk into a square).
    height = frame_inches * (ylim[1] - ylim[0]) / span + 1.1
    fig = _figure(8, min(max(height, 3.5), MAX_MAP_INCHES), dpi=150)
    ax = fig.add_subplot()
    ax.set_xticks([])
    ax.set_yticks([])

    # One collection per layer, not one artist per polygon: an annual map of a national
    # programme holds tens of thousands of releases (43,187 took 40 s to draw one by one).
    rings = shapely.get_exterior_ring(_polygons(list(outlines)))
    ax.add_collection(
        LineCollection([r.coords for r in rings if r is not None], colors=OUTLINE, linewidths=0.8)
    )
    by_method: dict[str, list[shapely.Geometry]] = {}
    for (method, _), geom in zip(shapes_ll, shapes, strict=True):
        by_method.setdefault(method, []).append(geom)
    for method, group in by_method.items():
        colour = METHOD_COLOURS.get(method, "#999999")
        rings = shapely.get_exterior_ring(_polygons(group))
        polygons = PolyCollection([r.coords for r in rings], facecolors=colour, edgecolors="#333333")
        polygons.set_linewidth(0.4)
        ax.add_collection(polygons)
        # Releases are hectares in a region of many km: a dot at each keeps them visible.
        centres = shapely.get_coordinates(shapely.point_on_surface(np.asarray(group, dtype=object)))
        ax.scatter(
            centres[:, 0], centres[:, 1], s=9, color=colour, edgecolors="#333333", linewidths=0.3, zorder=4
        )
    if len(accident_xy):
        ax.scatter(accident_xy[:, 0], accident_xy[:, 1], marker="x", color=ACCIDENT_COLOUR, s=36, zorder=5)
    if len(names) <= MAX_MAP_LABELS:
        halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
        for name, anchor in zip(names, shapely.point_on_surface(outlines), strict=True):
            ax.text(
                anchor.x,
                anchor.y,
                name,
                ha="center",
                va="center",
                fontsize=8,
                color="#1f3f66",
                fontweight="bold",
                path_effects=halo,
                zorder=6,
            )

    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    _scale_bar_and_north_arrow(ax, xlim[1] - xlim[0], (ylim[0], bottom))
    ax.set_xlabel(
        f"{projection.describe().replace(' (metres)', '')}; "
        f"outlines: top-level administrative areas; {len(shapes_ll):,} releases",
        fontsize=7,
        color="#555555",
    )
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markersize=6,
            markerfacecolor=c,
            markeredgecolor="#333333",
            markeredgewidth=0.4,
            label=METHOD_LABELS[m],
        )
        for m, c in METHOD_COLOURS.items()
    ]
    handles.append(Line2D([], [], color=OUTLINE, linewidth=0.8, label="administrative boundary"))
    if len(accident_xy):
        handles.append(Line2D([], [], marker="x", linestyle="", color=ACCIDENT_COLOUR, label="accident"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False, fontsize=8)
    if not shapes_ll:
        ax.text(0.5, 0.5, "no land released in the period", transform=ax.transAxes, ha="center")
    return fig


def release_map(
    key: str,
    title: str,
    boundaries: Sequence[tuple[str, shapely.Geometry]],
    releases: Sequence[tuple[str, shapely.Geometry]],
    points: Sequence[tuple[float, float]] = (),
) -> Chart:
    """A static map: named top-level boundaries, the period's releases by method, accident points."""
    return _finish(release_map_figure(boundaries, releases, points), key, title, raster=True)
