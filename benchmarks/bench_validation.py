"""The forecast's out-of-sample validation (issue 14), run by ``make bench``.

Runs ``demine validate``: leave-one-country-out backtests over ``data/national-series``, which
rewrites ``docs/forecast-validation.md`` (with its plot and figures), refits the pooled priors
(``src/demine/planning/pooled_priors.json``) and refreshes the README's validation table. At
``BENCH_SIZE=small`` it runs 200 trials into ``benchmarks/results/`` and touches nothing else.
Targets: pooled 80 % band covering 70–90 % of later stocks; median |P50 error| ≤ 0.7 × the
naive "stock ÷ rate" line's. Writes ``benchmarks/results/validation.json``.

Run: ``.venv/bin/python benchmarks/bench_validation.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"


def main() -> int:
    small = os.environ.get("BENCH_SIZE") == "small"
    RESULTS.mkdir(exist_ok=True)
    demine = str(Path(sys.executable).with_name("demine"))
    args = [demine, "validate", "--json"]
    if small:
        args += ["--trials", "200", "--no-fit", "--out", str(RESULTS / "validation-small.md")]
        args += ["--readme", str(RESULTS / "no-readme.md")]
    started = time.perf_counter()
    run = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode not in (0, 1):
        print(run.stdout, run.stderr, file=sys.stderr)
        return run.returncode
    summary = json.loads(run.stdout)
    summary["seconds"] = round(seconds, 1)
    summary["trials"] = 200 if small else 1000
    (RESULTS / "validation.json").write_text(json.dumps(summary, indent=2) + "\n")
    cov, ratio = summary["coverage"]["80"], summary["error_ratio"]
    print(
        f"validation: {summary['countries']} countries, {summary['stock_points']} later stocks; "
        f"P10–P90 holds {cov:.0%} (target 70–90 %), P50 error {ratio:.2f} × naive (target ≤ 0.7); "
        f"{seconds:.0f} s"
    )
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
