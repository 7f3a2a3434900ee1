"""Rules on each point by itself (EO finds, accidents): readable, present, a point, in range."""

from __future__ import annotations

import numpy as np
import shapely

from demine.checks.layers import Layer
from demine.checks.polygons import basic_findings, range_message
from demine.checks.rules import Finding

_POINT = (0,)  # shapely type id of Point


def check_points(layer: Layer) -> list[Finding]:
    """Per-point rules over a point layer; sets ``layer.usable`` for the relation rules."""
    findings, present = basic_findings(layer, _POINT, "point")
    x = np.full(len(layer), np.nan)
    y = np.full(len(layer), np.nan)
    x[present] = shapely.get_x(layer.geoms[present])
    y[present] = shapely.get_y(layer.geoms[present])
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(x) & np.isfinite(y)
        in_range = finite & (np.abs(x) <= 180) & (np.abs(y) <= 90)
    for i in np.flatnonzero(present & ~in_range):
        message = range_message(layer.geoms[i], not finite[i])
        findings.append(layer.finding(int(i), "coordinates_out_of_range", message))
    layer.usable = present & in_range
    return findings
