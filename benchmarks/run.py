"""Run every benchmark script in turn (``make bench``), then print and write the summary table.

Each script is also runnable alone (``python benchmarks/bench_forecast.py --help``). Results
land in ``benchmarks/results/*.json``; at the end :mod:`report` (``benchmarks/report.py``)
turns them into one table — figure, value, reference, ratio, peak memory, machine load —
printed here, written to ``benchmarks/results/summary.json`` and to ``docs/performance.md``.

The full run builds 100,000-hazard programmes several times and takes 15–20 minutes on two
cores. ``BENCH_SIZE=small`` (or ``--size small``) runs every benchmark at a tenth of its size
or less, in a few minutes, for a quick look; the table says which size it shows.
``--only forecast,checks`` picks some benchmarks (the table then mixes this run's figures with
earlier ones, each dated).

The machine's load average is sampled every few seconds while each benchmark runs: on a
shared machine the figures are slower than on an idle one, and the table says by how much
the machine was busy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
ORDER = [
    "cli",
    "forecast",
    "validation",
    "store",
    "checks",
    "import",
    "prioritise",
    "workplan",
    "reports",
    "api",
    "backends",
]
OPTIONAL = {"backends"}  # written by another issue: run when present
SMALL_ARGS = {
    "store": ["--hazards", "2000"],
    "checks": ["--hazards", "10000"],
    "import": ["--features", "10000"],
    "api": ["--hazards", "2000", "--duration", "5"],
    "backends": ["--hazards", "10000", "--windows", "100"],
}


class LoadSampler:
    """The 1-minute load average, sampled every ``every`` seconds in a thread while a benchmark runs."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(self.every)

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> int:
    """Run the chosen benchmarks, then the summary; non-zero when any of them failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated names from: " + ", ".join(ORDER))
    parser.add_argument("--size", choices=("full", "small"), default=os.environ.get("BENCH_SIZE") or "full")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else ORDER
    env = os.environ | {"BENCH_SIZE": args.size}
    failed = []
    runs = {}
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for name in names:
        script = HERE / f"bench_{name}.py"
        if not script.exists():
            if name not in OPTIONAL:
                print(f"no benchmark {name!r} ({script.name} missing)", file=sys.stderr)
                failed.append(name)
            continue
        print(f"\n=== {name} ===", flush=True)
        extra = SMALL_ARGS.get(name, []) if args.size == "small" else []
        started = time.perf_counter()
        with LoadSampler() as load:
            code = subprocess.call([sys.executable, str(script), *extra], env=env)
        seconds = time.perf_counter() - started
        print(f"--- {name}: exit {code} after {seconds:.0f} s", flush=True)
        runs[name] = {
            "exit": code,
            "seconds": round(seconds, 1),
            "load_mean": round(sum(load.samples) / len(load.samples), 2) if load.samples else None,
            "load_max": round(max(load.samples), 2) if load.samples else None,
            "size": args.size,
            "finished": datetime.now(UTC).timestamp(),
        }
        if code:
            failed.append(name)
    RESULTS.mkdir(exist_ok=True)
    log = RESULTS / "run.json"
    previous = json.loads(log.read_text()).get("benchmarks", {}) if log.exists() else {}
    log.write_text(
        json.dumps(
            {
                "started": started_at,
                "finished": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "size": args.size,
                "cpus": os.cpu_count(),
                "benchmarks": previous | runs,
            },
            indent=2,
        )
        + "\n"
    )
    sys.path.insert(0, str(HERE))
    import report  # benchmarks/report.py, beside this file

    report.main(["--no-docs"] if args.no_docs else [])
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
