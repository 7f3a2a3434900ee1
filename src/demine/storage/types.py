"""SQLAlchemy column types that work on both stores: GeoPackage/SQLite and PostgreSQL/PostGIS.

Geometry columns hold shapely geometries in Python on both. On SQLite the declared SQL type is
the geometry type name (``MULTIPOLYGON``, ``POINT`` ...), as the GeoPackage standard requires,
and values are GeoPackage blobs in the file; on PostgreSQL the column is a PostGIS
``geometry(<Type>,4326)`` and values travel as hex EWKB. Already-encoded GeoPackage ``bytes``
are accepted on both, so bulk writers can encode in one go.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, DateTime, LargeBinary
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.types import Text, TypeDecorator, UserDefinedType

from demine.storage import gpkg_blob

if TYPE_CHECKING:
    import shapely

WGS84 = 4326


def _to_ewkb_hex(value: Any) -> str | None:
    if value is None:
        return None
    # shapely (and numpy) load on first use: a command that reads no geometry never pays for them.
    import shapely

    if isinstance(value, bytes | bytearray | memoryview):
        value = gpkg_blob.decode(bytes(value))  # a GeoPackage blob from a bulk writer
    if not isinstance(value, shapely.Geometry):
        raise TypeError(f"cannot store {type(value).__name__} in a geometry column")
    return shapely.to_wkb(shapely.set_srid(value, WGS84), hex=True, include_srid=True, flavor="extended")


def _from_ewkb(value: Any) -> shapely.Geometry | None:
    if value is None:
        return None
    import shapely

    if isinstance(value, memoryview):
        value = bytes(value)
    # Drop the SRID GEOS read from the EWKB: geometries compare the same as those read from SQLite.
    return shapely.set_srid(shapely.from_wkb(value), 0)


class Geometry(UserDefinedType):
    """A WGS 84 geometry column: a GeoPackage blob on SQLite, a PostGIS geometry on PostgreSQL."""

    cache_ok = True

    def __init__(self, geometry_type: str = "GEOMETRY") -> None:
        self.geometry_type = geometry_type.upper()

    def get_col_spec(self, **kw: Any) -> str:
        return self.geometry_type

    def bind_processor(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return _to_ewkb_hex

        def process(value: Any) -> bytes | None:
            if value is None or isinstance(value, bytes | bytearray | memoryview):
                return value
            import shapely

            if isinstance(value, shapely.Geometry):
                return gpkg_blob.encode(value)
            raise TypeError(f"cannot store {type(value).__name__} in a geometry column")

        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if dialect.name == "postgresql":
            return _from_ewkb
        return gpkg_blob.decode

    def __repr__(self) -> str:
        return f"Geometry({self.geometry_type!r})"


@compiles(Geometry, "postgresql")
def _geometry_postgresql(type_: Geometry, compiler: Any, **kw: Any) -> str:
    return f"geometry({type_.geometry_type},{WGS84})"


class _UTCTimestamp(TypeDecorator):
    """``timestamptz`` on PostgreSQL, read and written as naive UTC like the SQLite column."""

    # The generic type, which PostgreSQL writes as TIMESTAMP WITH TIME ZONE: importing its dialect
    # here would cost every SQLite command a few hundredths of a second at start.
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None)


# GeoPackage stores DATETIME as ISO 8601 in UTC, ``YYYY-MM-DDTHH:MM:SS.SSSZ`` (OGC 12-128r18
# §1.1.1.1.1, Requirement 5). GDAL 3.6 warns "Non-conformant content" on anything else, even the
# same instant without milliseconds; SQLAlchemy's SQLite default ("2026-01-31 12:00:00.000000")
# is further still. SQLite's strftime writes the form with %f (seconds with milliseconds).
GPKG_DATETIME_SQL = "%Y-%m-%dT%H:%M:%fZ"


def gpkg_datetime(value: datetime) -> str:
    """``value`` as a GeoPackage DATETIME: UTC (a naive value already is), to the millisecond."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )


def parse_stored_datetime(value: str) -> datetime:
    """A naive UTC datetime from a stored timestamp text, in any form demine ever wrote.

    ``2026-01-31T12:00:00.000Z`` (now), ``2026-01-31T12:00:00Z`` (before migration 0007),
    ``2026-01-31 12:00:00[.ffffff]`` (older still; no zone means UTC), or an offset a desktop
    GIS may write (``+01:00``), which is turned into UTC.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"not a timestamp: {value!r} (expected YYYY-MM-DDTHH:MM:SS.SSSZ)") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


class _GeoPackageDateTime(sqlite.DATETIME):
    """SQLite ``DATETIME`` column holding GeoPackage DATETIME text, read back as naive UTC."""

    cache_ok = True

    def bind_processor(self, dialect: Any) -> Any:
        def process(value: Any) -> str | None:
            if value is None:
                return None
            if isinstance(value, datetime):
                return gpkg_datetime(value)
            if isinstance(value, date):
                return f"{value.isoformat()}T00:00:00.000Z"
            raise TypeError(f"cannot store {type(value).__name__} in a timestamp column")

        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        def process(value: Any) -> datetime | None:
            return None if value is None else parse_stored_datetime(value)

        return process


Timestamp = (
    DateTime().with_variant(_GeoPackageDateTime(), "sqlite").with_variant(_UTCTimestamp(), "postgresql")
)


class utcnow(FunctionElement):
    """The current UTC time, as the database writes it (GeoPackage DATETIME on SQLite)."""

    type = Timestamp
    inherit_cache = True


@compiles(utcnow, "sqlite")
def _utcnow_sqlite(element: utcnow, compiler: Any, **kw: Any) -> str:
    return f"strftime('{GPKG_DATETIME_SQL}', 'now')"


@compiles(utcnow)
def _utcnow_default(element: utcnow, compiler: Any, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


class year_of(FunctionElement):
    """The calendar year of a date column as text ('2024'), on either database."""

    type = Text()
    inherit_cache = True

    def __init__(self, value: ColumnElement[Any]) -> None:
        super().__init__(value)


@compiles(year_of, "sqlite")
def _year_of_sqlite(element: year_of, compiler: Any, **kw: Any) -> str:
    return f"strftime('%Y', {compiler.process(element.clauses, **kw)})"


@compiles(year_of)
def _year_of_default(element: year_of, compiler: Any, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY')"


class raw_geometry(FunctionElement):
    """A geometry column's stored bytes, for decoding in bulk later (no per-row shapely object).

    SQLite: the GeoPackage blob as stored. PostgreSQL: ``ST_AsBinary`` (plain WKB).
    :func:`demine.storage.gpkg_blob.wkb_of` gives the WKB of either.
    """

    type = LargeBinary()
    inherit_cache = True


@compiles(raw_geometry)
def _raw_geometry_default(element: raw_geometry, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(raw_geometry, "postgresql")
def _raw_geometry_postgresql(element: raw_geometry, compiler: Any, **kw: Any) -> str:
    return f"ST_AsBinary({compiler.process(element.clauses, **kw)})"


class stored_text(FunctionElement):
    """A date or timestamp column as the ISO text a GeoPackage stores (``YYYY-MM-DDTHH:MM:SS.SSSZ``).

    SQLite hands the stored text out as it is; PostgreSQL formats its date or timestamptz the
    same way, so both stores give the API identical strings.
    """

    type = Text()
    inherit_cache = True


@compiles(stored_text)
def _stored_text_default(element: stored_text, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(stored_text, "postgresql")
def _stored_text_postgresql(element: stored_text, compiler: Any, **kw: Any) -> str:
    inner = compiler.process(element.clauses, **kw)
    column_type = element.clauses.clauses[0].type
    if isinstance(column_type, Date):
        return f"to_char({inner}, 'YYYY-MM-DD')"
    return f"""to_char({inner} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""
