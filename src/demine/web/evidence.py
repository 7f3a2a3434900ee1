"""What a reviewer needs beside a submission: labelled fields, the difference from the register,
the geometry and land release check findings, and a map over its neighbours and admin area.

The findings are the register checks' own (:mod:`demine.checks`): the submitted polygon is put
into small in-memory layers with the hazards around it, the admin areas and (for a release) its
hazard's products, and the same rule functions ``demine check`` runs are applied to them; only
the findings on the submitted record are kept. Nothing here states a rule of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from sqlalchemy import Connection, select

from demine.checks import duplicates, placement, relations
from demine.checks.layers import ATTRIBUTES, Layer, load_layer
from demine.checks.polygons import check_polygons
from demine.checks.rules import Finding
from demine.domain.errors import NotFoundError
from demine.storage import schema
from demine.web.forms import FORMS
from demine.web.minimap import Shape, record_map
from demine.web.register import CODE_FIELDS, MULTI_CODE, code_label, fmt_area, fmt_date, heading
from demine.workflow import edits
from demine.workflow.places import admin_area_of, payload_geometry
from demine.workflow.records import current_state

S = schema
CANDIDATE_ID = 0  # no stored record has id 0: the submitted record in the check layers
MIN_VIEW_DEG = 0.004  # about 400 m: the map shows at least this much around the polygon
NEIGHBOUR = "#8a8f98"
SUBMITTED = "#1f5fa6"
TABLE_OF_KIND = {
    "hazard": "hazard",
    "activity": "activity",
    "release": "release_product",
    "progress_report": "progress_report",
    "find": "eo_find",
    "accident": "accident",
}


# ---------------------------------------------------------------------------------------------
# fields and difference


def _text(
    conn: Connection,
    table: str,
    key: str,
    value: Any,
    labels: dict[str, dict[str, str]],
    code_list: str | None,
) -> str:
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, list) and key in MULTI_CODE | {"eo_categories", "evidence", "blockages"}:
        value = ",".join(str(v) for v in value)
    if code_list:
        label = code_label(labels, code_list, value, key in MULTI_CODE)
        return label if label == str(value) else f"{label} ({value})"
    if key == "admin_pcode":
        name = conn.execute(select(S.admin_area.c.name).where(S.admin_area.c.pcode == value)).scalar()
        return f"{name} ({value})" if name else str(value)
    if key in ("geometry", "geom"):
        return "see the map"
    if key.endswith("_m2") and isinstance(value, int | float):
        return fmt_area(value)
    if key.endswith(("_on", "_date")) or key in ("start_date", "end_date"):
        return fmt_date(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        # Nested records (an accident's victims): one numbered entry each, field by field.
        return "; ".join(
            f"{n}. "
            + ", ".join(
                f"{heading(k)}: {_text(conn, table, k, v, labels, None)}"
                for k, v in item.items()
                if v not in (None, "", [])
            )
            for n, item in enumerate(value, 1)
        )
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
        return f"{value[0]:.6f}, {value[1]:.6f}"
    return str(value)


def _code_list_of(kind: str, key: str) -> str | None:
    form = FORMS.get(kind)
    if form is not None:
        for f in form.fields:
            if f.name == key and f.choices and f.choices.startswith("code:"):
                return f.choices.removeprefix("code:")
    return CODE_FIELDS.get(TABLE_OF_KIND.get(kind, kind), {}).get(key)


def payload_fields(
    conn: Connection, kind: str, payload: dict[str, Any], labels: dict[str, dict[str, str]]
) -> list[dict[str, str]]:
    """Every field of a new record's payload, with the form's label, as people read it."""
    form = FORMS.get(kind)
    known = {f.name: f.label for f in form.fields} if form else {}
    order = list(known) + [k for k in payload if k not in known]
    table = TABLE_OF_KIND.get(kind, kind)
    out = []
    for key in order:
        if key not in payload:
            continue
        label = known.get(key) or heading(key)
        out.append(
            {
                "name": key,
                "label": label,
                "text": _text(conn, table, key, payload[key], labels, _code_list_of(kind, key)),
            }
        )
    return out


def _existing(conn: Connection, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    # A new record whose code is already taken: show what it would collide with.
    table = TABLE_OF_KIND.get(kind)
    if table is None or not payload.get("code"):
        return None
    t = S.metadata.tables[table]
    if "code" not in t.c:
        return None
    record_id = conn.execute(select(t.c.id).where(t.c.code == payload["code"])).scalar()
    return current_state(conn, table, record_id) if record_id is not None else None


def difference(
    conn: Connection, kind: str, payload: dict[str, Any], labels: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """How the submission differs from the register: rows (label, now, proposed) and a note."""
    if kind == edits.EDIT:
        edit = edits.EditPayload.model_validate(payload)
        try:
            now = current_state(conn, edit.table, edit.record_id)
        except NotFoundError:
            return {
                "rows": [],
                "note": f"{edits.describe(edit)} is no longer in the register.",
                "stale": True,
            }
        coded = CODE_FIELDS.get(edit.table, {})
        rows = [
            (
                heading(k),
                _text(conn, edit.table, k, now.get(k), labels, coded.get(k)),
                _text(conn, edit.table, k, v, labels, coded.get(k)),
            )
            for k, v in edit.changes.items()
        ]
        stale = now["version"] != edit.version
        note = (
            f"The record changed since this edit was made (version {edit.version}, now {now['version']}): "
            "approving it will be refused; the author must edit it again."
            if stale
            else f"Changes to version {edit.version} of the record, which is still current."
        )
        return {"rows": rows, "note": note, "stale": stale}
    existing = _existing(conn, kind, payload)
    fields = payload_fields(conn, kind, payload, labels)
    if existing is None:
        return {
            "rows": [(f["label"], "", f["text"]) for f in fields if f["text"]],
            "note": "A new record: nothing in the register yet.",
            "stale": False,
        }
    coded = CODE_FIELDS.get(TABLE_OF_KIND[kind], {})
    rows = []
    for f in fields:
        now = existing.get(f["name"])
        now_text = _text(conn, TABLE_OF_KIND[kind], f["name"], now, labels, coded.get(f["name"]))
        if now_text != f["text"]:
            rows.append((f["label"], now_text, f["text"]))
    return {
        "rows": rows,
        "note": f"The register already holds a record with code {payload['code']}: it cannot be added again.",
        "stale": False,
    }


# ---------------------------------------------------------------------------------------------
# the checks


def _layer(name: str, ids: list[int], labels: list[Any], geoms: list[Any], attrs: dict[str, list]) -> Layer:
    return Layer(
        name=name,
        ids=np.asarray(ids, dtype=np.int64),
        labels=np.asarray(labels, dtype=object),
        geoms=np.asarray(geoms, dtype=object),
        attrs={a: np.asarray(attrs[a], dtype=object) for a in ATTRIBUTES[name]},
    )


def _subset(layer: Layer, keep: np.ndarray) -> dict[str, Any]:
    return {
        "ids": layer.ids[keep].tolist(),
        "labels": layer.labels[keep].tolist(),
        "geoms": list(layer.geoms[keep]),
        "attrs": {a: layer.attrs[a][keep].tolist() for a in ATTRIBUTES[layer.name]},
    }


def _near(layer: Layer, box: tuple[float, float, float, float], skip: int | None = None) -> np.ndarray:
    keep = np.zeros(len(layer), dtype=bool)
    present = ~shapely.is_missing(layer.geoms)
    if present.any():
        keep[present] = shapely.intersects(layer.geoms[present], shapely.box(*box))
    if skip is not None:
        keep &= layer.ids != skip
    return keep


def _view(geom: shapely.Geometry) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = geom.bounds
    pad = max(maxx - minx, maxy - miny, MIN_VIEW_DEG)
    return minx - pad, miny - pad, maxx + pad, maxy + pad


def _hazard_candidate(conn: Connection, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The hazard under review (new or edited): id, code, polygon and P-code to check."""
    if kind == "hazard":
        geom = payload_geometry(payload.get("geometry"), payload.get("crs"))
        return {
            "id": CANDIDATE_ID,
            "code": payload.get("code"),
            "geom": geom,
            "pcode": payload.get("admin_pcode"),
        }
    if kind == edits.EDIT and payload.get("table") == "hazard":
        h = S.hazard
        row = conn.execute(
            select(h.c.id, h.c.code, h.c.geom, h.c.admin_pcode).where(h.c.id == payload["record_id"])
        ).first()
        if row is None:
            return None
        pcode = payload.get("changes", {}).get("admin_pcode", row.admin_pcode)
        return {"id": row.id, "code": row.code, "geom": row.geom, "pcode": pcode}
    return None


def _mine(findings: list[Finding], layer: str, record_id: int) -> list[Finding]:
    return [f for f in findings if f.layer == layer and f.record_id == record_id]


def hazard_findings(conn: Connection, candidate: dict[str, Any]) -> tuple[list[Finding], dict[str, Any]]:
    """The check findings on a hazard's polygon among the hazards around it and the admin areas."""
    geom = candidate["geom"]
    if geom is None:
        return [], {}
    hazards, admin = load_layer(conn, "hazard"), load_layer(conn, "admin")
    near = _subset(hazards, _near(hazards, _view(geom), skip=candidate["id"] or None))
    layer = _layer(
        "hazard",
        [*near["ids"], candidate["id"]],
        [*near["labels"], candidate["code"] or "(new)"],
        [*near["geoms"], geom],
        {a: [*near["attrs"][a], None] for a in ATTRIBUTES["hazard"]}
        | {"admin_pcode": [*near["attrs"]["admin_pcode"], candidate["pcode"]]},
    )
    findings = check_polygons(layer) + check_polygons(admin)
    extent = placement.programme_extent(admin, [layer])
    findings += placement.check_placement(layer, extent)
    found, pairs = duplicates.duplicate_polygons(layer)
    findings += found
    # The submitted hazard is last: an overlap is reported on it, naming the neighbour.
    findings += relations.hazard_overlaps(layer, pairs)
    findings += relations.admin_containment(layer, admin)
    context = {"neighbours": list(zip(near["labels"], near["geoms"], strict=True)), "admin": None}
    pcode, a = candidate["pcode"], S.admin_area
    actual = admin_area_of(conn, geom)
    if actual is not None:
        context["actual"] = conn.execute(
            select(a.c.pcode, a.c.name, a.c.geom).where(a.c.pcode == actual)
        ).first()
    if pcode:
        context["admin"] = conn.execute(
            select(a.c.pcode, a.c.name, a.c.geom).where(a.c.pcode == pcode)
        ).first()
    return _mine(findings, "hazard", candidate["id"]), context


def release_findings(conn: Connection, payload: dict[str, Any]) -> tuple[list[Finding], dict[str, Any]]:
    """The check findings on a release product's polygon against its hazard and its other products."""
    geom = payload_geometry(payload.get("geometry"), payload.get("crs"))
    h = S.hazard
    hazard = conn.execute(
        select(
            h.c.id,
            h.c.code,
            h.c.geom,
            h.c.admin_pcode,
            h.c.area_m2,
            h.c.remaining_area_m2,
            h.c.status,
            h.c.source_id,
        ).where(h.c.code == payload.get("hazard"))
    ).first()
    if geom is None or hazard is None:
        return [], {}
    hazard_layer = _layer(
        "hazard",
        [hazard.id],
        [hazard.code],
        [hazard.geom],
        {a: [getattr(hazard, a)] for a in ATTRIBUTES["hazard"]},
    )
    releases = load_layer(conn, "release")
    same = np.array([h_id == hazard.id for h_id in releases.attrs["hazard_id"].tolist()], dtype=bool)
    old = _subset(releases, same)
    layer = _layer(
        "release",
        [*old["ids"], CANDIDATE_ID],
        [*old["labels"], "(new)"],
        [*old["geoms"], geom],
        {a: [*old["attrs"][a], None] for a in ATTRIBUTES["release"]}
        | {
            "hazard_id": [*old["attrs"]["hazard_id"], hazard.id],
            "hazard_code": [*old["attrs"]["hazard_code"], hazard.code],
            "forced": [*old["attrs"]["forced"], bool(payload.get("force"))],
        },
    )
    findings = check_polygons(hazard_layer) + check_polygons(layer)
    found, pairs = duplicates.duplicate_polygons(layer)
    findings += found + relations.release_overlaps(layer, pairs)
    findings += relations.releases_outside_hazards(layer, hazard_layer)
    a = S.admin_area
    admin = (
        conn.execute(select(a.c.pcode, a.c.name, a.c.geom).where(a.c.pcode == hazard.admin_pcode)).first()
        if hazard.admin_pcode
        else None
    )
    context = {
        "hazard": (hazard.code, hazard.geom),
        "releases": list(zip(old["labels"], old["geoms"], strict=True)),
        "admin": admin,
    }
    return _mine(findings, "release", CANDIDATE_ID), context


# ---------------------------------------------------------------------------------------------
# the map


def _clip(geom: Any, box: tuple[float, float, float, float]) -> Any:
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type in ("Point", "MultiPoint"):
        return geom
    clipped = shapely.clip_by_rect(geom, *box)
    return None if clipped.is_empty else clipped


def _edge(area: Any, box: tuple[float, float, float, float], colour: str) -> str:
    # Clipped to the view, an area's outline would run along the view's edges: no outline then.
    return colour if shapely.box(*box).contains(area) else "none"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def overview_map(title: str, geom: Any, context: dict[str, Any]) -> tuple[Any, list]:
    """When the polygon lies away from the admin area it names: both areas and where it is."""
    admin, actual = context.get("admin"), context.get("actual")
    if geom is None or admin is None or admin.geom is None:
        return None, []
    view = _view(geom)
    if admin.geom.intersects(shapely.box(*view)):
        return None, []
    named = f"Admin area {admin.name} ({admin.pcode})"
    shapes = [Shape(admin.geom, "#cab2d6", "#6a3d9a", named, dashed=True, opacity=0.2)]
    legend = [("outline dashed", "#6a3d9a", f"{_lower_first(named)}, which it names")]
    if actual is not None and actual.geom is not None and actual.pcode != admin.pcode:
        there = f"Admin area {actual.name} ({actual.pcode})"
        shapes.append(Shape(actual.geom, "#fdbf6f", "#b15928", there, dashed=True, opacity=0.2))
        legend.append(("outline dashed", "#b15928", f"{_lower_first(there)}, where it lies"))
    # The polygon may be a pixel across at this scale: a solid box around it marks the place.
    mark = shapely.box(*view)
    shapes.append(Shape(mark, SUBMITTED, "#0b2f5b", "Where the polygon lies", opacity=0.8))
    legend.append(("", SUBMITTED, "where the polygon lies"))
    return record_map(title, shapes), legend


def evidence_map(title: str, geom: Any, context: dict[str, Any], submitted_label: str) -> tuple[Any, list]:
    """The SVG map: admin area (dashed), neighbouring hazards (grey), the submitted polygon (blue)."""
    if geom is None:
        return None, []
    box = _view(geom)
    shapes, legend = [], []
    admin = context.get("admin")
    if admin is not None and admin.geom is not None and not admin.geom.intersects(shapely.box(*box)):
        admin = None  # far from the area it names: the overview map shows both
    actual = context.get("actual")
    if actual is not None and actual.geom is not None and (admin is None or actual.pcode != admin.pcode):
        label = f"Lies in admin area {actual.name} ({actual.pcode})"
        shapes.append(
            Shape(_clip(actual.geom, box), "#fdbf6f", _edge(actual.geom, box, "#b15928"), label, opacity=0.3)
        )
        legend.append(("", "#fbe3c0", _lower_first(label)))
    if admin is not None and admin.geom is not None:
        shapes.append(
            Shape(
                _clip(admin.geom, box),
                "#cab2d6",
                _edge(admin.geom, box, "#6a3d9a"),
                f"Admin area {admin.name} ({admin.pcode})",
                dashed=True,
                opacity=0.3,
            )
        )
        legend.append(("", "#e6dcec", f"admin area {admin.name} ({admin.pcode})"))
    if context.get("hazard"):
        code, hazard_geom = context["hazard"]
        shapes.append(
            Shape(_clip(hazard_geom, box), "#ffffff", "#26312b", f"Hazard {code}", dashed=True, opacity=0.0)
        )
        legend.append(("outline dashed", "#26312b", f"hazard {code}"))
    others = context.get("neighbours") or context.get("releases") or []
    for label, g in others:
        word = "Hazard" if context.get("neighbours") else "Release product"
        shapes.append(Shape(_clip(g, box), NEIGHBOUR, "#555b63", f"{word} {label}", opacity=0.45))
    if others:
        legend.append(
            (
                "",
                NEIGHBOUR,
                "neighbouring hazards" if context.get("neighbours") else "its other release products",
            )
        )
    shapes.append(Shape(geom, SUBMITTED, "#0b2f5b", submitted_label, opacity=0.55))
    legend.append(("", SUBMITTED, _lower_first(submitted_label)))
    shapes = [s for s in shapes if s.geometry is not None]
    return record_map(title, shapes), legend


def review_evidence(
    conn: Connection, submission: dict[str, Any], labels: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """Everything the submission page shows beside the submission itself."""
    kind, payload = submission["kind"], submission["payload"]
    if kind == edits.EDIT:
        edit = edits.EditPayload.model_validate(payload)
        fields = [
            {
                "name": k,
                "label": heading(k),
                "text": _text(conn, edit.table, k, v, labels, CODE_FIELDS.get(edit.table, {}).get(k)),
            }
            for k, v in edit.changes.items()
        ]
    else:
        fields = payload_fields(conn, kind, payload, labels)
    findings: list[Finding] = []
    minimap, legend, overview, overview_legend = None, [], None, []
    candidate = _hazard_candidate(conn, kind, payload)
    if candidate is not None:
        findings, context = hazard_findings(conn, candidate)
        label = "This hazard" if kind == edits.EDIT else "Submitted hazard"
        minimap, legend = evidence_map(
            f"Map of hazard {candidate['code']}", candidate["geom"], context, label
        )
        overview, overview_legend = overview_map(
            f"Where hazard {candidate['code']} lies", candidate["geom"], context
        )
    elif kind == "release":
        findings, context = release_findings(conn, payload)
        geom = payload_geometry(payload.get("geometry"), payload.get("crs"))
        minimap, legend = evidence_map(
            f"Map of the release of hazard {payload.get('hazard')}", geom, context, "Submitted release"
        )
    return {
        "fields": fields,
        "difference": difference(conn, kind, payload, labels),
        "findings": findings,
        "minimap": minimap,
        "legend": legend,
        "overview": overview,
        "overview_legend": overview_legend,
    }
