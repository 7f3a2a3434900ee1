"""Context layers for impact prioritisation, and the slope of each hazard for the workplan.

Three feature tables, one per geometry type so every layer has a fixed type in GIS:
``context_point`` (schools, health facilities, water points), ``context_line`` (roads,
railways, power lines) and ``context_area`` (farmland, protected areas); ``layer`` says which.
``hazard.slope_deg`` is added with a plain ``ADD COLUMN`` (batch mode would copy the table and
drop its GeoPackage R*Tree triggers).

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import demine.storage.types
from demine.storage import geopackage

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTEXT_TABLES = {
    "context_point": ("POINT", "Context points: schools, health facilities, water points"),
    "context_line": ("LINESTRING", "Context lines: roads, railways, power lines"),
    "context_area": ("MULTIPOLYGON", "Context areas: farmland, protected areas"),
}


def upgrade() -> None:
    """Create the three context layers and add ``hazard.slope_deg``."""

    def execute(sql: str) -> None:
        op.get_bind().exec_driver_sql(sql)

    for table, (geometry_type, description) in CONTEXT_TABLES.items():
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("layer", sa.Text(), nullable=False),
            sa.Column("name", sa.Text(), nullable=True),
            sa.Column("category", sa.Text(), nullable=True),
            sa.Column("value", sa.Double(), nullable=True),
            sa.Column("source_id", sa.Text(), nullable=True),
            sa.Column("geom", demine.storage.types.Geometry(geometry_type), nullable=True),
            sa.Column("version", sa.Integer(), server_default="1", nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
            sqlite_autoincrement=True,
        )
        op.create_index(f"ix_{table}_layer", table, ["layer"])
        op.create_index(f"ix_{table}_source_id", table, ["source_id"])
        if op.get_bind().dialect.name == "sqlite":
            geopackage.register_feature_table(execute, table, "geom", geometry_type, description)
        else:  # PostGIS: a GiST index instead of the GeoPackage R*Tree
            op.create_index(f"ix_{table}_geom", table, ["geom"], postgresql_using="gist")
    op.add_column("hazard", sa.Column("slope_deg", sa.Double(), nullable=True))


def downgrade() -> None:
    """Drop them again (SQLite ≥ 3.35 drops the column in place)."""
    op.drop_column("hazard", "slope_deg")
    for table in CONTEXT_TABLES:
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f'DROP TABLE IF EXISTS "rtree_{table}_geom"')
            for meta in ("gpkg_geometry_columns", "gpkg_extensions", "gpkg_contents"):
                op.execute(f"DELETE FROM {meta} WHERE table_name = '{table}'")
        op.drop_index(f"ix_{table}_source_id", table_name=table)
        op.drop_index(f"ix_{table}_layer", table_name=table)
        op.drop_table(table)
