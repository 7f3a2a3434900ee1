"""From a national programme summary to a forecast: what the figures say, over the pooled priors.

:func:`prepare_programme` turns a :class:`~demine.planning.programme_file.Programme` (all of it,
or only the years up to a backtest's ``at``: nothing later is ever read) into a
:class:`~demine.planning.prepared.PreparedForecast`. Every input says, in one note, what the
data gave and what the prior was. The steps:

* **Stock.** The starting stock (``sha_m2``/``cha_m2`` or the stock of year ``at``), split into
  ``hazards`` equal pieces, the classes interleaved (a national programme works both at once).
  A backtest's class split comes from the same year or an earlier one in the same series,
  never from later figures.
* **Which figures.** The current series: the rows from the last ``series_break`` up to ``at``
  (:func:`~.series.current_series`); a stock or output measured another way says nothing.
* **Release shares (funnel).** Each year with the method split is one observation of the
  cancelled share and of the cleared share of the rest (a sweep year counts once, however
  large); their mean is blended with the pooled shares as normals (how much programmes differ
  around the pool, how much a programme's years differ around its own), so five years of 0 %
  cancelled give ≈ 0 % cancelled. The Dirichlet concentration matches the blend's sd. With a
  class split, confirmed land keeps the prior's small cancelled share and suspected land takes what makes
  the stock's mix match the national share.
* **Output per stage** (in the model's units of land worked): cancelled ÷ the cancelled share
  for NTS, reduced ÷ (1 − cleared share of the rest) for TS, cleared for clearance; a total
  without a split is spread by the shares. Land cleared went through TS and land through TS
  through NTS, so a stage's output is never below a later one's.
* **Trend and depletion.** The robust trend of log released area per year (Theil–Sen, over the
  current series), shrunk to the pooled trend by their precisions. A trend ``β`` over a stock
  that takes ``T`` years at the current pace is depletion ``δ = −β·T`` (output falls as the
  hardest land is reached), drawn as a normal with the trend's own uncertainty.
* **Release level.** The median of the last five years' releases (detrended), its share of
  the stock blended with the pooled release ÷ stock as normals (the programme's years around
  its own median, its median around the pool's); a year releasing more than four times the
  others' median is a sweep (:func:`~.series.sweeps`), read as a revision, not capacity; years
  that released nothing count (as 0.1 % of the stock). With only part of the release published
  (cleared, say) the total it implies at the shares is used; with none, the pooled pace, and a
  warning.
* **Capacity.** Each stage's level, scaled like the total. With team counts (``[teams]``, or a
  year's ``teams``) the teams work at the productivity that gives that level; without, the
  level becomes team equivalents of a reference type (manual for clearance, nts, ts). A stage
  that released nothing itself on record is given capacity to spare (``SPARE`` × its pace).
  Productivity is then fixed: the uncertainty of the level is the blend's sd, shared by every
  stage (they are measured from the same national figures), with the pooled year-to-year noise
  and walk scaled by how much this programme's own output moved (an inverse-gamma update worth
  ``volatility_strength`` years).
* **Revisions of the stock.** At each year end, with the pooled rate moved by this series' own
  spans between stock figures (a beta-binomial update worth ``revision_strength`` years), the
  estimate of what is left is revised by a centred lognormal factor sized for a stock this big
  (its spread moved by the series' own revisions); between revisions it drifts by the pooled
  drift moved by the series' quiet spans. Revisions go on for as long again as the series goes
  back (:class:`~demine.planning.parameters.Volatility`).
* **New contamination.** Published ``added`` areas, when they come in at least half the years
  of the series, as m² per year over all its years (blended like discoveries in the register),
  with bursts of the spread they show; one-off additions are revisions. It goes on for
  ``discovery_years``, or as long again as the figures go back.
* **Naive rate.** The mean cleared area of the last three years with a cleared figure (without
  one, of the total released): what a "stock ÷ rate" planner would use.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from demine.domain.errors import Problem
from demine.planning.calibrate import History, calibrate, discovery_spread
from demine.planning.capacity import CapacityPlan, Season
from demine.planning.distributions import Distribution, Fixed, Funnel, Normal
from demine.planning.inputs import ForecastInputs
from demine.planning.parameters import (
    STAGE_OF,
    STAGES,
    TEAM_TYPES,
    Parameters,
    Volatility,
    default_parameters,
)
from demine.planning.pooled import PooledPriors, load_pooled
from demine.planning.prepared import PreparedForecast
from demine.planning.programme_file import Programme, ProgrammeError, ProgrammeYear
from demine.planning.series import (
    SWEEP_FACTOR,
    current_series,
    depletion_from_trend,
    log_trend,
    output_by_year,
    precision_blend,
    regular_additions,
    robust_level,
    shrunk_trend,
    stock_changes,
    without_sweeps,
)
from demine.planning.timeline import DAYS_PER_YEAR

REFERENCE_TYPE = {"nts": "nts", "ts": "ts", "clearance": "manual"}
RECENT_YEARS = 3  # the naive rate's window
LEVEL_YEARS = 5  # the robust level's window
MIN_SHARE = 0.02  # below this a stage's release share is too small to scale its output by
MAX_CANCELLED = 0.98
# A stage that releases nothing itself works this many times the pace of the land it passes on.
SPARE = 10.0
# A year that released nothing counts as this share of the stock (logs need a positive pace).
ZERO_RELEASE = 0.001
# A span in which the stock shrank beyond its releases found (almost) nothing new.
MIN_DISCOVERY_SHARE = 0.001
# The pooled size of a revision is worth this many of a programme's own revisions.
REVISION_SIZE_STRENGTH = 2.0


@dataclass
class _Output:
    """One year's output per stage (``None``: unknown)."""

    nts: float | None = None
    ts: float | None = None
    clearance: float | None = None

    def get(self, stage: str) -> float | None:
        return getattr(self, stage)


def prepare_programme(
    programme: Programme,
    at: int | None = None,
    priors: Parameters | None = None,
    pooled: PooledPriors | None = None,
) -> PreparedForecast:
    """The forecast of ``programme`` from its start (``at=None``) or from the stock of year ``at``.

    ``priors``: the parameters the figures overrule (default :func:`default_parameters`);
    ``pooled``: the pooled priors (default: the package's, :func:`load_pooled`). A backtest
    passes priors fitted without the programme's own country.
    """
    pooled = pooled or load_pooled()
    priors = priors or default_parameters().replace(volatility=pooled.volatility)
    return _National(programme, at, priors, pooled).run()


class _National:
    def __init__(
        self, programme: Programme, at: int | None, priors: Parameters, pooled: PooledPriors
    ) -> None:
        self.p = programme
        self.at = at
        self.priors = priors
        self.pooled = pooled
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.sources: dict[str, str] = {}

    # -- the whole preparation -------------------------------------------------------------------

    def run(self) -> PreparedForecast:
        p = self.p
        at = self.at if self.at is not None else (p.start_year if p.start_derived else None)
        if at is None:
            start, sha, cha = p.start, p.sha_m2, p.cha_m2
            rows = [r for r in p.history if r.year < start.year]
            if not p.class_known:
                sha, cha = self._split(sha + cha, rows)
            teams_now = dict(p.teams) if p.teams is not None else None
        else:
            rows = [r for r in p.history if r.year <= at]
            start, sha, cha = self._start_of(at, rows)
            teams_now = None if self.at is not None else (dict(p.teams) if p.teams else None)
            if teams_now is None:
                teams_now = next((dict(r.teams) for r in reversed(rows) if r.teams is not None), None)
        series = current_series(rows)
        # How long the estimate keeps being revised (and new land found): as long again as the
        # series has been recorded (the median of Gott's estimate of a remaining duration).
        self.survey_years = (
            round(max((start - date(series[0].year, 1, 1)).days / DAYS_PER_YEAR, 1.0), 1) if series else 1.0
        )
        if len(series) < len(rows):
            self.notes.append(
                f"figures: the series from {series[0].year} (series break); {len(rows) - len(series)} "
                "earlier year(s) measured another way are not used"
            )
        stock = sha + cha
        shares, concentration = self._shares(series)
        self.series = series
        cancelled = self._class_funnels(shares, concentration, sha, cha)
        all_totals, kind = output_by_year(series)
        totals = without_sweeps(all_totals)
        swept = sorted(set(all_totals) - set(totals))
        if swept:
            self.notes.append(
                "sweeps: "
                + ", ".join(f"{y} ({all_totals[y] / 1e6:,.2f} km²)" for y in swept)
                + f" released over "
                f"{SWEEP_FACTOR:g}× the median of the other years: a re-survey or new baseline, read as a "
                "one-off, "
                "not as yearly capacity"
            )
        trend = self._trend(totals, kind)
        outputs = self._stage_outputs(series, totals, kind, shares)
        level_input = totals
        if not totals and any(o.nts for o in outputs.values()):
            # Only part of the release is published (cleared, say): the total it implies at the
            # shares above is what the pooled pace is weighed against.
            level_input = {y: float(o.nts) for y, o in outputs.items() if o.nts is not None}
            self.notes.append(
                "release level: no total released on record; read from the published parts at the shares "
                "above (" + _years_text(list(level_input)) + ")"
            )
        level_total, level_scale, level_sd = self._level(level_input, trend, stock)
        if not any(o.nts or o.ts or o.clearance for o in outputs.values()) and not _has_teams(teams_now):
            outputs = {start.year - 1: self._steady_outputs(level_total, shares)}
        teams, productivity = self._capacity(series, outputs, trend, teams_now, level_scale)
        depletion = self._depletion(trend, stock, level_total)
        volatility = self._volatility(series, totals, kind, level_sd, stock)
        new_share, new_years = self._new_contamination(series, stock, start)
        parameters = self.priors.replace(
            productivity={**self.priors.productivity, **productivity},
            funnel=cancelled,
            depletion=depletion,
            volatility=volatility,
            new_contamination_share_per_year=new_share,
            new_contamination_m2_per_year=None,
            new_contamination_years=new_years,
            sources={**self.priors.sources, **self.sources},
        )
        naive = self._naive_rate(series, totals)
        capacity = CapacityPlan(
            teams=teams,
            seasons={t: Season(working_days_per_year=p.working_days_per_year) for t in TEAM_TYPES},
        )
        label = f"programme file {p.path}" + (f" (backtest at {self.at})" if self.at is not None else "")
        history = History(
            years=[r.year for r in series if r.has_split],
            cancelled_m2=[r.cancelled_m2 for r in series if r.has_split],
            reduced_m2=[r.reduced_m2 for r in series if r.has_split],
            cleared_m2=[r.cleared_m2 for r in series if r.has_split],
        )
        return PreparedForecast(
            source=label,
            inputs=self._inputs(start, sha, cha, naive),
            parameters=parameters,
            capacity=capacity,
            history=history,
            notes=(self._stock_note(start, sha, cha), *self.notes),
            warnings=tuple(self.warnings),
        )

    # -- stock -----------------------------------------------------------------------------------

    def _start_of(self, at: int, rows: list[ProgrammeYear]) -> tuple[date, float, float]:
        p = self.p
        row = p.year(at)
        if row is None or row.remaining_m2 is None:
            known = [str(r.year) for r in p.history if r.remaining_m2 is not None]
            raise ProgrammeError(
                [
                    Problem(
                        p.path,
                        "history",
                        f"no remaining area at the end of {at} to start from "
                        f"(years with remaining_m2: {', '.join(known) or 'none'})",
                    )
                ]
            )
        if not row.remaining_m2 > 0:
            raise ProgrammeError(
                [
                    Problem(
                        p.path,
                        f"history (year {at})",
                        "the remaining area is 0: there is nothing to forecast",
                    )
                ]
            )
        start = row.stock_date + timedelta(days=1)
        if row.has_class_split:
            return start, float(row.remaining_sha_m2), float(row.remaining_cha_m2)  # type: ignore[arg-type]
        sha, cha = self._split(float(row.remaining_m2), rows)
        return start, sha, cha

    def _split(self, total: float, rows: list[ProgrammeYear]) -> tuple[float, float]:
        """``total`` split by class as in the latest row of the same series with a split."""
        ref = next((r for r in reversed(current_series(rows)) if r.has_class_split), None)
        if ref is not None and ref.remaining_m2:
            cha_share = float(ref.remaining_cha_m2) / ref.remaining_m2  # type: ignore[arg-type]
            self.notes.append(f"class split taken from {ref.year} (CHA {cha_share:.0%})")
            return total * (1 - cha_share), total * cha_share
        self.notes.append("class split unknown: the stock is released with the national shares")
        return total, 0.0

    def _inputs(self, start: date, sha: float, cha: float, naive: float | None) -> ForecastInputs:
        n = self.p.hazards
        total = sha + cha
        n_cha = 0 if cha <= 0 else max(1, round(n * cha / total))
        n_sha = 0 if sha <= 0 else max(1, n - n_cha)
        area = np.concatenate([np.full(n_sha, sha / max(n_sha, 1)), np.full(n_cha, cha / max(n_cha, 1))])
        cls = np.concatenate([np.zeros(n_sha, np.int64), np.ones(n_cha, np.int64)])
        # Interleave the classes: the k-th of n pieces is served at (k + ½)/n of the way.
        key = np.concatenate(
            [(np.arange(n_sha) + 0.5) / max(n_sha, 1), (np.arange(n_cha) + 0.5) / max(n_cha, 1)]
        )
        return ForecastInputs(
            area_m2=area,
            hazard_class=cls,
            region=np.zeros(area.size, np.int64),
            start=start,
            order=np.argsort(key, kind="stable"),
            region_names=(self.p.name,),
            recent_cleared_m2_per_year=naive,
        )

    def _stock_note(self, start: date, sha: float, cha: float) -> str:
        split = f"SHA {sha / 1e6:,.2f} km², CHA {cha / 1e6:,.2f} km²"
        return (
            f"stock: {(sha + cha) / 1e6:,.2f} km² on {start} ({split}), split into "
            f"{self.p.hazards:,} equal pieces"
        )

    # -- release shares --------------------------------------------------------------------------

    def _shares(self, series: list[ProgrammeYear]) -> tuple[np.ndarray, float]:
        """National (cancelled, reduced, cleared) shares and the Dirichlet concentration."""
        pooled = np.asarray(self.pooled.funnel, float)
        years = [
            (r.year, np.array([r.cancelled_m2, r.reduced_m2, r.cleared_m2], float) / r.released_m2)
            for r in series
            if r.has_split and r.released_m2
        ]
        # Years with the cancelled share and "reduced + cleared" together say the first share.
        partial = [
            (r.year, float(r.cancelled_m2) / r.released_m2)  # type: ignore[arg-type]
            for r in series
            if not r.has_split and r.cancelled_m2 is not None and r.released_m2
        ]
        prior_text = "/".join(f"{x:.0%}" for x in pooled)
        if not years and not partial:
            self.notes.append(
                f"funnel (cancelled/reduced/cleared): no year by method; pooled shares {prior_text} kept"
            )
            return pooled, 30.0
        obs = np.array([s for _, s in years]) if years else np.zeros((0, 3))
        c_obs = [float(s[0]) for s in obs] + [c for _, c in partial]
        g_obs = [float(s[2] / (s[1] + s[2])) for s in obs if s[1] + s[2] > 0]
        between, within = self.pooled.share_between_sd, self.pooled.share_within_sd
        rest_prior = pooled[2] / (pooled[1] + pooled[2])
        # Normal hierarchical blends: the programme's years around its own share, its share
        # around the pool's (posterior mean and its sd).
        c, c_sd = _blend(pooled[0], between[0], c_obs, within[0])
        g, _ = _blend(rest_prior, between[1], g_obs, within[1])
        shares = np.array([c, (1 - c) * (1 - g), (1 - c) * g])
        # How surely: the Dirichlet whose cancelled share has that sd (variance c(1−c)/(κ+1)).
        concentration = (
            float(np.clip(c * (1 - c) / max(c_sd**2, 1e-5) - 1, 5.0, 500.0)) if 0 < c < 1 else 500.0
        )
        used = sorted({y for y, _ in years} | {y for y, _ in partial})
        self.notes.append(
            f"funnel (cancelled/reduced/cleared): {'/'.join(f'{x:.0%}' for x in shares)} from "
            f"{len(used)} year(s) by method ({_years_text(used)}), pooled prior {prior_text}"
        )
        self.sources["funnel"] = f"national release shares of {_years_text(used)} over the pooled shares"
        return shares, concentration

    def _class_funnels(
        self, shares: np.ndarray, concentration: float, sha: float, cha: float
    ) -> tuple[Funnel, ...]:
        c, r, k = (float(x) for x in shares)
        g = k / (r + k) if r + k > 0 else 1.0
        prior_cha = self.priors.funnel[1] if len(self.priors.funnel) > 1 else Funnel(0.05, 0.25, 0.70)
        c_cha = prior_cha.cancelled if cha > 0 else 0.0
        c_sha = (
            c if cha <= 0 else min(MAX_CANCELLED, max(0.0, (c * (sha + cha) - c_cha * cha) / max(sha, 1.0)))
        )
        if cha > 0 and sha > 0:
            self.notes.append(
                f"funnel by class: SHA cancelled {c_sha:.0%} so that with CHA's {c_cha:.0%} the stock's mix "
                f"matches the national {c:.0%}"
            )
        return (
            _funnel(c_sha, g, concentration),
            _funnel(min(c_cha, MAX_CANCELLED), g, concentration),
        )

    # -- output, trend, capacity -----------------------------------------------------------------

    def _trend(self, totals: dict[int, float], kind: str) -> tuple[float, float]:
        """The output trend per year (log) and its sd, shrunk to the pooled trend."""
        mean0, sd0 = self.pooled.trend_mean, self.pooled.trend_sd
        years = sorted(totals)
        fit = log_trend(years, [totals[y] for y in years])
        if fit is None:
            self.notes.append(
                f"output trend: {len(years)} year(s) of output, too few for a trend; pooled prior "
                f"{mean0:+.1%} ± {sd0:.1%}/yr kept"
            )
            return mean0, sd0
        slope, se = fit
        mean, sd = shrunk_trend(fit, mean0, sd0)
        self.notes.append(
            f"output trend: {mean:+.1%}/yr from the {kind} output of {_years_text(years)} "
            f"({slope:+.1%} ± {se:.1%}), pooled prior {mean0:+.1%} ± {sd0:.1%}"
        )
        return mean, sd

    def _stage_outputs(
        self, series: list[ProgrammeYear], totals: dict[int, float], kind: str, shares: np.ndarray
    ) -> dict[int, _Output]:
        c_bar = float(shares[0])
        g_bar = float(shares[2] / (shares[1] + shares[2])) if shares[1] + shares[2] > 0 else 1.0
        by_year = {r.year: r for r in series}
        out: dict[int, _Output] = {}
        swept = (
            {r.year for r in series if r.released_m2 is not None} - set(totals)
            if kind == "published"
            else set()
        )
        for y in sorted(set(totals) | {r.year for r in series if r.cleared_m2 is not None} - swept):
            r = by_year.get(y)
            t = totals.get(y)
            o = _Output()
            if r is not None and r.has_split:
                c, red, k = (float(v) for v in (r.cancelled_m2, r.reduced_m2, r.cleared_m2))  # type: ignore[arg-type]
                o.clearance = k
                o.ts = max(red / (1 - g_bar), k) if 1 - g_bar > MIN_SHARE else red + k
                o.nts = max(c / c_bar, t or 0.0) if c_bar > MIN_SHARE else t
            else:
                o.nts = t
                o.ts = None if t is None else t * (1 - c_bar)
                o.clearance = r.cleared_m2 if r is not None and r.cleared_m2 is not None else None
                if o.clearance is None and t is not None:
                    o.clearance = t * float(shares[2])
                if r is not None and r.reduced_cleared_m2 is not None and o.ts is None:
                    o.ts = float(r.reduced_cleared_m2)
            # A stage without a figure is taken at the steady-state pace of the ones with one.
            if o.ts is None and o.clearance is not None and g_bar > MIN_SHARE:
                o.ts = o.clearance / g_bar
            if o.nts is None and o.ts is not None and 1 - c_bar > MIN_SHARE:
                o.nts = o.ts / (1 - c_bar)
            if o.clearance is not None and o.ts is not None:
                o.ts = max(o.ts, o.clearance)
            if o.ts is not None and o.nts is not None:
                o.nts = max(o.nts, o.ts)
            out[y] = o
        return out

    def _level(
        self, totals: dict[int, float], trend: tuple[float, float], stock: float
    ) -> tuple[float, float, float | None]:
        """The release level per year, and the factor by which the pooled prior moves it.

        The level is the detrended median of the last five years; its log share of the stock
        is one observation per year, blended with the pooled release ÷ stock (a normal
        hierarchical model: the programme's years around its own median, its median around the
        pool's).
        """
        pooled = self.pooled
        years = sorted(totals)[-LEVEL_YEARS:]
        if not years or stock <= 0:
            # Nothing released yet on record: what programmes usually release of a stock.
            level = stock * math.exp(pooled.release_ratio_mean)
            self.warnings.append(
                "no release figures: the pace is the pooled prior, "
                f"{math.exp(pooled.release_ratio_mean):.1%} "
                f"of the stock a year ({level / 1e6:,.2f} km²/yr), as uncertain as programmes differ"
            )
            self.notes.append(
                f"release level: no release figures; pooled {math.exp(pooled.release_ratio_mean):.1%} of the "
                f"stock a year → {level / 1e6:,.2f} km²/yr"
            )
            self.sources["release_level"] = "pooled release ÷ stock (no release figures)"
            return level, 1.0, pooled.release_ratio_between_sd
        values = [totals[y] * math.exp(-trend[0] * (y - years[-1])) for y in years]
        level = float(np.median(values))
        if level <= 0:
            # Most recorded years released nothing: that is the pace, not a gap in the figures.
            level = max(float(np.mean(values)), ZERO_RELEASE * stock)
            self.notes.append(
                f"release level: nothing released in {_years_text([y for y in years if totals[y] <= 0])}; "
                f"read as {level / stock:.2%} of the stock a year"
            )
        observed = math.log(level / stock)
        # How much this programme's own years move around their median: the pooled spread,
        # moved by its own (an inverse-gamma update worth volatility_strength years).
        logs = [math.log(max(v, ZERO_RELEASE * stock)) for v in values]
        own = sum((x - float(np.median(logs))) ** 2 for x in logs) / pooled.release_ratio_within_sd**2
        nu = pooled.volatility_strength
        within = pooled.release_ratio_within_sd * math.sqrt((nu + own) / (nu + max(len(years) - 1, 0)))
        between = pooled.release_ratio_between_sd
        blended, sd = precision_blend(
            pooled.release_ratio_mean, between, observed, within / math.sqrt(len(years))
        )
        scale = math.exp(blended - observed)
        self.notes.append(
            f"release level: {level * scale / 1e6:,.2f} km²/yr from {level / 1e6:,.2f} km²/yr "
            f"({level / stock:.1%} of the stock, median of {_years_text(years)}) over the pooled prior "
            f"{math.exp(pooled.release_ratio_mean):.1%} of the stock a year (worth "
            f"{(sd / between) ** 2:.0%})"
        )
        self.sources["release_level"] = "the programme's release over the pooled release ÷ stock"
        return level * scale, scale, sd

    def _releases_nothing(self, stage: str) -> bool:
        """Every year on record with the method split released nothing by this stage."""
        rows = [r for r in self.series if r.has_split and r.released_m2]
        if not rows:
            return False
        if stage == "nts":
            return all(float(r.cancelled_m2) <= MIN_SHARE * float(r.released_m2) for r in rows)  # type: ignore[arg-type]
        if stage == "ts":
            return all(float(r.reduced_m2) <= MIN_SHARE * float(r.released_m2) for r in rows)  # type: ignore[arg-type]
        return False

    @staticmethod
    def _steady_outputs(level: float, shares: np.ndarray) -> _Output:
        """Each stage's output when ``level`` m² a year are released with ``shares``."""
        _c, r, k = (float(x) for x in shares)
        return _Output(nts=level, ts=level * (r + k), clearance=level * k)

    def _capacity(
        self,
        series: list[ProgrammeYear],
        outputs: dict[int, _Output],
        trend: tuple[float, float],
        teams_now: dict[str, float] | None,
        level_scale: float = 1.0,
    ) -> tuple[dict[str, float], dict[str, Fixed]]:
        """Teams per type on the start date and their fixed productivities."""
        p, priors = self.p, self.priors
        wd = p.working_days_per_year
        row_teams = {r.year: dict(r.teams) for r in series if r.teams is not None}
        teams: dict[str, float] = {}
        productivity: dict[str, Fixed] = {}
        problems = []
        for stage in STAGES:
            types = [k for k in TEAM_TYPES if STAGE_OF[k] == stage]
            observed = {y: o.get(stage) for y, o in outputs.items() if (o.get(stage) or 0) > 0}
            years = sorted(observed)[-LEVEL_YEARS:]
            level = (
                robust_level(years, [observed[y] for y in years], trend[0], years[-1], LEVEL_YEARS)
                * level_scale
                if years
                else 0.0
            )
            if level > 0 and self._releases_nothing(stage):
                # A stage that releases nothing itself (no cancellation, or no reduction, on
                # record) is only seen passing land on, at the pace of the next stage: it has
                # never been shown to limit anything, so it gets capacity to spare.
                level *= SPARE
                self.notes.append(
                    f"{stage}: releases nothing itself on record, so it is not a limit: {SPARE:g}× the "
                    "pace of "
                    "the land it passes on"
                )
            now = {k: (teams_now or {}).get(k, 0.0) for k in types}
            if sum(now.values()) > 0:
                teams.update(now)
                if level > 0:
                    # The teams of the level's years (their own counts, else today's).
                    ref_years = [y for y in years if y in row_teams] or years
                    worked = np.mean(
                        [
                            sum(
                                priors.productivity[k].median * row_teams.get(y, now).get(k, 0.0) * wd
                                for k in types
                            )
                            for y in ref_years
                        ]
                    )
                    scale = level / worked if worked > 0 else 1.0
                    for k in types:
                        if now[k] > 0:
                            productivity[k] = Fixed(priors.productivity[k].median * scale)
                            self.sources[f"productivity.{k}"] = (
                                f"national {stage} output of {_years_text(years)} per team "
                                f"(prior median {priors.productivity[k].median:,.0f} m²/team-day)"
                            )
                    self.notes.append(
                        f"{stage}: {_teams_text(now)} on the start date; output level "
                        f"{level / 1e6:,.2f} km²/yr from {_years_text(years)} (median, detrended) → "
                        f"{scale:.2f}× the prior productivity"
                    )
                else:
                    self.notes.append(
                        f"{stage}: {_teams_text(now)}; no output figures, prior productivity kept"
                    )
                continue
            if level <= 0:
                problems.append(
                    Problem(
                        p.path,
                        f"teams.{REFERENCE_TYPE[stage]}",
                        f"no {stage} teams given and no released area in the history to infer "
                        f"{stage} capacity from",
                    )
                )
                continue
            ref = REFERENCE_TYPE[stage]
            median = priors.productivity[ref].median
            teams[ref] = level / (median * wd)
            productivity[ref] = Fixed(median)
            self.sources[f"productivity.{ref}"] = (
                f"national {stage} output of {_years_text(years)} as {teams[ref]:,.1f} team equivalents "
                f"at {median:,.0f} m²/team-day"
            )
            self.notes.append(
                f"{stage}: no team counts; output level {level / 1e6:,.2f} km²/yr (median of "
                f"{_years_text(years)}, detrended) ≈ {teams[ref]:,.1f} {ref} team equivalents at the prior "
                "productivity"
            )
        if problems:
            raise ProgrammeError(problems)
        return teams, productivity

    def _depletion(self, trend: tuple[float, float], stock: float, level: float) -> Fixed | Normal:
        mean, sd = trend
        prior = self.priors.depletion
        if level <= 0:
            self.notes.append(f"depletion: no output to read a trend from; prior median {prior.median:.2f}")
            return Fixed(0.0)
        years = stock / level
        d_mean, d_sd = depletion_from_trend(mean, sd, years)
        self.notes.append(
            f"depletion: {d_mean:+.2f} (the last land costs {1 + d_mean:.2f}× the first) from the output "
            f"trend {mean:+.1%}/yr over a stock of {years:,.1f} years at the current pace; "
            f"prior median {prior.median:.2f}"
        )
        self.sources["depletion"] = "the programme's output trend over the pooled trend"
        return Normal(d_mean, d_sd)

    # -- how the future moves --------------------------------------------------------------------

    def _volatility(
        self,
        series: list[ProgrammeYear],
        totals: dict[int, float],
        kind: str,
        level_sd: float | None,
        stock: float,
    ) -> Volatility:
        pooled = self.pooled
        v = pooled.volatility_at(stock)
        years = sorted(y for y, x in totals.items() if x > 0)
        changes = [
            math.log(totals[b]) - math.log(totals[a]) for a, b in itertools.pairwise(years) if b == a + 1
        ]
        nu = pooled.volatility_strength
        if changes and kind == "published":
            ratio2 = (nu + sum(d * d for d in changes) / pooled.output_change_sigma**2) / (nu + len(changes))
        else:
            ratio2 = 1.0
        scale = math.sqrt(ratio2)
        level = v.level_sigma * scale if level_sd is None else level_sd
        # Revisions of the estimate: the pooled yearly rate, moved by this series' own spans.
        spans = stock_changes(series)
        k0 = pooled.revision_strength
        span_years = sum(max(c.years, 1.0) for c in spans)
        sized = [pooled.standardised(c) for c in spans if pooled.is_revision(c)]
        quiet = [c for c in spans if not pooled.is_revision(c)]
        drift_years = sum(c.years for c in quiet)
        drift = (v.revision_drift * pooled.drift_strength + sum(c.log_factor for c in quiet)) / (
            pooled.drift_strength + drift_years
        )
        events = len(sized)
        rate = (v.revision_rate * k0 + events) / (k0 + span_years)
        # The size of this programme's revisions: the pooled spread, moved by its own (an
        # inverse-gamma update worth REVISION_SIZE_STRENGTH revisions).
        z_mean, z_sigma = pooled.volatility.revision_log_mean, pooled.volatility.revision_log_sigma
        if sized:
            ss = sum((z - z_mean) ** 2 for z in sized) / z_sigma**2
            size_scale = math.sqrt((REVISION_SIZE_STRENGTH + ss) / (REVISION_SIZE_STRENGTH + len(sized)))
        else:
            size_scale = 1.0
        out = v.replace(
            level_sigma=min(level, 5.0),
            walk_sigma=min(v.walk_sigma * scale, 5.0),
            year_sigma=min(v.year_sigma * scale, 5.0),
            revision_rate=float(min(rate, 1.0)),
            revision_log_sigma=float(min(v.revision_log_sigma * size_scale, 5.0)),
            revision_years=self.survey_years,
            revision_drift=float(np.clip(drift, -0.2, 0.2)),
            discovery_year_sigma=discovery_spread(
                [float(r.added_m2) for r in series if r.added_m2 is not None]
                if regular_additions(series)
                else []
            ),
        )
        self.notes.append(
            f"output volatility: level {out.level_sigma:.2f}, walk {out.walk_sigma:.2f}/yr, year "
            f"{out.year_sigma:.2f} (log sd; {scale:.2f}× the pooled from {len(changes)} year-to-year "
            "change(s) of its own)"
        )
        self.notes.append(
            f"stock revisions: {out.revision_rate:.0%} a year from {events} revision(s) in {len(spans)} "
            "span(s) "
            f"of its own stock figures ({span_years:,.1f} years), pooled prior {v.revision_rate:.0%} worth "
            f"{k0:.1f} years; a revision multiplies what is left by ×{math.exp(out.revision_log_mean):.2f} "
            f"(median, pooled, for a stock this size), log sd {out.revision_log_sigma:.2f} "
            f"({size_scale:.2f}× the pooled from {events} revision(s) of its own), for "
            f"{self.survey_years:g} years "
            "(as long as the series goes back)"
        )
        self.notes.append(
            f"stock revisions between events: the estimate drifts {math.expm1(out.revision_drift):+.1%}/yr "
            "beyond "
            f"releases, from {len(quiet)} quiet span(s) of its own over {drift_years:,.1f} years; pooled "
            "prior "
            f"{math.expm1(v.revision_drift):+.1%}/yr worth {pooled.drift_strength:.1f} years"
        )
        self.sources["volatility"] = "pooled over the national series corpus, moved by this programme's own"
        return out

    def _new_contamination(
        self, series: list[ProgrammeYear], stock: float, start: date
    ) -> tuple[Distribution, float | None]:
        added = [(r.year, float(r.added_m2)) for r in series if r.added_m2 is not None]
        what = "added area"
        if added and not regular_additions(series):
            self.notes.append(
                f"new contamination: area added only in {_years_text([y for y, _ in added])} of "
                f"{series[0].year}–{series[-1].year}: one-off finds, read as revisions of the estimate, "
                "not a yearly rate"
            )
            return Fixed(0.0), None
        if not added or stock <= 0:
            self.notes.append(
                "new contamination: no added area published; the stock's growth beyond its releases is the "
                "estimate's drift (stock revisions)"
            )
            return Fixed(0.0), None
        # A year without an added figure found nothing that was published: the rate is the
        # total over every year the series covers, so a one-off discovery is not a yearly one.
        span = max(series[-1].year - series[0].year + 1, len(added))
        per_year = [sum(a for _, a in added) / span] * span
        history = History(discovered_m2=per_year, stock_m2=[stock] * span)
        share = calibrate(history, self.priors, stock_m2=stock).new_contamination_share_per_year
        if self.p.discovery_years is not None:
            years = self.p.discovery_years
            until = f"for {years:g} years (discovery_years)"
        else:
            years = round((start - date(series[0].year, 1, 1)).days / DAYS_PER_YEAR, 1)
            until = f"for {years:g} years (as long as the figures go back)"
        self.notes.append(
            f"new contamination: {sum(a for _, a in added) / 1e6:,.2f} km² of {what} in "
            f"{_years_text([y for y, _ in added])}, over the {span} year(s) of the series → "
            f"median {share.median:.1%} of the stock per year, {until}"
        )
        self.sources["new_contamination"] = f"{what} of {_years_text([y for y, _ in added])}"
        return share, years

    def _naive_rate(self, series: list[ProgrammeYear], totals: dict[int, float]) -> float | None:
        cleared = [r.cleared_m2 for r in series if r.cleared_m2 is not None][-RECENT_YEARS:]
        if cleared:
            return float(np.mean(cleared))
        recent = [totals[y] for y in sorted(totals)][-RECENT_YEARS:]
        if recent:
            self.notes.append("naive rate: no cleared figures, so the total released")
            return float(np.mean(recent))
        return None


def _blend(prior: float, prior_sd: float, values: list[float], sd: float) -> tuple[float, float]:
    """Normal posterior (mean, sd) of a share from its ``values`` (each with ``sd``), in [0, 1]."""
    if not values:
        return prior, prior_sd
    mean, post_sd = precision_blend(prior, prior_sd, float(np.mean(values)), sd / math.sqrt(len(values)))
    return float(np.clip(mean, 0.0, 1.0)), post_sd


def _has_teams(teams: dict[str, float] | None) -> bool:
    return bool(teams) and any(v > 0 for v in teams.values())  # type: ignore[union-attr]


def _funnel(cancelled: float, cleared_of_rest: float, concentration: float) -> Funnel:
    c = min(max(cancelled, 0.0), MAX_CANCELLED)
    g = min(max(cleared_of_rest, 0.0), 1.0)
    return Funnel(c, (1 - c) * (1 - g), (1 - c) * g, concentration)


def _years_text(years: list[int]) -> str:
    """``2012, 2014–2016`` for a list of years."""
    ys = sorted(set(int(y) for y in years))
    if not ys:
        return "no year"
    runs, first, last = [], ys[0], ys[0]
    for y in ys[1:]:
        if y == last + 1:
            last = y
            continue
        runs.append((first, last))
        first = last = y
    runs.append((first, last))
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


def _teams_text(teams: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in teams.items() if v) or "no teams"
