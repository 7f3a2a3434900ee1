"""Is each geometry where the programme is? Swapped latitude/longitude and far-away records.

The programme's extent is the bounding box of its administrative areas (plus a margin for
hazards across a border). Without admin areas it is estimated from the records themselves:
the box between the 5th and 95th percentiles of their centres, widened generously, which
is only used to spot swapped coordinates, never to call a record "outside".

A swapped or far-away record is left out of the relation rules: its overlap with its hazard
or its admin area would only restate the same mistake.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely

from demine.checks.layers import Layer
from demine.checks.rules import Finding

AOI_MARGIN_DEG = 0.1  # about 10 km: hazards along a border may cross it
MIN_RECORDS_FOR_ESTIMATE = 10


@dataclass(frozen=True)
class Extent:
    """A lon/lat box; ``official`` when it comes from the admin areas."""

    minx: float
    miny: float
    maxx: float
    maxy: float
    official: bool

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x >= self.minx) & (x <= self.maxx) & (y >= self.miny) & (y <= self.maxy)


def programme_extent(admin: Layer | None, others: Iterable[Layer]) -> Extent | None:
    """The admin areas' box, or an estimate from the records, or None when there is too little data."""
    if admin is not None and admin.usable is not None and admin.usable.any():
        minx, miny, maxx, maxy = shapely.total_bounds(admin.geoms[admin.usable])
        m = AOI_MARGIN_DEG
        return Extent(minx - m, miny - m, maxx + m, maxy + m, official=True)
    centres = [_centres(layer) for layer in others if layer.usable is not None and layer.usable.any()]
    if not centres:
        return None
    x = np.concatenate([c[0] for c in centres])
    y = np.concatenate([c[1] for c in centres])
    if len(x) < MIN_RECORDS_FOR_ESTIMATE:
        return None
    x0, x1 = np.percentile(x, [5, 95])
    y0, y1 = np.percentile(y, [5, 95])
    wx, wy = max(1.0, x1 - x0), max(1.0, y1 - y0)
    return Extent(x0 - wx, y0 - wy, x1 + wx, y1 + wy, official=False)


def check_placement(layer: Layer, extent: Extent | None) -> list[Finding]:
    """Swapped and far-away records of ``layer``; they are taken out of ``layer.usable``."""
    if extent is None or layer.usable is None or not layer.usable.any():
        return []
    findings: list[Finding] = []
    idx = np.flatnonzero(layer.usable)
    bounds = shapely.bounds(layer.geoms[idx])
    cx = (bounds[:, 0] + bounds[:, 2]) / 2
    cy = (bounds[:, 1] + bounds[:, 3]) / 2
    outside = ~extent.contains(cx, cy)
    swapped = outside & extent.contains(cy, cx)
    for k in np.flatnonzero(swapped):
        what = (
            f"lies at ({cx[k]:.5f}, {cy[k]:.5f}), outside the programme area; with longitude and latitude "
            f"swapped it would lie inside"
        )
        findings.append(layer.finding(int(idx[k]), "lat_lon_swapped", what))
    far = np.zeros(len(idx), dtype=bool)
    if extent.official:
        far = ~swapped & (
            (bounds[:, 2] < extent.minx)
            | (bounds[:, 0] > extent.maxx)
            | (bounds[:, 3] < extent.miny)
            | (bounds[:, 1] > extent.maxy)
        )
        box = f"{extent.minx:.3f},{extent.miny:.3f},{extent.maxx:.3f},{extent.maxy:.3f}"
        for k in np.flatnonzero(far):
            what = f"lies at ({cx[k]:.5f}, {cy[k]:.5f}), outside the admin areas' extent ({box})"
            findings.append(layer.finding(int(idx[k]), "outside_area_of_interest", what))
    layer.usable[idx[swapped | far]] = False
    return findings


def _centres(layer: Layer) -> tuple[np.ndarray, np.ndarray]:
    bounds = shapely.bounds(layer.geoms[layer.usable])
    return (bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2
