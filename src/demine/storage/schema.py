"""The tables of the register, as SQLAlchemy Core metadata.

Column types are chosen from the GeoPackage list (TEXT, INTEGER, FLOAT/DOUBLE, BOOLEAN,
DATE, DATETIME, and the geometry type names) so the file stays valid for GDAL and QGIS.
Multi-valued codes (EO categories, evidence, blockages) are stored as comma-separated codes
that are checked against the ``code_list`` table on write: a single column stays readable in
a desktop GIS attribute table.

``SPATIAL_TABLES`` lists the feature layers; the initial migration registers each of them in
``gpkg_contents`` with an R*Tree index.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)

from demine.storage.types import Geometry, Timestamp, utcnow

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _pk() -> Column:
    return Column("id", Integer, primary_key=True, autoincrement=True)


def _stamps() -> list[Column]:
    return [
        Column("created_at", Timestamp, nullable=False, server_default=utcnow()),
        Column("updated_at", Timestamp, nullable=False, server_default=utcnow()),
        # Optimistic concurrency: every update increments it; a stale writer is refused.
        Column("version", Integer, nullable=False, server_default="1"),
    ]


def _version() -> Column:
    # Added by migration 0004 to tables that had no version: every mutable record has one.
    return Column("version", Integer, nullable=False, server_default="1")


code_list = Table(
    "code_list",
    metadata,
    _pk(),
    Column("list_name", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("sort_order", Integer, nullable=False, server_default="0"),
    Column("active", Boolean, nullable=False, server_default="1"),
    _version(),
    UniqueConstraint("list_name", "code", name="list_code"),
)

organisation = Table(
    "organisation",
    metadata,
    _pk(),
    Column("code", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("organisation_type", Text, nullable=False),
    Column("country", Text),
    *_stamps(),
)

admin_area = Table(
    "admin_area",
    metadata,
    _pk(),
    # P-codes are text: leading zeros matter (docs/sources.md#pcodes).
    Column("pcode", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("level", Integer, nullable=False),
    Column("parent_pcode", Text),
    Column("area_m2", Double, nullable=False),
    Column("geom", Geometry("MULTIPOLYGON")),
    _version(),
)

settlement = Table(
    "settlement",
    metadata,
    _pk(),
    Column("name", Text, nullable=False),
    Column("pcode", Text),
    Column("admin_pcode", Text),
    Column("population", Integer),
    Column("geom", Geometry("POINT")),
    _version(),
)

road = Table(
    "road",
    metadata,
    _pk(),
    Column("name", Text),
    Column("road_class", Text),
    Column("length_m", Double),
    Column("geom", Geometry("LINESTRING")),
    _version(),
)

team = Table(
    "team",
    metadata,
    _pk(),
    Column("code", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("organisation_id", Integer, ForeignKey("organisation.id"), nullable=False),
    # organisation.code of organisation_id, kept by triggers (migration 0006): GIS users read codes.
    Column("organisation_code", Text),
    Column("team_type", Text, nullable=False),
    Column("members", Integer, nullable=False, server_default="1"),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("geom", Geometry("POINT")),  # base location
    *_stamps(),
    CheckConstraint("members >= 1", name="members_positive"),
)

person = Table(
    "person",
    metadata,
    _pk(),
    Column("organisation_id", Integer, ForeignKey("organisation.id"), nullable=False),
    Column("team_id", Integer, ForeignKey("team.id")),
    Column("full_name", Text, nullable=False),
    Column("sex", Text),
    Column("role", Text),
    *_stamps(),
)

training_record = Table(
    "training_record",
    metadata,
    _pk(),
    Column("person_id", Integer, ForeignKey("person.id", ondelete="CASCADE"), nullable=False),
    Column("course", Text, nullable=False),
    Column("started_on", Date),
    Column("completed_on", Date),
    Column("passed", Boolean),
    _version(),
    CheckConstraint("completed_on IS NULL OR started_on IS NULL OR completed_on >= started_on", name="dates"),
)

accreditation = Table(
    "accreditation",
    metadata,
    _pk(),
    Column("organisation_id", Integer, ForeignKey("organisation.id"), nullable=False),
    Column("team_id", Integer, ForeignKey("team.id", ondelete="CASCADE")),
    Column("person_id", Integer, ForeignKey("person.id", ondelete="CASCADE")),
    Column("activity_type", Text, nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("expires_on", Date),
    _version(),
    CheckConstraint("expires_on IS NULL OR expires_on >= issued_on", name="dates"),
    CheckConstraint("team_id IS NOT NULL OR person_id IS NOT NULL", name="holder"),
)
Index("ix_accreditation_team", accreditation.c.team_id)

hazard = Table(
    "hazard",
    metadata,
    _pk(),
    Column("code", Text, nullable=False, unique=True),
    Column("name", Text),
    Column("hazard_type", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="open"),
    Column("organisation_id", Integer, ForeignKey("organisation.id")),
    # organisation.code of organisation_id, kept by triggers (migration 0006): GIS users read codes.
    Column("organisation_code", Text),
    Column("admin_pcode", Text),
    Column("reported_on", Date, nullable=False),
    Column("priority", Text),
    Column("eo_categories", Text, nullable=False, server_default=""),
    Column("evidence", Text, nullable=False, server_default=""),
    Column("blockages", Text, nullable=False, server_default=""),
    Column("benchmark_lon", Double),
    Column("benchmark_lat", Double),
    Column("area_m2", Double, nullable=False),
    Column("remaining_area_m2", Double, nullable=False),
    Column("release_date", Date),
    Column("entered_crs", Text, nullable=False, server_default="EPSG:4326"),
    Column("entered_geometry", Text),
    # The id the record had in the file it was imported from: re-imports update, not duplicate.
    Column("source_id", Text, index=True),
    Column("geom", Geometry("MULTIPOLYGON")),  # the polygon as first recorded
    # Mean ground slope in degrees, as surveyed (NULL: unknown). The planner keeps machines off
    # steep hazards (migration 0005).
    Column("slope_deg", Double),
    *_stamps(),
    CheckConstraint("area_m2 > 0", name="area_positive"),
    CheckConstraint("remaining_area_m2 >= 0", name="remaining_non_negative"),
)
Index("ix_hazard_status", hazard.c.status)

# What is left of each hazard after the land release products recorded so far.
hazard_remaining = Table(
    "hazard_remaining",
    metadata,
    Column("id", Integer, ForeignKey("hazard.id", ondelete="CASCADE"), primary_key=True),
    Column("area_m2", Double, nullable=False),
    # The hazard's code and status, kept by triggers (migration 0006): the layer reads alone in GIS.
    Column("code", Text),
    Column("status", Text),
    Column("geom", Geometry("MULTIPOLYGON")),  # NULL once fully released
)

hazard_beneficiary = Table(
    "hazard_beneficiary",
    metadata,
    _pk(),
    Column("hazard_id", Integer, ForeignKey("hazard.id", ondelete="CASCADE"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("sex", Text, nullable=False),
    Column("age_band", Text, nullable=False),
    Column("count", Integer, nullable=False),
    _version(),
    UniqueConstraint("hazard_id", "kind", "sex", "age_band", name="sadd"),
    CheckConstraint('"count" >= 0', name="count_non_negative"),
)

activity = Table(
    "activity",
    metadata,
    _pk(),
    Column("code", Text, nullable=False, unique=True),
    Column("activity_type", Text, nullable=False),
    Column("organisation_id", Integer, ForeignKey("organisation.id"), nullable=False),
    Column("team_id", Integer, ForeignKey("team.id")),
    Column("hazard_id", Integer, ForeignKey("hazard.id")),
    Column("method", Text),
    Column("status", Text, nullable=False, server_default="planned"),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("ref_lon", Double),
    Column("ref_lat", Double),
    *_stamps(),
    CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date", name="dates"),
)
Index("ix_activity_hazard", activity.c.hazard_id)
Index("ix_activity_team", activity.c.team_id)

release_product = Table(
    "release_product",
    metadata,
    _pk(),
    Column("hazard_id", Integer, ForeignKey("hazard.id"), nullable=False),
    Column("activity_id", Integer, ForeignKey("activity.id")),
    Column("method", Text, nullable=False),
    Column("released_on", Date, nullable=False),
    # area_m2 is the polygon as recorded; released_area_m2 what it took off the remaining
    # area (smaller only when a product was forced over an earlier one or past the edge).
    Column("area_m2", Double, nullable=False),
    Column("released_area_m2", Double, nullable=False),
    Column("clearance_depth_cm", Double),
    Column("forced", Boolean, nullable=False, server_default="0"),
    Column("note", Text),
    Column("entered_crs", Text, nullable=False, server_default="EPSG:4326"),
    Column("entered_geometry", Text),
    Column("source_id", Text, index=True),
    Column("geom", Geometry("MULTIPOLYGON")),
    *_stamps(),
    CheckConstraint("released_area_m2 >= 0", name="released_non_negative"),
    CheckConstraint("clearance_depth_cm IS NULL OR clearance_depth_cm >= 0", name="depth"),
)
Index("ix_release_product_hazard", release_product.c.hazard_id)

# One row per change of a hazard's remaining area: the time series the planner calibrates on.
hazard_area_event = Table(
    "hazard_area_event",
    metadata,
    _pk(),
    Column("hazard_id", Integer, ForeignKey("hazard.id", ondelete="CASCADE"), nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("event", Text, nullable=False),  # registered | cancelled | reduced | cleared
    Column("change_m2", Double, nullable=False),
    Column("remaining_m2", Double, nullable=False),
    Column("release_product_id", Integer, ForeignKey("release_product.id", ondelete="CASCADE")),
)
Index("ix_hazard_area_event_hazard", hazard_area_event.c.hazard_id, hazard_area_event.c.occurred_on)

progress_report = Table(
    "progress_report",
    metadata,
    _pk(),
    Column("team_id", Integer, ForeignKey("team.id"), nullable=False),
    Column("activity_id", Integer, ForeignKey("activity.id")),
    Column("report_date", Date, nullable=False),
    Column("area_m2", Double, nullable=False),
    Column("hours", Double),
    _version(),
    UniqueConstraint("team_id", "activity_id", "report_date", name="team_day"),
    CheckConstraint("area_m2 >= 0", name="area_non_negative"),
    CheckConstraint("hours IS NULL OR (hours >= 0 AND hours <= 24)", name="hours"),
)
Index("ix_progress_report_activity", progress_report.c.activity_id)

eo_find = Table(
    "eo_find",
    metadata,
    _pk(),
    Column("hazard_id", Integer, ForeignKey("hazard.id")),
    Column("activity_id", Integer, ForeignKey("activity.id")),
    Column("release_product_id", Integer, ForeignKey("release_product.id")),
    Column("found_on", Date, nullable=False),
    Column("category", Text, nullable=False),
    Column("model", Text),
    Column("quantity", Integer, nullable=False, server_default="1"),
    Column("depth_cm", Double),
    Column("condition", Text),
    Column("disposal_method", Text),
    Column("source_id", Text, index=True),
    Column("geom", Geometry("POINT")),
    _version(),
    CheckConstraint("quantity >= 1", name="quantity_positive"),
)

accident = Table(
    "accident",
    metadata,
    _pk(),
    Column("code", Text, nullable=False, unique=True),
    Column("occurred_on", Date, nullable=False),
    Column("accident_kind", Text, nullable=False),
    Column("eo_category", Text),
    Column("hazard_id", Integer, ForeignKey("hazard.id")),
    Column("activity_id", Integer, ForeignKey("activity.id")),
    Column("description", Text),
    Column("source_id", Text, index=True),
    Column("geom", Geometry("POINT")),
    *_stamps(),
)

# Victims are personal data: never exported or shown without the right role (issue 6).
victim = Table(
    "victim",
    metadata,
    _pk(),
    Column("accident_id", Integer, ForeignKey("accident.id", ondelete="CASCADE"), nullable=False),
    Column("full_name", Text),
    Column("identification", Text),
    Column("sex", Text, nullable=False, server_default="unknown"),
    Column("birth_date", Date),
    Column("age_band", Text, nullable=False, server_default="unknown"),
    Column("status", Text, nullable=False),
    Column("activity_at_time", Text),
    Column("tampered", Boolean),
    _version(),
)

eore_session = Table(
    "eore_session",
    metadata,
    _pk(),
    Column("organisation_id", Integer, ForeignKey("organisation.id"), nullable=False),
    # organisation.code of organisation_id, kept by triggers (migration 0006): GIS users read codes.
    Column("organisation_code", Text),
    Column("held_on", Date, nullable=False),
    Column("method", Text, nullable=False),
    Column("admin_pcode", Text),
    Column("geom", Geometry("POINT")),
    _version(),
)

eore_participant = Table(
    "eore_participant",
    metadata,
    _pk(),
    Column("session_id", Integer, ForeignKey("eore_session.id", ondelete="CASCADE"), nullable=False),
    Column("sex", Text, nullable=False),
    Column("age_band", Text, nullable=False),
    Column("count", Integer, nullable=False),
    _version(),
    UniqueConstraint("session_id", "sex", "age_band", name="sadd"),
    CheckConstraint('"count" >= 0', name="count_non_negative"),
)

qa_visit = Table(
    "qa_visit",
    metadata,
    _pk(),
    Column("activity_id", Integer, ForeignKey("activity.id")),
    Column("inspected_organisation_id", Integer, ForeignKey("organisation.id"), nullable=False),
    Column("inspecting_organisation_id", Integer, ForeignKey("organisation.id"), nullable=False),
    Column("visited_on", Date, nullable=False),
    Column("visit_type", Text, nullable=False),
    Column("result", Text),
    Column("comments", Text),
    _version(),
)

qa_nonconformity = Table(
    "qa_nonconformity",
    metadata,
    _pk(),
    Column("visit_id", Integer, ForeignKey("qa_visit.id", ondelete="CASCADE"), nullable=False),
    Column("nc_type", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("measures", Text),
    _version(),
)

# Every change to a record: who, when, what it was before and after (JSON), and why.
# Restoring a version replays its ``before``; nothing here is ever updated or deleted.
audit_log = Table(
    "audit_log",
    metadata,
    _pk(),
    Column("table_name", Text, nullable=False),
    Column("record_id", Integer, nullable=False),
    Column("action", Text, nullable=False),  # insert | update | delete | repair | restore
    Column("changed_at", Timestamp, nullable=False, server_default=utcnow()),
    Column("changed_by", Text, nullable=False, server_default="system"),
    Column("before", Text),
    Column("after", Text),
    Column("reason", Text),
)
Index("ix_audit_log_record", audit_log.c.table_name, audit_log.c.record_id)

# People who use the server (migration 0004). ``role`` is one of demine.accounts.roles.ROLES;
# operator staff belong to an organisation and only see and submit for it.
app_user = Table(
    "app_user",
    metadata,
    _pk(),
    Column("username", Text, nullable=False, unique=True),
    Column("full_name", Text),
    Column("role", Text, nullable=False),
    Column("organisation_id", Integer, ForeignKey("organisation.id")),
    Column("password_hash", Text),  # argon2id; NULL: token-only account
    Column("active", Boolean, nullable=False, server_default="1"),
    *_stamps(),
)

# Browser sessions and API tokens. Only a SHA-256 of the token is stored: a copy of the
# database does not let anyone log in.
auth_token = Table(
    "auth_token",
    metadata,
    _pk(),
    Column("user_id", Integer, ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False),
    Column("kind", Text, nullable=False),  # session | api
    Column("token_hash", Text, nullable=False, unique=True),
    Column("csrf_token", Text),  # sessions only: the synchronizer token unsafe requests must echo
    Column("name", Text),
    Column("created_at", Timestamp, nullable=False, server_default=utcnow()),
    Column("expires_at", Timestamp, nullable=False),
    Column("revoked_at", Timestamp),
)
Index("ix_auth_token_user", auth_token.c.user_id)

# The approval workflow's staging area: an operator's record waits here (as JSON) until an IM
# officer approves it; only then is it written to the register, through the same validated
# functions as any other write. So the register holds approved records only.
submission = Table(
    "submission",
    metadata,
    _pk(),
    Column("kind", Text, nullable=False),  # hazard | activity | release | progress_report | find | accident
    Column("status", Text, nullable=False, server_default="submitted"),
    Column("payload", Text, nullable=False),
    Column("organisation_id", Integer, ForeignKey("organisation.id")),
    Column("author_id", Integer, ForeignKey("app_user.id"), nullable=False),
    Column("verifier_id", Integer, ForeignKey("app_user.id")),
    Column("verified_at", Timestamp),
    Column("approver_id", Integer, ForeignKey("app_user.id")),
    Column("decided_at", Timestamp),
    Column("reason", Text),  # why it was last rejected
    Column("record_table", Text),  # where approval wrote it
    Column("record_id", Integer),
    *_stamps(),
)
Index("ix_submission_status", submission.c.status)
Index("ix_submission_organisation", submission.c.organisation_id)


def _context_table(name: str, geometry_type: str) -> Table:
    # Context layers for impact prioritisation (migration 0005), one table per geometry type so
    # every layer has a fixed type for GIS. ``layer`` says what a feature is: points school,
    # health_facility, water_point; lines road, railway, power_line; areas farmland,
    # protected_area. ``value`` holds one optional number (e.g. pupils, beds, population).
    table = Table(
        name,
        metadata,
        _pk(),
        Column("layer", Text, nullable=False),
        Column("name", Text),
        Column("category", Text),
        Column("value", Double),
        Column("source_id", Text),
        Column("geom", Geometry(geometry_type)),
        Column("version", Integer, nullable=False, server_default="1"),
    )
    Index(f"ix_{name}_layer", table.c.layer)
    Index(f"ix_{name}_source_id", table.c.source_id)
    return table


context_point = _context_table("context_point", "POINT")
context_line = _context_table("context_line", "LINESTRING")
context_area = _context_table("context_area", "MULTIPOLYGON")


# table name -> (geometry column, geometry type, description)
SPATIAL_TABLES: dict[str, tuple[str, str, str]] = {
    "admin_area": ("geom", "MULTIPOLYGON", "Administrative areas (P-coded)"),
    "settlement": ("geom", "POINT", "Settlements with population"),
    "road": ("geom", "LINESTRING", "Roads"),
    "team": ("geom", "POINT", "Teams at their base location"),
    "hazard": ("geom", "MULTIPOLYGON", "Hazardous areas (SHA/CHA) as recorded"),
    "hazard_remaining": ("geom", "MULTIPOLYGON", "What remains of each hazard to release"),
    "release_product": (
        "geom",
        "MULTIPOLYGON",
        "Land release products: cancelled, reduced, cleared",
    ),
    "eo_find": ("geom", "POINT", "Explosive ordnance found"),
    "accident": ("geom", "POINT", "Accidents (their description is personal data)"),
    "eore_session": ("geom", "POINT", "Explosive ordnance risk education sessions"),
    "context_point": ("geom", "POINT", "Context points: schools, health facilities, water points"),
    "context_line": ("geom", "LINESTRING", "Context lines: roads, railways, power lines"),
    "context_area": ("geom", "MULTIPOLYGON", "Context areas: farmland, protected areas"),
}

# R*Tree virtual tables: created by the migration through the GeoPackage extension, so they
# live outside ``metadata`` (Alembic must not try to create them as ordinary tables).
rtree_metadata = MetaData()

hazard_rtree = Table(
    "rtree_hazard_geom",
    rtree_metadata,
    Column("id", Integer, primary_key=True),
    Column("minx", Double),
    Column("maxx", Double),
    Column("miny", Double),
    Column("maxy", Double),
)


# GeoPackage asks for INTEGER PRIMARY KEY AUTOINCREMENT: an id is never reused, so a deleted
# record's audit history can never be mistaken for a new record's.
for _table in metadata.tables.values():
    if _table.name != "hazard_remaining":  # keyed by its hazard's id
        _table.dialect_options["sqlite"]["autoincrement"] = True
