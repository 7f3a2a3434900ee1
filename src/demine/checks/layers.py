"""Reading the register's feature tables into shapely arrays, ready for vectorised checks.

Geometries are read as raw GeoPackage blobs and decoded in one ``shapely.from_wkb`` call per
layer, so 100,000 polygons load in a fraction of a second. A blob that is not a GeoPackage
geometry, or whose WKB GEOS will not read (unclosed rings, rings of one point), does not stop
the check: its reason is kept in :attr:`Layer.malformed` and the record is reported.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Connection, text

from demine.checks.rules import LAYER_TABLES, Finding

# Bytes of envelope after the 8-byte GeoPackage header, by the header's envelope code.
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}

# What each layer is called in messages: "hazard HA-000012: ...".
NOUNS = {
    "hazard": "hazard",
    "remaining": "remaining area of hazard",
    "release": "release product",
    "admin": "admin area",
    "find": "EO find",
    "accident": "accident",
}

# One query per layer: id, the label people know the record by, the geometry, then attributes.
QUERIES = {
    "hazard": (
        "SELECT id, code, geom, admin_pcode, area_m2, remaining_area_m2, status, source_id "
        "FROM hazard ORDER BY id"
    ),
    "remaining": (
        "SELECT r.id, h.code, r.geom, r.area_m2 FROM hazard_remaining r "
        "JOIN hazard h ON h.id = r.id ORDER BY r.id"
    ),
    "release": (
        "SELECT p.id, CAST(p.id AS TEXT), p.geom, p.hazard_id, h.code, p.area_m2, p.released_area_m2, "
        "p.forced, p.source_id FROM release_product p LEFT JOIN hazard h ON h.id = p.hazard_id ORDER BY p.id"
    ),
    "admin": "SELECT id, pcode, geom, area_m2, level FROM admin_area ORDER BY id",
    "find": (
        "SELECT id, CAST(id AS TEXT), geom, hazard_id, release_product_id, found_on, source_id "
        "FROM eo_find ORDER BY id"
    ),
    "accident": "SELECT id, code, geom, occurred_on, hazard_id, source_id FROM accident ORDER BY id",
}
ATTRIBUTES = {
    "hazard": ("admin_pcode", "area_m2", "remaining_area_m2", "status", "source_id"),
    "remaining": ("area_m2",),
    "release": ("hazard_id", "hazard_code", "area_m2", "released_area_m2", "forced", "source_id"),
    "admin": ("area_m2", "level"),
    "find": ("hazard_id", "release_product_id", "found_on", "source_id"),
    "accident": ("occurred_on", "hazard_id", "source_id"),
}


@dataclass
class Layer:
    """One feature table as arrays: ``geoms[i]`` is record ``ids[i]``, known as ``labels[i]``."""

    name: str
    ids: np.ndarray
    labels: np.ndarray
    geoms: np.ndarray
    attrs: dict[str, np.ndarray] = field(default_factory=dict)
    # index -> why the stored geometry could not be read
    malformed: dict[int, str] = field(default_factory=dict)
    # Set by the per-geometry checks: which records are sound enough for relation checks.
    usable: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def table(self) -> str:
        return LAYER_TABLES[self.name]

    def describe(self, i: int) -> str:
        """How a message names record ``i``: 'hazard HA-000012', 'release product 7 (hazard HA-3)'."""
        label = f"{NOUNS[self.name]} {self.labels[i]}"
        if self.name == "release" and self.attrs["hazard_code"][i] is not None:
            label += f" (hazard {self.attrs['hazard_code'][i]})"
        return label

    def finding(self, i: int, rule: str, what: str, value: float | None = None) -> Finding:
        """A finding of ``rule`` on record ``i``; the message starts with the record's name."""
        return Finding(
            rule=rule,
            layer=self.name,
            record=str(self.labels[i]),
            record_id=int(self.ids[i]),
            message=f"{self.describe(int(i))}: {what}",
            value=value,
        )

    def index_of(self) -> dict[int, int]:
        """Row id -> array index."""
        return {int(record_id): i for i, record_id in enumerate(self.ids)}


def decode_blobs(blobs: Sequence[bytes | None], plain_wkb: bool = False) -> tuple[np.ndarray, dict[int, str]]:
    """Shapely geometries from GeoPackage blobs (None stays None) and the reasons for unreadable ones.

    ``plain_wkb``: the values are WKB without a GeoPackage header (PostGIS's ``ST_AsBinary``).
    """
    wkb = np.full(len(blobs), None, dtype=object)
    malformed: dict[int, str] = {}
    for i, blob in enumerate(blobs):
        if blob is None:
            continue
        blob = bytes(blob)
        if plain_wkb:
            wkb[i] = blob
            continue
        if len(blob) < 8 or blob[:2] != b"GP":
            malformed[i] = "not a GeoPackage geometry blob (no 'GP' header)"
            continue
        envelope = (blob[3] >> 1) & 0b111
        if envelope not in _ENVELOPE_BYTES or len(blob) < 8 + _ENVELOPE_BYTES[envelope]:
            malformed[i] = "GeoPackage header has an invalid envelope code"
            continue
        wkb[i] = blob[8 + _ENVELOPE_BYTES[envelope] :]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        geoms = shapely.from_wkb(wkb, on_invalid="ignore")
        failed = np.flatnonzero(np.not_equal(wkb, None) & shapely.is_missing(geoms))
        if len(failed):
            # Read again with GEOS's structure fixing only to say what was wrong.
            fixed = shapely.from_wkb(wkb[failed], on_invalid="fix")
    for k, i in enumerate(failed):
        if fixed[k] is not None:
            malformed[int(i)] = "not well-formed WKB (a ring is not closed or has too few points)"
        else:
            malformed[int(i)] = "unreadable WKB"
    return geoms, malformed


def make_layer(name: str, rows: Sequence[Sequence[Any]], plain_wkb: bool = False) -> Layer:
    """A layer from rows shaped like its query: (id, label, blob, *attributes)."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * (3 + len(ATTRIBUTES[name]))
    ids = np.asarray(columns[0], dtype=np.int64)
    labels = np.asarray(columns[1], dtype=object)
    geoms, malformed = decode_blobs(columns[2], plain_wkb)
    attrs = {attr: np.asarray(columns[3 + k], dtype=object) for k, attr in enumerate(ATTRIBUTES[name])}
    return Layer(name=name, ids=ids, labels=labels, geoms=geoms, attrs=attrs, malformed=malformed)


def load_layer(conn: Connection, name: str) -> Layer:
    """Read one layer of the register."""
    query = QUERIES[name]
    postgis = conn.dialect.name == "postgresql"
    if postgis:  # the geometry (the first "geom" of the select list) as WKB; "id" is ambiguous there
        query = re.sub(r"\b((?:\w+\.)?geom)\b", r"ST_AsBinary(\1)", query, count=1)
        query = re.sub(r"ORDER BY \S+$", "ORDER BY 1", query)
    rows = conn.execute(text(query)).all()
    return make_layer(name, rows, plain_wkb=postgis)


def load_layers(conn: Connection, names: Sequence[str] = tuple(QUERIES)) -> dict[str, Layer]:
    """Read the named layers (all of them by default)."""
    return {name: load_layer(conn, name) for name in names}
