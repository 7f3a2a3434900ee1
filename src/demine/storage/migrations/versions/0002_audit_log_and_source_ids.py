"""Audit log of every change, and the source id of imported records.

Columns are added with plain ``ADD COLUMN`` rather than Alembic's batch mode: batch mode
copies the table, which would drop the GeoPackage R*Tree triggers. GeoPackage registration
happens on SQLite only.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import demine.storage.types
from demine.storage import geopackage

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCE_ID_TABLES = ("hazard", "release_product", "eo_find", "accident")


def upgrade() -> None:
    """Create ``audit_log`` and add ``source_id`` columns."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column(
            "changed_at",
            demine.storage.types.Timestamp,
            server_default=demine.storage.types.utcnow(),
            nullable=False,
        ),
        sa.Column("changed_by", sa.Text(), server_default="system", nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_log_record", "audit_log", ["table_name", "record_id"])
    if op.get_bind().dialect.name == "sqlite":
        geopackage.register_attribute_table(lambda sql: op.get_bind().exec_driver_sql(sql), "audit_log")
    for table in SOURCE_ID_TABLES:
        op.add_column(table, sa.Column("source_id", sa.Text(), nullable=True))
        op.create_index(f"ix_{table}_source_id", table, ["source_id"])


def downgrade() -> None:
    """Drop them again (SQLite ≥ 3.35 drops columns in place)."""
    for table in SOURCE_ID_TABLES:
        op.drop_index(f"ix_{table}_source_id", table_name=table)
        op.drop_column(table, "source_id")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DELETE FROM gpkg_contents WHERE table_name = 'audit_log'")
    op.drop_index("ix_audit_log_record", table_name="audit_log")
    op.drop_table("audit_log")
