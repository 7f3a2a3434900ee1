"""The one colour scheme of the register: map, dashboard, reports and QGIS styles draw with it.

Colours are the Okabe–Ito palette (Okabe & Ito, "Color Universal Design", 2008): eight colours
told apart with any common colour-vision deficiency. Each hazard status and each release method
has its own colour, so a closed hazard (bluish green) is never mistaken for cleared land (blue)
where the map draws both, and a handed-over hazard is not the sky blue of cancelled land.
"""

from __future__ import annotations

BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
BLUISH_GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
REDDISH_PURPLE = "#CC79A7"
GREY = "#999999"  # not Okabe–Ito: a value the scheme does not know
WHITE = "#FFFFFF"

HAZARD_STATUS: dict[str, str] = {
    "open": VERMILLION,
    "suspended": ORANGE,
    "closed": BLUISH_GREEN,
    "handed_over": REDDISH_PURPLE,
}
"""Hazard status -> colour (the remaining area takes its hazard's status colour)."""

RELEASE_METHOD: dict[str, str] = {
    "cancelled": SKY_BLUE,
    "reduced": YELLOW,
    "cleared": BLUE,
}
"""Land release method -> colour."""

REMAINING = HAZARD_STATUS["open"]
"""Area still to release, in charts over time."""

FIND = BLACK
"""Explosive ordnance finds, as points (a white ring sets them off on any fill)."""
FIND_RING = WHITE
ACCIDENT = BLACK
"""Accidents, as larger points with a yellow ring."""
ACCIDENT_RING = YELLOW

KILLED = BLACK
INJURED = VERMILLION

SERIES: tuple[str, ...] = (BLUE, ORANGE, BLUISH_GREEN, REDDISH_PURPLE, SKY_BLUE, VERMILLION, YELLOW, BLACK)
"""Colours for series with no meaning of their own (organisations, teams), in order."""

# The offline base map under the register (Natural Earth): quiet colours the register reads on.
BASE_MAP: dict[str, str] = {
    "water": "#CFE3EE",
    "land": "#F3F1EA",
    "coastline": "#7FA7BF",
    "border": "#8A877C",
    "admin": "#5B5B5B",
}


def rgb(colour: str) -> str:
    """``#RRGGBB`` as ``"r,g,b"`` (QGIS style XML)."""
    value = colour.lstrip("#")
    return ",".join(str(int(value[i : i + 2], 16)) for i in (0, 2, 4))


def for_web() -> dict[str, object]:
    """The scheme as the map's script reads it (JSON in the page)."""
    return {
        "status": HAZARD_STATUS,
        "method": RELEASE_METHOD,
        "find": FIND,
        "find_ring": FIND_RING,
        "accident": ACCIDENT,
        "accident_ring": ACCIDENT_RING,
        "base": BASE_MAP,
    }
