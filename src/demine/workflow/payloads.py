"""The JSON shape of each kind of record a user sends, as pydantic models.

Shared by direct writes (IM officers) and submissions (operators): a submission stores the
payload as JSON and approval parses it again with the same model. Geometries are GeoJSON
geometries (or WKT) in ``crs`` (default WGS 84 lon/lat); points are ``[lon, lat]``.
Numbers are bounded so that nothing a client sends can overflow the database's integers.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# Codes and names are compared as given: surrounding spaces are never meant, and a name of
# spaces only is no name.
# No NUL characters: PostgreSQL cannot store them in text, and no one means them.
NO_NUL = r"^[^\x00]*$"
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NO_NUL)]
Text = Annotated[str, StringConstraints(max_length=10_000, pattern=NO_NUL)]
Count = Annotated[int, Field(ge=0, le=1_000_000_000)]
Lon = Annotated[float, Field(ge=-180, le=180)]
Lat = Annotated[float, Field(ge=-90, le=90)]
LonLat = tuple[Lon, Lat]
# Bounds on what one request may carry (a record's parts, not a bulk import: files go through
# ``demine import``). Generous for any real record, small enough that no request can make the
# server hold or check an unbounded list.
MAX_CODES = 100  # EO categories, evidence or blockages of one hazard
MAX_PARTS = 1_000  # victims of one accident, beneficiary or participant groups, non-conformities
GeometryIn = Annotated[
    dict[str, Any] | Annotated[str, Field(max_length=5_000_000)],
    Field(description="A GeoJSON geometry (or Feature) object, or WKT text, in `crs`."),
]


class Payload(BaseModel):
    """Base: unknown fields are errors, floats must be finite."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Beneficiary(Payload):
    kind: Code
    sex: Code
    age_band: Code
    count: Count


class HazardPayload(Payload):
    """A hazardous area (SHA/CHA) as reported."""

    code: Code
    hazard_type: Code
    geometry: GeometryIn
    crs: Code | None = None
    reported_on: date
    name: Text | None = None
    status: Code = "open"
    organisation: Code | None = None
    admin_pcode: Code | None = None
    priority: Code | None = None
    eo_categories: Annotated[list[Code], Field(max_length=MAX_CODES)] = []
    evidence: Annotated[list[Code], Field(max_length=MAX_CODES)] = []
    blockages: Annotated[list[Code], Field(max_length=MAX_CODES)] = []
    benchmark: LonLat | None = None
    beneficiaries: Annotated[list[Beneficiary], Field(max_length=MAX_PARTS)] = []


class ActivityPayload(Payload):
    """An operation (NTS, TS, clearance, BAC, EOD) by an organisation's team on a hazard."""

    code: Code
    activity_type: Code
    organisation: Code
    team: Code | None = None
    hazard: Code | None = None
    method: Code | None = None
    status: Code = "planned"
    start_date: date | None = None
    end_date: date | None = None
    reference: LonLat | None = None


class ReleasePayload(Payload):
    """A land release product: cancelled, reduced or cleared land of one hazard."""

    hazard: Code
    method: Code
    released_on: date
    geometry: GeometryIn
    crs: Code | None = None
    activity: Code | None = None
    clearance_depth_cm: Annotated[float, Field(ge=0, le=100_000)] | None = None
    note: Text | None = None
    force: bool = False


class ProgressReportPayload(Payload):
    """A team's daily progress on an activity."""

    team: Code
    activity: Code | None = None
    report_date: date
    area_m2: Annotated[float, Field(ge=0, le=1e9)]
    hours: Annotated[float, Field(ge=0, le=24)] | None = None


class FindPayload(Payload):
    """Explosive ordnance found."""

    category: Code
    found_on: date
    location: LonLat | None = None
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    model: Text | None = None
    depth_cm: Annotated[float, Field(ge=0, le=100_000)] | None = None
    condition: Code | None = None
    disposal_method: Code | None = None
    hazard: Code | None = None
    activity: Code | None = None


class VictimPayload(Payload):
    """A person killed or injured (personal data)."""

    status: Code
    sex: Code = "unknown"
    age_band: Code = "unknown"
    full_name: Text | None = None
    birth_date: date | None = None
    activity_at_time: Text | None = None
    tampered: bool | None = None


class AccidentPayload(Payload):
    """A mine/ERW accident and its victims."""

    code: Code
    occurred_on: date
    accident_kind: Code
    location: LonLat | None = None
    eo_category: Code | None = None
    hazard: Code | None = None
    description: Text | None = None
    victims: Annotated[list[VictimPayload], Field(max_length=MAX_PARTS)] = []


class OrganisationPayload(Payload):
    code: Code
    name: Code
    organisation_type: Code
    country: Code | None = None


class TeamPayload(Payload):
    code: Code
    name: Code
    organisation: Code
    team_type: Code
    members: Annotated[int, Field(ge=1, le=100_000)] = 1
    base: LonLat | None = None


class AccreditationPayload(Payload):
    team: Code
    activity_type: Code
    issued_on: date
    expires_on: date | None = None


class Participants(Payload):
    sex: Code
    age_band: Code
    count: Count


class EoreSessionPayload(Payload):
    organisation: Code
    held_on: date
    method: Code
    location: LonLat | None = None
    admin_pcode: Code | None = None
    participants: Annotated[list[Participants], Field(max_length=MAX_PARTS)] = []


class Nonconformity(Payload):
    nc_type: Code
    severity: Code
    measures: Text | None = None


class QaVisitPayload(Payload):
    inspected_organisation: Code
    inspecting_organisation: Code
    visited_on: date
    visit_type: Code
    activity: Code | None = None
    result: Code | None = None
    comments: Text | None = None
    nonconformities: Annotated[list[Nonconformity], Field(max_length=MAX_PARTS)] = []
