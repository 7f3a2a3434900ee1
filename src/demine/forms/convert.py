"""One exported submission as workflow payloads, answer by answer.

Answers are read the way the importer reads attribute values (:mod:`demine.ingest.values`):
a select answer may be the code or the label (Kobo can export either), dates may be text or
spreadsheet dates, numbers may carry a decimal comma. The form's declared bounds, "required"
and "not in the future" are checked again here: an export may come from an older or
hand-edited version of the form. The first problem found raises
:class:`~demine.ingest.values.ValueProblem`, whose message starts with the question's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import shapely

from demine.forms.exports import ExportedSubmission
from demine.forms.geo import from_geojson, parse_geopoint, parse_geoshape
from demine.forms.spec import REGISTER_LISTS, Form, Question, SaddGrid
from demine.ingest.geometries import Reprojection, prepare
from demine.ingest.values import (
    MULTI_SEPARATORS,
    CodeResolver,
    ValueProblem,
    as_date,
    as_float,
    as_int,
    as_text,
)

MAX_TEXT = 10_000
_YES = {"yes", "true", "1", "oui", "y"}
_NO = {"no", "false", "0", "non", "n"}
_WGS84 = Reprojection.from_source(None, None)


@dataclass(frozen=True)
class Part:
    """One workflow payload made from a submission; ``key`` tells it apart from its siblings."""

    kind: str
    payload: dict[str, Any]
    key: str  # "" for the main record, e.g. "release" for an NTS's cancelled land


class Reader:
    """Reads answers against the current code lists, with ``today`` for "not in the future"."""

    def __init__(self, resolver: CodeResolver, today: date) -> None:
        self.resolver = resolver
        self.today = today

    def answer(
        self, q: Question, values: dict[str, Any], where: str = "", check_required: bool = True
    ) -> Any:
        """The typed answer to ``q`` in ``values`` (None when blank and allowed)."""
        label = f"{where}{q.name}"
        raw = values.get(q.name)
        value = self._typed(q, raw, label)
        # Geo answers may travel as the feature's geometry (GeoJSON): the form checks those.
        geo = q.type in ("geopoint", "geoshape")
        if value in (None, [], ()) and q.required and check_required and q.relevant is None and not geo:
            raise ValueProblem("missing_required_field", f"{label}: is required")
        return value

    def _typed(self, q: Question, raw: Any, label: str) -> Any:
        kind = q.type
        if isinstance(raw, list | dict):
            raise ValueProblem("invalid_value", f"{label}: a list or object where one answer is expected")
        if kind == "text":
            text = as_text(raw)
            if text is not None and len(text) > MAX_TEXT:
                raise ValueProblem("invalid_value", f"{label}: longer than {MAX_TEXT} characters")
            return text
        if kind in ("integer", "decimal"):
            number = as_int(raw, label) if kind == "integer" else as_float(raw, label)
            if number is not None:
                if q.minimum is not None and number < q.minimum:
                    raise ValueProblem("invalid_value", f"{label}: {number:g} is below {q.minimum:g}")
                if q.maximum is not None and number > q.maximum:
                    raise ValueProblem("invalid_value", f"{label}: {number:g} is above {q.maximum:g}")
                if abs(number) > 1e12:
                    raise ValueProblem("bad_number", f"{label}: {number:g} is out of range")
            return number
        if kind == "date":
            day = as_date(raw, label)
            if day is not None and q.not_future and day > self.today:
                raise ValueProblem("bad_date", f"{label}: {day} is in the future (today is {self.today})")
            return day
        if kind == "select_one":
            if q.choices == "yes_no":
                return self.yes_no(raw, label)
            if q.choices in REGISTER_LISTS:
                text = as_text(raw)
                return text.split(" ")[0] if text else None
            return self.resolver.code(q.choices or "", raw, label)
        if kind == "select_multiple":
            text = as_text(raw)
            if text is None:
                return []
            # ODK and Kobo separate selected codes by spaces; a labels export by commas.
            items = MULTI_SEPARATORS.split(text) if MULTI_SEPARATORS.search(text) else text.split()
            out: list[str] = []
            for item in items:
                code = self.resolver.code(q.choices or "", item, label) if item.strip() else None
                if code is not None and code not in out:
                    out.append(code)
            return out
        if kind == "geopoint":
            return parse_geopoint(raw, label)
        if kind == "geoshape":
            return parse_geoshape(raw, label)
        return as_text(raw)

    @staticmethod
    def yes_no(raw: Any, label: str) -> bool | None:
        if isinstance(raw, bool):
            return raw
        text = as_text(raw)
        if text is None:
            return None
        if text.casefold() in _YES:
            return True
        if text.casefold() in _NO:
            return False
        raise ValueProblem("bad_code_list_value", f"{label}: {text!r} is neither yes nor no")


def polygon(geom: shapely.Geometry | None, label: str) -> dict[str, Any]:
    """A checked (and safely repaired) polygon as a GeoJSON geometry, like the importer's."""
    if geom is None:
        raise ValueProblem("missing_geometry", f"{label}: no shape was drawn")
    prepared = prepare(np.array([geom], dtype=object), [None], [None], "polygon", _WGS84)
    rejection = prepared.rejections[0]
    if rejection is not None:
        raise ValueProblem(rejection.reason, f"{label}: {rejection.message}")
    return shapely.geometry.mapping(prepared.geometries[0])


def _values(form: Form, reader: Reader, sub: ExportedSubmission) -> dict[str, Any]:
    return {q.name: reader.answer(q, sub.values) for q in form.top_questions()}


def _geoshape_or_feature(value: Any, sub: ExportedSubmission, label: str) -> Any:
    # A Kobo GeoJSON export puts the first geo question in the feature's geometry.
    if value is None and sub.geometry is not None:
        value = from_geojson(sub.geometry, label)
    return value


def _point_or_feature(value: Any, sub: ExportedSubmission, label: str) -> Any:
    if value is None and sub.geometry is not None:
        geom = from_geojson(sub.geometry, label)
        if geom is not None and geom.geom_type == "Point":
            return (geom.x, geom.y)
    return value


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def _repeat_rows(form: Form, reader: Reader, sub: ExportedSubmission, name: str) -> list[dict[str, Any]]:
    group = next(g for g in form.repeats() if g.name == name)
    rows = []
    for number, row in enumerate(sub.repeats.get(name, []), start=1):
        where = f"{name}[{number}]."
        rows.append({q.name: reader.answer(q, row, where) for q in group.questions})
    return rows


def to_parts(form: Form, sub: ExportedSubmission, reader: Reader, sadd: SaddGrid | None = None) -> list[Part]:
    """The payloads of one submission; raises :class:`ValueProblem` on the first bad answer."""
    v = _values(form, reader, sub)
    if form.name == "hazardous_area":
        shape = _geoshape_or_feature(v.pop("geometry"), sub, "geometry")
        v["geometry"] = polygon(shape, "geometry")
        return [Part("hazard", _drop_none(v), "")]
    if form.name == "non_technical_survey":
        if v["end_date"] is not None and v["end_date"] < v["start_date"]:
            raise ValueProblem(
                "bad_date", f"end_date: {v['end_date']} is before start_date {v['start_date']}"
            )
        activity = _drop_none(
            {
                "code": v["code"],
                "activity_type": "nts",
                "organisation": v["organisation"],
                "team": v["team"],
                "hazard": v["hazard"],
                "start_date": v["start_date"],
                "end_date": v["end_date"],
                "status": v["status"],
                "reference": _point_or_feature(v["reference"], sub, "reference"),
            }
        )
        parts = [Part("activity", activity, "")]
        if v["cancelled_any"]:
            shape = _geoshape_or_feature(v["cancelled_area"], sub, "cancelled_area")
            if v["cancelled_on"] is None:
                raise ValueProblem(
                    "missing_required_field", "cancelled_on: is required when land was cancelled"
                )
            release = {
                "hazard": v["hazard"],
                "method": "cancelled",
                "released_on": v["cancelled_on"],
                "geometry": polygon(shape, "cancelled_area"),
                "note": f"cancelled by non-technical survey {v['code']}",
            }
            parts.append(Part("release", release, "release"))
        return parts
    if form.name == "daily_progress":
        v.pop("organisation")
        return [Part("progress_report", _drop_none(v), "")]
    if form.name == "eo_find":
        v["location"] = _point_or_feature(v["location"], sub, "location")
        if v["location"] is None:
            raise ValueProblem("missing_geometry", "location: no point was recorded")
        return [Part("find", _drop_none(v), "")]
    if form.name == "accident":
        v["location"] = _point_or_feature(v["location"], sub, "location")
        victims = []
        for number, row in enumerate(_repeat_rows(form, reader, sub, "victims"), start=1):
            if row["birth_date"] is not None and row["birth_date"] > v["occurred_on"]:
                raise ValueProblem(
                    "bad_date", f"victims[{number}].birth_date: {row['birth_date']} is after the accident"
                )
            victims.append(_drop_none(row))
        return [Part("accident", _drop_none(v) | {"victims": victims}, "")]
    if form.name == "eore_session":
        v["location"] = _point_or_feature(v["location"], sub, "location")
        participants = []
        for cell in (sadd or SaddGrid()).cells:
            # A count the export lacks (a code added after the form was deployed) is zero.
            count = reader.answer(Question(cell.name, "integer", ("", ""), minimum=0), sub.values)
            if count:
                participants.append({"sex": cell.sex, "age_band": cell.age_band, "count": count})
        return [Part("eore_session", _drop_none(v) | {"participants": participants}, "")]
    if form.name == "qa_visit":
        nonconformities = [_drop_none(r) for r in _repeat_rows(form, reader, sub, "nonconformities")]
        return [Part("qa_visit", _drop_none(v) | {"nonconformities": nonconformities}, "")]
    raise ValueError(f"no conversion for form {form.name}")  # a programming error: every form has one
