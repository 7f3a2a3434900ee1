"""Two years of synthetic operations: teams survey and clear hazards day by day.

NTS teams cancel part of suspected areas, TS teams reduce, clearance teams (manual, dogs,
machines) clear with daily progress reports, EOD teams do spot tasks. Every product goes
through :func:`demine.landrelease.accounting.apply_release`, the same rule users' products
go through, so the history obeys the land release identity.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import shapely

from demine.geometry.area import geodesic_area
from demine.geometry.polygons import as_multipolygon
from demine.landrelease.accounting import ReleaseOutcome, apply_release
from demine.synthetic import parameters as P

PRIORITY_RANK = {"high": 0, "medium": 1, "low": 2, None: 3}
ACTIVITY_OF_TEAM = {
    "nts": "nts",
    "ts": "ts",
    "manual": "clearance",
    "mdd": "clearance",
    "mechanical": "clearance",
    "eod_bac": "eod",
}
METHOD_OF_ACTIVITY = {"nts": "cancelled", "ts": "reduced", "clearance": "cleared"}


@dataclass
class HazardState:
    """A hazard as the simulation sees it."""

    id: int
    hazard_type: str
    priority: str | None
    reported_on: date
    original: shapely.Geometry
    eo_categories: list[str]
    remaining: shapely.Geometry | None = None
    remaining_m2: float = 0.0
    stage: str = "nts"
    closed_on: date | None = None


@dataclass
class TeamState:
    """A team and the task it is on."""

    id: int
    team_type: str
    organisation_id: int
    members: int
    works_from: date
    works_until: date | None
    rate: float  # this team's median m² per day
    base: tuple[float, float] = (0.0, 0.0)
    task: dict | None = None


@dataclass
class History:
    """Rows the simulation produced, ready for bulk insert."""

    activities: list[dict] = field(default_factory=list)
    products: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    progress: list[dict] = field(default_factory=list)
    finds: list[dict] = field(default_factory=list)


def working_day(day: date, team_type: str) -> bool:
    """Monday to Friday, not in the New Year break; dogs rest in July and August (> 30 °C)."""
    if day.weekday() >= 5 or (day.month == 1 and day.day <= 14):
        return False
    return not (team_type == "mdd" and day.month in (7, 8))


def band(geom: shapely.Geometry, fraction: float) -> shapely.Geometry:
    """The western part of ``geom`` holding about ``fraction`` of its area.

    The cut line is placed in planar degrees (locally proportional to area, which is all a
    plausible work strip needs): 16 rectangle clips bracket it, linear interpolation between
    the bracketing cuts places it.
    """
    minx, miny, maxx, maxy = geom.bounds
    target = fraction * geom.area
    cuts = np.linspace(minx, maxx, 17)
    areas = np.array([_west_area(geom, minx - 1, miny - 1, c, maxy + 1) for c in cuts[1:-1]])
    areas = np.concatenate([[0.0], areas, [geom.area]])
    cut = float(np.interp(target, areas, cuts))
    return shapely.intersection(geom, shapely.box(minx - 1, miny - 1, cut, maxy + 1))


def _west_area(geom: shapely.Geometry, x0: float, y0: float, x1: float, y1: float) -> float:
    try:
        return shapely.clip_by_rect(geom, x0, y0, x1, y1).area
    except shapely.errors.GEOSException:
        # clip_by_rect trips on rings of slivers; the full overlay does not.
        return shapely.intersection(geom, shapely.box(x0, y0, x1, y1)).area


class Simulation:
    """Runs the teams over the hazards from ``start`` to ``end``."""

    def __init__(
        self,
        rng: np.random.Generator,
        hazards: list[HazardState],
        teams: list[TeamState],
        start: date,
        end: date,
        first_activity_id: int = 1,
        first_product_id: int = 1,
        bounds: tuple[float, float, float, float] | None = None,
    ) -> None:
        self.rng = rng
        self.hazards = {h.id: h for h in hazards}
        self.teams = teams
        self.start, self.end = start, end
        self.bounds = bounds
        self.history = History()
        self.next_activity = first_activity_id
        self.next_product = first_product_id
        self.queues: dict[str, list] = {"nts": [], "ts": [], "clearance": []}
        self.pending = sorted(hazards, key=lambda h: (h.reported_on, h.id))
        self.pending_at = 0

    def _enqueue(self, h: HazardState) -> None:
        heapq.heappush(self.queues[h.stage], (PRIORITY_RANK[h.priority], h.reported_on, h.id))

    def _release_new_reports(self, day: date) -> None:
        while self.pending_at < len(self.pending) and self.pending[self.pending_at].reported_on <= day:
            h = self.pending[self.pending_at]
            self.pending_at += 1
            if h.hazard_type == "CHA":
                h.stage = "ts" if self.rng.random() < 0.5 else "clearance"
            self._enqueue(h)

    def run(self) -> History:
        """Simulate every day and return the rows."""
        day = self.start
        while day < self.end:
            self._release_new_reports(day)
            for team in self.teams:
                if day < team.works_from or (team.works_until and day > team.works_until):
                    continue
                if working_day(day, team.team_type):
                    self._work(team, day)
            day += timedelta(days=1)
        for team in self.teams:  # tasks still open at the end stay ongoing
            if team.task:
                self.history.activities[team.task["index"]]["status"] = "ongoing"
        return self.history

    def _start_task(self, team: TeamState, day: date) -> bool:
        kind = ACTIVITY_OF_TEAM[team.team_type]
        if kind == "eod":
            if self.rng.random() < 0.5:
                self._spot_task(team, day)
            return False
        queue = self.queues[kind]
        if not queue:
            return False
        _, _, hazard_id = heapq.heappop(queue)
        h = self.hazards[hazard_id]
        if kind == "nts":
            days = int(np.clip(math.ceil(h.remaining_m2 / team.rate), 1, 10))
        elif kind == "ts":
            days = int(np.clip(math.ceil(h.remaining_m2 / team.rate), 1, 30))
        else:
            days = P.MAX_CLEARANCE_TASK_DAYS
        index = len(self.history.activities)
        self.history.activities.append(
            {
                "id": self.next_activity,
                "code": f"ACT-{self.next_activity:07d}",
                "activity_type": kind,
                "organisation_id": team.organisation_id,
                "team_id": team.id,
                "hazard_id": h.id,
                "method": team.team_type,
                "status": "completed",
                "start_date": day,
                "end_date": None,
                "ref_lon": None,
                "ref_lat": None,
            }
        )
        self.next_activity += 1
        team.task = {"hazard": h, "kind": kind, "days_left": days, "done_m2": 0.0, "index": index}
        return True

    def _work(self, team: TeamState, day: date) -> None:
        if team.task is None and not self._start_task(team, day):
            return
        task = team.task
        h: HazardState = task["hazard"]
        sigma = P.PRODUCTIVITY[team.team_type][1]
        area = float(team.rate * self.rng.lognormal(-(sigma**2) / 2, sigma * 0.5))
        # No team reports more ground than the hazard has left.
        area = max(0.0, min(area, h.remaining_m2 - task["done_m2"]))
        activity = self.history.activities[task["index"]]
        self.history.progress.append(
            {
                "team_id": team.id,
                "activity_id": activity["id"],
                "report_date": day,
                "area_m2": round(area, 1),
                "hours": P.WORK_HOURS[team.team_type],
            }
        )
        task["done_m2"] += area
        task["days_left"] -= 1
        finished = task["days_left"] <= 0 or task["done_m2"] >= h.remaining_m2 - 1.0
        if finished:
            activity["end_date"] = day
            self._finish(team, h, task, day)
            team.task = None

    def _finish(self, team: TeamState, h: HazardState, task: dict, day: date) -> None:
        kind = task["kind"]
        if kind == "nts":
            share = 1.0 if self.rng.random() < P.CANCEL_ALL_SHARE else self.rng.beta(*P.CANCEL_BETA)
            h.stage = "ts" if self.rng.random() < 0.7 else "clearance"
        elif kind == "ts":
            share = self.rng.beta(*P.REDUCE_BETA)
            h.stage = "clearance"
        else:
            share = min(1.0, task["done_m2"] / h.remaining_m2)
        if share > 0.001:
            piece = h.remaining if share > 0.999 else band(h.remaining, share)
            self._record(team, h, kind, piece, day, task["index"])
        if h.remaining is not None:
            self._enqueue(h)

    def _record(
        self,
        team: TeamState,
        h: HazardState,
        kind: str,
        piece: shapely.Geometry,
        day: date,
        index: int,
    ) -> None:
        piece = as_multipolygon(piece)
        if piece is None or geodesic_area(piece) < 1.0:
            return  # a strip too thin to be a product; the work shows in progress reports only
        outcome: ReleaseOutcome = apply_release(
            h.original, h.remaining, h.remaining_m2, piece, f"hazard {h.id}"
        )
        product_id = self.next_product
        self.next_product += 1
        method = METHOD_OF_ACTIVITY[kind]
        self.history.products.append(
            {
                "id": product_id,
                "hazard_id": h.id,
                "activity_id": self.history.activities[index]["id"],
                "method": method,
                "released_on": day,
                "area_m2": outcome.product_area_m2,
                "released_area_m2": outcome.released_area_m2,
                "clearance_depth_cm": P.CLEARANCE_DEPTH_CM if method == "cleared" else None,
                "forced": False,
                "entered_crs": "EPSG:4326",
                "geom": piece,
            }
        )
        self.history.events.append(
            {
                "hazard_id": h.id,
                "occurred_on": day,
                "event": method,
                "change_m2": -outcome.released_area_m2,
                "remaining_m2": outcome.remaining_area_m2,
                "release_product_id": product_id,
            }
        )
        h.remaining, h.remaining_m2 = outcome.remaining, outcome.remaining_area_m2
        if outcome.closes_hazard:
            h.closed_on = day
        if method == "cleared":
            self._finds(h, piece, day, product_id, self.history.activities[index]["id"])

    def _finds(
        self, h: HazardState, piece: shapely.Geometry, day: date, product_id: int, activity_id: int
    ) -> None:
        density = P.FINDS_PER_KM2[h.hazard_type]
        n = int(self.rng.poisson(density * geodesic_area(piece) / 1e6))
        if n == 0:
            return
        minx, miny, maxx, maxy = piece.bounds
        xs = self.rng.uniform(minx, maxx, n * 4)
        ys = self.rng.uniform(miny, maxy, n * 4)
        inside = shapely.contains_xy(piece, xs, ys)
        categories = h.eo_categories or ["uxo"]
        for x, y in list(zip(xs[inside], ys[inside], strict=True))[:n]:
            self.history.finds.append(
                {
                    "hazard_id": h.id,
                    "activity_id": activity_id,
                    "release_product_id": product_id,
                    "found_on": day,
                    "category": str(self.rng.choice(categories)),
                    "model": None,
                    "quantity": 1,
                    "depth_cm": round(float(self.rng.uniform(0, P.CLEARANCE_DEPTH_CM)), 1),
                    "condition": str(self.rng.choice(["armed", "unarmed", "damaged"])),
                    "disposal_method": str(self.rng.choice(["in_situ", "moved_destroyed"], p=[0.8, 0.2])),
                    "geom": shapely.Point(x, y),
                }
            )

    def _spot_task(self, team: TeamState, day: date) -> None:
        activity_id = self.next_activity
        self.next_activity += 1
        self.history.activities.append(
            {
                "id": activity_id,
                "code": f"ACT-{activity_id:07d}",
                "activity_type": "eod",
                "organisation_id": team.organisation_id,
                "team_id": team.id,
                "hazard_id": None,
                "method": "spot_task",
                "status": "completed",
                "start_date": day,
                "end_date": day,
                "ref_lon": None,
                "ref_lat": None,
            }
        )
        self.history.finds.append(
            {
                "hazard_id": None,
                "activity_id": activity_id,
                "release_product_id": None,
                "found_on": day,
                "category": str(self.rng.choice(["uxo", "axo", "submunition"], p=[0.7, 0.2, 0.1])),
                "model": None,
                "quantity": int(self.rng.integers(1, 4)),
                "depth_cm": None,
                "condition": "unknown",
                "disposal_method": "moved_destroyed",
                # Spot tasks answer call-outs within a day's drive of the base.
                "geom": self._near(team.base),
            }
        )

    def _near(self, base: tuple[float, float]) -> shapely.Point:
        x = base[0] + float(self.rng.normal(0, 0.08))
        y = base[1] + float(self.rng.normal(0, 0.05))
        if self.bounds is not None:  # call-outs stay inside the programme's region
            minx, miny, maxx, maxy = self.bounds
            x, y = min(max(x, minx), maxx), min(max(y, miny), maxy)
        return shapely.Point(x, y)
