"""Reading what prioritisation needs from the register: open hazards and their surroundings.

Geometry blobs are decoded in bulk (header stripped in Python, WKB parsed by shapely in one
vectorised call), which keeps a million context features to seconds.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import shapely
from sqlalchemy import Connection, func, select
from sqlalchemy.sql.elements import ColumnElement

from demine.prioritisation.scoring import Accidents, ScoringInputs
from demine.storage import schema
from demine.storage.types import raw_geometry

# Bytes of the envelope after the 8-byte GeoPackage header, by envelope kind (OGC 12-128r18
# §2.1.3.1.1): none, xy, xyz, xym, xyzm.
ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
# context layer name -> (table, layer value in the table, or None for the whole table)
LAYER_SOURCES: dict[str, list[tuple[str, str | None]]] = {
    "road": [("road", None), ("context_line", "road")],
    "railway": [("context_line", "railway")],
    "power_line": [("context_line", "power_line")],
    "farmland": [("context_area", "farmland")],
    "protected_area": [("context_area", "protected_area")],
    "water_point": [("context_point", "water_point")],
    "school": [("context_point", "school")],
    "health_facility": [("context_point", "health_facility")],
}


def _blob(column: ColumnElement) -> ColumnElement:
    """The column's raw GeoPackage blob (WKB on PostGIS), without the Geometry type's per-row decoding."""
    return raw_geometry(column)


def decode_blobs(blobs: list[bytes | None]) -> np.ndarray:
    """Shapely geometries of GeoPackage blobs (None for NULL), vectorised."""
    out = np.full(len(blobs), None, dtype=object)
    wkb, where = [], []
    for i, b in enumerate(blobs):
        if b is None:
            continue
        b = bytes(b)
        if b[:2] != b"GP":  # plain WKB from PostGIS
            wkb.append(b)
        else:
            kind = (b[3] >> 1) & 0b111
            wkb.append(b[8 + ENVELOPE_BYTES[kind] :])
        where.append(i)
    if wkb:
        out[np.asarray(where)] = shapely.from_wkb(np.asarray(wkb, dtype=object))
    return out


def _layer(conn: Connection, table: str, layer: str | None) -> np.ndarray:
    t = schema.metadata.tables[table]
    query = select(t.c.id, _blob(t.c.geom))
    if layer is not None:
        query = query.where(t.c.layer == layer)
    rows = conn.execute(query.where(t.c.geom.is_not(None))).all()
    return decode_blobs([r[1] for r in rows])


def scoring_inputs(conn: Connection, as_of: date | None = None) -> ScoringInputs:
    """Open hazards with their remaining polygon, register factors (the authority's priority
    among them) and every context layer."""
    as_of = as_of or date.today()
    h, r = schema.hazard, schema.hazard_remaining
    rows = conn.execute(
        select(
            h.c.id,
            h.c.code,
            h.c.hazard_type,
            h.c.eo_categories,
            h.c.blockages,
            _blob(func.coalesce(r.c.geom, h.c.geom)),
            h.c.priority,
        )
        .select_from(h.outerjoin(r, r.c.id == h.c.id))
        .where(h.c.status == "open")
        .order_by(h.c.code)
    ).all()
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    index = {int(i): n for n, i in enumerate(ids)}
    b = schema.hazard_beneficiary
    beneficiaries = np.zeros(len(rows))
    for hazard_id, total in conn.execute(
        select(b.c.hazard_id, func.sum(b.c.count)).where(b.c.kind == "direct").group_by(b.c.hazard_id)
    ):
        if hazard_id in index:
            beneficiaries[index[hazard_id]] = total or 0

    context: dict[str, np.ndarray] = {}
    s = schema.settlement
    settlements = conn.execute(select(_blob(s.c.geom), s.c.population).where(s.c.geom.is_not(None))).all()
    context["settlement"] = decode_blobs([row[0] for row in settlements])
    population = np.array([row[1] or 0 for row in settlements], dtype=float)
    tables = set(schema.metadata.tables)
    for name, sources in LAYER_SOURCES.items():
        parts = [_layer(conn, table, layer) for table, layer in sources if table in tables]
        context[name] = np.concatenate(parts) if parts else np.zeros(0, dtype=object)

    a, v = schema.accident, schema.victim
    victims = dict(conn.execute(select(v.c.accident_id, func.count()).group_by(v.c.accident_id)).all())
    acc = conn.execute(select(a.c.id, a.c.occurred_on, a.c.hazard_id, _blob(a.c.geom))).all()
    accidents = Accidents(
        geometry=decode_blobs([row[3] for row in acc]),
        occurred_on=np.array([row[1] for row in acc], dtype="datetime64[D]"),
        victims=np.array([victims.get(row[0], 0) for row in acc], dtype=np.int64),
        hazard_index=np.array(
            [index.get(row[2], -1) if row[2] is not None else -1 for row in acc], dtype=np.int64
        ),
    )
    return ScoringInputs(
        codes=[row[1] for row in rows],
        geometry=decode_blobs([row[5] for row in rows]),
        hazard_type=np.array([row[2] for row in rows], dtype=object),
        eo_categories=[row[3] or "" for row in rows],
        blockages=[row[4] or "" for row in rows],
        beneficiaries=beneficiaries,
        as_of=as_of,
        context=context,
        population=population,
        accidents=accidents,
        priority=np.array([row[6] for row in rows], dtype=object),
    )
