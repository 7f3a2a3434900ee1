"""Reading the workplan's inputs from the register.

* Open hazards with remaining area, their reference point (a point inside what remains), slope,
  and the land release stages they still need, from their history: NTS is done once a completed
  NTS activity or a cancellation is recorded; TS once a completed TS activity or a reduction is.
  Clearance (ongoing, or even completed on part of the area) is not a technical survey: a hazard
  with clearance but no completed TS still needs TS on what remains. A CHA is past NTS by
  definition.
* How much each stage takes and releases: the forecast's land release funnel
  (:mod:`demine.planning.parameters`), calibrated on the programme's released hazards.
* Teams (active, with their accreditations) and their m² per team-day: the forecast's
  productivity priors (docs/sources.md#manual-clearance-rate and after) calibrated on the daily
  progress reports (:func:`demine.planning.calibrate.calibrate`). Manual teams scale with their number of
  deminers (the prior is per deminer × ``DEMINERS_PER_TEAM``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Connection, func, select

from demine.domain.accreditation import Accreditation
from demine.planning.calibrate import History, calibrate
from demine.planning.parameters import (
    CLASS_NAMES,
    DEMINERS_PER_TEAM,
    TEAM_TYPES,
    Parameters,
    default_parameters,
)
from demine.storage import schema
from demine.workplan.config import PlanConfig
from demine.workplan.instance import HazardInput, TeamInput, stage_work


@dataclass
class RegisterInputs:
    """What the planner read, and where the numbers came from."""

    hazards: list[HazardInput]
    teams: list[TeamInput]
    parameters: Parameters

    def productivity(self) -> dict[str, Any]:
        """m² per team-day used per team type, and its source."""
        return {
            t: {
                "m2_per_team_day": round(float(self.parameters.productivity[t].median), 1),
                "per": "deminer × members / 8" if t == "manual" else "team",
                "source": self.parameters.sources.get(f"productivity.{t}", ""),
            }
            for t in TEAM_TYPES
        }


def calibrated_parameters(conn: Connection) -> Parameters:
    """The forecast's priors blended with this programme's progress reports and released hazards."""
    t, p = schema.team, schema.progress_report
    samples: dict[str, list[float]] = defaultdict(list)
    for team_type, area in conn.execute(
        select(t.c.team_type, p.c.area_m2)
        .select_from(p.join(t, t.c.id == p.c.team_id))
        .where(p.c.area_m2 > 0)
    ):
        if team_type in TEAM_TYPES:
            samples[team_type].append(float(area))
    h, rp = schema.hazard, schema.release_product
    released: dict[int, list[list[float]]] = defaultdict(list)
    by_hazard: dict[int, dict[str, float]] = defaultdict(dict)
    types: dict[int, str] = {}
    for hazard_id, hazard_type, method, area in conn.execute(
        select(h.c.id, h.c.hazard_type, rp.c.method, func.sum(rp.c.released_area_m2))
        .select_from(rp.join(h, h.c.id == rp.c.hazard_id))
        .where(h.c.status.in_(("closed", "handed_over")))
        .group_by(h.c.id, h.c.hazard_type, rp.c.method)
    ):
        by_hazard[hazard_id][method] = float(area or 0.0)
        types[hazard_id] = hazard_type
    for hazard_id, methods in by_hazard.items():
        if types[hazard_id] in CLASS_NAMES:
            released[CLASS_NAMES.index(types[hazard_id])].append(
                [methods.get("cancelled", 0.0), methods.get("reduced", 0.0), methods.get("cleared", 0.0)]
            )
    history = History(
        productivity={k: np.asarray(v) for k, v in samples.items()},
        release_by_class={k: np.asarray(v) for k, v in released.items()},
    )
    return calibrate(history, default_parameters())


def _stages_left(hazard_type: str, done: set[str]) -> tuple[str, ...]:
    # Only a completed TS (or a reduction) puts a hazard past TS: clearance under way does not.
    if "ts" in done:
        return ("clearance",)
    if "nts" in done or hazard_type == "CHA":
        return ("ts", "clearance")
    return ("nts", "ts", "clearance")


def register_inputs(
    conn: Connection,
    scores: dict[str, float],
    config: PlanConfig | None = None,
    score_floor: float = 0.01,
) -> RegisterInputs:
    """Open hazards (valued by ``scores``, hazard code → 0–1 score) and active teams.

    ``score_floor`` is added to every score, so a hazard that scores 0 is still worth releasing
    (after every hazard that scores more).
    """
    config = config or PlanConfig()
    parameters = calibrated_parameters(conn)
    h, r = schema.hazard, schema.hazard_remaining
    a, rp = schema.activity, schema.release_product
    done: dict[int, set[str]] = defaultdict(set)
    for hazard_id, activity_type, status in conn.execute(
        select(a.c.hazard_id, a.c.activity_type, a.c.status).where(a.c.hazard_id.is_not(None))
    ):
        if activity_type in ("nts", "ts") and status == "completed":
            done[hazard_id].add(activity_type)
    stage_of_method = {"cancelled": "nts", "reduced": "ts"}
    for hazard_id, method in conn.execute(select(rp.c.hazard_id, rp.c.method).distinct()):
        if method in stage_of_method:
            done[hazard_id].add(stage_of_method[method])

    hazards: list[HazardInput] = []
    rows = conn.execute(
        select(
            h.c.id,
            h.c.code,
            h.c.hazard_type,
            h.c.remaining_area_m2,
            h.c.slope_deg,
            h.c.benchmark_lon,
            h.c.benchmark_lat,
            r.c.geom,
            h.c.geom,
        )
        .select_from(h.outerjoin(r, r.c.id == h.c.id))
        .where(h.c.status == "open")
        .order_by(h.c.code)
    ).all()
    for hazard_id, code, hazard_type, remaining, slope, blon, blat, left, original in rows:
        geom = left if left is not None and not left.is_empty else original
        if geom is not None and not geom.is_empty:
            point = shapely.point_on_surface(geom)
            lon, lat = point.x, point.y
        elif blon is not None and blat is not None:
            lon, lat = blon, blat
        else:
            lon = lat = float("nan")
        funnel = parameters.funnel[CLASS_NAMES.index(hazard_type) if hazard_type in CLASS_NAMES else 0].mean
        hazards.append(
            HazardInput(
                code=code,
                lon=float(lon),
                lat=float(lat),
                score=float(scores.get(code, 0.0)) + score_floor,
                stages=stage_work(_stages_left(hazard_type, done[hazard_id]), float(remaining), funnel),
                slope_deg=None if slope is None else float(slope),
                hazard_type=hazard_type,
                remaining_m2=float(remaining),
            )
        )

    t, acc = schema.team, schema.accreditation
    held: dict[int, list[Accreditation]] = defaultdict(list)
    for team_id, activity_type, issued, expires in conn.execute(
        select(acc.c.team_id, acc.c.activity_type, acc.c.issued_on, acc.c.expires_on).where(
            acc.c.team_id.is_not(None)
        )
    ):
        held[team_id].append(Accreditation(activity_type, issued, expires))
    teams: list[TeamInput] = []
    for team_id, code, team_type, members, base in conn.execute(
        select(t.c.id, t.c.code, t.c.team_type, t.c.members, t.c.geom)
        .where(t.c.active.is_(True))
        .order_by(t.c.code)
    ):
        rates: dict[str, float] = {}
        if team_type in parameters.productivity:
            per_day = float(parameters.productivity[team_type].median)
            if team_type == "manual":
                per_day *= members / DEMINERS_PER_TEAM
            for stage in config.stages_of_type.get(team_type, ()):
                rates[stage] = per_day
        teams.append(
            TeamInput(
                code=code,
                team_type=team_type,
                lon=None if base is None else float(base.x),
                lat=None if base is None else float(base.y),
                accreditations=tuple(held[team_id]),
                rate_m2_per_day=rates,
            )
        )
    return RegisterInputs(hazards, teams, parameters)
