"""Priors pooled over many national programmes: how much output and estimates move, learned once.

One programme's few years of figures cannot say how far its output may drift in five years,
how often its estimate of what is left gets revised, or how much weight its own trend deserves.
The corpus of published national series (``data/national-series``) can: :func:`fit_pooled`
reads every series the same way (:mod:`.series`) and estimates

* **output volatility** — for every year with a published release and at least two years
  before it, the error of the robust level (:func:`~.series.robust_level`) as a forecast of
  each of the next five years' output, in logs. The 10–90 % spread of those errors grows with
  the horizon as ``a + b·h``: ``b`` is the random walk (``walk_sigma²``), and the year-to-year
  change ``Var(Δ log output) = walk² + 2·year²`` splits ``a`` into one year's noise
  (``year_sigma``) and the error of the level itself (``level_sigma``);
* **revisions of the stock** — how often a span between two stock figures shows a change
  beyond the releases (an *event*: more than ``REVISION_THRESHOLD`` of the stock), with a
  beta-binomial prior whose strength ``revision_strength`` (in years) comes from how much the
  rate differs between countries; the size of an event from the events seen (log scale);
* **output trend** — each series' robust trend of log output (Theil–Sen), pooled as a mean and
  a between-country spread: the prior a programme's own trend is shrunk to;
* **release shares** — each year's cancelled/reduced/cleared shares, every year counting once;
* **release ÷ stock** — each year's release as a share of the stock at its start (logs): the
  pooled median, how much programmes' own medians differ, and how much a programme's years
  differ around its own. A programme with one or two years of figures (one of them perhaps a
  re-survey sweep) is shrunk towards what programmes of its size usually release.

The fitted numbers are stored with the package (``pooled_priors.json``) and used by every
forecast; ``demine validate`` refits them from the corpus and, leaving each country out in
turn, checks them on the country left out. Where the corpus holds too few observations for a
number, the built-in value below is kept and the fit says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from demine.planning.parameters import Volatility
from demine.planning.programme_file import Programme, ProgrammeYear
from demine.planning.series import (
    REVISION_LOG,
    StockChange,
    band_sigma,
    log_trend,
    output_by_year,
    release_ratios,
    robust_level,
    stock_changes,
    theil_sen,
    without_sweeps,
)

POOLED_FILE = "pooled_priors.json"
HORIZONS = (1, 2, 3, 4, 5)
MIN_POINTS = 8  # fewer observations than this say too little for a pooled number
# The pooled spread of output is worth this many years of a programme's own year-to-year changes.
VOLATILITY_STRENGTH = 4.0
# Revisions are centred on no change. Their median in the corpus (+12 % after scaling to a
# typical stock) comes mostly from small stocks found again larger; carried into every forecast it
# made the median forecast worse out of sample (docs/forecast-validation.md, "Choices"), while the
# bands held about as well: the systematic part of how estimates move is the drift between them.
REVISIONS_CENTRED = True


@dataclass(frozen=True)
class PooledPriors:
    """The pooled numbers (see the module docstring) and what they rest on."""

    volatility: Volatility = field(
        default_factory=lambda: Volatility(
            level_sigma=0.3,
            walk_sigma=0.2,
            year_sigma=0.3,
            revision_rate=0.2,
            revision_log_mean=-0.2,
            revision_log_sigma=0.6,
        )
    )
    output_change_sigma: float = 0.5  # 10–90 % spread of Δ log output between consecutive years
    volatility_strength: float = VOLATILITY_STRENGTH
    revision_strength: float = 5.0  # years of a programme's own record the pooled rate is worth
    drift_strength: float = 5.0  # the same for the pooled drift between revisions
    # A revision of a stock R is ``(R / reference)^(−slope per decade)`` times the typical one.
    revision_size_slope: float = 0.0
    revision_reference_km2: float = 100.0
    trend_mean: float = 0.0  # per year, log output
    trend_sd: float = 0.1
    # log(area released in a year ÷ the stock at its start): pooled median, the spread of
    # programmes' own medians around it, and of a programme's years around its median.
    release_ratio_mean: float = math.log(0.1)
    release_ratio_between_sd: float = 1.0
    release_ratio_within_sd: float = 0.6
    funnel: tuple[float, float, float] = (0.40, 0.22, 0.38)
    # (cancelled share, cleared share of the rest): how much programmes differ, and their years.
    share_between_sd: tuple[float, float] = (0.25, 0.25)
    share_within_sd: tuple[float, float] = (0.15, 0.15)
    countries: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def replace(self, **changes: Any) -> PooledPriors:
        return replace(self, **changes)

    def revision_scale(self, stock_m2: float) -> float:
        """How much more widely (in logs) a stock of ``stock_m2`` is revised than a typical one.

        A revision's log factor (its median and its spread) is this many times a typical
        stock's: small stocks are revised by larger factors.
        """
        if stock_m2 <= 0:
            return 1.0
        decades = math.log10(stock_m2 / 1e6) - math.log10(self.revision_reference_km2)
        # Beyond a factor of three the power law would rest on a handful of spans at the ends.
        return float(np.clip(10 ** (-self.revision_size_slope * decades), 1 / 3, 3.0))

    def standardised(self, change: StockChange) -> float:
        """A span's change of the estimate, brought to the typical stock (÷ :meth:`revision_scale`)."""
        return change.log_factor / self.revision_scale(change.stock_m2)

    def is_revision(self, change: StockChange) -> bool:
        """The span moved the estimate, at the typical stock's scale, by more than a revision's threshold."""
        return abs(self.standardised(change)) > REVISION_LOG

    def volatility_at(self, stock_m2: float) -> Volatility:
        """The pooled volatility with revisions sized for a stock of ``stock_m2``."""
        k = self.revision_scale(stock_m2)
        v = self.volatility
        return v.replace(
            revision_log_mean=float(np.clip(v.revision_log_mean * k, -5, 5)),
            revision_log_sigma=float(min(v.revision_log_sigma * k, 5.0)),
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["volatility"] = self.volatility.to_dict()
        d["funnel"] = list(self.funnel)
        d["share_between_sd"] = list(self.share_between_sd)
        d["share_within_sd"] = list(self.share_within_sd)
        d["countries"] = list(self.countries)
        d["counts"] = dict(self.counts)
        d["notes"] = list(self.notes)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PooledPriors:
        d = dict(d)
        d["volatility"] = Volatility(**d["volatility"])
        d["funnel"] = tuple(d["funnel"])
        d["share_between_sd"] = tuple(d["share_between_sd"])
        d["share_within_sd"] = tuple(d["share_within_sd"])
        d["countries"] = tuple(d.get("countries", ()))
        d["notes"] = tuple(d.get("notes", ()))
        return cls(**d)


_loaded: PooledPriors | None = None


def load_pooled() -> PooledPriors:
    """The pooled priors shipped with the package (the built-in values if the file is missing)."""
    global _loaded
    if _loaded is None:
        try:
            text = resources.files("demine.planning").joinpath(POOLED_FILE).read_text(encoding="utf-8")
            _loaded = PooledPriors.from_dict(json.loads(text))
        except FileNotFoundError:
            _loaded = PooledPriors(notes=("built-in values: no pooled_priors.json",))
    return _loaded


def save_pooled(pooled: PooledPriors, path: Path | None = None) -> Path:
    """Write ``pooled`` as the package's pooled priors (or to ``path``)."""
    global _loaded
    target = path or Path(str(resources.files("demine.planning").joinpath(POOLED_FILE)))
    target.write_text(json.dumps(pooled.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if path is None:
        _loaded = pooled
    return target


def segments(rows: Iterable[ProgrammeYear]) -> list[list[ProgrammeYear]]:
    """The rows split at every series break."""
    out: list[list[ProgrammeYear]] = []
    for r in rows:
        if not out or r.series_break:
            out.append([])
        out[-1].append(r)
    return out


def fit_pooled(series: Iterable[Programme], base: PooledPriors | None = None) -> PooledPriors:
    """The pooled priors of ``series`` (numbers with too few observations keep ``base``'s)."""
    base = base or PooledPriors()
    programmes = list(series)
    changes: list[float] = []
    errors: dict[int, list[float]] = {h: [] for h in HORIZONS}
    slopes: list[tuple[float, float]] = []
    drifts: list[list[StockChange]] = []  # per programme: its spans between stock figures
    shares: list[np.ndarray] = []
    share_groups: list[list[np.ndarray]] = []  # per programme: its years' shares
    ratios: list[list[float]] = []  # per programme: log(released ÷ stock at the year's start)
    for p in programmes:
        ratios.append([])
        drifts.append([])
        share_groups.append([])
        for seg in segments(p.history):
            out, kind = output_by_year(seg)
            out = without_sweeps(out)
            if kind == "published":
                _output_errors(out, changes, errors)
                ratios[-1] += release_ratios(seg, out)
                years = sorted(y for y, v in out.items() if v > 0)
                trend = log_trend(years, [out[y] for y in years])
                if trend is not None and len(years) >= 4:
                    slopes.append(trend)
            drifts[-1] += stock_changes(seg)
            for r in seg:
                if r.has_split and r.released_m2:
                    shares.append(
                        np.array([r.cancelled_m2, r.reduced_m2, r.cleared_m2], float) / r.released_m2
                    )
                    share_groups[-1].append(shares[-1])

    notes: list[str] = []
    spans = [x for d in drifts for x in d]
    counts = {
        "programmes": len(programmes),
        "output_changes": len(changes),
        **{f"level_errors_h{h}": len(errors[h]) for h in HORIZONS},
        "trend_series": len(slopes),
        "stock_spans": len(spans),
        "stock_span_programmes": sum(bool(d) for d in drifts),
        "release_share_years": len(shares),
        "release_ratio_years": sum(len(r) for r in ratios),
        "release_ratio_programmes": sum(len(r) > 0 for r in ratios),
    }
    v = base.volatility
    trend_mean, trend_sd = base.trend_mean, base.trend_sd
    if len(slopes) >= 4:
        s = np.array([t for t, _ in slopes])
        se2 = np.array([e**2 for _, e in slopes])
        trend_mean = float(np.median(s))
        trend_sd = math.sqrt(max(band_sigma(s) ** 2 - float(np.median(se2)), 0.02**2))
    else:
        notes.append("output trend: fewer than 4 series with 4 release years; built-in prior kept")
    strength = base.revision_strength
    drift_strength = base.drift_strength
    revision_slope = base.revision_size_slope
    revision_ref = base.revision_reference_km2
    if len(spans) >= MIN_POINTS and sum(bool(d) for d in drifts) >= 4:
        # Small stocks are revised by larger factors than large ones: the typical size of a
        # change falls as a power of the stock (a straight line in logs, fitted robustly on
        # every span), and rate and size are read on changes brought to the typical stock.
        log_stock = np.array([math.log10(c.stock_m2 / 1e6) for c in spans])
        size = np.array([math.log(abs(c.log_factor) + 0.01) for c in spans])
        revision_slope = float(np.clip(-theil_sen(log_stock, size), 0.0, 1.0))
        revision_ref = float(10 ** np.median(log_stock))
        pooled_scale = PooledPriors(revision_size_slope=revision_slope, revision_reference_km2=revision_ref)
        per_country = [
            (sum(pooled_scale.is_revision(c) for c in d), sum(max(c.years, 1.0) for c in d))
            for d in drifts
            if d
        ]
        events = [pooled_scale.standardised(c) for c in spans if pooled_scale.is_revision(c)]
        k = sum(e for e, _ in per_country)
        n = sum(y for _, y in per_country)
        rate = float(np.clip(k / n, 0.01, 0.9))
        # A span holds at most one event, so how much countries differ is read per span (a
        # Bernoulli trial each), and the prior's strength converted to years of record.
        by_span = [(sum(pooled_scale.is_revision(c) for c in d), len(d)) for d in drifts if d]
        span_rate = sum(e for e, _ in by_span) / sum(m for _, m in by_span)
        strength = _beta_strength(by_span, min(max(span_rate, 0.01), 0.99)) * n / len(spans)
        v = v.replace(revision_rate=rate)
        if len(events) >= 3:
            v = v.replace(
                revision_log_mean=0.0 if REVISIONS_CENTRED else float(np.clip(np.median(events), -5, 5)),
                revision_log_sigma=float(np.clip(band_sigma(events), 0.1, 5.0)),
            )
        else:
            notes.append("revision size: fewer than 3 revisions seen; built-in size kept")
        counts["revision_events"] = len(events)
        # Between revisions the estimate drifts: each programme's own drift (its small changes,
        # per year), pooled as the median programme, worth as many years as the spread of the
        # programmes' drifts beyond their own noise allows. The revisions themselves are centred
        # on no change (see REVISIONS_CENTRED).
        quiet = [[(c.log_factor, c.years) for c in d if not pooled_scale.is_revision(c)] for d in drifts]
        own_drift = [
            (sum(lf for lf, _ in q) / sum(y for _, y in q), sum(y for _, y in q)) for q in quiet if q
        ]
        if len(own_drift) >= 4:
            drift = float(np.median([x for x, _ in own_drift]))
            noise = band_sigma([lf / math.sqrt(y) for q in quiet for lf, y in q])
            spread = band_sigma([x for x, _ in own_drift]) ** 2 - noise**2 * float(
                np.mean([1 / y for _, y in own_drift])
            )
            drift_strength = float(np.clip(noise**2 / spread, 1.0, 20.0)) if spread > 1e-6 else 20.0
            v = v.replace(revision_drift=float(np.clip(drift, -0.2, 0.2)))
            counts["drift_programmes"] = len(own_drift)
    else:
        notes.append("stock revisions: fewer than 8 spans between stock figures with releases; built-in kept")
    ratio_mean, ratio_between, ratio_within = (
        base.release_ratio_mean,
        base.release_ratio_between_sd,
        base.release_ratio_within_sd,
    )
    groups = [np.array(r) for r in ratios if r]
    if sum(g.size for g in groups) >= MIN_POINTS and len(groups) >= 4:
        medians = np.array([np.median(g) for g in groups])
        ratio_mean = float(np.median(medians))
        deviations = np.concatenate([g - np.median(g) for g in groups if g.size >= 2])
        ratio_within = (
            max(band_sigma(deviations), 0.1) if deviations.size >= MIN_POINTS // 2 else ratio_within
        )
        sampling = ratio_within**2 * float(np.mean([1 / g.size for g in groups]))
        ratio_between = math.sqrt(max(band_sigma(medians) ** 2 - sampling, 0.1**2))
    else:
        notes.append("release ÷ stock: too few years with a stock before them; built-in prior kept")
    change_sigma = band_sigma(changes) if len(changes) >= MIN_POINTS else base.output_change_sigma
    if counts["release_ratio_programmes"] >= 4:
        # One year's noise is how much a programme's yearly release moves around its own
        # median; the level a forecast starts from is a median of about three such years.
        year = ratio_within
        walk = v.walk_sigma
        hs = [h for h in HORIZONS if len(errors[h]) >= MIN_POINTS]
        if len(hs) >= 2:
            s2 = np.array([band_sigma(errors[h]) ** 2 for h in hs])
            _, b = _line_fit(np.array(hs, float), s2, np.array([len(errors[h]) for h in hs], float))
            walk = math.sqrt(max(b, 0.0))
        elif len(changes) >= MIN_POINTS:
            # Year-to-year changes hold two years' noise and one step of the walk.
            walk = math.sqrt(max(change_sigma**2 - 2 * year**2, 0.0))
        else:
            notes.append("output walk: too few consecutive release years; built-in kept")
        v = v.replace(year_sigma=year, walk_sigma=walk, level_sigma=year / math.sqrt(3))
    else:
        notes.append("output volatility: too few programmes with release and stock figures; built-in kept")
    funnel = base.funnel
    share_sd = base.share_between_sd, base.share_within_sd
    if len(shares) >= 3:
        mean = np.mean(shares, axis=0)
        funnel = tuple(float(x) for x in mean / mean.sum())  # type: ignore[assignment]
        # The cancelled share and the cleared share of what is left, each a normal: programmes
        # differ by ``between`` around the pool, a programme's years by ``within`` around its own.
        groups = [np.array([_two_shares(x) for x in g]) for g in share_groups if g]
        if len(groups) >= 3 and sum(g.shape[0] >= 2 for g in groups) >= 2:
            within = [g - g.mean(axis=0) for g in groups if g.shape[0] >= 2]
            w = np.vstack(within)
            within_sd = np.array([max(band_sigma(w[:, i]), 0.02) for i in range(2)])
            means = np.array([g.mean(axis=0) for g in groups])
            sampling = within_sd**2 * float(np.mean([1 / g.shape[0] for g in groups]))
            between_sd = np.sqrt(
                np.maximum(np.array([band_sigma(means[:, i]) for i in range(2)]) ** 2 - sampling, 0.05**2)
            )
            share_sd = tuple(float(x) for x in between_sd), tuple(float(x) for x in within_sd)
        else:
            notes.append("release share spreads: too few programmes with two years by method; built-in kept")
    else:
        notes.append("release shares: fewer than 3 years by method; built-in shares kept")
    return base.replace(
        volatility=v,
        output_change_sigma=change_sigma,
        revision_strength=strength,
        drift_strength=drift_strength,
        revision_size_slope=revision_slope,
        revision_reference_km2=revision_ref,
        trend_mean=trend_mean,
        trend_sd=trend_sd,
        funnel=funnel,
        share_between_sd=share_sd[0],
        share_within_sd=share_sd[1],
        release_ratio_mean=ratio_mean,
        release_ratio_between_sd=ratio_between,
        release_ratio_within_sd=ratio_within,
        countries=tuple(sorted(p.country or p.name for p in programmes)),
        counts=counts,
        notes=tuple(notes),
    )


def _two_shares(x: np.ndarray) -> tuple[float, float]:
    """(cancelled share, cleared share of what was not cancelled) of one year's shares."""
    rest = float(x[1] + x[2])
    return float(x[0]), (float(x[2]) / rest if rest > 0 else 1.0)


def _output_errors(out: Mapping[int, float], changes: list[float], errors: dict[int, list[float]]) -> None:
    years = sorted(y for y, v in out.items() if v > 0)
    for y0, y1 in pairwise(years):
        if y1 == y0 + 1:
            changes.append(math.log(out[y1]) - math.log(out[y0]))
    for i, y in enumerate(years):
        before = years[: i + 1]
        if len(before) < 2:
            continue
        level = robust_level(before, [out[x] for x in before], 0.0, y)
        for h in HORIZONS:
            if y + h in out and out[y + h] > 0:
                errors[h].append(math.log(out[y + h]) - math.log(level))


def _line_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted least squares ``y ≈ a + b·x`` with ``a, b ≥ 0``."""
    if x.size == 1:
        return float(y[0]), 0.0
    sw = w.sum()
    xm, ym = (w * x).sum() / sw, (w * y).sum() / sw
    sxx = (w * (x - xm) ** 2).sum()
    b = float((w * (x - xm) * (y - ym)).sum() / sxx) if sxx > 0 else 0.0
    if b < 0:
        return float(ym), 0.0
    a = ym - b * xm
    if a < 0:
        return 0.0, float((w * x * y).sum() / (w * x * x).sum())
    return float(a), b


def _beta_strength(by_country: list[tuple[int, float]], rate: float) -> float:
    """Beta-binomial prior strength (in years) from how much event rates differ between countries.

    Method of moments: the spread of the countries' rates beyond what their numbers of years
    explain is the spread of the true rates, ``rate(1 − rate)/(n0 + 1)``.
    """
    data = [(k, n) for k, n in by_country if n >= 2]
    if len(data) < 3:
        return 5.0
    n = np.array([x for _, x in data])
    r = np.array([k / x for k, x in data])
    observed = float(np.average((r - rate) ** 2, weights=n))
    expected = rate * (1 - rate) * float(np.average(1 / n, weights=n))
    between = observed - expected
    if between <= 0:
        return 50.0
    return float(np.clip(rate * (1 - rate) / between - 1, 1.0, 50.0))
