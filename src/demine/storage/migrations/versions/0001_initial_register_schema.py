"""Initial register schema: the GeoPackage core, every table of the model, default code lists.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 18:01:36.547076

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import demine.storage.types
from demine.domain.codelists import DEFAULT_CODE_LISTS
from demine.storage import geopackage
from demine.storage.schema import SPATIAL_TABLES as LIVE_SPATIAL_TABLES

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The feature layers this revision creates. The live schema grows with later revisions, whose
# own migrations register their layers: registering them here, before their tables exist,
# would fail (the R*Tree triggers need the table).
SPATIAL_TABLES = {
    t: LIVE_SPATIAL_TABLES[t]
    for t in (
        "admin_area",
        "settlement",
        "road",
        "team",
        "hazard",
        "hazard_remaining",
        "release_product",
        "eo_find",
        "accident",
        "eore_session",
    )
}
# Likewise the attribute tables this revision creates (later ones register their own).
ATTRIBUTE_TABLES = [
    "code_list",
    "organisation",
    "person",
    "training_record",
    "accreditation",
    "hazard_beneficiary",
    "activity",
    "hazard_area_event",
    "progress_report",
    "victim",
    "eore_participant",
    "qa_visit",
    "qa_nonconformity",
]


def _unique_name(table: str, name: str) -> str:
    # PostgreSQL names a unique constraint's index schema-wide: two tables cannot share "sadd".
    return name if op.get_bind().dialect.name == "sqlite" else f"uq_{table}_{name}"


def upgrade() -> None:
    """Create the GeoPackage core and the register's tables."""

    def execute(sql: str) -> None:
        op.get_bind().exec_driver_sql(sql)

    gpkg = op.get_bind().dialect.name == "sqlite"
    if gpkg:
        geopackage.create_core(execute)
    else:
        # PostgreSQL: geometry columns are PostGIS types (needs a superuser or a pre-made extension).
        execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "admin_area",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pcode", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("parent_pcode", sa.Text(), nullable=True),
        sa.Column("area_m2", sa.Double(), nullable=False),
        sa.Column("geom", demine.storage.types.Geometry("MULTIPOLYGON"), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_area")),
        sa.UniqueConstraint("pcode", name=op.f("uq_admin_area_pcode")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "code_list",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("list_name", sa.Text(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("sort_order", sa.Integer(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_list")),
        sa.UniqueConstraint("list_name", "code", name="list_code"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("organisation_type", sa.Text(), nullable=False),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            demine.storage.types.Timestamp,
            server_default=demine.storage.types.utcnow(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            demine.storage.types.Timestamp,
            server_default=demine.storage.types.utcnow(),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("code", name=op.f("uq_organisation_code")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "road",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("road_class", sa.Text(), nullable=True),
        sa.Column("length_m", sa.Double(), nullable=True),
        sa.Column("geom", demine.storage.types.Geometry("LINESTRING"), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "settlement",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("pcode", sa.Text(), nullable=True),
        sa.Column("admin_pcode", sa.Text(), nullable=True),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("geom", demine.storage.types.Geometry("POINT"), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "eore_session",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("admin_pcode", sa.Text(), nullable=True),
        sa.Column("geom", demine.storage.types.Geometry("POINT"), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_eore_session_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eore_session")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "hazard",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("hazard_type", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("admin_pcode", sa.Text(), nullable=True),
        sa.Column("reported_on", sa.Date(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=True),
        sa.Column("eo_categories", sa.Text(), server_default="", nullable=False),
        sa.Column("evidence", sa.Text(), server_default="", nullable=False),
        sa.Column("blockages", sa.Text(), server_default="", nullable=False),
        sa.Column("benchmark_lon", sa.Double(), nullable=True),
        sa.Column("benchmark_lat", sa.Double(), nullable=True),
        sa.Column("area_m2", sa.Double(), nullable=False),
        sa.Column("remaining_area_m2", sa.Double(), nullable=False),
        sa.Column("release_date", sa.Date(), nullable=True),
        sa.Column("entered_crs", sa.Text(), server_default="EPSG:4326", nullable=False),
        sa.Column("entered_geometry", sa.Text(), nullable=True),
        sa.Column("geom", demine.storage.types.Geometry("MULTIPOLYGON"), nullable=True),
        sa.Column(
            "created_at",
            demine.storage.types.Timestamp,
            server_default=demine.storage.types.utcnow(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            demine.storage.types.Timestamp,
            server_default=demine.storage.types.utcnow(),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("area_m2 > 0", name=op.f("ck_hazard_area_positive")),
        sa.CheckConstraint("remaining_area_m2 >= 0", name=op.f("ck_hazard_remaining_non_negative")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_hazard_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazard")),
        sa.UniqueConstraint("code", name=op.f("uq_hazard_code")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("hazard", schema=None) as batch_op:
        batch_op.create_index("ix_hazard_status", ["status"], unique=False)

    op.create_table(
        "team",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("team_type", sa.Text(), nullable=False),
        sa.Column("members", sa.Integer(), server_default="1", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("geom", demine.storage.types.Geometry("POINT"), nullable=True),
        sa.Column(
            "created_at",
            demine.storage.types.Timestamp,
            server_default=demine.storage.types.utcnow(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            demine.storage.types.Timestamp,
            server_default=demine.storage.types.utcnow(),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("members >= 1", name=op.f("ck_team_members_positive")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_team_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team")),
        sa.UniqueConstraint("code", name=op.f("uq_team_code")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "activity",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("activity_type", sa.Text(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("hazard_id", sa.Integer(), nullable=True),
        sa.Column("method", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="planned", nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("ref_lon", sa.Double(), nullable=True),
        sa.Column("ref_lat", sa.Double(), nullable=True),
        sa.Column(
            "created_at",
            demine.storage.types.Timestamp,
            server_default=demine.storage.types.utcnow(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            demine.storage.types.Timestamp,
            server_default=demine.storage.types.utcnow(),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
            name=op.f("ck_activity_dates"),
        ),
        sa.ForeignKeyConstraint(["hazard_id"], ["hazard.id"], name=op.f("fk_activity_hazard_id_hazard")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_activity_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_activity_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity")),
        sa.UniqueConstraint("code", name=op.f("uq_activity_code")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index("ix_activity_hazard", ["hazard_id"], unique=False)
        batch_op.create_index("ix_activity_team", ["team_id"], unique=False)

    op.create_table(
        "eore_participant",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("sex", sa.Text(), nullable=False),
        sa.Column("age_band", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.CheckConstraint('"count" >= 0', name=op.f("ck_eore_participant_count_non_negative")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["eore_session.id"],
            name=op.f("fk_eore_participant_session_id_eore_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eore_participant")),
        sa.UniqueConstraint("session_id", "sex", "age_band", name=_unique_name("eore_participant", "sadd")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "hazard_beneficiary",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("sex", sa.Text(), nullable=False),
        sa.Column("age_band", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.CheckConstraint('"count" >= 0', name=op.f("ck_hazard_beneficiary_count_non_negative")),
        sa.ForeignKeyConstraint(
            ["hazard_id"],
            ["hazard.id"],
            name=op.f("fk_hazard_beneficiary_hazard_id_hazard"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazard_beneficiary")),
        sa.UniqueConstraint(
            "hazard_id", "kind", "sex", "age_band", name=_unique_name("hazard_beneficiary", "sadd")
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "hazard_remaining",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_m2", sa.Double(), nullable=False),
        sa.Column("geom", demine.storage.types.Geometry("MULTIPOLYGON"), nullable=True),
        sa.ForeignKeyConstraint(
            ["id"], ["hazard.id"], name=op.f("fk_hazard_remaining_id_hazard"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazard_remaining")),
    )
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("sex", sa.Text(), nullable=True),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            demine.storage.types.Timestamp,
            server_default=demine.storage.types.utcnow(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            demine.storage.types.Timestamp,
            server_default=demine.storage.types.utcnow(),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_person_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_person_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "accident",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("accident_kind", sa.Text(), nullable=False),
        sa.Column("eo_category", sa.Text(), nullable=True),
        sa.Column("hazard_id", sa.Integer(), nullable=True),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("geom", demine.storage.types.Geometry("POINT"), nullable=True),
        sa.Column(
            "created_at",
            demine.storage.types.Timestamp,
            server_default=demine.storage.types.utcnow(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            demine.storage.types.Timestamp,
            server_default=demine.storage.types.utcnow(),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activity.id"], name=op.f("fk_accident_activity_id_activity")
        ),
        sa.ForeignKeyConstraint(["hazard_id"], ["hazard.id"], name=op.f("fk_accident_hazard_id_hazard")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accident")),
        sa.UniqueConstraint("code", name=op.f("uq_accident_code")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "accreditation",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("activity_type", sa.Text(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "expires_on IS NULL OR expires_on >= issued_on", name=op.f("ck_accreditation_dates")
        ),
        sa.CheckConstraint(
            "team_id IS NOT NULL OR person_id IS NOT NULL", name=op.f("ck_accreditation_holder")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_accreditation_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_accreditation_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_accreditation_team_id_team"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accreditation")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("accreditation", schema=None) as batch_op:
        batch_op.create_index("ix_accreditation_team", ["team_id"], unique=False)

    op.create_table(
        "progress_report",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("report_date", sa.Date(), nullable=False),
        sa.Column("area_m2", sa.Double(), nullable=False),
        sa.Column("hours", sa.Double(), nullable=True),
        sa.CheckConstraint("area_m2 >= 0", name=op.f("ck_progress_report_area_non_negative")),
        sa.CheckConstraint(
            "hours IS NULL OR (hours >= 0 AND hours <= 24)", name=op.f("ck_progress_report_hours")
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activity.id"], name=op.f("fk_progress_report_activity_id_activity")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_progress_report_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_report")),
        sa.UniqueConstraint("team_id", "activity_id", "report_date", name="team_day"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("progress_report", schema=None) as batch_op:
        batch_op.create_index("ix_progress_report_activity", ["activity_id"], unique=False)

    op.create_table(
        "qa_visit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("inspected_organisation_id", sa.Integer(), nullable=False),
        sa.Column("inspecting_organisation_id", sa.Integer(), nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=False),
        sa.Column("visit_type", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("comments", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activity.id"], name=op.f("fk_qa_visit_activity_id_activity")
        ),
        sa.ForeignKeyConstraint(
            ["inspected_organisation_id"],
            ["organisation.id"],
            name=op.f("fk_qa_visit_inspected_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["inspecting_organisation_id"],
            ["organisation.id"],
            name=op.f("fk_qa_visit_inspecting_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_visit")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "release_product",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("released_on", sa.Date(), nullable=False),
        sa.Column("area_m2", sa.Double(), nullable=False),
        sa.Column("released_area_m2", sa.Double(), nullable=False),
        sa.Column("clearance_depth_cm", sa.Double(), nullable=True),
        sa.Column("forced", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("entered_crs", sa.Text(), server_default="EPSG:4326", nullable=False),
        sa.Column("entered_geometry", sa.Text(), nullable=True),
        sa.Column("geom", demine.storage.types.Geometry("MULTIPOLYGON"), nullable=True),
        sa.Column(
            "created_at",
            demine.storage.types.Timestamp,
            server_default=demine.storage.types.utcnow(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            demine.storage.types.Timestamp,
            server_default=demine.storage.types.utcnow(),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "clearance_depth_cm IS NULL OR clearance_depth_cm >= 0",
            name=op.f("ck_release_product_depth"),
        ),
        sa.CheckConstraint("released_area_m2 >= 0", name=op.f("ck_release_product_released_non_negative")),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activity.id"], name=op.f("fk_release_product_activity_id_activity")
        ),
        sa.ForeignKeyConstraint(
            ["hazard_id"], ["hazard.id"], name=op.f("fk_release_product_hazard_id_hazard")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_product")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("release_product", schema=None) as batch_op:
        batch_op.create_index("ix_release_product_hazard", ["hazard_id"], unique=False)

    op.create_table(
        "training_record",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("course", sa.Text(), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.CheckConstraint(
            "completed_on IS NULL OR started_on IS NULL OR completed_on >= started_on",
            name=op.f("ck_training_record_dates"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_training_record_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_record")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "eo_find",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=True),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("release_product_id", sa.Integer(), nullable=True),
        sa.Column("found_on", sa.Date(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Integer(), server_default="1", nullable=False),
        sa.Column("depth_cm", sa.Double(), nullable=True),
        sa.Column("condition", sa.Text(), nullable=True),
        sa.Column("disposal_method", sa.Text(), nullable=True),
        sa.Column("geom", demine.storage.types.Geometry("POINT"), nullable=True),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_eo_find_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activity.id"], name=op.f("fk_eo_find_activity_id_activity")
        ),
        sa.ForeignKeyConstraint(["hazard_id"], ["hazard.id"], name=op.f("fk_eo_find_hazard_id_hazard")),
        sa.ForeignKeyConstraint(
            ["release_product_id"],
            ["release_product.id"],
            name=op.f("fk_eo_find_release_product_id_release_product"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eo_find")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "hazard_area_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("change_m2", sa.Double(), nullable=False),
        sa.Column("remaining_m2", sa.Double(), nullable=False),
        sa.Column("release_product_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hazard_id"],
            ["hazard.id"],
            name=op.f("fk_hazard_area_event_hazard_id_hazard"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["release_product_id"],
            ["release_product.id"],
            name=op.f("fk_hazard_area_event_release_product_id_release_product"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazard_area_event")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("hazard_area_event", schema=None) as batch_op:
        batch_op.create_index("ix_hazard_area_event_hazard", ["hazard_id", "occurred_on"], unique=False)

    op.create_table(
        "qa_nonconformity",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("nc_type", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("measures", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["qa_visit.id"],
            name=op.f("fk_qa_nonconformity_visit_id_qa_visit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_nonconformity")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "victim",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("accident_id", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=True),
        sa.Column("identification", sa.Text(), nullable=True),
        sa.Column("sex", sa.Text(), server_default="unknown", nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("age_band", sa.Text(), server_default="unknown", nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("activity_at_time", sa.Text(), nullable=True),
        sa.Column("tampered", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["accident_id"],
            ["accident.id"],
            name=op.f("fk_victim_accident_id_accident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_victim")),
        sqlite_autoincrement=True,
    )
    # ### end Alembic commands ###
    if gpkg:
        for table, (column, geometry_type, description) in SPATIAL_TABLES.items():
            geopackage.register_feature_table(execute, table, column, geometry_type, description)
        # Registering the attribute tables also hides alembic_version from GDAL's layer list.
        for table in ATTRIBUTE_TABLES:
            geopackage.register_attribute_table(execute, table)
    else:
        # PostGIS: a GiST index per geometry column plays the part of the GeoPackage R*Tree.
        for table, (column, _type, _description) in SPATIAL_TABLES.items():
            op.create_index(f"ix_{table}_{column}", table, [column], postgresql_using="gist")
    code_list = sa.table(
        "code_list",
        sa.column("list_name"),
        sa.column("code"),
        sa.column("label"),
        sa.column("sort_order"),
    )
    op.bulk_insert(
        code_list,
        [
            {"list_name": name, "code": code, "label": label, "sort_order": i}
            for name, rows in DEFAULT_CODE_LISTS.items()
            for i, (code, label) in enumerate(rows)
        ],
    )


def downgrade() -> None:
    """Drop everything (the file stops being a GeoPackage with data)."""
    if op.get_bind().dialect.name == "sqlite":
        for table, (column, _type, _description) in SPATIAL_TABLES.items():
            op.execute(f'DROP TABLE IF EXISTS "rtree_{table}_{column}"')
        for table in (*SPATIAL_TABLES, *ATTRIBUTE_TABLES):
            op.execute(f"DELETE FROM gpkg_geometry_columns WHERE table_name = '{table}'")
            op.execute(f"DELETE FROM gpkg_extensions WHERE table_name = '{table}'")
            op.execute(f"DELETE FROM gpkg_contents WHERE table_name = '{table}'")
    op.drop_table("victim")
    op.drop_table("qa_nonconformity")
    with op.batch_alter_table("hazard_area_event", schema=None) as batch_op:
        batch_op.drop_index("ix_hazard_area_event_hazard")

    op.drop_table("hazard_area_event")
    op.drop_table("eo_find")
    op.drop_table("training_record")
    with op.batch_alter_table("release_product", schema=None) as batch_op:
        batch_op.drop_index("ix_release_product_hazard")

    op.drop_table("release_product")
    op.drop_table("qa_visit")
    with op.batch_alter_table("progress_report", schema=None) as batch_op:
        batch_op.drop_index("ix_progress_report_activity")

    op.drop_table("progress_report")
    with op.batch_alter_table("accreditation", schema=None) as batch_op:
        batch_op.drop_index("ix_accreditation_team")

    op.drop_table("accreditation")
    op.drop_table("accident")
    op.drop_table("person")
    op.drop_table("hazard_remaining")
    op.drop_table("hazard_beneficiary")
    op.drop_table("eore_participant")
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_team")
        batch_op.drop_index("ix_activity_hazard")

    op.drop_table("activity")
    op.drop_table("team")
    with op.batch_alter_table("hazard", schema=None) as batch_op:
        batch_op.drop_index("ix_hazard_status")

    op.drop_table("hazard")
    op.drop_table("eore_session")
    op.drop_table("settlement")
    op.drop_table("road")
    op.drop_table("organisation")
    op.drop_table("code_list")
    op.drop_table("admin_area")
    # ### end Alembic commands ###
