"""Stored areas against geometries, and the land release identity, hazard by hazard.

demine stores each polygon's geodesic area next to it, and for each hazard
original = cancelled + reduced + cleared + remaining (docs/sources.md#release-balance). These rules catch
rows that a bulk import, a hand edit in a desktop GIS or a half-finished repair left out
of step. The tolerance is the land release one: max(1 m², 0.1 %).
"""

from __future__ import annotations

import numpy as np

from demine.checks.layers import Layer
from demine.checks.measure import approx_areas, as_float, exact_areas
from demine.checks.relations import tolerance
from demine.checks.rules import Finding


def area_mismatches(layer: Layer) -> list[Finding]:
    """Records whose stored ``area_m2`` differs from the geodesic area of their geometry."""
    if layer.usable is None or not layer.usable.any():
        return []
    idx = np.flatnonzero(layer.usable)
    stored = as_float(layer.attrs["area_m2"][idx])
    rough = approx_areas(layer.geoms[idx])
    with np.errstate(invalid="ignore"):
        cand = np.flatnonzero(~(np.abs(rough - stored) <= 0.5 * tolerance(np.nan_to_num(stored))))
    exact = exact_areas(layer.geoms[idx[cand]])
    findings: list[Finding] = []
    for k, area in zip(cand, exact, strict=True):
        if abs(area - stored[k]) <= tolerance(np.array(area)):
            continue
        what = f"stored area {stored[k]:,.1f} m² but the geometry measures {area:,.1f} m² (geodesic)"
        findings.append(layer.finding(int(idx[k]), "area_mismatch", what, round(float(area - stored[k]), 3)))
    return findings


def remaining_mismatches(hazard: Layer, remaining: Layer) -> list[Finding]:
    """Hazards whose remaining area differs from their remaining-polygon record's area."""
    where = remaining.index_of()
    j = np.array([where.get(h, -1) for h in hazard.ids.tolist()], dtype=np.int64)
    stored = as_float(hazard.attrs["remaining_area_m2"])
    other = np.where(j >= 0, as_float(remaining.attrs["area_m2"])[j], np.nan)
    with np.errstate(invalid="ignore"):
        off = (j >= 0) & ~(np.abs(stored - other) <= tolerance(np.fmax(stored, other)))
    findings = [
        hazard.finding(int(i), "remaining_mismatch", "has no remaining-area record")
        for i in np.flatnonzero(j < 0)
    ]
    for i in np.flatnonzero(off):
        what = f"remaining area {stored[i]:,.1f} m² but its remaining-area record says {other[i]:,.1f} m²"
        findings.append(
            hazard.finding(int(i), "remaining_mismatch", what, round(float(stored[i] - other[i]), 3))
        )
    return findings


def release_balances(hazard: Layer, release: Layer) -> list[Finding]:
    """Hazards where original ≠ released (all methods) + remaining beyond the tolerance."""
    where = hazard.index_of()
    owner = np.array(
        [where.get(int(h), -1) if h is not None else -1 for h in release.attrs["hazard_id"]], dtype=np.int64
    )
    amount = np.nan_to_num(as_float(release.attrs["released_area_m2"]))
    released = np.bincount(owner[owner >= 0], weights=amount[owner >= 0], minlength=len(hazard))
    original = as_float(hazard.attrs["area_m2"])
    remaining = as_float(hazard.attrs["remaining_area_m2"])
    gap = original - released - remaining
    with np.errstate(invalid="ignore"):
        off = ~(np.abs(gap) <= tolerance(original))
    findings: list[Finding] = []
    for i in np.flatnonzero(off):
        what = (
            f"original {original[i]:,.1f} m² ≠ released {released[i]:,.1f} m² + "
            f"remaining {remaining[i]:,.1f} m² (off by {gap[i]:,.1f} m²)"
        )
        findings.append(hazard.finding(int(i), "release_balance", what, round(float(gap[i]), 3)))
    return findings
