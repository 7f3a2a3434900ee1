"""Running every check over a database (or over layers already in memory) and summarising.

The order matters: per-geometry rules first (they decide which records are sound), then
placement (swapped or far-away records), duplicates, relations between records and the
land release accounting. All layers are always checked, because relation rules need
their neighbours; ``layers`` and ``severity`` only filter what is reported.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from demine.checks import balance, duplicates, placement, relations
from demine.checks.layers import Layer, load_layers
from demine.checks.points import check_points
from demine.checks.polygons import check_polygons
from demine.checks.rules import LAYER_TABLES, POINT_LAYERS, POLYGON_LAYERS, SEVERITY_RANK, Finding, sort_key
from demine.domain.errors import DemineError


@dataclass
class CheckReport:
    """What ``demine check`` reports: records checked per layer and the findings, worst first."""

    checked: dict[str, int]
    findings: list[Finding]
    repairs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Findings per rule."""
        return dict(sorted(Counter(f.rule for f in self.findings).items()))

    @property
    def high(self) -> int:
        """How many high-severity findings there are (the exit status depends on it)."""
        return sum(1 for f in self.findings if f.severity == "high")

    def as_dict(self) -> dict[str, Any]:
        """The JSON form printed by ``demine check --json``."""
        data: dict[str, Any] = {
            "checked": self.checked,
            "findings": [f.as_dict() for f in self.findings],
            "counts": self.counts,
        }
        if self.repairs:
            data["repairs"] = self.repairs
        return data


def check_layers(layers: dict[str, Layer]) -> list[Finding]:
    """Every finding over in-memory layers (any subset of the six; missing ones are skipped)."""
    findings: list[Finding] = []
    for name in POLYGON_LAYERS:
        if name in layers:
            findings += check_polygons(layers[name])
    for name in POINT_LAYERS:
        if name in layers:
            findings += check_points(layers[name])
    extent = placement.programme_extent(
        layers.get("admin"), [layer for name, layer in layers.items() if name != "admin"]
    )
    for name, layer in layers.items():
        if name != "admin":
            findings += placement.check_placement(layer, extent)
    duplicate_pairs: dict[str, set[tuple[int, int]]] = {}
    for name in ("hazard", "release", "admin"):
        if name in layers:
            found, duplicate_pairs[name] = duplicates.duplicate_polygons(layers[name])
            findings += found
    for name in POINT_LAYERS:
        if name in layers:
            findings += duplicates.duplicate_points(layers[name])
    for layer in layers.values():
        findings += duplicates.duplicate_ids(layer)
    hazard, release, admin = layers.get("hazard"), layers.get("release"), layers.get("admin")
    if hazard is not None:
        findings += relations.hazard_overlaps(hazard, duplicate_pairs["hazard"])
        if admin is not None:
            findings += relations.admin_containment(hazard, admin)
    if release is not None:
        findings += relations.release_overlaps(release, duplicate_pairs["release"])
        if hazard is not None:
            findings += relations.releases_outside_hazards(release, hazard)
    if "find" in layers and hazard is not None and release is not None:
        findings += relations.finds_outside(layers["find"], hazard, release)
    for name in POLYGON_LAYERS:
        if name in layers:
            findings += balance.area_mismatches(layers[name])
    if hazard is not None and "remaining" in layers:
        findings += balance.remaining_mismatches(hazard, layers["remaining"])
    if hazard is not None and release is not None:
        findings += balance.release_balances(hazard, release)
    return sorted(findings, key=sort_key)


def validate_filters(layers: Sequence[str] | None, severity: str | None) -> None:
    """Refuse unknown layer or severity names (a user error, exit status 2)."""
    for name in layers or ():
        if name not in LAYER_TABLES:
            raise DemineError(f"--layer: unknown layer {name!r} (choose from {', '.join(LAYER_TABLES)})")
    if severity is not None and severity not in SEVERITY_RANK:
        raise DemineError(f"--severity: unknown severity {severity!r} (choose from high, medium, low)")


def run_checks(
    conn: Connection,
    layers: Sequence[str] | None = None,
    severity: str | None = None,
) -> CheckReport:
    """Check the register in ``conn``; report findings on ``layers`` at ``severity`` or worse."""
    validate_filters(layers, severity)
    loaded = load_layers(conn)
    findings = check_layers(loaded)
    wanted = set(layers or LAYER_TABLES)
    worst = SEVERITY_RANK[severity] if severity else len(SEVERITY_RANK)
    findings = [f for f in findings if f.layer in wanted and SEVERITY_RANK[f.severity] <= worst]
    checked = {name: len(loaded[name]) for name in LAYER_TABLES if name in wanted}
    return CheckReport(checked=checked, findings=findings)
