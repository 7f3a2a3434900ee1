"""Synthetic field-form exports made from a programme in the register (the demo, usually).

:func:`synthetic_submissions` invents submissions of one form that the register would
accept (new codes, references to real teams, activities and open hazards, finds inside their
hazard, cancelled land inside what remains of a hazard); the ``write_*`` functions lay them
out as KoboToolbox (XLSX with a sheet per repeat, CSV, GeoJSON) or ODK Central (CSV zip)
would export them, answers as the apps store them (``"lat lon alt acc"`` points, space-separated
multiple choices). Tests round-trip them through ``demine forms ingest`` and the workflow.
"""

from __future__ import annotations

import csv
import io
import json
import random
import uuid as uuidlib
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import shapely
from openpyxl import Workbook
from sqlalchemy import Connection, select

from demine.forms.spec import FORMS, Form, Group, SaddGrid
from demine.storage import schema
from demine.storage.codelists import load_code_lists


@dataclass
class SyntheticSubmission:
    """One invented submission: answers as text, as the field apps store them."""

    uuid: str
    submitted_at: datetime
    values: dict[str, Any]
    repeats: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _point_text(lon: float, lat: float) -> str:
    return f"{lat:.7f} {lon:.7f} 0 4.5"


def _shape_text(polygon: shapely.Polygon) -> str:
    return ";".join(f"{y:.7f} {x:.7f} 0 5" for x, y in polygon.exterior.coords)


def _day(rng: random.Random, start: date, end: date) -> date:
    span = max((end - start).days, 0)
    return start + timedelta(days=rng.randint(0, span))


def synthetic_submissions(
    conn: Connection, form_name: str, count: int, seed: int = 1, today: date | None = None
) -> list[SyntheticSubmission]:
    """``count`` submissions of ``form_name`` that the register in ``conn`` would accept."""
    form = FORMS[form_name]
    today = today or date.today()
    rng = random.Random(seed)
    lists = load_code_lists(conn)
    o, t, a, h = schema.organisation, schema.team, schema.activity, schema.hazard
    orgs = [r[0] for r in conn.execute(select(o.c.code).where(o.c.organisation_type != "national_authority"))]
    authority = conn.execute(select(o.c.code).order_by(o.c.id)).scalars().first()
    teams = conn.execute(
        select(t.c.code, o.c.code, t.c.team_type).select_from(t.join(o, o.c.id == t.c.organisation_id))
    ).all()
    admin = conn.execute(select(schema.admin_area.c.pcode, schema.admin_area.c.geom)).all()
    start = today - timedelta(days=120)
    out: list[SyntheticSubmission] = []
    used_hazards: set[str] = set()
    pr = schema.progress_report
    used_team_days: set[tuple[str, date]] = {
        (code, day)
        for code, day in conn.execute(
            select(t.c.code, pr.c.report_date).select_from(pr.join(t, t.c.id == pr.c.team_id))
        )
    }
    activities = conn.execute(
        select(a.c.code, a.c.start_date, t.c.code, o.c.code, h.c.code, h.c.geom, a.c.end_date)
        .select_from(
            a.join(t, t.c.id == a.c.team_id)
            .join(o, o.c.id == a.c.organisation_id)
            .join(h, h.c.id == a.c.hazard_id)
        )
        .order_by(a.c.id)
    ).all()
    open_hazards = conn.execute(
        select(h.c.code, schema.hazard_remaining.c.geom, h.c.reported_on)
        .select_from(h.join(schema.hazard_remaining, schema.hazard_remaining.c.id == h.c.id))
        .where(h.c.status == "open", h.c.remaining_area_m2 > 2000)
        .order_by(h.c.id)
    ).all()
    for i in range(count):
        v: dict[str, Any] = {}
        repeats: dict[str, list[dict[str, Any]]] = {}
        if form.name == "hazardous_area":
            pcode, area = admin[rng.randrange(len(admin))]
            centre = area.representative_point()
            half = 0.0005 + rng.random() * 0.001
            square = shapely.box(centre.x - half, centre.y - half, centre.x + half, centre.y + half)
            v = {
                "code": f"FF-HA-{seed}-{i:05d}",
                "name": f"Field report {i}",
                "hazard_type": rng.choice(lists.codes("hazard_type")),
                "organisation": rng.choice(orgs),
                "admin_pcode": pcode,
                "reported_on": _day(rng, start, today).isoformat(),
                "priority": rng.choice(lists.codes("priority")),
                "evidence": " ".join(rng.sample(lists.codes("evidence"), 2)),
                "eo_categories": " ".join(rng.sample(lists.codes("eo_category"), 2)),
                "blockages": rng.choice(lists.codes("blockage")),
                "geometry": _shape_text(square),
                "benchmark": _point_text(centre.x - half, centre.y - half),
            }
        elif form.name == "non_technical_survey":
            nts = [tm for tm in teams if tm[2] == "nts"] or teams
            team, org, _ = rng.choice(nts)
            free = [x for x in open_hazards if x[0] not in used_hazards]
            hazard, remaining, reported = free[i % len(free)]
            used_hazards.add(hazard)
            begin = _day(rng, max(start, reported), today)
            v = {
                "code": f"FF-NTS-{seed}-{i:05d}",
                "organisation": org,
                "team": team,
                "hazard": hazard,
                "start_date": begin.isoformat(),
                "end_date": _day(rng, begin, today).isoformat(),
                "status": "completed",
                "reference": _point_text(
                    remaining.representative_point().x, remaining.representative_point().y
                ),
                "cancelled_any": "yes" if i % 2 == 0 else "no",
            }
            if i % 2 == 0:
                piece = _piece(remaining)
                v["cancelled_area"] = _shape_text(piece)
                v["cancelled_on"] = v["end_date"]
        elif form.name == "daily_progress":
            code, begun, team, org, _, _, ended = rng.choice(activities)
            day = _day(rng, begun or start, min(ended or today, today))
            while (team, day) in used_team_days:
                code, begun, team, org, _, _, ended = rng.choice(activities)
                day = _day(rng, begun or start, min(ended or today, today))
            used_team_days.add((team, day))
            v = {
                "organisation": org,
                "team": team,
                "activity": code,
                "report_date": day.isoformat(),
                "area_m2": f"{rng.uniform(50, 900):.1f}",
                "hours": f"{rng.uniform(4, 9):.1f}",
            }
        elif form.name == "eo_find":
            code, begun, team, org, hazard, geom, _ = rng.choice(activities)
            p = geom.representative_point()
            v = {
                "category": rng.choice(lists.codes("eo_category")),
                "model": rng.choice(["PMN-2", "M14", "OZM-72", "RGD-5", None]),
                "quantity": str(rng.randint(1, 4)),
                "found_on": _day(rng, max(begun or start, start), today).isoformat(),
                "location": _point_text(p.x, p.y),
                "depth_cm": str(rng.randint(0, 30)),
                "condition": rng.choice(lists.codes("eo_condition")),
                "disposal_method": rng.choice(["in_situ", "moved_destroyed"]),
                "hazard": hazard,
                "activity": code,
            }
        elif form.name == "accident":
            _, area = admin[rng.randrange(len(admin))]
            p = area.representative_point()
            occurred = _day(rng, start, today)
            v = {
                "code": f"FF-ACC-{seed}-{i:05d}",
                "occurred_on": occurred.isoformat(),
                "accident_kind": rng.choice(lists.codes("accident_kind")),
                "location": _point_text(p.x, p.y),
                "eo_category": rng.choice(lists.codes("eo_category")),
                "description": "Reported by the community liaison",
            }
            repeats["victims"] = [
                {
                    "status": rng.choice(lists.codes("victim_status")),
                    "sex": rng.choice(["female", "male"]),
                    "age_band": rng.choice(lists.codes("age_band")),
                    "full_name": f"Victim {i}-{k}",
                    "birth_date": (occurred - timedelta(days=rng.randint(3000, 20000))).isoformat(),
                    "activity_at_time": rng.choice(["farming", "herding", "travelling"]),
                    "tampered": rng.choice(["yes", "no"]),
                }
                for k in range(rng.randint(1, 3))
            ]
        elif form.name == "eore_session":
            pcode, area = admin[rng.randrange(len(admin))]
            p = area.representative_point()
            v = {
                "organisation": rng.choice(orgs),
                "held_on": _day(rng, start, today).isoformat(),
                "method": rng.choice(lists.codes("eore_method")),
                "admin_pcode": pcode,
                "location": _point_text(p.x, p.y),
            }
            grid = SaddGrid.of(lists.codes("sex"), lists.codes("age_band"))
            for cell in grid.cells:
                v[cell.name] = str(rng.randint(0, 12) if cell.sex != "unknown" else 0)
        elif form.name == "qa_visit":
            code, _, _, org, _, _, _ = rng.choice(activities)
            result = rng.choice(lists.codes("qa_result"))
            v = {
                "inspecting_organisation": authority,
                "inspected_organisation": org,
                "visited_on": _day(rng, start, today).isoformat(),
                "visit_type": rng.choice(lists.codes("qa_visit_type")),
                "activity": code,
                "result": result,
                "comments": "Checked marking and SOPs",
            }
            if result != "satisfactory":
                repeats["nonconformities"] = [
                    {
                        "nc_type": rng.choice(lists.codes("nc_type")),
                        "severity": rng.choice(lists.codes("nc_severity")),
                        "measures": "Retraining",
                    }
                ]
        submitted = datetime.combine(today, datetime.min.time()) + timedelta(minutes=i)
        instance = uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"demine:{form.name}:{seed}:{i}")
        out.append(SyntheticSubmission(str(instance), submitted, v, repeats))
    return out


def _piece(remaining: shapely.Geometry) -> shapely.Polygon:
    """A small polygon well inside what remains of a hazard (to cancel by NTS)."""
    core = remaining.buffer(-0.0001)
    if core.is_empty:
        core = remaining
    p = core.representative_point()
    box = shapely.box(p.x - 0.0003, p.y - 0.0003, p.x + 0.0003, p.y + 0.0003)
    piece = box.intersection(core)
    parts = [g for g in getattr(piece, "geoms", [piece]) if g.geom_type == "Polygon"]
    best = max(parts, key=lambda g: g.area)
    return shapely.Polygon(best.exterior.coords).simplify(0)


def _paths(form: Form) -> dict[str, str]:
    """Each top-level question's group path, as Kobo names the columns (``group/question``)."""
    out: dict[str, str] = {}
    for item in form.items:
        if isinstance(item, Group) and not item.repeat:
            for q in item.questions:
                out[q.name] = f"{item.name}/{q.name}"
    return out


def _main_columns(form: Form, subs: list[SyntheticSubmission]) -> list[str]:
    names = [q.name for q in form.top_questions()]
    extra = [k for s in subs for k in s.values if k not in names]
    return names + list(dict.fromkeys(extra))


def _kobo_main_rows(form: Form, subs: list[SyntheticSubmission]) -> tuple[list[str], list[list[Any]]]:
    names = _main_columns(form, subs)
    paths = _paths(form)
    header = ["start", "end", "today", "deviceid"]
    for name in names:
        column = paths.get(name, name)
        if form.sadd and name.startswith("n_"):
            column = f"participants_{name.split('_')[1]}/{name}"  # the group of one sex's counts
        header.append(column)
    header += [
        "meta/instanceID",
        "_id",
        "_uuid",
        "_submission_time",
        "_validation_status",
        "__version__",
        "_index",
    ]
    rows = []
    for index, sub in enumerate(subs, start=1):
        stamp = sub.submitted_at.isoformat()
        row = [stamp, stamp, sub.submitted_at.date().isoformat(), "collect:synthetic"]
        row += [sub.values.get(n) for n in names]
        row += [f"uuid:{sub.uuid}", 1000 + index, sub.uuid, stamp, None, "vSynthetic", index]
        rows.append(row)
    return header, rows


def write_kobo_xlsx(form_name: str, subs: list[SyntheticSubmission], path: str | Path) -> Path:
    """A KoboToolbox XLSX export: the main sheet, then one sheet per repeat group."""
    form = FORMS[form_name]
    workbook = Workbook()
    main = workbook.active
    main.title = form.title[0][:31]
    header, rows = _kobo_main_rows(form, subs)
    main.append(header)
    for row in rows:
        main.append(row)
    for group in form.repeats():
        sheet = workbook.create_sheet(group.name[:31])
        names = [q.name for q in group.questions]
        sheet.append(
            [f"{group.name}/{n}" for n in names]
            + ["_index", "_parent_table_name", "_parent_index", "_submission__id", "_submission__uuid"]
        )
        count = 0
        for index, sub in enumerate(subs, start=1):
            for rep in sub.repeats.get(group.name, []):
                count += 1
                sheet.append([rep.get(n) for n in names] + [count, main.title, index, 1000 + index, sub.uuid])
    path = Path(path)
    workbook.save(path)
    return path


def write_kobo_csv(form_name: str, subs: list[SyntheticSubmission], path: str | Path) -> Path:
    """A KoboToolbox CSV export (semicolon-separated, the main table only)."""
    header, rows = _kobo_main_rows(FORMS[form_name], subs)
    path = Path(path)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(header)
        writer.writerows([["" if c is None else c for c in row] for row in rows])
    return path


def write_kobo_geojson(form_name: str, subs: list[SyntheticSubmission], path: str | Path) -> Path:
    """A KoboToolbox GeoJSON export: the first geo question as each feature's geometry."""
    form = FORMS[form_name]
    geo = next((q for q in form.top_questions() if q.type in ("geoshape", "geopoint")), None)
    features = []
    for sub in subs:
        props = {k: v for k, v in sub.values.items() if geo is None or k != geo.name}
        props |= {"_uuid": sub.uuid, "_submission_time": sub.submitted_at.isoformat()}
        props |= {name: rows for name, rows in sub.repeats.items()}
        geometry = None
        text = sub.values.get(geo.name) if geo else None
        if text:
            pts = [tuple(float(x) for x in p.split()[:2]) for p in text.split(";") if p.strip()]
            coords = [[lon, lat] for lat, lon in pts]
            geometry = (
                {"type": "Polygon", "coordinates": [coords]}
                if geo is not None and geo.type == "geoshape"
                else {"type": "Point", "coordinates": coords[0]}
            )
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    path = Path(path)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def write_odk_zip(form_name: str, subs: list[SyntheticSubmission], path: str | Path) -> Path:
    """An ODK Central CSV zip: ``<form>.csv`` and ``<form>-<repeat>.csv`` joined by KEY."""
    form = FORMS[form_name]
    names = _main_columns(form, subs)
    points = {q.name for q in form.top_questions() if q.type == "geopoint"}
    header = ["SubmissionDate", "start", "end"]
    for n in names:
        header += (
            [f"{n}-{p}" for p in ("Latitude", "Longitude", "Altitude", "Accuracy")] if n in points else [n]
        )
    header += ["meta-instanceID", "SubmitterID", "SubmitterName", "KEY", "ReviewState", "FormVersion"]
    main = io.StringIO()
    writer = csv.writer(main)
    writer.writerow(header)
    for sub in subs:
        row: list[Any] = [sub.submitted_at.isoformat() + "Z", "", ""]
        for n in names:
            value = sub.values.get(n)
            if n in points:
                row += value.split()[:4] if value else ["", "", "", ""]
            else:
                row.append("" if value is None else value)
        row += [f"uuid:{sub.uuid}", 5, "collector", f"uuid:{sub.uuid}", "", "vSynthetic"]
        writer.writerow(row)
    path = Path(path)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{form.form_id}.csv", main.getvalue())
        for group in form.repeats():
            text = io.StringIO()
            w = csv.writer(text)
            qnames = [q.name for q in group.questions]
            w.writerow([*qnames, "PARENT_KEY", "KEY"])
            for sub in subs:
                for k, rep in enumerate(sub.repeats.get(group.name, []), start=1):
                    w.writerow(
                        ["" if rep.get(n) is None else rep.get(n) for n in qnames]
                        + [f"uuid:{sub.uuid}", f"uuid:{sub.uuid}/{group.name}[{k}]"]
                    )
            archive.writestr(f"{form.form_id}-{group.name}.csv", text.getvalue())
    return path


WRITERS = {
    "kobo_xlsx": write_kobo_xlsx,
    "kobo_csv": write_kobo_csv,
    "kobo_geojson": write_kobo_geojson,
    "odk_zip": write_odk_zip,
}
