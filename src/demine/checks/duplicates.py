"""Duplicates within a layer: the same polygon twice, the same point and date twice, the same id twice.

Geometries are compared the way geocheck compares them, at 0.000001° (about 11 cm):
coordinates are rounded, the geometry normalised (ring start, orientation and part order no
longer matter) and its WKB used as a key, so a whole layer is grouped in one pass. Codes
are compared after trimming spaces and ignoring case (geocheck's "trimmed" views). The first
record of a group (lowest id) is taken as the original; every later one is reported.
"""

from __future__ import annotations

import numpy as np
import shapely

from demine.checks.layers import NOUNS, Layer
from demine.checks.rules import Finding

DECIMALS = 6  # 0.000001°, geocheck's comparison resolution

DATE_ATTRIBUTE = {"find": "found_on", "accident": "occurred_on"}
CODED_LAYERS = ("hazard", "accident", "admin")
SOURCE_ID_LAYERS = ("hazard", "release", "find", "accident")


def duplicate_polygons(layer: Layer) -> tuple[list[Finding], set[tuple[int, int]]]:
    """Records with the same polygon as an earlier one; also the (earlier, later) index pairs."""
    findings: list[Finding] = []
    pairs: set[tuple[int, int]] = set()
    if layer.usable is None or not layer.usable.any():
        return findings, pairs
    idx = np.flatnonzero(layer.usable)
    rounded = shapely.transform(layer.geoms[idx], lambda xy: np.round(xy, DECIMALS))
    keys = shapely.to_wkb(shapely.normalize(rounded))
    first: dict[bytes, int] = {}
    for i, key in zip(idx, keys, strict=True):
        original = first.setdefault(key, int(i))
        if original != i:
            pairs.add((original, int(i)))
            what = f"has the same polygon as {layer.describe(original)}"
            findings.append(layer.finding(int(i), "duplicate_polygon", what))
    return findings, pairs


def duplicate_points(layer: Layer) -> list[Finding]:
    """Finds or accidents at the same place (to 0.000001°) on the same date as an earlier one."""
    findings: list[Finding] = []
    if layer.usable is None or not layer.usable.any():
        return findings
    idx = np.flatnonzero(layer.usable)
    x = np.round(shapely.get_x(layer.geoms[idx]), DECIMALS)
    y = np.round(shapely.get_y(layer.geoms[idx]), DECIMALS)
    days = layer.attrs[DATE_ATTRIBUTE[layer.name]][idx]
    first: dict[tuple[float, float, object], int] = {}
    for i, key in zip(idx, zip(x.tolist(), y.tolist(), days.tolist(), strict=True), strict=True):
        original = first.setdefault(key, int(i))
        if original != i:
            what = f"same place and date ({key[2]}) as {layer.describe(original)}"
            findings.append(layer.finding(int(i), "duplicate_point", what))
    return findings


def duplicate_ids(layer: Layer) -> list[Finding]:
    """Codes equal after trimming and ignoring case; source ids (from imports) used twice."""
    findings: list[Finding] = []
    if layer.name in CODED_LAYERS:
        findings += _groups(layer, layer.labels, "code")
    if layer.name in SOURCE_ID_LAYERS:
        findings += _groups(layer, layer.attrs["source_id"], "source id")
    return findings


def _groups(layer: Layer, values: np.ndarray, what: str) -> list[Finding]:
    findings: list[Finding] = []
    first: dict[str, int] = {}
    for i, value in enumerate(values):
        if value is None or not str(value).strip():
            continue
        original = first.setdefault(str(value).strip().casefold(), i)
        if original == i:
            continue
        same = (
            "the same as" if str(value) == str(values[original]) else "the same (ignoring spaces and case) as"
        )
        message = f"{what} {str(value)!r} is {same} that of {NOUNS[layer.name]} {layer.labels[original]}"
        findings.append(layer.finding(i, "duplicate_id", message))
    return findings
