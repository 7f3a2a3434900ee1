"""The vectorised Monte Carlo engine and the public :func:`forecast`.

No day-by-day loop: every stage (NTS, TS, clearance) serves hazards in priority order with
pooled capacity, so hazard ``j`` finishes a stage on the first day ``d`` with
``S(d) ≥ E[j]``, where ``E`` is the cumulative effort along the order (a prefix sum over hazards)
and ``S`` the cumulative capacity left for the stock after new contamination, which is served
first (a prefix sum over days, then a running maximum: ``S = max(0, cummax(K − N))``). Both are
monotone, so every question is a binary search (``np.searchsorted``):

* completion of a stage: the day ``S`` reaches the stage's total effort;
* a region's completion: the day ``S`` reaches ``E`` at the region's last hazard;
* area released by 31 December: how many hazards have ``E ≤ S(that day)``.

Per trial only a handful of such queries are needed, so ``E`` is never materialised in full:
hazards are grouped in blocks of 128, block sums are prefix-summed (a short array per trial),
and only the blocks that hold a query are prefix-summed element by element. The per-hazard work
is a few float32 array passes over (trials × hazards), done for a block of trials at a time to
bound memory, optionally on several threads (numpy releases the GIL in these loops).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import numpy as np

from demine.planning.capacity import CapacityPlan
from demine.planning.draws import TrialDraws, draw_trials
from demine.planning.inputs import ForecastInputs
from demine.planning.model import DEFAULT_HORIZON_YEARS, STAGE_TYPES, Model, build_model
from demine.planning.parameters import STAGES, Parameters
from demine.planning.results import ForecastResult, TrialOutcomes, summarise

BLOCK_HAZARDS = 128
DEFAULT_BLOCK_TRIALS = 4


def forecast(
    inputs: ForecastInputs,
    parameters: Parameters,
    capacity: CapacityPlan,
    trials: int = 1000,
    seed: int = 0,
    *,
    horizon_years: float = DEFAULT_HORIZON_YEARS,
    precision: str = "float32",
    workers: int | None = None,
) -> ForecastResult:
    """Monte Carlo forecast of when the open hazards will all be released.

    ``precision`` is the float type of per-hazard arithmetic (``"float32"`` is fast and plenty;
    ``"float64"`` for exact comparison with the reference). Sums over hazards and days are always
    float64. ``workers``: threads over blocks of trials (default: up to 2; the work is largely
    memory-bound, so more rarely helps). Same inputs and seed → same result, whatever ``workers``.
    """
    model = build_model(inputs, parameters, capacity, horizon_years)
    draws = draw_trials(parameters, trials, seed, inputs.stock_m2, first_year_share(inputs.start))
    outcomes = simulate(model, draws, precision=precision, workers=workers)
    return summarise_model(model, outcomes, seed)


def first_year_share(start: date) -> float:
    """The share of its calendar year left from ``start`` to 31 December (inclusive)."""
    year_days = (date(start.year + 1, 1, 1) - date(start.year, 1, 1)).days
    return ((date(start.year, 12, 31) - start).days + 1) / year_days


def summarise_model(model: Model, outcomes: TrialOutcomes, seed: int) -> ForecastResult:
    """The :class:`ForecastResult` of a model's per-trial outcomes."""
    inputs = model.inputs
    rate = model.naive_rate_m2_per_year()
    stock = inputs.stock_m2
    naive = stock / rate if rate > 0 else None
    n_regions = inputs.n_regions
    return summarise(
        outcomes,
        start=inputs.start,
        stock_m2=stock,
        horizon_end=model.timeline.date_of(model.days - 1),
        horizon_years=round(model.days / 365.25, 2),
        naive_years=naive,
        region_names=[inputs.region_name(r) for r in range(n_regions)],
        region_stock=model.region_stock,
        region_hazards=np.bincount(model.region, minlength=n_regions),
        parameters=model.parameters.to_dict(),
        capacity=model.capacity.to_dict(),
        seed=seed,
        warnings=model.warnings(),
    )


def simulate(
    model: Model,
    draws: TrialDraws,
    *,
    precision: str = "float32",
    workers: int | None = None,
    block_trials: int = DEFAULT_BLOCK_TRIALS,
) -> TrialOutcomes:
    """Per-trial outcomes of the model under ``draws`` (all trials), vectorised."""
    if precision not in ("float32", "float64"):
        raise ValueError(f"precision must be 'float32' or 'float64', got {precision!r}")
    engine = _Engine(model, draws, np.dtype(precision))
    years, _ = model.timeline.year_ends
    out = TrialOutcomes.empty(draws.trials, model.inputs.n_regions, years)
    blocks = [range(a, min(a + block_trials, draws.trials)) for a in range(0, draws.trials, block_trials)]
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    workers = max(1, min(workers, len(blocks)))

    def run(worker: int) -> None:
        buffers = _Buffers(min(block_trials, draws.trials), engine.npad, engine.dtype)
        for rows in blocks[worker::workers]:
            engine.run_block(rows, buffers, out)

    if workers == 1:
        run(0)
    else:
        with ThreadPoolExecutor(workers) as pool:
            for f in [pool.submit(run, w) for w in range(workers)]:
                f.result()
    return out


class _Buffers:
    """Per-thread scratch arrays for one block of trials, reused across blocks.

    Padding columns (hazards ``n..npad``) start at zero; area is zero there, so whatever the
    in-place arithmetic leaves in them never reaches a sum.
    """

    def __init__(self, rows: int, npad: int, dtype: np.dtype) -> None:
        self.u_cancel = np.zeros((rows, npad), np.float32)
        self.u_split = np.zeros((rows, npad), np.float32)
        self.u_effort = np.zeros((rows, npad), np.float32)
        self.cancel = np.zeros((rows, npad), dtype)
        self.kept = np.zeros((rows, npad), dtype)
        self.split = np.zeros((rows, npad), dtype)
        self.effort = np.zeros((rows, npad), dtype)
        self.tmp = np.zeros((rows, npad), dtype)
        self.nts = np.zeros((rows, npad), dtype)
        self.surplus: np.ndarray | None = None

    def daily(self, rows: int, days: int, k: int) -> np.ndarray:
        """Scratch ``(rows, days)`` float64 number ``k`` (0 or 1) for one stage's capacity."""
        if self.surplus is None or self.surplus.shape[1] < rows:
            self.surplus = np.empty((2, rows, days))
        return self.surplus[k, :rows]


@dataclass
class _Prefix:
    """A (trials × hazards) array in blocks, with float64 prefix sums of its block sums."""

    blocks: np.ndarray  # (rows, nb, m) view
    cum: np.ndarray  # (rows, nb + 1) sum of the first k blocks

    @classmethod
    def of(cls, x: np.ndarray, m: int) -> _Prefix:
        rows, npad = x.shape
        blocks = x.reshape(rows, npad // m, m)
        cum = np.zeros((rows, npad // m + 1))
        np.cumsum(blocks.sum(axis=2, dtype=np.float64), axis=1, out=cum[:, 1:])
        return cls(blocks, cum)

    def total(self) -> np.ndarray:
        return self.cum[:, -1]

    def inclusive_at(self, positions: np.ndarray) -> np.ndarray:
        """Sum of elements ``0..p`` (inclusive) for each position ``p`` (same for all rows)."""
        m = self.blocks.shape[2]
        k = positions // m
        blk = np.cumsum(self.blocks[:, k, :], axis=2, dtype=np.float64)  # (rows, P, m)
        within = np.take_along_axis(blk, (positions - k * m)[None, :, None], axis=2)[..., 0]
        return self.cum[:, k] + within

    def count_le(self, q: np.ndarray, n: int) -> np.ndarray:
        """Per row, how many leading elements have inclusive prefix sum ≤ ``q`` (rows × Q)."""
        rows, nb, m = self.blocks.shape
        k = np.empty(q.shape, dtype=np.int64)
        for r in range(rows):
            k[r] = np.searchsorted(self.cum[r], q[r], side="right") - 1
        counts = np.full(q.shape, n, dtype=np.int64)
        partial = k < nb
        ri, qi = np.nonzero(partial)
        if ri.size:
            kk = k[ri, qi]
            blk = np.cumsum(self.blocks[ri, kk, :], axis=1, dtype=np.float64)
            blk += self.cum[ri, kk][:, None]
            inside = np.count_nonzero(blk <= q[ri, qi][:, None], axis=1)
            counts[ri, qi] = np.minimum(kk * m + inside, n)
        return counts

    def sum_before(self, counts: np.ndarray, n: int) -> np.ndarray:
        """Per row, the sum of the first ``counts`` elements (rows × Q); ``n`` = elements."""
        rows, nb, m = self.blocks.shape
        k = np.minimum(counts // m, nb - 1)
        off = counts - k * m
        ri = np.broadcast_to(np.arange(rows)[:, None], counts.shape)
        out = self.cum[ri, k]
        # Only counts that end inside a block need that block summed element by element; a
        # count at the very end (the usual case once a stage is done) is the row total.
        whole = (off == m) | (counts >= n)
        out[whole] = self.cum[ri[whole], -1]
        sel = (off > 0) & ~whole
        if np.any(sel):
            r_, k_, o_ = ri[sel], k[sel], off[sel]
            blk = np.cumsum(self.blocks[r_, k_, :], axis=1, dtype=np.float64)
            out[sel] += blk[np.arange(r_.size), o_ - 1]
        return out


class _Engine:
    """Shared, read-only state of one vectorised run."""

    def __init__(self, model: Model, draws: TrialDraws, dtype: np.dtype) -> None:
        self.model = model
        self.draws = draws
        self.dtype = dtype
        n = model.n
        m = BLOCK_HAZARDS
        self.nb = max(1, -(-n // m))
        self.npad = self.nb * m
        self.area = np.zeros(self.npad, dtype)
        self.area[:n] = model.area
        self.position = np.zeros(self.npad, dtype)
        self.position[:n] = model.position
        cls = np.zeros(self.npad, np.int64)
        cls[:n] = model.hazard_class
        # One 0/1 row per class other than 0 that occurs: a per-class value becomes
        # value[0] + Σ (value[c] − value[0]) · is_c, cheaper than a gather.
        self.class_rows = [
            (c, (cls == c).astype(dtype)) for c in range(1, draws.funnel.shape[1]) if np.any(cls == c)
        ]
        self.cum_area = np.concatenate([[0.0], np.cumsum(model.area)])  # sum before position
        self.stock = float(model.area.sum())
        _, self.year_end = model.timeline.year_ends
        self.arrived_at_year_end = model.arrival_years[self.year_end]
        # Calendar years of the timeline (index 0 = the start's year): the output factor and
        # the stock revision factor are constant within one.
        day_year = model.timeline.year - model.timeline.start.year
        self.n_years = int(day_year[-1]) + 1
        self.day_year = day_year.astype(np.int64)
        self.year_first = np.flatnonzero(np.r_[True, day_year[1:] != day_year[:-1]])
        self.year_last = np.append(self.year_first[1:] - 1, model.days - 1)
        years, _ = model.timeline.year_ends
        self.year_end_index = (years - model.timeline.start.year).astype(np.int64)
        # Per stage: rows whose weighted sum is the cumulative capacity K (see run_block).
        self.rows: dict[str, np.ndarray] = {}
        for stage in STAGES:
            parts = [model.cum_team_days[list(STAGE_TYPES[stage])]]
            if stage == "clearance":
                parts.append(model.cum_budget_m2[None])
            self.rows[stage] = np.ascontiguousarray(np.concatenate(parts))
        last = model.region_last
        self.region_has = last >= 0
        self.region_last = np.where(self.region_has, last, 0)

    def by_class(self, values: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
        """``out[t, i] = values[t, class of hazard i]`` for a ``(trials, classes)`` table."""
        out[...] = values[:, :1].astype(self.dtype)
        self._add_other_classes(values, out, tmp)

    def add_by_class(self, values: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
        """``out[t, i] += values[t, class of hazard i]``."""
        out += values[:, :1].astype(self.dtype)
        self._add_other_classes(values, out, tmp)

    def _add_other_classes(self, values: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
        for c, is_c in self.class_rows:
            np.multiply((values[:, c] - values[:, 0])[:, None].astype(self.dtype), is_c, out=tmp)
            out += tmp

    def run_block(self, rows: range, buf: _Buffers, out: TrialOutcomes) -> None:
        model, draws, dtype = self.model, self.draws, self.dtype
        b = len(rows)
        sl = slice(rows.start, rows.stop)
        n, m = model.n, BLOCK_HAZARDS
        share_spread, effort_spread = draws.share_spread, draws.effort_spread
        funnel = draws.funnel[sl]
        cbar, rbar, kbar = funnel[..., 0], funnel[..., 1], funnel[..., 2]
        gbar = np.divide(kbar, rbar + kbar, out=np.zeros_like(kbar), where=(rbar + kbar) > 0)

        u_cancel, u_split, u_effort = buf.u_cancel[:b], buf.u_split[:b], buf.u_effort[:b]
        draws.fill_hazard_uniforms(rows, n, u_cancel, u_split, u_effort)
        cancel, kept, split, effort, tmp = (
            buf.cancel[:b],
            buf.kept[:b],
            buf.split[:b],
            buf.effort[:b],
            buf.tmp[:b],
        )
        # Each hazard's shares: the trial's mean ± spread × room, uniformly (mean-preserving).
        self._share(cbar, share_spread, u_cancel, cancel, tmp)
        np.multiply(cancel, self.area, out=cancel)  # m² cancelled by NTS
        np.subtract(self.area, cancel, out=kept)  # m² left for TS
        self._share(gbar, share_spread, u_split, split, tmp)
        np.multiply(split, kept, out=split)  # m² cleared
        depletion = draws.depletion[sl]
        depleted = bool(np.any(depletion != 0))
        nts_effort = buf.nts[:b]
        if depleted:
            np.multiply(depletion[:, None].astype(dtype), self.position, out=effort)
            effort += 1
            np.multiply(self.area, effort, out=nts_effort)  # NTS effort
            np.multiply(kept, effort, out=kept)  # TS effort
            np.multiply(split, effort, out=effort)  # clearance effort before noise
        else:
            np.copyto(effort, split)
        if effort_spread > 0:
            u_effort *= 2 * effort_spread
            u_effort += 1 - effort_spread
            np.multiply(effort, u_effort, out=effort)
        inv_factor = 1.0 / draws.class_factor[sl]
        if np.any(inv_factor != 1.0):
            # Rare (class factors are 1 unless calibrated), so a fresh scratch array is fine.
            self.by_class(inv_factor, tmp, np.empty_like(tmp))
            np.multiply(effort, tmp, out=effort)

        cancelled = _Prefix.of(cancel, m)
        cleared = _Prefix.of(split, m)
        effort_of = {"ts": _Prefix.of(kept, m), "clearance": _Prefix.of(effort, m)}
        if depleted:
            effort_of["nts"] = _Prefix.of(nts_effort, m)

        # New contamination follows class 0's trial-mean funnel at depletion 1: effort per m²
        # arrived (w) and m² released per unit of effort (rho), per stage.
        c0, g0, q0 = cbar[:, 0], gbar[:, 0], draws.class_factor[sl, 0]
        w = {"nts": np.ones(b), "ts": 1 - c0, "clearance": (1 - c0) * g0 / q0}
        rho = {"nts": c0, "ts": 1 - g0, "clearance": q0}
        rate = draws.new_m2_per_year[sl]
        productivity = draws.productivity[sl]

        region_pos = self.region_last
        year_end = self.year_end
        output_factor = draws.output_factor[sl, : self.n_years]
        stock_factor = draws.stock_factor[sl, : self.n_years + 1]
        vary_output = bool(np.any(output_factor != 1.0))
        vary_stock = bool(np.any(stock_factor != 1.0))
        released_new = np.zeros((b, year_end.size, 3))
        counts: dict[str, np.ndarray] = {}
        # Years of new contamination arrived by each day (each year's finds × its factor).
        discovery_factor = draws.discovery_factor[sl, : self.n_years]
        if np.any(discovery_factor != 1.0) and np.any(rate > 0):
            arrival = self._by_year(np.broadcast_to(model.arrival_years, (b, model.days)), discovery_factor)
        else:
            arrival = np.broadcast_to(model.arrival_years, (b, model.days))
        for s, stage in enumerate(STAGES):
            # K: cumulative capacity (m²-effort), scaled year by year by the output factor.
            coef = [productivity[:, list(STAGE_TYPES[stage])]]
            if stage == "clearance":
                coef.append(np.ones((b, 1)))
            capacity = buf.daily(b, model.days, 0)
            np.matmul(np.concatenate(coef, axis=1), self.rows[stage], out=capacity)
            if vary_output:
                capacity = self._by_year(capacity, output_factor)
            # Stock work S = max(0, cummax(K − N)): new contamination N is worked first.
            work = buf.daily(b, model.days, 1)
            new_effort = rate * w[stage]
            if np.any(new_effort > 0):
                np.multiply(new_effort[:, None], arrival, out=work)
                np.subtract(capacity, work, out=work)
            else:
                np.copyto(work, capacity)
            np.maximum.accumulate(work, axis=1, out=work)
            np.maximum(work, 0.0, out=work)
            # In units of the starting stock: a m² worked while the estimate stands at Z
            # finishes 1/Z m² of the stock as it was first measured.
            stock_work = self._by_year(work, 1.0 / stock_factor[:, :-1]) if vary_stock else work

            if stage == "nts" and not depleted:
                total = np.full(b, self.cum_area[-1])
                at_region = np.broadcast_to(self.cum_area[region_pos + 1], (b, region_pos.size))
            else:
                total = effort_of[stage].total()
                at_region = effort_of[stage].inclusive_at(region_pos)
            at_region = np.where(self.region_has, at_region, 0.0)
            found = self._first_day(stock_work, np.column_stack([total, at_region]))
            out.stage_completion_day[sl, s] = found[:, 0]
            if s == 0:
                out.region_day[sl] = found[:, 1:]
            else:
                np.maximum(out.region_day[sl], found[:, 1:], out=out.region_day[sl])

            done_by = stock_work[:, year_end]  # at each 31 December
            if stage == "nts" and not depleted:
                counts[stage] = np.searchsorted(self.cum_area[1:], done_by, side="right")
            else:
                counts[stage] = effort_of[stage].count_le(done_by, n)
            # Work on new contamination by a year end = capacity − stock work (real m²).
            released_new[:, :, s] += (capacity[:, year_end] - work[:, year_end]) * rho[stage][:, None]

        # Stock released by each method at year ends, in m² of the starting estimate; TS
        # releases what NTS did not cancel and clearance will not clear.
        c_nts, c_ts, c_cl = counts["nts"], counts["ts"], counts["clearance"]
        first = np.zeros((b, year_end.size, 3))
        first[:, :, 0] = cancelled.sum_before(c_nts, n)
        first[:, :, 1] = self.cum_area[c_ts] - cancelled.sum_before(c_ts, n) - cleared.sum_before(c_ts, n)
        first[:, :, 2] = cleared.sum_before(c_cl, n)
        left = self.stock - first.sum(axis=2)
        if vary_stock:
            # Released land counts at the estimate of its year; at each year end the land left
            # is revised from Z(y) to Z(y + 1).
            z_year = stock_factor[:, self.year_end_index]
            z_next = stock_factor[:, self.year_end_index + 1]
            stock_released = np.cumsum(np.diff(first, axis=1, prepend=0.0) * z_year[..., None], axis=1)
            revised = np.cumsum((z_next - z_year) * left, axis=1)
            stock_left = z_next * left
        else:
            stock_released, revised, stock_left = first, np.zeros_like(left), left
        arrived = rate[:, None] * arrival[:, year_end]
        out.released[sl] = stock_released + released_new
        out.arrived[sl] = arrived
        out.revised[sl] = revised
        out.remaining[sl] = stock_left + arrived - released_new.sum(axis=2)
        out.completion_day[sl] = out.stage_completion_day[sl].max(axis=1)

    def _by_year(self, cum: np.ndarray, factor: np.ndarray) -> np.ndarray:
        """``cum`` (cumulative over days) with each calendar year's increments × its factor.

        ``factor``: ``(rows, n_years)``. Returns a new ``(rows, days)`` array.
        """
        rows = cum.shape[0]
        start = np.zeros((rows, self.n_years))
        start[:, 1:] = cum[:, self.year_first[1:] - 1]
        increment = factor * (cum[:, self.year_last] - start)
        base = np.zeros((rows, self.n_years))
        np.cumsum(increment[:, :-1], axis=1, out=base[:, 1:])
        y = self.day_year
        out = cum - start[:, y]
        out *= factor[:, y]
        out += base[:, y]
        return out

    def _first_day(self, stock_work: np.ndarray, need: np.ndarray) -> np.ndarray:
        """First day on which the (non-decreasing) stock work reaches ``need``.

        ``inf`` if never within the horizon; day 0 for ``need ≤ 0``.
        """
        rows, q = need.shape
        day = np.empty((rows, q))
        for r in range(rows):
            day[r] = np.searchsorted(stock_work[r], need[r], side="left")
        day[day >= self.model.days] = np.inf
        day[need <= 0] = 0.0
        return day

    def _share(
        self,
        mean: np.ndarray,
        spread: float,
        u: np.ndarray,
        out: np.ndarray,
        tmp: np.ndarray,
    ) -> None:
        """Per-hazard share ``mean + spread·min(mean, 1−mean)·(2u − 1)`` by hazard class."""
        if spread > 0:
            half = spread * np.minimum(mean, 1 - mean)
            self.by_class(2 * half, out, tmp)
            np.multiply(out, u, out=out)
            self.add_by_class(mean - half, out, tmp)
        else:
            self.by_class(mean, out, tmp)
