"""What the planner page adds to the library's forecast and workplan, without changing either.

* :func:`cli_default_trials`: the trials ``demine forecast`` runs by default, read from the
  command itself, so the page and the command line give the same answer for the same register.
* :class:`ResultCache`: forecasts and plans kept per server process, keyed by what they were
  computed from (the prepared forecast's inputs, or the workplan's instance inputs), so a page
  opened twice on an unchanged register is not a second Monte Carlo run, and one computation
  serves every request that asks for it meanwhile.
* :func:`stock_reconciliation`: the forecast's stock against the dashboard's remaining area,
  the difference split by why a hazard's area counts in one and not the other.
* :func:`left_out`: for each high-priority hazard the workplan does not start, the kind of
  reason, computed from the plan's instance and solution (the words are the workplan's own
  :meth:`demine.workplan.plan.Workplan.priorities`).
"""

from __future__ import annotations

import hashlib
import inspect
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import Connection, select

from demine.reports.summary import programme_summary
from demine.storage import schema

SCORE_SCALE = 100.0
"""Priority scores are shown as points out of this: the ranking's normalised score × 100."""


def cli_default_trials() -> int:
    """The ``--trials`` default of ``demine forecast``."""
    from demine.cli.forecast import forecast

    return int(inspect.signature(forecast).parameters["trials"].default)


def content_key(*parts: Any) -> str:
    """A digest of ``parts`` (pickled): equal inputs give equal keys."""
    return hashlib.blake2b(pickle.dumps(parts, protocol=5), digest_size=16).hexdigest()


class ResultCache:
    """A small least-recently-used map whose values are computed once per key.

    ``get_or_compute(key, compute)`` returns the kept value, or computes it while other callers
    of the same key wait for that one computation (a page load and its reload do not both run
    a Monte Carlo forecast).
    """

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> tuple[Any, bool]:
        """The value for ``key`` and whether it was kept from before (not computed now)."""
        found = self.get(key)
        if found is not None:
            return found, True
        with self._lock:
            lock = self._computing.setdefault(key, threading.Lock())
        with lock:
            found = self.get(key)
            if found is not None:
                return found, True
            value = compute()
            self.put(key, value)
        with self._lock:
            self._computing.pop(key, None)
        return value, False


def cache_of(app: Any, name: str, size: int = 8) -> ResultCache:
    """The application's cache called ``name`` (one per server process)."""
    caches = app.state.__dict__.setdefault("planner_caches", {})
    return caches.setdefault(name, ResultCache(size))


# --- the stock: forecast against dashboard -----------------------------------------------------

STOCK_PARTS = {
    "not_open": "hazards closed or handed over (the forecast counts open and suspended hazards only)",
    "later": "hazards reported on or after the forecast's start",
    "history": "area changed on or after the start (the forecast rebuilds each hazard's area as it was then)",
    "tiny": "hazards with less than 1 m² left",
}


def stock_reconciliation(conn: Connection, start: date, forecast_stock_m2: float) -> dict[str, Any]:
    """The dashboard's remaining area, the forecast's stock, and what makes up the difference.

    The dashboard (:func:`demine.reports.summary.programme_summary`) adds up every hazard's
    remaining area; the forecast (:func:`demine.planning.register_history.load_inputs`) takes the
    hazards that were open on its start date with what remained of them then. Each hazard's
    difference goes to the first part of :data:`STOCK_PARTS` that explains it; the parts add up
    to the difference.
    """
    from demine.planning.register_history import OPEN_STATUSES, _stock_rows

    dashboard = float(programme_summary(conn, start)["area"]["remaining_m2"])
    in_forecast = {r["id"]: float(r["remaining_m2"]) for r in _stock_rows(conn, start)}
    h = schema.hazard
    parts = dict.fromkeys(STOCK_PARTS, 0.0)
    counts = dict.fromkeys(STOCK_PARTS, 0)
    for hazard_id, status, reported_on, remaining in conn.execute(
        select(h.c.id, h.c.status, h.c.reported_on, h.c.remaining_area_m2)
    ):
        here = float(remaining or 0.0)
        there = in_forecast.get(hazard_id, 0.0)
        diff = here - there
        if abs(diff) < 1e-6:
            continue
        if hazard_id in in_forecast:
            part = "history"
        elif status not in OPEN_STATUSES:
            part = "not_open"
        elif reported_on is not None and reported_on >= start:
            part = "later"
        elif abs(here) < 1.0:
            part = "tiny"
        else:
            part = "history"
        parts[part] += diff
        counts[part] += 1
    difference = dashboard - forecast_stock_m2
    shown = [
        {"part": k, "label": STOCK_PARTS[k], "m2": parts[k], "hazards": counts[k]}
        for k in STOCK_PARTS
        if abs(parts[k]) >= 0.5
    ]
    return {
        "dashboard_m2": dashboard,
        "forecast_m2": forecast_stock_m2,
        "difference_m2": difference,
        "equal": abs(difference) < 0.5,
        "parts": shown,
        "explained_m2": sum(parts.values()),
    }


# --- the workplan: one score scale, and why a high-priority hazard is left out -------------------

LEFT_OUT_KINDS = {
    "unplannable": "no team can take it on",
    "out_of_reach": "out of reach in the horizon",
    "not_worth_travel": "able teams had idle days, travel not worth it",
    "capacity": "capacity taken by other hazards",
}


def left_out(plan: Any) -> dict[str, dict[str, Any]]:
    """For every hazard of ``plan.priorities()`` the plan does not start: the kind of reason,
    whether accreditation or season delays it, and the workplan's own explanation.

    The kind follows the conditions :meth:`Workplan.priorities` checks, in its order: a first
    stage the instance could not plan (an issue: no accredited or capable team, no location,
    too steep for the only able teams); no (team, task) pair usable in any month; able nearby
    teams with idle days; otherwise the nearby teams' capacity went to other hazards.
    """
    inst, y = plan.instance, plan.solution.y
    out: dict[str, dict[str, Any]] = {}
    index = {hz.code: h for h, hz in enumerate(inst.hazards)}
    for row in plan.priorities()["hazards"]:
        if row["reason"] is None:
            continue
        h = index[row["hazard"]]
        first = np.flatnonzero((inst.task_hazard == h) & (inst.pred < 0))
        delayed = False
        if first.size == 0:
            kind = "unplannable"
        else:
            j = int(first[0])
            pairs = np.flatnonzero(inst.full_task == j)
            if pairs.size == 0:
                kind = "out_of_reach"
            else:
                delayed = bool(inst.full_usable[pairs].any(axis=0).argmax() > 0)
                kind = "not_worth_travel" if _nearest_idle(inst, y, pairs) else "capacity"
        out[row["hazard"]] = {
            "kind": kind,
            "label": LEFT_OUT_KINDS[kind],
            "delayed_by_accreditation_or_season": delayed,
            "reason": row["reason"],
        }
    return out


def _nearest_idle(inst: Any, y: np.ndarray, pairs: np.ndarray) -> bool:
    """Whether one of the three nearest able teams has spare team-days beyond the trip (the test
    :meth:`Workplan._not_started_reason` makes)."""
    from demine.workplan.solution import TOL

    nearest = pairs[np.argsort(inst.full_km[pairs], kind="stable")[:3]]
    used = np.zeros((inst.n_teams, inst.months))
    np.add.at(used, inst.pair_team, y + (y > TOL) * inst.pair_travel_days[:, None])
    for f in nearest:
        k = int(inst.full_team[f])
        spare = float((inst.team_days[k] - used[k])[inst.full_usable[f]].sum())
        if spare > inst.full_travel_days[f] + 1.0:
            return True
    return False
