"""Land release rules (IMAS 07.11): which activity produces which release, and when a hazard closes.

Land is *cancelled* by non-technical survey, *reduced* by technical survey and *cleared*
by clearance (manual, dogs, machines) or battle area clearance. A hazard is released
(closed) when nothing of its area remains.
"""

from __future__ import annotations

from demine.domain.errors import Problem

# Which activity types may produce each release method.
METHOD_ACTIVITIES: dict[str, frozenset[str]] = {
    "cancelled": frozenset({"nts"}),
    "reduced": frozenset({"ts"}),
    "cleared": frozenset({"clearance", "bac", "ts", "eod"}),
}

# Below this the remainder is a digitising sliver, not land anyone will survey: the hazard
# closes and the sliver is counted as released by the product that closed it.
CLOSE_BELOW_M2 = 1.0

# A product may stray this far outside the remaining polygon (GPS and digitising noise)
# before it is refused as outside the hazard or overlapping an earlier product.
TOLERANCE_SHARE = 0.001
TOLERANCE_M2 = 1.0

OPEN_STATUSES = frozenset({"open", "suspended"})


def method_activity_problems(method: str, activity_type: str | None, record: str) -> list[Problem]:
    """A cancelled area needs an NTS, a reduced area a TS, a cleared area a clearance activity."""
    if activity_type is None or method not in METHOD_ACTIVITIES:
        return []
    allowed = METHOD_ACTIVITIES[method]
    if activity_type in allowed:
        return []
    return [
        Problem(
            record,
            "activity",
            f"a {activity_type} activity cannot produce a {method!r} release "
            f"(allowed: {', '.join(sorted(allowed))})",
        )
    ]


def tolerance_m2(product_area_m2: float) -> float:
    """How many m² of a product may lie outside the remaining area without refusal."""
    return max(TOLERANCE_M2, TOLERANCE_SHARE * product_area_m2)
