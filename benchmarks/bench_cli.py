"""Start-up time of the command line: ``demine --help`` and light commands next to bare Python.

Each command runs ``--repeat`` times in a fresh process (after one unmeasured run, so Python's
bytecode cache is written as it would be for a user); the table gives the median wall time
and, for comparison, ``python -c "import typer, rich"`` (what any Typer + Rich tool pays before
its own code). The target for ``--help``, ``--version`` and the light commands is 0.3 s; the
light commands include ``summary`` and ``hazards list`` on a small demo register (built first,
in a temporary folder). Heavy commands (``import --help`` declares its file formats and fields,
so it loads the importer) are shown for information.

Run: ``.venv/bin/python benchmarks/bench_cli.py`` (writes benchmarks/results/cli.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "cli.json"
TARGET_S = 0.3
BARE = ("python -c 'import typer, rich'", [sys.executable, "-c", "import typer, rich"])
DEMINE = [sys.executable, "-m", "demine"]
LIGHT = [
    ["--help"],
    ["--version"],
    ["import-reasons"],
    ["check", "--rules"],
    ["forecast", "--help"],
    ["report", "--help"],
    ["hazards", "--help"],
    ["summary", "--db", "{db}"],
    ["hazards", "list", "--db", "{db}"],
]
HEAVY = [["import", "--help"], ["plan", "--help"]]
# PYTHONDONTWRITEBYTECODE (set in some containers) would make every run compile demine afresh.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _time(cmd: list[str], repeat: int) -> dict[str, float]:
    subprocess.run(cmd, check=True, capture_output=True, env=ENV)
    walls = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=ENV)
        walls.append(time.perf_counter() - started)
    return {"median_s": statistics.median(walls), "best_s": min(walls)}


def main(argv: list[str] | None = None) -> int:
    """Time each command and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        db = str(Path(folder) / "demo.gpkg")
        demo = ["demo", "--hazards", "200", "--seed", "1", "--as-of", "2026-06-30", "--db", db]
        subprocess.run([*DEMINE, *demo], check=True, capture_output=True, env=ENV)
        load_before = os.getloadavg()
        rows = [{"command": BARE[0], "light": True, **_time(BARE[1], args.repeat)}]
        for light, commands in ((True, LIGHT), (False, HEAVY)):
            for extra in commands:
                shown = " ".join("DB" if a == "{db}" else a for a in extra)
                argv = [db if a == "{db}" else a for a in extra]
                rows.append(
                    {
                        "command": f"demine {shown}",
                        "light": light,
                        **_time([*DEMINE, *argv], args.repeat),
                    }
                )
    bare = rows[0]["median_s"]
    for row in rows:
        row["over_bare_s"] = row["median_s"] - bare
    worst_light = max(r["median_s"] for r in rows[1:] if r["light"])
    result = {
        "benchmark": "demine start-up",
        "repeat": args.repeat,
        "target_seconds": TARGET_S,
        "commands": rows,
        "worst_light_median_s": worst_light,
        "meets_target": worst_light <= TARGET_S,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    width = max(len(r["command"]) for r in rows)
    for r in rows:
        print(f"{r['command']:<{width}}  median {r['median_s']:.3f} s  best {r['best_s']:.3f} s")
    print(f"worst light command: {worst_light:.3f} s (target {TARGET_S} s); load {load_before[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
