"""Field-level rules shared by every record type: dates, counts and coordinates.

Each rule returns a list of :class:`~demine.domain.errors.Problem`; callers gather them all
so a user sees every mistake in a record at once.
"""

from __future__ import annotations

from datetime import date

from demine.domain.errors import Problem


def check_date_range(
    record: str, start: date | None, end: date | None, start_field: str, end_field: str
) -> list[Problem]:
    """An end date must not come before its start date."""
    if start is not None and end is not None and end < start:
        return [Problem(record, end_field, f"{end.isoformat()} is before {start_field} {start.isoformat()}")]
    return []


# No record of mine action predates the First World War's mines; a date before 1900 is a
# typing error (0001-01-01 from an empty date field, a two-digit year read as the first century).
EARLIEST = date(1900, 1, 1)


def check_not_future(record: str, day: date | None, field: str, today: date) -> list[Problem]:
    """Reports describe work done: their dates cannot lie in the future, nor before 1900."""
    if day is not None and day > today:
        return [Problem(record, field, f"{day.isoformat()} is in the future")]
    if day is not None and day < EARLIEST:
        return [Problem(record, field, f"{day.isoformat()} is before {EARLIEST.year}: is the year mistyped?")]
    return []


def check_non_negative(record: str, value: float | None, field: str) -> list[Problem]:
    """Counts, areas, depths and hours are never negative."""
    if value is not None and value < 0:
        return [Problem(record, field, f"must not be negative (got {value})")]
    return []


def check_required(record: str, value: object, field: str) -> list[Problem]:
    """A required field must be present and not blank."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return [Problem(record, field, "is required")]
    return []


def check_lon_lat(record: str, lon: float | None, lat: float | None, field: str) -> list[Problem]:
    """A WGS 84 point must lie in [-180, 180] × [-90, 90]."""
    if lon is None and lat is None:
        return []
    if lon is None or lat is None:
        return [Problem(record, field, "needs both longitude and latitude")]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return [Problem(record, field, f"({lon}, {lat}) is outside [-180,180]×[-90,90]")]
    return []
