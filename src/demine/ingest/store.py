"""Writing accepted rows: new records in bulk, matched records updated with an audit trail.

Identity, per kind:

* a row with a **source id** (``--source-id COLUMN`` or ``--map source_id=COLUMN``) is the
  record imported before with that source id, if there is one: it is *updated* (its
  before/after states go to ``audit_log``), or counted *unchanged* when nothing differs;
* a row without one is *new*; it is a **duplicate** when its natural key is taken (hazard
  and accident codes), or when the same record is already there: a find at the same point,
  on the same day, of the same category and quantity; a release product with the same
  polygon on the same hazard;
* admin areas are identified by their P-code, always.

Within one file, the first occurrence wins: a later row with the same source id, code,
P-code, or (hazards) the same polygon is a duplicate.

Two updates are refused rather than done silently, since other records depend on them: a
hazard's polygon once land release products were recorded against it
(``hazard_has_releases``), and a release product's polygon, hazard, method or date
(``release_changed``) — the remaining area was computed from them. Release products always
go through :func:`demine.landrelease.accounting.record_release`, one at a time, each in a
savepoint, so a refused product leaves no trace and the area identity holds.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Connection, Table, func, insert, select, update

from demine.domain.errors import NotFoundError, ReleaseRejected, ValidationError
from demine.geometry.area import geodesic_area
from demine.geometry.polygons import as_multipolygon
from demine.ingest.kinds import AdminArea, Context, Converted, rejection_of
from demine.ingest.report import Rejection
from demine.landrelease.accounting import NewRelease, record_release
from demine.register.activities import NewFind, insert_finds
from demine.register.hazards import NewHazard, insert_hazards
from demine.register.incidents import NewAccident, insert_accidents
from demine.storage import schema
from demine.storage.audit import record_change, snapshot
from demine.storage.types import utcnow

# Two geometries within this many degrees of each other, vertex by vertex, are the same.
SAME_GEOMETRY_DEGREES = 1e-9


@dataclass
class Outcome:
    """What became of one accepted row once written."""

    row: int
    status: str  # imported | updated | unchanged | rejected
    rejection: Rejection | None = None


def same_geometry(a: shapely.Geometry | None, b: shapely.Geometry | None) -> bool:
    """True when two geometries have the same vertices (in any ring order), to 1e-9 degrees."""
    if a is None or b is None:
        return a is None and b is None
    return bool(shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), SAME_GEOMETRY_DEGREES))


def geometry_digest(geom: shapely.Geometry) -> bytes:
    """A short fingerprint of a geometry's exact vertices, for duplicates within a file."""
    wkb = shapely.to_wkb(shapely.normalize(geom), output_dimension=2)
    return hashlib.blake2b(wkb, digest_size=16).digest()


def geometry_digests(geoms: Sequence[shapely.Geometry | None]) -> list[bytes | None]:
    """:func:`geometry_digest` of many geometries at once (None for None)."""
    array = np.asarray(geoms, dtype=object)
    out: list[bytes | None] = [None] * len(array)
    present = np.flatnonzero(~shapely.is_missing(array))
    if len(present):
        wkbs = shapely.to_wkb(shapely.normalize(array[present]), output_dimension=2).tolist()
        for i, wkb in zip(present.tolist(), wkbs, strict=True):
            out[i] = hashlib.blake2b(wkb, digest_size=16).digest()
    return out


def _duplicate(message: str) -> Rejection:
    return Rejection("duplicate", message)


class Store(ABC):
    """Matching and writing for one kind; rows are offered one by one and written per batch."""

    table: Table

    def __init__(self, conn: Connection, ctx: Context, label: str, changed_by: str) -> None:
        self.conn = conn
        self.ctx = ctx
        self.label = label  # "import of hazards.gpkg": the reason recorded in the audit log
        self.changed_by = changed_by
        self.inserts: list[tuple[int, Converted]] = []
        self.updates: list[tuple[int, int, Converted]] = []  # (row, record id, converted)
        self.seen_source: dict[str, int] = {}
        self.seen_keys: dict[str, int] = {}
        self.by_source: dict[str, int] = {}
        if "source_id" in self.table.c:
            t = self.table
            self.by_source = dict(
                conn.execute(select(t.c.source_id, t.c.id).where(t.c.source_id.is_not(None))).all()
            )

    def prepare(self, first_row: int, geometries: Sequence[shapely.Geometry | None]) -> None:  # noqa: B027
        """Look at a batch's checked geometries (row ``first_row`` first) before its rows are offered."""

    def offer(self, row: int, item: Converted) -> Rejection | None:
        """Queue a converted row for writing, or say why it is a duplicate."""
        sid = item.source_id
        if sid is not None and sid in self.seen_source:
            return _duplicate(f"source id {sid!r} appears again (first at row {self.seen_source[sid]})")
        if item.key is not None and item.key in self.seen_keys:
            return _duplicate(f"{item.key!r} appears again (first at row {self.seen_keys[item.key]})")
        found = self.match(row, item)
        if isinstance(found, Rejection):
            return found
        if sid is not None:
            self.seen_source[sid] = row
        if item.key is not None:
            self.seen_keys[item.key] = row
        if found is None:
            self.inserts.append((row, item))
        else:
            self.updates.append((row, found, item))
        return None

    @abstractmethod
    def match(self, row: int, item: Converted) -> int | Rejection | None:
        """The id of the record this row updates, None for a new record, or a duplicate."""

    @abstractmethod
    def write_inserts(self, items: list[Converted]) -> None:
        """Insert new records in bulk."""

    @abstractmethod
    def write_update(self, row: int, record_id: int, item: Converted) -> str | Rejection:
        """Update one record: "updated", "unchanged" or a rejection."""

    def flush(self) -> list[Outcome]:
        """Write what was queued since the last flush."""
        outcomes = []
        for row, record_id, item in self.updates:
            result = self.write_update(row, record_id, item)
            if isinstance(result, Rejection):
                outcomes.append(Outcome(row, "rejected", result))
            else:
                outcomes.append(Outcome(row, result))
        if self.inserts:
            self.write_inserts([item for _, item in self.inserts])
            outcomes += [Outcome(row, "imported") for row, _ in self.inserts]
        self.inserts, self.updates = [], []
        return outcomes

    def _audited_update(self, row: int, record_id: int, before_row: Any, changes: dict[str, Any]) -> str:
        """Apply ``changes`` to one record, with its before and after states in the audit log."""
        t = self.table
        if not changes:
            return "unchanged"
        values = dict(changes)
        if "version" in t.c:  # optimistic concurrency: a writer holding the old version is refused
            values["version"] = t.c.version + 1
        if "updated_at" in t.c:
            values["updated_at"] = utcnow()
        self.conn.execute(update(t).where(t.c.id == record_id).values(**values))
        before = snapshot(before_row)
        after = snapshot(dict(before_row._mapping) | changes)
        if "version" in t.c:
            after["version"] = before["version"] + 1
        record_change(
            self.conn,
            t.name,
            record_id,
            "update",
            before,
            after,
            reason=f"{self.label}, row {row}",
            changed_by=self.changed_by,
        )
        return "updated"

    def _changes(self, record_id: int, wanted: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The current row (for the audit log) and the columns of ``wanted`` that differ from it."""
        t = self.table
        current = self.conn.execute(select(t).where(t.c.id == record_id)).one()
        changes = {}
        for column, value in wanted.items():
            old = current._mapping[column]
            if isinstance(value, shapely.Geometry) or isinstance(old, shapely.Geometry):
                if not same_geometry(old, value):
                    changes[column] = value
            elif old != value:
                changes[column] = value
        return current, changes


class HazardStore(Store):
    """Hazards: code unique, updates by source id, polygon frozen once released from."""

    table = schema.hazard

    def __init__(self, conn: Connection, ctx: Context, label: str, changed_by: str) -> None:
        super().__init__(conn, ctx, label, changed_by)
        self.seen_geometry: dict[bytes, int] = {}
        p = schema.release_product
        self.releases = dict(conn.execute(select(p.c.hazard_id, func.count()).group_by(p.c.hazard_id)).all())
        self.digests: dict[int, bytes | None] = {}  # row -> digest of the current batch's polygons

    def prepare(self, first_row: int, geometries: Sequence[shapely.Geometry | None]) -> None:
        # One vectorised pass instead of a normalize and a to_wkb per row.
        digests = geometry_digests(geometries)
        self.digests = dict(zip(range(first_row, first_row + len(digests)), digests, strict=True))

    def match(self, row: int, item: Converted) -> int | Rejection | None:
        h: NewHazard = item.record
        digest = self.digests.get(row) or geometry_digest(h.geometry)
        if digest in self.seen_geometry:
            return _duplicate(f"the same polygon as row {self.seen_geometry[digest]}")
        existing = self.by_source.get(item.source_id) if item.source_id is not None else None
        holder = self.ctx.hazards.get(h.code)
        if holder is not None and holder != existing:
            how = "" if item.source_id is None else f" under another source id than {item.source_id!r}"
            return _duplicate(f"hazard {h.code} is already in the register{how}")
        self.seen_geometry[digest] = row
        return existing

    def write_inserts(self, items: list[Converted]) -> None:
        hazards = [item.record for item in items]
        ids = insert_hazards(self.conn, hazards, self.ctx.organisations)
        self.ctx.hazards.update((h.code, i) for h, i in zip(hazards, ids, strict=True))

    def write_update(self, row: int, record_id: int, item: Converted) -> str | Rejection:
        h: NewHazard = item.record
        geom = as_multipolygon(h.geometry)
        wanted: dict[str, Any] = {
            "code": h.code,
            "name": h.name,
            "hazard_type": h.hazard_type,
            "status": h.status,
            "organisation_id": self.ctx.organisations.get(h.organisation) if h.organisation else None,
            "admin_pcode": h.admin_pcode,
            "reported_on": h.reported_on,
            "priority": h.priority,
            "eo_categories": ",".join(h.eo_categories),
            "evidence": ",".join(h.evidence),
            "blockages": ",".join(h.blockages),
            "benchmark_lon": h.benchmark[0] if h.benchmark else None,
            "benchmark_lat": h.benchmark[1] if h.benchmark else None,
            "geom": geom,
        }
        current, changes = self._changes(record_id, wanted)
        if "geom" in changes:
            released = self.releases.get(record_id, 0)
            if released:
                return Rejection(
                    "hazard_has_releases",
                    f"the polygon of hazard {current.code} differs from the register's, but "
                    f"{released} land release product(s) were recorded against it; correct the "
                    "polygon in the register (or undo the products) rather than by re-import",
                )
            area = geodesic_area(geom)
            changes |= {
                "area_m2": area,
                "remaining_area_m2": area,
                "entered_crs": h.entered_crs,
                "entered_geometry": h.entered_geometry,
            }
            self.conn.execute(
                update(schema.hazard_remaining)
                .where(schema.hazard_remaining.c.id == record_id)
                .values(geom=geom, area_m2=area)
            )
        if "geom" in changes or "reported_on" in changes:
            # With no products, the registration is the hazard's only area event: keep the
            # history's sums equal to the new polygon.
            e = schema.hazard_area_event
            values: dict[str, Any] = {"occurred_on": h.reported_on}
            if "geom" in changes:
                values |= {"change_m2": changes["area_m2"], "remaining_m2": changes["area_m2"]}
            self.conn.execute(
                update(e).where(e.c.hazard_id == record_id, e.c.event == "registered").values(**values)
            )
        if "code" in changes:
            self.ctx.hazards.pop(current.code, None)
            self.ctx.hazards[h.code] = record_id
        return self._audited_update(row, record_id, current, changes)


class ReleaseStore(Store):
    """Release products, one at a time through the land release accounting."""

    table = schema.release_product

    def __init__(self, conn: Connection, ctx: Context, label: str, changed_by: str) -> None:
        super().__init__(conn, ctx, label, changed_by)
        self.seen_geometry: dict[tuple[str, bytes], int] = {}
        self.hazard_codes = {hazard_id: code for code, hazard_id in ctx.hazards.items()}

    def offer(self, row: int, item: Converted) -> Rejection | None:
        # Duplicates are decided when each product is written (see flush): a product the
        # accounting refuses must not make a later, acceptable copy of it a "duplicate".
        self.inserts.append((row, item))
        return None

    def match(self, row: int, item: Converted) -> int | Rejection | None:
        new: NewRelease = item.record
        sid = item.source_id
        if sid is not None and sid in self.seen_source:
            return _duplicate(f"source id {sid!r} appears again (first at row {self.seen_source[sid]})")
        key = (new.hazard, geometry_digest(new.geometry.geometry))
        if key in self.seen_geometry:
            return _duplicate(f"the same product as row {self.seen_geometry[key]}")
        return self.by_source.get(sid) if sid is not None else None

    def flush(self) -> list[Outcome]:
        # One at a time, in file order: each product changes what the next one sees.
        outcomes = []
        for row, item in self.inserts:
            found = self.match(row, item)
            if isinstance(found, Rejection):
                result: str | Rejection = found
            else:
                result = self.write_update(row, found, item) if found else self._record(item)
            if isinstance(result, Rejection):
                outcomes.append(Outcome(row, "rejected", result))
                continue
            outcomes.append(Outcome(row, result))
            if item.source_id is not None:
                self.seen_source[item.source_id] = row
            self.seen_geometry[(item.record.hazard, geometry_digest(item.record.geometry.geometry))] = row
        self.inserts = []
        return outcomes

    def write_inserts(self, items: list[Converted]) -> None:  # pragma: no cover - see flush
        raise NotImplementedError

    def _record(self, item: Converted) -> str | Rejection:
        new: NewRelease = item.record
        duplicate = self._already_recorded(new)
        if duplicate is not None:
            return duplicate
        try:
            with self.conn.begin_nested():
                result = record_release(self.conn, new, self.ctx.today)
                if item.source_id is not None:
                    p = schema.release_product
                    self.conn.execute(
                        update(p)
                        .where(p.c.id == result["release_product_id"])
                        .values(source_id=item.source_id)
                    )
        except ReleaseRejected as exc:
            text = " ".join(p.message for p in exc.problems)
            if "outside the hazard" in text:
                reason = "release_outside_hazard"
            elif "overlaps" in text or "does not touch" in text:
                reason = "release_overlap"
            else:
                reason = "release_not_applicable"
            return Rejection(reason, "; ".join(f"{p.field}: {p.message}" for p in exc.problems))
        except ValidationError as exc:
            rejection = rejection_of(exc.problems)
            if exc.problems[0].field == "hazard":
                rejection = Rejection("release_not_applicable", rejection.message)
            return rejection
        except NotFoundError as exc:
            return Rejection("unknown_reference", str(exc))
        return "imported"

    def _already_recorded(self, new: NewRelease) -> Rejection | None:
        p = schema.release_product
        hazard_id = self.ctx.hazards[new.hazard]
        for product_id, method, geom in self.conn.execute(
            select(p.c.id, p.c.method, p.c.geom).where(p.c.hazard_id == hazard_id)
        ):
            if method == new.method and same_geometry(geom, as_multipolygon(new.geometry.geometry)):
                return _duplicate(f"hazard {new.hazard} already has this {method} product (id {product_id})")
        return None

    def write_update(self, row: int, record_id: int, item: Converted) -> str | Rejection:
        new: NewRelease = item.record
        p = schema.release_product
        current = self.conn.execute(select(p).where(p.c.id == record_id)).one()._mapping
        hazard_code = self.hazard_codes.get(current["hazard_id"])
        differs = [
            name
            for name, same in (
                ("hazard", hazard_code == new.hazard),
                ("method", current["method"] == new.method),
                ("released_on", current["released_on"] == new.released_on),
                ("geometry", same_geometry(current["geom"], as_multipolygon(new.geometry.geometry))),
            )
            if not same
        ]
        if differs:
            return Rejection(
                "release_changed",
                f"release product {record_id} (source id {item.source_id!r}) was recorded with another "
                f"{', '.join(differs)}; the remaining area depends on it: record a correction instead",
            )
        wanted = {
            "activity_id": self.ctx.activities.get(new.activity) if new.activity else None,
            "clearance_depth_cm": new.clearance_depth_cm,
            "note": new.note,
        }
        current, changes = self._changes(record_id, wanted)
        return self._audited_update(row, record_id, current, changes)


class FindStore(Store):
    """EO finds: identified by source id, or else by what, when and where."""

    table = schema.eo_find

    def __init__(self, conn: Connection, ctx: Context, label: str, changed_by: str) -> None:
        super().__init__(conn, ctx, label, changed_by)
        f = schema.eo_find
        self.existing = {
            self._key(found_on, category, quantity, geom)
            for found_on, category, quantity, geom in conn.execute(
                select(f.c.found_on, f.c.category, f.c.quantity, f.c.geom)
            )
        }
        self.seen_content: dict[tuple[Any, ...], int] = {}

    @staticmethod
    def _key(found_on: date, category: str, quantity: int, geom: shapely.Geometry | None) -> tuple[Any, ...]:
        where = (round(geom.x, 9), round(geom.y, 9)) if geom is not None else None
        return (found_on, category, quantity, where)

    def match(self, row: int, item: Converted) -> int | Rejection | None:
        f: NewFind = item.record
        if item.source_id is not None:
            return self.by_source.get(item.source_id)
        key = self._key(f.found_on, f.category, f.quantity, f.location)
        if key in self.seen_content:
            return _duplicate(f"the same find as row {self.seen_content[key]}")
        if key in self.existing:
            return _duplicate("the same find (day, category, quantity, point) is already in the register")
        self.seen_content[key] = row
        return None

    def write_inserts(self, items: list[Converted]) -> None:
        insert_finds(self.conn, [item.record for item in items], self.ctx.hazards, self.ctx.activities)

    def write_update(self, row: int, record_id: int, item: Converted) -> str | Rejection:
        f: NewFind = item.record
        wanted = {
            "hazard_id": self.ctx.hazards.get(f.hazard) if f.hazard else None,
            "activity_id": self.ctx.activities.get(f.activity) if f.activity else None,
            "found_on": f.found_on,
            "category": f.category,
            "model": f.model,
            "quantity": f.quantity,
            "depth_cm": f.depth_cm,
            "condition": f.condition,
            "disposal_method": f.disposal_method,
            "geom": f.location,
        }
        current, changes = self._changes(record_id, wanted)
        return self._audited_update(row, record_id, current, changes)


class AccidentStore(Store):
    """Accidents: code unique, updates by source id."""

    table = schema.accident

    def __init__(self, conn: Connection, ctx: Context, label: str, changed_by: str) -> None:
        super().__init__(conn, ctx, label, changed_by)
        a = schema.accident
        self.codes = dict(conn.execute(select(a.c.code, a.c.id)).all())

    def match(self, row: int, item: Converted) -> int | Rejection | None:
        acc: NewAccident = item.record
        existing = self.by_source.get(item.source_id) if item.source_id is not None else None
        holder = self.codes.get(acc.code)
        if holder is not None and holder != existing:
            return _duplicate(f"accident {acc.code} is already in the register")
        return existing

    def write_inserts(self, items: list[Converted]) -> None:
        accidents = [item.record for item in items]
        ids = insert_accidents(self.conn, accidents, self.ctx.hazards)
        self.codes.update((a.code, i) for a, i in zip(accidents, ids, strict=True))

    def write_update(self, row: int, record_id: int, item: Converted) -> str | Rejection:
        acc: NewAccident = item.record
        wanted = {
            "code": acc.code,
            "occurred_on": acc.occurred_on,
            "accident_kind": acc.accident_kind,
            "eo_category": acc.eo_category,
            "hazard_id": self.ctx.hazards.get(acc.hazard) if acc.hazard else None,
            "description": acc.description,
            "geom": acc.location,
        }
        current, changes = self._changes(record_id, wanted)
        return self._audited_update(row, record_id, current, changes)


class AdminStore(Store):
    """Administrative areas, identified by P-code: new ones inserted, known ones updated."""

    table = schema.admin_area

    def __init__(self, conn: Connection, ctx: Context, label: str, changed_by: str) -> None:
        super().__init__(conn, ctx, label, changed_by)
        a = schema.admin_area
        self.pcodes = dict(conn.execute(select(a.c.pcode, a.c.id)).all())

    def match(self, row: int, item: Converted) -> int | Rejection | None:
        return self.pcodes.get(item.key or "")

    def write_inserts(self, items: list[Converted]) -> None:
        rows = []
        for item in items:
            area: AdminArea = item.record
            geom = as_multipolygon(area.geometry)
            rows.append(
                {
                    "pcode": area.pcode,
                    "name": area.name,
                    "level": area.level,
                    "parent_pcode": area.parent_pcode,
                    "area_m2": geodesic_area(geom),
                    "geom": geom,
                }
            )
        self.conn.execute(insert(schema.admin_area), rows)

    def write_update(self, row: int, record_id: int, item: Converted) -> str | Rejection:
        area: AdminArea = item.record
        geom = as_multipolygon(area.geometry)
        wanted = {"name": area.name, "level": area.level, "parent_pcode": area.parent_pcode, "geom": geom}
        current, changes = self._changes(record_id, wanted)
        if "geom" in changes:
            changes["area_m2"] = geodesic_area(geom)
        return self._audited_update(row, record_id, current, changes)


STORES: dict[str, type[Store]] = {
    "hazard": HazardStore,
    "release": ReleaseStore,
    "find": FindStore,
    "accident": AccidentStore,
    "admin": AdminStore,
}
