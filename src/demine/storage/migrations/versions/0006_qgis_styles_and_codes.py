"""Codes beside ids for desktop GIS, and default QGIS styles in the GeoPackage.

* ``hazard_remaining`` gets the ``code`` and ``status`` of its hazard, and ``hazard``,
  ``team`` and ``eore_session`` (the layers with an organisation) get ``organisation_code``
  beside ``organisation_id``: a layer opened in QGIS reads without joins.
* Triggers keep these copies equal to their source on both stores, whoever writes: demine,
  ``UPDATE`` in SQL, or an edit in QGIS (which fires SQLite triggers too). An edit of a copy
  is put back to its source's value; change the source (the hazard, ``organisation_id``).
* On SQLite, a ``layer_styles`` table with demine's default QGIS style of the hazard,
  remaining-area, release-product, find and accident layers (:mod:`demine.storage.qgis_styles`).

Columns are added with a plain ``ADD COLUMN`` (batch mode would copy the tables and drop their
GeoPackage R*Tree triggers), then filled from the existing rows.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from demine.storage import qgis_styles

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORGANISATION_TABLES = ("hazard", "team", "eore_session")
STYLED_LAYERS = {name: name for name in qgis_styles.STYLES}

_ORG_CODE = "(SELECT o.code FROM organisation o WHERE o.id = NEW.organisation_id)"
_HAZARD = "(SELECT h.{0} FROM hazard h WHERE h.id = NEW.id)"


def _sqlite_triggers() -> list[str]:
    out = []
    for t in ORGANISATION_TABLES:
        fix = f"BEGIN UPDATE {t} SET organisation_code = {_ORG_CODE} WHERE id = NEW.id; END"
        out += [
            f"CREATE TRIGGER demine_{t}_organisation_code_insert AFTER INSERT ON {t} "
            f"WHEN NEW.organisation_code IS NOT {_ORG_CODE} {fix}",
            f"CREATE TRIGGER demine_{t}_organisation_code_update "
            f"AFTER UPDATE OF organisation_id, organisation_code ON {t} "
            f"WHEN NEW.organisation_code IS NOT {_ORG_CODE} {fix}",
            f"CREATE TRIGGER demine_organisation_code_to_{t} AFTER UPDATE OF code ON organisation "
            f"BEGIN UPDATE {t} SET organisation_code = NEW.code WHERE organisation_id = NEW.id; END",
        ]
    code, status = _HAZARD.format("code"), _HAZARD.format("status")
    differs = f"NEW.code IS NOT {code} OR NEW.status IS NOT {status}"
    fix = f"BEGIN UPDATE hazard_remaining SET code = {code}, status = {status} WHERE id = NEW.id; END"
    out += [
        f"CREATE TRIGGER demine_hazard_remaining_codes_insert AFTER INSERT ON hazard_remaining "
        f"WHEN {differs} {fix}",
        f"CREATE TRIGGER demine_hazard_remaining_codes_update AFTER UPDATE OF id, code, status "
        f"ON hazard_remaining WHEN {differs} {fix}",
        "CREATE TRIGGER demine_hazard_codes_to_remaining AFTER UPDATE OF code, status ON hazard "
        "BEGIN UPDATE hazard_remaining SET code = NEW.code, status = NEW.status WHERE id = NEW.id; END",
    ]
    return out


def _postgres_triggers() -> list[str]:
    out = [
        f"""CREATE FUNCTION demine_organisation_code() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.organisation_code := {_ORG_CODE}; RETURN NEW; END $$""",
        f"""CREATE FUNCTION demine_hazard_remaining_codes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.code := {_HAZARD.format("code")}; NEW.status := {_HAZARD.format("status")};
        RETURN NEW; END $$""",
        """CREATE FUNCTION demine_hazard_codes_to_remaining() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN UPDATE hazard_remaining SET code = NEW.code, status = NEW.status WHERE id = NEW.id;
        RETURN NULL; END $$""",
        """CREATE FUNCTION demine_organisation_code_to_layers() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN """
        + " ".join(
            f"UPDATE {t} SET organisation_code = NEW.code WHERE organisation_id = NEW.id;"
            for t in ORGANISATION_TABLES
        )
        + " RETURN NULL; END $$",
        "CREATE TRIGGER demine_hazard_remaining_codes BEFORE INSERT OR UPDATE OF id, code, status "
        "ON hazard_remaining FOR EACH ROW EXECUTE FUNCTION demine_hazard_remaining_codes()",
        "CREATE TRIGGER demine_hazard_codes_to_remaining AFTER UPDATE OF code, status ON hazard "
        "FOR EACH ROW EXECUTE FUNCTION demine_hazard_codes_to_remaining()",
        "CREATE TRIGGER demine_organisation_code_to_layers AFTER UPDATE OF code ON organisation "
        "FOR EACH ROW EXECUTE FUNCTION demine_organisation_code_to_layers()",
    ]
    out += [
        f"CREATE TRIGGER demine_{t}_organisation_code BEFORE INSERT OR UPDATE OF organisation_id, "
        f"organisation_code ON {t} FOR EACH ROW EXECUTE FUNCTION demine_organisation_code()"
        for t in ORGANISATION_TABLES
    ]
    return out


def upgrade() -> None:
    """Add the code columns, fill them, keep them by triggers; add the QGIS styles on SQLite."""
    bind = op.get_bind()

    def execute(sql: str) -> None:
        bind.exec_driver_sql(sql)

    op.add_column("hazard_remaining", sa.Column("code", sa.Text(), nullable=True))
    op.add_column("hazard_remaining", sa.Column("status", sa.Text(), nullable=True))
    for t in ORGANISATION_TABLES:
        op.add_column(t, sa.Column("organisation_code", sa.Text(), nullable=True))
        execute(
            f"UPDATE {t} SET organisation_code = "
            f"(SELECT o.code FROM organisation o WHERE o.id = {t}.organisation_id) "
            "WHERE organisation_id IS NOT NULL"
        )
    execute(
        "UPDATE hazard_remaining SET "
        "code = (SELECT h.code FROM hazard h WHERE h.id = hazard_remaining.id), "
        "status = (SELECT h.status FROM hazard h WHERE h.id = hazard_remaining.id)"
    )
    sqlite = bind.dialect.name == "sqlite"
    for ddl in _sqlite_triggers() if sqlite else _postgres_triggers():
        execute(ddl)
    if sqlite:
        qgis_styles.install(execute, STYLED_LAYERS)


def downgrade() -> None:
    """Drop the styles, the triggers and the columns (SQLite ≥ 3.35 drops columns in place)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        names = bind.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'demine\\_%' ESCAPE '\\'"
        ).scalars()
        for name in list(names):
            op.execute(f'DROP TRIGGER "{name}"')
        # Styles the user saved in QGIS are theirs: only demine's rows go.
        op.execute(f"DELETE FROM layer_styles WHERE owner = '{qgis_styles.OWNER}'")
        remaining = bind.exec_driver_sql("SELECT count(*) FROM layer_styles").scalar_one()
        if not remaining:
            op.execute("DROP TABLE layer_styles")
            op.execute("DELETE FROM gpkg_contents WHERE table_name = 'layer_styles'")
    else:
        op.execute("DROP TRIGGER demine_hazard_remaining_codes ON hazard_remaining")
        op.execute("DROP TRIGGER demine_hazard_codes_to_remaining ON hazard")
        op.execute("DROP TRIGGER demine_organisation_code_to_layers ON organisation")
        for t in ORGANISATION_TABLES:
            op.execute(f"DROP TRIGGER demine_{t}_organisation_code ON {t}")
        for fn in (
            "demine_organisation_code",
            "demine_hazard_remaining_codes",
            "demine_hazard_codes_to_remaining",
            "demine_organisation_code_to_layers",
        ):
            op.execute(f"DROP FUNCTION {fn}()")
    for t in ORGANISATION_TABLES:
        op.drop_column(t, "organisation_code")
    op.drop_column("hazard_remaining", "status")
    op.drop_column("hazard_remaining", "code")
