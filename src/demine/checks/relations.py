"""Rules between records: overlapping hazards and products, containment in admin areas and hazards.

Candidate pairs come from an STRtree (``query(..., predicate="intersects")``) or from the
foreign keys; the predicates (``covers``) and overlays (``intersection``, ``difference``)
then run over the whole array of pairs at once, with the containing geometries prepared.
Areas are estimated for every pair with the ellipsoid's local scale and measured exactly
(pyproj) only for the pairs near or over a tolerance, so the figures in messages are
geodesic m² but the cost stays proportional to the number of problems, not of records.

Only records the per-geometry rules passed (``Layer.usable``) take part: an invalid or
misplaced polygon is reported once, for what is wrong with it, not again for its overlaps.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely

from demine.checks.layers import Layer
from demine.checks.measure import approx_areas, exact_areas, point_polygon_distances_m
from demine.checks.rules import Finding
from demine.domain.landrelease import TOLERANCE_M2, TOLERANCE_SHARE

# How far (m) a find may lie outside its hazard or product: a hand-held GPS fix is good to
# about 5 m, and a find is recorded where it was, not snapped to the polygon.
FIND_TOLERANCE_M = 5.0

Overlay = Callable[[np.ndarray, np.ndarray], np.ndarray]


def linked(keys: np.ndarray, target: Layer) -> np.ndarray:
    """For each foreign key (a row id or None), the index of the record in ``target``, or -1."""
    where = target.index_of()
    return np.array([-1 if k is None else where.get(int(k), -1) for k in keys.tolist()], dtype=np.int64)


def sound_pairs(source: Layer, link: np.ndarray, target: Layer) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (source, target) where both records passed the per-geometry rules."""
    if len(target) == 0 or target.usable is None or source.usable is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ok = (link >= 0) & source.usable & target.usable[np.maximum(link, 0)]
    si = np.flatnonzero(ok)
    return si, link[si]


def tolerance(area_m2: np.ndarray) -> np.ndarray:
    """The land release tolerance (``demine.domain.landrelease``), over arrays."""
    return np.maximum(TOLERANCE_M2, TOLERANCE_SHARE * area_m2)


def overlay(op: Overlay, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``op(a, b)`` over arrays; a pair GEOS cannot overlay is retried after ``make_valid``.

    Valid inputs rarely fail (nearly coincident edges can still raise a TopologyException);
    a pair that fails even then gives None, which no area rule reports on.
    """
    try:
        return op(a, b)
    except shapely.errors.GEOSException:
        out = np.full(len(a), None, dtype=object)
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            try:
                out[k] = op(x, y)
            except shapely.errors.GEOSException:
                try:
                    out[k] = op(shapely.make_valid(x), shapely.make_valid(y))
                except shapely.errors.GEOSException:
                    out[k] = None
        return out


def overlaps(
    layer: Layer,
    rule: str,
    skip: set[tuple[int, int]],
    same_group: np.ndarray | None = None,
) -> list[Finding]:
    """Pairs of overlapping polygons in ``layer`` (only within ``same_group`` when given).

    The later record (higher index) of each pair is reported; the overlap is given in m²
    and as a share of the smaller polygon. Overlaps within the land release tolerance of
    the smaller polygon are digitising noise and not reported.
    """
    if layer.usable is None or layer.usable.sum() < 2:
        return []
    idx = np.flatnonzero(layer.usable)
    geoms = layer.geoms[idx]
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    a, b = idx[left[keep]], idx[right[keep]]
    if same_group is not None:
        same = same_group[a] == same_group[b]
        a, b = a[same], b[same]
    if skip:
        fresh = np.array([(int(i), int(j)) not in skip for i, j in zip(a, b, strict=True)], dtype=bool)
        a, b = a[fresh], b[fresh]
    if len(a) == 0:
        return []
    inter = overlay(shapely.intersection, layer.geoms[a], layer.geoms[b])
    rough = approx_areas(inter)
    rough_small = np.minimum(approx_areas(layer.geoms[a]), approx_areas(layer.geoms[b]))
    cand = np.flatnonzero(rough > 0.5 * tolerance(rough_small))
    findings: list[Finding] = []
    if len(cand) == 0:
        return findings
    area = exact_areas(inter[cand])
    smaller = np.minimum(exact_areas(layer.geoms[a[cand]]), exact_areas(layer.geoms[b[cand]]))
    for k in np.flatnonzero(area > tolerance(smaller)):
        i, j = int(a[cand[k]]), int(b[cand[k]])
        share = 100.0 * area[k] / smaller[k]
        what = f"overlaps {layer.describe(i)} by {area[k]:,.1f} m² ({share:.2f} % of the smaller)"
        findings.append(layer.finding(j, rule, what, round(share, 3)))
    return findings


def hazard_overlaps(hazard: Layer, duplicate_pairs: set[tuple[int, int]]) -> list[Finding]:
    """Hazards overlapping one another (duplicates are reported as such, not again here)."""
    return overlaps(hazard, "hazard_overlap", duplicate_pairs)


def release_overlaps(release: Layer, duplicate_pairs: set[tuple[int, int]]) -> list[Finding]:
    """Release products of the same hazard overlapping one another."""
    group = np.array(
        [-1 if h is None else int(h) for h in release.attrs["hazard_id"].tolist()], dtype=np.int64
    )
    return overlaps(release, "release_overlap", duplicate_pairs, same_group=group)


def admin_containment(hazard: Layer, admin: Layer) -> list[Finding]:
    """Hazards whose P-code names no admin area, or that lie (partly) outside the area it names."""
    findings: list[Finding] = []
    where = {str(code): i for i, code in reversed(list(enumerate(admin.labels.tolist())))}
    codes = hazard.attrs["admin_pcode"].tolist()
    link = np.array(
        [where.get(str(c), -2) if c is not None and str(c).strip() else -1 for c in codes], dtype=np.int64
    )
    for i in np.flatnonzero(link == -2):
        what = f"admin P-code {codes[i]!r} names no administrative area"
        findings.append(hazard.finding(int(i), "unknown_admin_area", what))
    hi, ai = sound_pairs(hazard, link, admin)
    if len(hi) == 0:
        return findings
    shapely.prepare(admin.geoms[admin.usable])
    areas, inside = admin.geoms[ai], hazard.geoms[hi]
    not_covered = ~shapely.covers(areas, inside)
    hi, ai = hi[not_covered], ai[not_covered]
    if len(hi) == 0:
        return findings
    touching = shapely.intersects(admin.geoms[ai], hazard.geoms[hi])
    for i, j in zip(hi[~touching], ai[~touching], strict=True):
        what = f"lies entirely outside admin area {admin.labels[j]}, which its P-code names"
        findings.append(hazard.finding(int(i), "outside_admin_area", what, 100.0))
    hi, ai = hi[touching], ai[touching]
    outside = overlay(shapely.difference, hazard.geoms[hi], admin.geoms[ai])
    rough_out = approx_areas(outside)
    rough_all = approx_areas(hazard.geoms[hi])
    cand = np.flatnonzero(rough_out > 0.5 * tolerance(rough_all))
    if len(cand) == 0:
        return findings
    out_m2 = exact_areas(outside[cand])
    total = exact_areas(hazard.geoms[hi[cand]])
    for k in np.flatnonzero(out_m2 > tolerance(total)):
        i, j = int(hi[cand[k]]), int(ai[cand[k]])
        share = 100.0 * out_m2[k] / total[k]
        what = (
            f"{out_m2[k]:,.1f} m² ({share:.2f} %) lies outside admin area {admin.labels[j]}, "
            "which its P-code names"
        )
        findings.append(hazard.finding(i, "partly_outside_admin_area", what, round(share, 3)))
    return findings


def releases_outside_hazards(release: Layer, hazard: Layer) -> list[Finding]:
    """Products with more than the tolerance outside their hazard's recorded polygon."""
    pi, hi = sound_pairs(release, linked(release.attrs["hazard_id"], hazard), hazard)
    if len(pi) == 0:
        return []
    shapely.prepare(hazard.geoms[hazard.usable])
    not_covered = ~shapely.covers(hazard.geoms[hi], release.geoms[pi])
    pi, hi = pi[not_covered], hi[not_covered]
    if len(pi) == 0:
        return []
    outside = overlay(shapely.difference, release.geoms[pi], hazard.geoms[hi])
    cand = np.flatnonzero(approx_areas(outside) > 0.5 * tolerance(approx_areas(release.geoms[pi])))
    out_m2 = exact_areas(outside[cand])
    total = exact_areas(release.geoms[pi[cand]])
    forced = release.attrs["forced"]
    findings: list[Finding] = []
    for k in np.flatnonzero(out_m2 > tolerance(total)):
        p = int(pi[cand[k]])
        share = 100.0 * out_m2[k] / total[k]
        what = f"{out_m2[k]:,.1f} m² ({share:.2f} %) lies outside its hazard"
        if forced[p]:
            findings.append(
                release.finding(
                    p, "forced_release_outside_hazard", what + " (recorded with --force)", round(share, 3)
                )
            )
        else:
            findings.append(release.finding(p, "release_outside_hazard", what, round(share, 3)))
    return findings


def finds_outside(find: Layer, hazard: Layer, release: Layer) -> list[Finding]:
    """Finds lying outside the hazard, or else the release product, they are linked to."""
    findings: list[Finding] = []
    flagged = np.zeros(len(find), dtype=bool)
    for target, attr, rule in (
        (hazard, "hazard_id", "find_outside_hazard"),
        (release, "release_product_id", "find_outside_release"),
    ):
        fi, ti = sound_pairs(find, linked(find.attrs[attr], target), target)
        keep = ~flagged[fi]
        fi, ti = fi[keep], ti[keep]
        if len(fi) == 0:
            continue
        shapely.prepare(target.geoms[target.usable])
        away = ~shapely.covers(target.geoms[ti], find.geoms[fi])
        fi, ti = fi[away], ti[away]
        metres = point_polygon_distances_m(find.geoms[fi], target.geoms[ti])
        for f, t, m in zip(fi, ti, metres, strict=True):
            if m > FIND_TOLERANCE_M:
                flagged[f] = True
                what = f"lies {m:,.1f} m outside {target.describe(int(t))}, to which it is linked"
                findings.append(find.finding(int(f), rule, what, round(float(m), 1)))
    return findings
