"""The published validation: ``docs/forecast-validation.md``, its calibration plot and JSON figures.

:func:`write_report` turns a :class:`~demine.planning.validation.ValidationResult` into a
Markdown page (targets, coverage by nominal level and by horizon, every country, completion
dates, the pooled priors and the corpus), a PNG with the PIT histogram and coverage against the
nominal level, and a JSON file of the same figures for tests and scripts. Nothing in it depends
on the clock, so the same corpus, trials and seed write the same files.

The README shows the headline figures between ``<!-- validation:begin -->`` and
``<!-- validation:end -->``. ``demine validate`` rewrites them with the page; without running
the backtests again, ``python -m demine.planning.validation_report`` rewrites them from the
committed ``docs/forecast-validation.json`` (``--check``: only say whether they match).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from demine.planning.programme_file import Programme
from demine.planning.validation import NOMINAL, StockPoint, ValidationResult, checkpoints


def write_report(
    result: ValidationResult,
    corpus: Sequence[Programme],
    markdown: Path,
    *,
    command: str = "demine validate",
) -> dict[str, Path]:
    """Write the page, the plot (``<markdown stem>.png``) and the figures (``.json``)."""
    markdown = Path(markdown)
    markdown.parent.mkdir(parents=True, exist_ok=True)
    plot = markdown.with_suffix(".png")
    figures = markdown.with_suffix(".json")
    _plot(result, plot)
    data = figures_of(result)
    figures.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    markdown.write_text(_markdown(result, corpus, plot.name, command), encoding="utf-8")
    return {"markdown": markdown, "plot": plot, "figures": figures}


README_BEGIN = "<!-- validation:begin -->"
README_END = "<!-- validation:end -->"


def summary_table(figures: dict[str, Any]) -> str:
    """The headline figures as a Markdown table (the README shows it between its markers)."""
    s = figures["summary"]
    cov = s["coverage"]
    rows = [
        "| figure | value | target |",
        "|---|---|---|",
        f"| countries, checkpoints, later stock figures | {s['countries']}, {s['checkpoints']}, "
        f"{s['stock_points']} | |",
        f"| later stocks inside P25–P75 / P10–P90 / P5–P95 | {_pct(cov['50'])} / {_pct(cov['80'])} / "
        f"{_pct(cov['90'])} | ≈ 50 / 70–90 / ≈ 90 % |",
        '| median \\|P50 error\\| vs the naive "stock ÷ rate" line | '
        f"{_num(s['median_abs_p50_error'], '{:.0%}')} vs {_num(s['median_abs_naive_error'], '{:.0%}')} "
        f"(ratio {_num(s['error_ratio'])}) | ratio ≤ 0.7 |",
        f"| completion dates inside P10–P90 | {s['completions_inside_band']} of {s['completions']} | |",
    ]
    return "\n".join(rows) + f"\n\n({figures['trials']:,} trials per forecast, seed {figures['seed']}.)"


def update_readme(readme: Path, figures: dict[str, Any]) -> bool:
    """Put :func:`summary_table` between the README's markers; ``False`` if it has none."""
    text = readme.read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        return False
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_BEGIN}\n{summary_table(figures)}\n{README_END}{tail}", encoding="utf-8")
    return True


def readme_block(readme: Path) -> str | None:
    """What the README holds between its markers (stripped), or ``None`` if it has no markers."""
    text = readme.read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        return None
    return text.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip()


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite (or, with ``--check``, compare) the README's table from the published figures."""
    root = Path(__file__).resolve().parents[3]
    parser = argparse.ArgumentParser(
        prog="python -m demine.planning.validation_report",
        description="Write the validation table between the README's markers from the figures file.",
    )
    parser.add_argument("--figures", type=Path, default=root / "docs" / "forecast-validation.json")
    parser.add_argument("--readme", type=Path, default=root / "README.md")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the table differs")
    args = parser.parse_args(argv)
    for path in (args.figures, args.readme):
        if not path.is_file():
            print(f"error: {path} does not exist", file=sys.stderr)
            return 2
    try:
        figures = json.loads(args.figures.read_text(encoding="utf-8"))
        table = summary_table(figures).strip()
    except (ValueError, KeyError, TypeError) as exc:
        print(
            f"error: {args.figures} is not a validation figures file ({type(exc).__name__}: {exc})",
            file=sys.stderr,
        )
        return 2
    block = readme_block(args.readme)
    if block is None:
        print(f"error: {args.readme} has no {README_BEGIN} … {README_END} markers", file=sys.stderr)
        return 2
    if block == table:
        print(f"{args.readme}: the validation table matches {args.figures}")
        return 0
    if args.check:
        print(f"{args.readme}: the validation table differs from {args.figures}", file=sys.stderr)
        return 1
    update_readme(args.readme, figures)
    print(f"{args.readme}: validation table rewritten from {args.figures}")
    return 0


def figures_of(result: ValidationResult) -> dict[str, Any]:
    """The JSON-ready figures of the page."""
    return {
        "summary": result.summary(),
        "by_horizon": [
            {
                "years_ahead": h,
                "points": len(pts),
                "coverage_80": result.coverage(0.8, pts),
                "median_abs_p50_error": result.median_errors(pts)[0],
                "median_abs_naive_error": result.median_errors(pts)[1],
            }
            for h, pts in result.by_horizon()
        ],
        "countries": [
            {
                "country": c.country,
                "name": c.name,
                "checkpoints": c.checkpoints,
                "skipped": [{"at": at, "why": why} for at, why in c.skipped],
                "points": len(c.stocks),
                "coverage_80": result.coverage(0.8, c.stocks),
                "median_abs_p50_error": result.median_errors(c.stocks)[0],
                "median_abs_naive_error": result.median_errors(c.stocks)[1],
            }
            for c in result.countries
        ],
        "completions": [c.__dict__ for c in result.completions],
        "pooled": result.pooled.to_dict(),
        "trials": result.trials,
        "seed": result.seed,
    }


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def _num(x: float | None, fmt: str = "{:.2f}") -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else fmt.format(x)


def _markdown(result: ValidationResult, corpus: Sequence[Programme], plot: str, command: str) -> str:
    s = result.summary()
    t = s["targets"]
    model, naive = result.median_errors()
    ok = "**met**"
    not_ok = "**not met**"
    lines = [
        "# Forecast validation: leave one country out",
        "",
        f"Regenerate with `{command}` (it also refits `src/demine/planning/pooled_priors.json`);",
        "`make bench` runs it too. How it works: `src/demine/planning/validation.py`; the corpus of",
        "published national series and its rules: `data/national-series/README.md`.",
        "",
        "For every country of the corpus, the pooled priors (how much national output and estimates",
        "move, how much weight a programme's own figures get) are refitted on the **other** countries.",
        "Then, from every year with a stock figure and at least two later figures, the forecast is",
        "made with only the figures up to that year (`demine backtest` does the same for one file)",
        "and compared with every later stock of the same series up to five years on, and with the",
        "completion date where the country declared one. The naive method is the straight line",
        '"stock ÷ rate": the stock falls each year by the mean cleared area of the last three years.',
        "",
        f"{s['checkpoints']} checkpoints in {s['countries']} countries, {s['stock_points']} later stock "
        f"figures; {result.trials:,} trials per forecast, seed {result.seed}.",
        "",
        "## Targets (pooled, out of sample)",
        "",
        "| target | value | |",
        "|---|---|---|",
        f"| 80 % band (P10–P90) holds 70–90 % of later stocks | {_pct(s['coverage']['80'])} | "
        f"{ok if t['coverage_80_within_70_90'] else not_ok} |",
        f"| median \\|P50 error\\| ≤ 0.7 × the naive method's | {_num(model, '{:.1%}')} vs "
        f"{_num(naive, '{:.1%}')} (ratio {_num(s['error_ratio'])}) | "
        f"{ok if t['p50_error_at_most_0.7_naive'] else not_ok} |",
        "",
        "## Calibration",
        "",
        "| band | nominal | share of later stocks inside |",
        "|---|---|---|",
    ]
    for q in NOMINAL:
        lo, hi = round((1 - q) / 2 * 100), round((1 + q) / 2 * 100)
        lines.append(f"| P{lo}–P{hi} | {q:.0%} | {_pct(result.coverage(q))} |")
    lines += [
        "",
        f"![PIT histogram and coverage against nominal]({plot})",
        "",
        "Left: where each later stock fell among the trials (its PIT). A calibrated forecast gives a",
        "flat histogram; a hump in the middle means bands too wide, mass at the edges too narrow.",
        "Right: the share inside each central band against the band's nominal level.",
        "",
        "## By horizon",
        "",
        "| years ahead | later stocks | inside P10–P90 | median \\|P50 error\\| | naive |",
        "|---|---|---|---|---|",
    ]
    for h, pts in result.by_horizon():
        m, n = result.median_errors(pts)
        lines.append(
            f"| {h} | {len(pts)} | {_pct(result.coverage(0.8, pts))} | {_num(m, '{:.1%}')} | "
            f"{_num(n, '{:.1%}')} |"
        )
    lines += [
        "",
        "## By country",
        "",
        "| country | checkpoints | later stocks | inside P10–P90 | median \\|P50 error\\| | naive | not "
        "forecast |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in result.countries:
        if not c.checkpoints:
            continue
        m, n = result.median_errors(c.stocks)
        skipped = "; ".join(f"{at}: {why}" for at, why in c.skipped) or ""
        lines.append(
            f"| {c.name} ({c.country}) | {', '.join(map(str, c.checkpoints))} | {len(c.stocks)} | "
            f"{_pct(result.coverage(0.8, c.stocks))} | {_num(m, '{:.1%}')} | {_num(n, '{:.1%}')} | "
            f"{skipped} |"
        )
    none = [c.name for c in result.countries if not c.checkpoints]
    if none:
        lines += ["", f"No checkpoint (fewer than two later figures after any stock): {', '.join(none)}."]
    lines += [
        "",
        "## Completion dates",
        "",
        "Countries that declared completion after a checkpoint: the forecast's completion, in years",
        'from the checkpoint, against what happened ("–": beyond the 100-year horizon for that share).',
        "",
        "| country | from | observed | P10 | P50 | P90 | inside | naive |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in result.completions:
        lines.append(
            f"| {c.country} | {c.at} | {c.observed_years:.1f} | {_num(c.p10_years, '{:.1f}')} | "
            f"{_num(c.p50_years, '{:.1f}')} | {_num(c.p90_years, '{:.1f}')} | "
            f"{'yes' if c.inside else 'no'} | "
            f"{_num(c.naive_years, '{:.1f}')} |"
        )
    comps = result.completions
    if comps:
        lines += ["", f"{sum(c.inside for c in comps)} of {len(comps)} completion dates inside P10–P90."]
    lines += CHOICES
    lines += _pooled_section(result)
    lines += _corpus_section(corpus)
    lines += [
        "",
        "## Scenarios on the recalibrated model",
        "",
        "No series of the corpus publishes team counts for two periods, so whether the scenario",
        "machinery predicts the direction and size of a real change in capacity could not be checked",
        "on a country. What is checked (tests/planning/test_known_answers.py): on steady programmes",
        "through the default settings, adding teams of the binding stage shortens the forecast by the",
        'arithmetic amount, removing them lengthens it, and "years saved" is reported on common',
        "random numbers.",
        "",
    ]
    return "\n".join(lines)


# What was changed while looking at this page: the figures above are out of sample for the
# countries, not for these choices (36 countries cannot also hold out a model selection).
CHOICES = [
    "",
    "## Choices made while looking at this validation",
    "",
    "The priors are fitted without the country being tested, but the structure of the model was",
    "settled while reading earlier versions of this page, so the figures above are out of sample",
    "for the countries, not for these choices. In the order they were made (pooled 80 % coverage,",
    "median |P50 error| ÷ naive's, 300 trials):",
    "",
    "| change | why | 80 % band | ratio |",
    "|---|---|---|---|",
    "| revisions of the estimate as yearly events, learned from spans with published releases |"
    " estimates move 30–50 % a year | 88 % | 0.61 |",
    "| revisions scaled by the size of the stock | small stocks are revised by far larger factors |"
    " 84 % | 0.58 |",
    "| checkpoints without any release figure forecast from the pooled pace (before: skipped) |"
    " never an error where a prior can answer | 83 % | 0.76 |",
    "| a year releasing > 4× the others' median is a sweep (a revision), not capacity | issue 14 |"
    " 82 % | 0.78 |",
    "| revisions centred on no change, the drift between them from quiet spans (tried: the"
    " corpus median +12 %, and a drift from all spans: 0.77–0.87) | the median revision comes"
    " from small stocks found again larger | 79 % | 0.69 |",
    "| a year's noise on output is mean-one; release shares blended as normals | a steady"
    " programme's arithmetic | 78 % | 0.72 |",
    "| one-off additions (published in under half the years) are revisions, not a yearly rate |"
    " a 1.5 km² find once is not 1.5 km² a year | 82 % | 0.64 |",
    "",
]


def _pooled_section(result: ValidationResult) -> list[str]:
    p = result.pooled
    v = p.volatility
    c = p.counts
    rows = [
        (
            "output level (log sd)",
            f"{v.level_sigma:.2f}",
            "release ÷ stock spread of a programme's years, over √3",
        ),
        (
            "output year-to-year noise (log sd)",
            f"{v.year_sigma:.2f}",
            f"{c.get('release_ratio_years', 0)} release years",
        ),
        (
            "output walk (log sd per year)",
            f"{v.walk_sigma:.2f}",
            "built-in unless releases 2–5 years after a level",
        ),
        (
            "release ÷ stock (median)",
            f"{math.exp(p.release_ratio_mean):.1%} a year",
            f"{c.get('release_ratio_programmes', 0)} programmes; between-programme sd "
            f"{p.release_ratio_between_sd:.2f}, "
            f"within {p.release_ratio_within_sd:.2f}",
        ),
        (
            "stock revisions",
            f"{v.revision_rate:.0%} a year, ×{math.exp(v.revision_log_mean):.2f} median, log sd "
            f"{v.revision_log_sigma:.2f}",
            f"{c.get('stock_spans', 0)} spans between stock figures, {c.get('revision_events', 0)} "
            "revisions; "
            f"worth {p.revision_strength:.1f} years of a programme's own",
        ),
        (
            "revision size by stock",
            f"× (stock ÷ {p.revision_reference_km2:,.0f} km²)^−{p.revision_size_slope:.2f}",
            "smaller stocks are revised by larger factors",
        ),
        (
            "output trend",
            f"{p.trend_mean:+.1%} ± {p.trend_sd:.1%} a year",
            f"{c.get('trend_series', 0)} series",
        ),
        (
            "release shares (cancelled/reduced/cleared)",
            "/".join(f"{x:.0%}" for x in p.funnel),
            f"{c.get('release_share_years', 0)} years by method",
        ),
    ]
    out = [
        "",
        "## Pooled priors (fitted on the whole corpus; what forecasts use)",
        "",
        "| prior | value | from |",
        "|---|---|---|",
        *[f"| {a} | {b} | {x} |" for a, b, x in rows],
    ]
    if p.notes:
        out += ["", "Kept at built-in values: " + "; ".join(p.notes) + "."]
    return out


def _corpus_section(corpus: Sequence[Programme]) -> list[str]:
    out = [
        "",
        "## The corpus",
        "",
        "| country | years | stock figures | release figures | completed | references | checkpoints |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in corpus:
        years = [r.year for r in p.history]
        stocks = sum(r.remaining_m2 is not None for r in p.history)
        releases = sum(r.released_m2 is not None or r.cleared_m2 is not None for r in p.history)
        out.append(
            f"| {p.name} ({p.country}) | {min(years)}–{max(years)} | {stocks} | {releases} | "
            f"{p.completed_on or ''} | {len(p.references)} | {len(checkpoints(p))} |"
        )
    five = sum(len({r.year for r in p.history}) >= 5 for p in corpus)
    out += ["", f"{len(corpus)} countries; {five} with figures for five years or more."]
    return out


def _plot(result: ValidationResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pits = np.array([p.pit for p in result.stocks])
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    a.hist(pits, bins=10, range=(0, 1), color="#4477AA", edgecolor="white")
    if pits.size:
        a.axhline(pits.size / 10, color="#222222", linestyle="--", linewidth=1, label="calibrated")
    a.set_xlabel("PIT: share of trials below the later stock")
    a.set_ylabel("later stock figures")
    a.set_title("Where what happened fell among the trials")
    a.legend(loc="upper right")
    levels = np.linspace(0.1, 0.9, 9)
    covered = [_coverage(result.stocks, q) for q in levels]
    b.plot([0, 1], [0, 1], color="#222222", linestyle="--", linewidth=1, label="calibrated")
    b.plot(levels, covered, marker="o", color="#EE6677", label="pooled, out of sample")
    b.fill_between([0, 1], [0, 1], [0.1, 1.1], color="#CCCCCC", alpha=0.3, linewidth=0)
    b.fill_between([0, 1], [-0.1, 0.9], [0, 1], color="#CCCCCC", alpha=0.3, linewidth=0, label="±10 points")
    b.set_xlim(0, 1)
    b.set_ylim(0, 1)
    b.set_xlabel("nominal central band")
    b.set_ylabel("share of later stocks inside")
    b.set_title("Coverage against nominal")
    b.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _coverage(points: Sequence[StockPoint], q: float) -> float:
    if not points:
        return float("nan")
    lo, hi = (1 - q) / 2, (1 + q) / 2
    return float(np.mean([lo <= p.pit <= hi for p in points]))


if __name__ == "__main__":
    raise SystemExit(main())
