"""Building the whole synthetic programme into a database, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Connection, bindparam, insert, select, update

from demine.geometry.area import geodesic_area
from demine.register.hazards import add_hazards
from demine.register.organisations import (
    NewAccreditation,
    NewOrganisation,
    NewTeam,
    add_accreditations,
    add_organisations,
    add_teams,
)
from demine.storage import gpkg_blob, postgres, schema
from demine.storage.geopackage import refresh_extents
from demine.synthetic import parameters as P
from demine.synthetic.context import add_context
from demine.synthetic.hazards import draw_hazards
from demine.synthetic.operations import HazardState, Simulation, TeamState
from demine.synthetic.region import place_name

Progress = Callable[[str], None]

OPERATORS = [
    NewOrganisation("NMAA", "National Mine Action Authority", "national_authority", "Demoland"),
    NewOrganisation("HDT", "Humanitarian Demining Trust", "ngo", "Demoland"),
    NewOrganisation("SAFEFIELD", "Safe Field Response", "ngo", "Demoland"),
    NewOrganisation("CLEARCO", "ClearCo Demining Services", "commercial", "Demoland"),
    NewOrganisation("CDS", "Civil Defence Service", "military", "Demoland"),
]
COURSES = {
    "nts": "Non-technical survey",
    "ts": "Technical survey",
    "manual": "Basic manual demining",
    "mdd": "Mine detection dog handler",
    "mechanical": "Demining machine operator",
    "eod_bac": "EOD level 3",
}
TEAM_ACCREDITATIONS = {
    "nts": ["nts"],
    "ts": ["ts"],
    "manual": ["clearance"],
    "mdd": ["clearance", "ts"],
    "mechanical": ["clearance", "ts"],
    "eod_bac": ["eod", "bac"],
}


def build_programme(
    conn: Connection,
    hazards: int = 2000,
    seed: int = 1,
    as_of: date | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Draw a programme of ``hazards`` hazards into an empty, migrated database.

    Deterministic for a given ``seed`` and ``as_of`` (the last day of recorded history,
    today by default). Returns the counts of what was written.
    """
    say = progress or (lambda _msg: None)
    as_of = as_of or date.today()
    start = as_of - timedelta(days=P.HISTORY_DAYS)
    rng = np.random.default_rng(seed)

    say("region")
    from demine.synthetic.region import build_region

    region = build_region(rng, hazards)
    conn.execute(
        insert(schema.admin_area),
        [
            {
                **{k: v for k, v in a.items() if k != "geom"},
                "geom": shapely.MultiPolygon(
                    [p for p in shapely.get_parts(a["geom"]) if p.geom_type == "Polygon"]
                ),
                "area_m2": geodesic_area(a["geom"]),
            }
            for a in region.admin
        ],
    )
    conn.execute(
        insert(schema.settlement),
        [{**s, "admin_pcode": None} for s in region.settlements],
    )
    conn.execute(
        insert(schema.road),
        [{**r, "length_m": _length_m(r["geom"])} for r in region.roads],
    )

    say("organisations and teams")
    add_organisations(conn, OPERATORS)
    org_ids = dict(conn.execute(select(schema.organisation.c.code, schema.organisation.c.id)).all())
    operators = [o.code for o in OPERATORS if o.organisation_type != "national_authority"]
    n_teams = max(12, hazards // P.HAZARDS_PER_TEAM)
    types = list(P.TEAM_MIX)
    team_types = rng.choice(types, size=n_teams, p=[P.TEAM_MIX[t] for t in types])
    team_types[: len(types)] = types  # every type present, however small the programme
    bases = rng.integers(0, len(region.settlements), n_teams)
    new_teams = []
    for i, team_type in enumerate(team_types):
        base = region.settlements[int(bases[i])]["geom"]
        new_teams.append(
            NewTeam(
                code=f"T{i + 1:04d}",
                name=f"{team_type.upper()} team {i + 1}",
                organisation=operators[i % len(operators)],
                team_type=str(team_type),
                members=P.TEAM_MEMBERS[str(team_type)],
                base=(base.x, base.y),
            )
        )
    team_ids = add_teams(conn, new_teams)

    # Accreditation: most teams renewed and valid, some lapsing within 60 days, some
    # expired (they stop working), a few trainee teams not yet accredited (never work).
    accreditations, team_states, persons, training = [], [], [], []
    for team_id, team in zip(team_ids, new_teams, strict=True):
        roll = rng.random()
        if roll < 0.05:
            works_from, works_until = as_of + timedelta(days=1), None
        else:
            if roll < 0.15:
                issued = as_of - timedelta(days=int(rng.integers(740, 900)))
            elif roll < 0.25:
                issued = as_of - timedelta(days=int(rng.integers(672, 725)))
            else:
                issued = as_of - timedelta(days=int(rng.integers(30, 660)))
            expires = issued + timedelta(days=365 * P.ACCREDITATION_YEARS)
            previous = issued - timedelta(days=365 * P.ACCREDITATION_YEARS)
            for activity_type in TEAM_ACCREDITATIONS[team.team_type]:
                accreditations.append(
                    NewAccreditation(team.code, activity_type, previous, issued - timedelta(days=1))
                )
                accreditations.append(NewAccreditation(team.code, activity_type, issued, expires))
            works_from, works_until = previous, expires
        median, sigma = P.PRODUCTIVITY.get(team.team_type, (1.0, 0.0))
        per_team = median * (team.members if team.team_type == "manual" else 1)
        team_states.append(
            TeamState(
                id=team_id,
                team_type=team.team_type,
                organisation_id=org_ids[team.organisation],
                members=team.members,
                works_from=works_from,
                works_until=works_until,
                rate=float(per_team * rng.lognormal(0, sigma * 0.5)),
                base=team.base or (P.CENTRE_LON, P.CENTRE_LAT),
            )
        )
        for m in range(team.members):
            persons.append(
                {
                    "organisation_id": org_ids[team.organisation],
                    "team_id": team_id,
                    "full_name": f"{place_name(rng)} {place_name(rng)}",
                    "sex": "female" if rng.random() < 0.3 else "male",
                    "role": "team leader" if m == 0 else "member",
                }
            )
    add_accreditations(conn, accreditations)
    first_person = (
        conn.execute(select(schema.person.c.id).order_by(schema.person.c.id.desc())).scalar() or 0
    ) + 1
    conn.execute(insert(schema.person), persons)
    for offset, p in enumerate(persons):
        team_type = next(t.team_type for t in team_states if t.id == p["team_id"])
        completed = as_of - timedelta(days=int(rng.integers(60, 1500)))
        training.append(
            {
                "person_id": first_person + offset,
                "course": COURSES[team_type],
                "started_on": completed - timedelta(days=42),
                "completed_on": completed,
                "passed": True,
            }
        )
    conn.execute(insert(schema.training_record), training)

    say(f"{hazards} hazards")
    new_hazards = draw_hazards(rng, region, hazards, start, as_of, operators)
    hazard_ids = add_hazards(conn, new_hazards, today=as_of)
    states = []
    for hazard_id, h in zip(hazard_ids, new_hazards, strict=True):
        geom = shapely.MultiPolygon([h.geometry]) if h.geometry.geom_type == "Polygon" else h.geometry
        states.append(
            HazardState(
                id=hazard_id,
                hazard_type=h.hazard_type,
                priority=h.priority,
                reported_on=h.reported_on,
                original=geom,
                eo_categories=list(h.eo_categories),
                remaining=geom,
                remaining_m2=geodesic_area(geom),
            )
        )

    say("two years of operations")
    sim = Simulation(rng, states, team_states, start, as_of + timedelta(days=1), bounds=region.bounds)
    history = sim.run()
    _write_history(conn, history, states)
    if conn.dialect.name == "postgresql":  # rows above were written with their ids
        postgres.sync_sequences(conn)

    say("accidents, risk education and QA")
    counts = _incidents_and_outreach(conn, rng, states, region, start, as_of, org_ids, history)
    counts.update(add_context(conn, seed=seed))
    refresh_extents(conn)
    if conn.dialect.name == "postgresql":
        postgres.sync_sequences(conn)
    return {
        "hazards": len(hazard_ids),
        "teams": len(team_ids),
        "personnel": len(persons),
        "admin_areas": len(region.admin),
        "settlements": len(region.settlements),
        "roads": len(region.roads),
        "activities": len(history.activities),
        "release_products": len(history.products),
        "progress_reports": len(history.progress),
        "eo_finds": len(history.finds),
        **counts,
        "history_from": start,
        "as_of": as_of,
    }


def _length_m(line: shapely.LineString) -> float:
    from demine.geometry.area import WGS84

    return float(WGS84.geometry_length(line))


def _write_history(conn: Connection, history: Any, states: list[HazardState]) -> None:
    if history.activities:
        conn.execute(insert(schema.activity), history.activities)
    if history.products:
        rows = [{**p, "geom": gpkg_blob.encode(p["geom"])} for p in history.products]
        conn.execute(insert(schema.release_product), rows)
    if history.events:
        conn.execute(insert(schema.hazard_area_event), history.events)
    if history.progress:
        conn.execute(insert(schema.progress_report), history.progress)
    if history.finds:
        conn.execute(
            insert(schema.eo_find),
            [{**f, "geom": gpkg_blob.encode(f["geom"])} for f in history.finds],
        )
    changed = [s for s in states if s.remaining is not s.original]
    if not changed:
        return
    h, r = schema.hazard, schema.hazard_remaining
    conn.execute(
        update(h)
        .where(h.c.id == bindparam("hid"))
        .values(
            remaining_area_m2=bindparam("remaining"),
            status=bindparam("new_status"),
            release_date=bindparam("closed"),
        ),
        [
            {
                "hid": s.id,
                "remaining": s.remaining_m2,
                "new_status": "closed" if s.closed_on else "open",
                "closed": s.closed_on,
            }
            for s in changed
        ],
    )
    conn.execute(
        update(r)
        .where(r.c.id == bindparam("hid"))
        .values(area_m2=bindparam("remaining"), geom=bindparam("blob")),
        [{"hid": s.id, "remaining": s.remaining_m2, "blob": gpkg_blob.encode(s.remaining)} for s in changed],
    )


def _incidents_and_outreach(
    conn: Connection,
    rng: np.random.Generator,
    states: list[HazardState],
    region: Any,
    start: date,
    as_of: date,
    org_ids: dict[str, int],
    history: Any,
) -> dict[str, int]:
    window = (as_of - start).days
    n_accidents = max(3, len(states) // 300)
    accidents, victims = [], []
    for i in range(n_accidents):
        h = states[int(rng.integers(0, len(states)))]
        point = h.original.representative_point()
        kind = "demining" if rng.random() < 0.1 else "non_demining"
        accidents.append(
            {
                "id": i + 1,
                "code": f"ACC-{i + 1:05d}",
                "occurred_on": start + timedelta(days=int(rng.integers(0, window))),
                "accident_kind": kind,
                "eo_category": str(rng.choice(h.eo_categories or ["uxo"])),
                "hazard_id": h.id,
                "description": "Synthetic accident",
                "geom": point,
            }
        )
        for _ in range(int(rng.integers(1, 4))):
            victims.append(
                {
                    "accident_id": i + 1,
                    "full_name": f"{place_name(rng)} {place_name(rng)}",
                    "sex": str(rng.choice(["female", "male"], p=[0.25, 0.75])),
                    "age_band": str(
                        rng.choice(["5_12", "13_17", "18_59", "60_plus"], p=[0.15, 0.15, 0.6, 0.1])
                    ),
                    "status": "killed" if rng.random() < 0.3 else "injured",
                    "activity_at_time": str(
                        rng.choice(
                            [
                                "farming",
                                "herding",
                                "travelling",
                                "demining" if kind == "demining" else "collecting wood",
                            ]
                        )
                    ),
                    "tampered": bool(rng.random() < 0.2),
                }
            )
    conn.execute(insert(schema.accident), accidents)
    conn.execute(insert(schema.victim), victims)

    operators = [org_ids[c] for c in org_ids if c != "NMAA"]
    sessions, participants = [], []
    for i in range(max(5, len(states) // 25)):
        settlement = region.settlements[int(rng.integers(0, len(region.settlements)))]
        sessions.append(
            {
                "id": i + 1,
                "organisation_id": operators[i % len(operators)],
                "held_on": start + timedelta(days=int(rng.integers(0, window))),
                "method": str(rng.choice(["interpersonal", "mass_media", "digital"], p=[0.8, 0.1, 0.1])),
                "admin_pcode": None,
                "geom": settlement["geom"],
            }
        )
        for sex in ("female", "male"):
            for band in ("5_12", "13_17", "18_59"):
                participants.append(
                    {
                        "session_id": i + 1,
                        "sex": sex,
                        "age_band": band,
                        "count": int(rng.poisson(8)),
                    }
                )
    conn.execute(insert(schema.eore_session), sessions)
    conn.execute(insert(schema.eore_participant), participants)

    clearance = [
        a for a in history.activities if a["activity_type"] == "clearance" and a["status"] == "completed"
    ]
    visits, ncs = [], []
    for a in clearance:
        if rng.random() >= 0.25:
            continue
        visit_id = len(visits) + 1
        result = str(rng.choice(["satisfactory", "minor_nc", "major_nc"], p=[0.7, 0.22, 0.08]))
        visits.append(
            {
                "id": visit_id,
                "activity_id": a["id"],
                "inspected_organisation_id": a["organisation_id"],
                "inspecting_organisation_id": org_ids["NMAA"],
                "visited_on": a["end_date"] or a["start_date"],
                "visit_type": "monitoring",
                "result": result,
                "comments": None,
            }
        )
        if result != "satisfactory":
            ncs.append(
                {
                    "visit_id": visit_id,
                    "nc_type": str(rng.choice(["marking", "procedures", "equipment", "documentation"])),
                    "severity": "minor" if result == "minor_nc" else "major",
                    "measures": "Corrected on site and re-inspected",
                }
            )
    if visits:
        conn.execute(insert(schema.qa_visit), visits)
    if ncs:
        conn.execute(insert(schema.qa_nonconformity), ncs)
    return {
        "accidents": len(accidents),
        "victims": len(victims),
        "eore_sessions": len(sessions),
        "qa_visits": len(visits),
        "qa_nonconformities": len(ncs),
    }
