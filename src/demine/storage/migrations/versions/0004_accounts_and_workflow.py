"""Users, sessions and API tokens, the approval workflow's submissions, and a version on every record.

The new tables are GeoPackage attribute tables. ``version`` is added with a plain
``ADD COLUMN`` to the tables that had none (optimistic concurrency needs it on every mutable
record); batch mode would copy the tables and drop the GeoPackage R*Tree triggers.

Revision ID: 0004
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import demine.storage.types
from demine.storage import geopackage

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = demine.storage.types.utcnow()

VERSIONED_TABLES = (
    "code_list",
    "admin_area",
    "settlement",
    "road",
    "training_record",
    "accreditation",
    "hazard_beneficiary",
    "progress_report",
    "eo_find",
    "victim",
    "eore_session",
    "eore_participant",
    "qa_visit",
    "qa_nonconformity",
)
NEW_TABLES = {
    "app_user": "People who use the demine server",
    "auth_token": "Browser sessions and API tokens (hashed)",
    "submission": "Operator records awaiting verification and approval",
}


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", demine.storage.types.Timestamp, server_default=NOW, nullable=False),
        sa.Column("updated_at", demine.storage.types.Timestamp, server_default=NOW, nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    ]


def upgrade() -> None:
    """Create ``app_user``, ``auth_token`` and ``submission``; add ``version`` columns."""
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=True),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name=op.f("fk_app_user_organisation_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "auth_token",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("csrf_token", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("created_at", demine.storage.types.Timestamp, server_default=NOW, nullable=False),
        sa.Column("expires_at", demine.storage.types.Timestamp, nullable=False),
        sa.Column("revoked_at", demine.storage.types.Timestamp, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_auth_token_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_token_token_hash")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_auth_token_user", "auth_token", ["user_id"])
    op.create_table(
        "submission",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="submitted", nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("verifier_id", sa.Integer(), nullable=True),
        sa.Column("verified_at", demine.storage.types.Timestamp, nullable=True),
        sa.Column("approver_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", demine.storage.types.Timestamp, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("record_table", sa.Text(), nullable=True),
        sa.Column("record_id", sa.Integer(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name=op.f("fk_submission_organisation_id_organisation")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["app_user.id"], name=op.f("fk_submission_author_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["verifier_id"], ["app_user.id"], name=op.f("fk_submission_verifier_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["approver_id"], ["app_user.id"], name=op.f("fk_submission_approver_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_submission_status", "submission", ["status"])
    op.create_index("ix_submission_organisation", "submission", ["organisation_id"])
    if op.get_bind().dialect.name == "sqlite":
        for table, description in NEW_TABLES.items():
            geopackage.register_attribute_table(
                lambda sql: op.get_bind().exec_driver_sql(sql), table, description
            )
    for table in VERSIONED_TABLES:
        op.add_column(table, sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    """Drop them again (SQLite ≥ 3.35 drops columns in place)."""
    for table in VERSIONED_TABLES:
        op.drop_column(table, "version")
    if op.get_bind().dialect.name == "sqlite":
        for table in NEW_TABLES:
            op.execute(f"DELETE FROM gpkg_contents WHERE table_name = '{table}'")
    op.drop_index("ix_submission_organisation", table_name="submission")
    op.drop_index("ix_submission_status", table_name="submission")
    op.drop_table("submission")
    op.drop_index("ix_auth_token_user", table_name="auth_token")
    op.drop_table("auth_token")
    op.drop_table("app_user")
