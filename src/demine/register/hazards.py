"""Hazardous areas (SHA/CHA): validation, registration in bulk, listing and detail.

Every hazard is validated completely before anything is written; a batch with one bad
hazard writes nothing and reports every problem of every hazard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select

from demine.domain.codelists import CodeLists
from demine.domain.errors import NotFoundError, Problem, ValidationError
from demine.domain.rules import check_lon_lat, check_not_future, check_required
from demine.storage import postgres, schema
from demine.storage.codelists import load_code_lists

if TYPE_CHECKING:
    import shapely

# demine.geometry.reading.WGS84_CRS, written out: the geometry modules (shapely, numpy, pyproj)
# load where a polygon is checked or measured, not for `demine hazards list`.
WGS84_CRS = "EPSG:4326"


@dataclass
class NewHazard:
    """A hazardous area as reported, before validation."""

    code: str
    hazard_type: str
    geometry: shapely.Geometry
    reported_on: date
    name: str | None = None
    status: str = "open"
    organisation: str | None = None  # organisation code
    admin_pcode: str | None = None
    priority: str | None = None
    eo_categories: Sequence[str] = ()
    evidence: Sequence[str] = ()
    blockages: Sequence[str] = ()
    benchmark: tuple[float, float] | None = None  # (lon, lat)
    # {(kind, sex, age_band): count}, e.g. {("direct", "female", "18_59"): 40}
    beneficiaries: dict[tuple[str, str, str], int] = field(default_factory=dict)
    entered_crs: str = WGS84_CRS
    entered_geometry: str | None = None
    source_id: str | None = None  # the record's id in the file it was imported from


def hazard_problems(h: NewHazard, lists: CodeLists, today: date) -> list[Problem]:
    """Every problem with one hazard, named by its code and field."""
    from demine.geometry.polygons import polygon_problems

    record = f"hazard {h.code or '(no code)'}"
    return hazard_attribute_problems(h, lists, today) + polygon_problems(h.geometry, record, "geometry")


def hazard_attribute_problems(h: NewHazard, lists: CodeLists, today: date) -> list[Problem]:
    """Every problem with one hazard's attributes, leaving its polygon aside.

    The importer checks polygons itself (vectorised, with repair), then calls this.
    """
    record = f"hazard {h.code or '(no code)'}"
    problems = check_required(record, h.code, "code")
    problems += lists.check("hazard_type", h.hazard_type, record, "hazard_type")
    problems += lists.check("hazard_status", h.status, record, "status")
    problems += lists.check("priority", h.priority, record, "priority")
    problems += lists.check_many("eo_category", h.eo_categories, record, "eo_categories")
    problems += lists.check_many("evidence", h.evidence, record, "evidence")
    problems += lists.check_many("blockage", h.blockages, record, "blockages")
    problems += check_not_future(record, h.reported_on, "reported_on", today)
    if h.benchmark is not None:
        problems += check_lon_lat(record, h.benchmark[0], h.benchmark[1], "benchmark")
    for (kind, sex, band), count in h.beneficiaries.items():
        where = f"beneficiaries[{kind},{sex},{band}]"
        problems += lists.check("beneficiary_kind", kind, record, where)
        problems += lists.check("sex", sex, record, where)
        problems += lists.check("age_band", band, record, where)
        if count < 0:
            problems.append(Problem(record, where, f"count must not be negative (got {count})"))
    return problems


def add_hazards(conn: Connection, hazards: Sequence[NewHazard], today: date | None = None) -> list[int]:
    """Validate and insert hazards in the caller's transaction; returns their ids.

    Nothing is written when any hazard has a problem: the :class:`ValidationError` lists
    them all.
    """
    lists = load_code_lists(conn)
    today = today or date.today()
    problems: list[Problem] = []
    seen: set[str] = set()
    for h in hazards:
        problems += hazard_problems(h, lists, today)
        if h.code in seen:
            problems.append(Problem(f"hazard {h.code}", "code", "appears twice in this batch"))
        seen.add(h.code)
    codes = [h.code for h in hazards]
    taken = set()
    for start in range(0, len(codes), 500):
        taken |= set(
            conn.execute(
                select(schema.hazard.c.code).where(schema.hazard.c.code.in_(codes[start : start + 500]))
            ).scalars()
        )
    problems += [Problem(f"hazard {c}", "code", "already exists") for c in sorted(taken)]
    orgs = dict(conn.execute(select(schema.organisation.c.code, schema.organisation.c.id)).all())
    for h in hazards:
        if h.organisation is not None and h.organisation not in orgs:
            problems.append(
                Problem(f"hazard {h.code}", "organisation", f"no organisation {h.organisation!r}")
            )
    if problems:
        raise ValidationError(problems)
    return insert_hazards(conn, hazards, orgs)


def insert_hazards(conn: Connection, hazards: Sequence[NewHazard], orgs: dict[str, int]) -> list[int]:
    """Write hazards that have been validated, with their remaining area and first history row.

    ``orgs`` maps organisation codes to ids. Returns the new ids, in order.
    """
    if not hazards:
        return []
    # Loaded here: numpy, shapely and pyproj are for the commands that write polygons.
    import shapely

    from demine.storage import bulk

    if conn.dialect.name == "postgresql":
        ids = postgres.reserve_ids(conn, "hazard", len(hazards))
    else:
        next_id = _next_id(conn)
        ids = list(range(next_id, next_id + len(hazards)))
    # Geometry work on whole arrays (see demine.storage.bulk): the same MultiPolygons, areas
    # and GeoPackage blobs as one hazard at a time.
    geoms = bulk.multipolygons([h.geometry for h in hazards])
    areas = bulk.geodesic_areas(geoms).tolist()
    bounds = shapely.bounds(geoms)
    postgresql = conn.dialect.name == "postgresql"
    stored = bulk.ewkb_hex(geoms) if postgresql else bulk.gpkg_blobs(geoms, bounds)
    org_ids = [orgs.get(h.organisation) if h.organisation else None for h in hazards]
    codes = [h.code for h in hazards]
    statuses = [h.status for h in hazards]
    reported = [h.reported_on for h in hazards]
    # Until a release product changes a remaining polygon, both layers' R*Trees hold the same
    # boxes: the second is then copied from the first rather than built again.
    twins = bulk.same_rtrees(conn, "rtree_hazard_geom", "rtree_hazard_remaining_geom", most=len(hazards))
    bulk.insert_rows(
        conn,
        schema.hazard,
        {
            "id": ids,
            "code": codes,
            "name": [h.name for h in hazards],
            "hazard_type": [h.hazard_type for h in hazards],
            "status": statuses,
            "organisation_id": org_ids,
            # What the trigger of migration 0006 would set: given here, it has nothing to do.
            "organisation_code": [
                h.organisation if o is not None else None for h, o in zip(hazards, org_ids, strict=True)
            ],
            "admin_pcode": [h.admin_pcode for h in hazards],
            "reported_on": reported,
            "priority": [h.priority for h in hazards],
            "eo_categories": [",".join(h.eo_categories) for h in hazards],
            "evidence": [",".join(h.evidence) for h in hazards],
            "blockages": [",".join(h.blockages) for h in hazards],
            "benchmark_lon": [h.benchmark[0] if h.benchmark else None for h in hazards],
            "benchmark_lat": [h.benchmark[1] if h.benchmark else None for h in hazards],
            "area_m2": areas,
            "remaining_area_m2": areas,
            "entered_crs": [h.entered_crs for h in hazards],
            "entered_geometry": [h.entered_geometry for h in hazards],
            "source_id": [h.source_id for h in hazards],
            "geom": stored,
        },
        rtree=("geom", bounds),
    )
    bulk.insert_rows(
        conn,
        schema.hazard_remaining,
        # code and status as the triggers of migration 0006 would copy them from the hazard.
        {"id": ids, "area_m2": areas, "code": codes, "status": statuses, "geom": stored},
        rtree=("geom", bounds),
        rtree_copy_of="rtree_hazard_geom" if twins else None,
    )
    n = len(hazards)
    bulk.insert_rows(
        conn,
        schema.hazard_area_event,
        {
            "hazard_id": ids,
            "occurred_on": reported,
            "event": ["registered"] * n,
            "change_m2": areas,
            "remaining_m2": areas,
            "release_product_id": [None] * n,
        },
    )
    beneficiaries = [
        {"hazard_id": hazard_id, "kind": k, "sex": s, "age_band": b, "count": count}
        for hazard_id, h in zip(ids, hazards, strict=True)
        for (k, s, b), count in h.beneficiaries.items()
    ]
    if beneficiaries:
        conn.execute(insert(schema.hazard_beneficiary), beneficiaries)
    return ids


LIST_COLUMNS = (
    "code",
    "name",
    "hazard_type",
    "status",
    "admin_pcode",
    "priority",
    "area_m2",
    "remaining_area_m2",
    "reported_on",
    "release_date",
)


def _hazard_query(
    conn: Connection,
    status: str | None,
    hazard_type: str | None,
    bbox: tuple[float, float, float, float] | None,
) -> Any:
    h = schema.hazard
    query = select(*(h.c[name] for name in LIST_COLUMNS), h.c.organisation_id).order_by(h.c.code)
    if status:
        query = query.where(h.c.status == status)
    if hazard_type:
        query = query.where(h.c.hazard_type == hazard_type)
    if bbox is not None:
        minx, miny, maxx, maxy = bbox
        rtree = schema.hazard_rtree
        if conn.dialect.name == "postgresql":  # the GiST index serves && on PostGIS
            envelope = func.ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)
            query = query.where(h.c.geom.op("&&")(envelope))
        else:
            query = query.where(
                h.c.id.in_(
                    select(rtree.c.id).where(
                        rtree.c.maxx >= minx,
                        rtree.c.minx <= maxx,
                        rtree.c.maxy >= miny,
                        rtree.c.miny <= maxy,
                    )
                )
            )
    return query


def list_hazards(
    conn: Connection,
    status: str | None = None,
    hazard_type: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Hazards as dicts, filtered by status, type and bounding box (minx, miny, maxx, maxy).

    The bounding box filter uses the GeoPackage R*Tree (SQLite) or the GiST index (PostGIS), so it
    stays fast on large registers.
    """
    query = _hazard_query(conn, status, hazard_type, bbox)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [dict(row._mapping) for row in conn.execute(query)]


def count_hazards(
    conn: Connection,
    status: str | None = None,
    hazard_type: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> int:
    """How many hazards :func:`list_hazards` would list without a limit."""
    query = _hazard_query(conn, status, hazard_type, bbox).order_by(None)
    return conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()


def get_hazard(conn: Connection, code: str) -> dict[str, Any]:
    """One hazard with its geometry (GeoJSON), remaining area, beneficiaries and release history."""
    h = schema.hazard
    row = conn.execute(select(h).where(h.c.code == code)).first()
    if row is None:
        raise NotFoundError(f"no hazard with code {code!r}")
    data = dict(row._mapping)
    geom = data.pop("geom")
    import shapely.geometry

    data["geometry"] = shapely.geometry.mapping(geom) if geom is not None else None
    data["eo_categories"] = [c for c in data["eo_categories"].split(",") if c]
    data["evidence"] = [c for c in data["evidence"].split(",") if c]
    data["blockages"] = [c for c in data["blockages"].split(",") if c]
    b = schema.hazard_beneficiary
    data["beneficiaries"] = [
        dict(r._mapping)
        for r in conn.execute(
            select(b.c.kind, b.c.sex, b.c.age_band, b.c.count)
            .where(b.c.hazard_id == data["id"])
            .order_by(b.c.kind, b.c.sex, b.c.age_band)
        )
    ]
    p = schema.release_product
    data["releases"] = [
        dict(r._mapping)
        for r in conn.execute(
            select(p.c.id, p.c.method, p.c.released_on, p.c.area_m2, p.c.released_area_m2, p.c.forced)
            .where(p.c.hazard_id == data["id"])
            .order_by(p.c.released_on, p.c.id)
        )
    ]
    return data


def _next_id(conn: Connection) -> int:
    """The first id the next inserted hazard may take: never one a deleted hazard had.

    Ids are assigned here (not by the database) so a batch can link its remaining polygons
    and history rows without a round trip per hazard; SQLite's AUTOINCREMENT counter is
    honoured so an id is never reused.
    """
    highest = conn.execute(select(func.max(schema.hazard.c.id))).scalar() or 0
    if conn.dialect.name == "sqlite":
        seq = conn.exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = 'hazard'").scalar()
        highest = max(highest, seq or 0)
    return highest + 1
