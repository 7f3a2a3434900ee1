"""Timestamps in the GeoPackage's own DATETIME form, with milliseconds: ``2026-01-31T12:00:00.000Z``.

Demine wrote ``2026-01-31T12:00:00Z`` (and before that ``2026-01-31 12:00:00``), which GDAL 3.6
(Debian's, under QGIS) reports as "Non-conformant content" for every layer it reads. On SQLite:

* every stored value of a ``DATETIME`` column of demine's tables that is not in the
  conformant form is rewritten to it: the same instant in UTC (a value without a zone is
  UTC, an offset is applied), to the millisecond (the digits past it cut, as demine writes).
  Text that is no ISO 8601 date and time is left as it is: nothing a user typed is lost.
* the columns' defaults, which SQLite keeps in each table's ``CREATE TABLE`` text, write
  the new form. SQLite cannot alter a default, and rebuilding the tables would drop their
  GeoPackage R*Tree triggers, so the text is edited in place: the procedure SQLite documents
  for "changing default values on a column" (https://www.sqlite.org/lang_altertable.html,
  "Making Other Kinds Of Table Schema Changes"), which touches no stored row.

PostgreSQL stores native ``timestamptz`` values and defaults: nothing to do there.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONFORMANT = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z"
NEW_DEFAULT = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
OLD_DEFAULT = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
# The defaults demine's migrations wrote into CREATE TABLE, newest first.
OLD_DEFAULTS = (OLD_DEFAULT, "CURRENT_TIMESTAMP")


def conformant(value: str) -> str | None:
    """``value`` as a GeoPackage DATETIME, or None when it is not an ISO 8601 date and time."""
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return (
        f"{when.year:04d}-{when.month:02d}-{when.day:02d}T"
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d}.{when.microsecond // 1000:03d}Z"
    )


def _tables(bind) -> list[str]:  # noqa: ANN001
    """demine's tables (not SQLite's, GeoPackage's or the R*Tree shadow tables)."""
    return list(
        bind.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "AND name NOT LIKE 'gpkg\\_%' ESCAPE '\\' AND name NOT LIKE 'rtree\\_%' ESCAPE '\\' "
            "AND name != 'alembic_version'"
        ).scalars()
    )


def _datetime_columns(bind, table: str) -> list[str]:  # noqa: ANN001
    return [
        row[1]
        for row in bind.exec_driver_sql(f'PRAGMA table_info("{table}")')
        if row[2].upper() == "DATETIME"
    ]


def _edit_defaults(bind, edit) -> None:  # noqa: ANN001
    """Apply ``edit`` to each table's CREATE TABLE text, as SQLite documents for a new default."""
    changed = {}
    ours = set(_tables(bind))
    for name, sql in bind.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all():
        if name in ours and (new := edit(sql)) != sql:
            changed[name] = new
    if not changed:
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        for name, sql in changed.items():
            bind.exec_driver_sql(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, name)
            )
        # A new schema version makes every connection read the edited definitions again.
        bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    problems = bind.exec_driver_sql("PRAGMA quick_check").scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"the database failed its check after the new defaults: {problems[:5]}")


def _new_defaults(sql: str) -> str:
    for old in OLD_DEFAULTS:
        sql = sql.replace(f"DEFAULT ({old})", f"DEFAULT ({NEW_DEFAULT})")
    return sql.replace("DEFAULT CURRENT_TIMESTAMP", f"DEFAULT ({NEW_DEFAULT})")


def upgrade() -> None:
    """Rewrite stored timestamps and the defaults on SQLite; nothing on PostgreSQL."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    # Python's ISO 8601 reader, not SQLite's: SQLite also reads '12:00' or 'now' as a time.
    bind.connection.driver_connection.create_function(
        "demine_gpkg_datetime", 1, conformant, deterministic=True
    )
    for table in _tables(bind):
        for column in _datetime_columns(bind, table):
            # Only values that need it: a conformant one is kept byte for byte, and an update
            # fires the table's triggers (the R*Tree's among them).
            bind.exec_driver_sql(
                f'UPDATE "{table}" SET "{column}" = demine_gpkg_datetime("{column}") '
                f'WHERE typeof("{column}") = \'text\' AND "{column}" NOT GLOB ? '
                f'AND demine_gpkg_datetime("{column}") IS NOT NULL',
                (CONFORMANT,),
            )
    _edit_defaults(bind, _new_defaults)


def downgrade() -> None:
    """Put the previous defaults back; values stay (the previous demine reads this form too)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _edit_defaults(bind, lambda sql: sql.replace(f"DEFAULT ({NEW_DEFAULT})", f"DEFAULT ({OLD_DEFAULT})"))
