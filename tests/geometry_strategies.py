"""Hypothesis strategies for what a broken GIS file may hold where a hazard polygon should be.

Shared by the importer's robustness tests and the reliability fuzzing: NaN and infinite
coordinates as raw WKB, self-intersections, spikes, too few points, the wrong geometry type,
empty geometries, overlapping parts, holes outside their shell, collections.
"""

from __future__ import annotations

import math
import struct
import warnings
from collections.abc import Sequence

import numpy as np
import shapely
from hypothesis import strategies as st

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
weird = st.one_of(
    finite,
    st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300, 0.0, 33.0, 48.0, 181.0, -91.0]),
)
coords = st.tuples(weird, weird)

KINDS = ("ring", "bowtie", "spike", "few", "point", "line", "empty", "multi", "hole", "gc")


@st.composite
def broken_geometry(
    draw: st.DrawFn,
    kinds: Sequence[str] = KINDS,
    x: tuple[float, float] = (32.0, 34.0),
    y: tuple[float, float] = (47.0, 49.0),
) -> shapely.Geometry | bytes | None:
    """One broken geometry of one of ``kinds`` (``none`` for a missing one) near (``x``, ``y``).

    ``ring`` is raw WKB bytes (shapely would refuse to build it): the ring may be unclosed and
    hold NaN, anything.
    """
    kind = draw(st.sampled_from(list(kinds)))
    x0, y0 = draw(st.floats(*x)), draw(st.floats(*y))
    d = draw(st.sampled_from([1e-9, 1e-4, 0.01, 1.0]))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "none":
            return None
        if kind == "ring":
            points = draw(st.lists(coords, min_size=1, max_size=8))
            header = struct.pack("<BIII", 1, 3, 1, len(points))
            return header + b"".join(struct.pack("<2d", *xy) for xy in points)
        if kind == "bowtie":
            return shapely.Polygon([(x0, y0), (x0 + d, y0 + d), (x0 + d, y0), (x0, y0 + d)])
        if kind == "spike":
            return shapely.Polygon(
                [
                    (x0, y0),
                    (x0 + d, y0),
                    (x0 + d, y0 + d),
                    (x0 + d, y0 + 2 * d),
                    (x0 + d, y0 + d),
                    (x0, y0 + d),
                ]
            )
        if kind == "few":
            return shapely.Polygon([(x0, y0), (x0 + d, y0), (x0, y0)])
        if kind == "point":
            return shapely.Point(draw(coords))
        if kind == "line":
            return shapely.LineString([(x0, y0), (x0 + d, y0 + d)])
        if kind == "empty":
            return draw(
                st.sampled_from([shapely.Polygon(), shapely.MultiPolygon(), shapely.GeometryCollection()])
            )
        if kind == "multi":  # overlapping parts
            return shapely.MultiPolygon(
                [shapely.box(x0, y0, x0 + d, y0 + d), shapely.box(x0 + d / 2, y0, x0 + 2 * d, y0 + d)]
            )
        if kind == "hole":  # a hole outside its shell
            return shapely.Polygon(
                shapely.box(x0, y0, x0 + d, y0 + d).exterior,
                [shapely.box(x0 + 2 * d, y0, x0 + 3 * d, y0 + d).exterior],
            )
        return shapely.GeometryCollection([shapely.Point(x0, y0), shapely.box(x0, y0, x0 + d, y0 + d)])
