"""Run every benchmark script in turn (``make bench``); each prints its table and writes JSON.

Each script is also runnable alone (``python benchmarks/bench_forecast.py --help``). Results
land in ``benchmarks/results/*.json``. The full run builds 100,000-hazard programmes several
times and takes a while on two cores; ``--only forecast,checks`` picks some.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["forecast", "store", "checks", "import", "prioritise", "workplan", "api"]


def main() -> int:
    """Run the chosen benchmarks; non-zero when any of them failed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="comma-separated names from: " + ", ".join(ORDER))
    args = parser.parse_args()
    names = args.only.split(",") if args.only else ORDER
    failed = []
    for name in names:
        script = HERE / f"bench_{name}.py"
        if not script.exists():
            print(f"no benchmark {name!r} ({script.name} missing)", file=sys.stderr)
            failed.append(name)
            continue
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)])
        print(f"--- {name}: exit {code} after {time.perf_counter() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
