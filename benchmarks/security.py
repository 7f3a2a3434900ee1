"""Security figures for ``docs/reliability.md``: large bodies, a login flood, personal data by role.

Run ``python benchmarks/security.py [--hazards 300] [--flood-seconds 10]`` (``make reliability``
runs it). It builds a small demo programme in a temporary folder, adds one user per role with an
API token, serves it with ``demine serve`` on loopback and measures:

* **a 30 MB body**: an anonymous 30 MB ``POST /auth/login`` and an authenticated 30 MB
  ``POST /api/hazards`` (status, and seconds to the answer), while a second client polls
  ``/health`` (its slowest answer);
* **a login flood**: the p50 of an IM officer's authorised ``PATCH`` (a hazard's name, with
  If-Match) idle, then while 24 anonymous loops post made-up logins from the same machine;
* **personal data by role**: every role × (list, read one, history, submission read) × personal
  field (victims' names and birth dates, accident descriptions), counting checks and leaks;
* **schemathesis on the write paths** (``--fuzz-examples`` per operation), every change sent to
  a real record with its current ETag: cases, and server errors among them.

Writes ``benchmarks/results/security.json`` and the block between ``<!-- security:begin -->`` and
``<!-- security:end -->`` in ``docs/reliability.md``. Figures depend on the machine: the load
average is printed beside them. SQLite only (the same checks run as tests on both stores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from bench_api import start_server

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "security.json"
DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- security:begin -->", "<!-- security:end -->"
ROLES = {
    "admin": ("admin", None),
    "im": ("im_officer", None),
    "mgr": ("operator_manager", "HDT"),
    "op": ("operator", "HDT"),
    "qa": ("qa_officer", None),
    "viewer": ("viewer", None),
}
SECRET_NAME, SECRET_BIRTH, SECRET_STORY = "Zarina Secretname", "1971-07-07", "Zarina Secretname lost a foot"


def prepare(folder: Path, hazards: int) -> tuple[Path, dict[str, str]]:
    from demine.accounts.tokens import issue_token
    from demine.accounts.users import add_user
    from demine.storage.database import open_database

    db = folder / "security.gpkg"
    subprocess.run(
        [sys.executable, "-m", "demine", "demo", "--hazards", str(hazards), "--seed", "3", "--db", str(db)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    engine = open_database(db)
    tokens = {}
    with engine.begin() as conn:
        for name, (role, org) in ROLES.items():
            user = add_user(conn, f"sec_{name}", role, org, "a long password 1", actor="bench")
            tokens[name] = issue_token(conn, user, name="bench").token
    engine.dispose()
    return db, tokens


def client(url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=120)


class HealthPoller(threading.Thread):
    """Polls /health until stopped; keeps the slowest answer."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.worst, self.count = url, threading.Event(), 0.0, 0

    def run(self) -> None:
        with httpx.Client(timeout=120) as c:
            while not self.stop.is_set():
                t = time.perf_counter()
                c.get(f"{self.url}/health")
                self.worst = max(self.worst, time.perf_counter() - t)
                self.count += 1
                time.sleep(0.05)


def large_bodies(url: str, tokens: dict[str, str]) -> list[dict]:
    body = b'{"code": "' + b"x" * (30 * 1024 * 1024) + b'"}'
    out = []
    for label, path, token in (
        ("anonymous POST /auth/login", "/auth/login", None),
        ("IM officer POST /api/hazards", "/api/hazards", tokens["im"]),
    ):
        poller = HealthPoller(url)
        poller.start()
        with client(url, token) as c:
            t = time.perf_counter()
            try:
                status = c.post(path, content=body, headers={"Content-Type": "application/json"}).status_code
            except httpx.TransportError:  # the server may close while the client still sends
                status = "closed"
            seconds = time.perf_counter() - t
        time.sleep(0.3)
        poller.stop.set()
        poller.join()
        out.append({"request": label, "status": status, "seconds": seconds, "health_worst_s": poller.worst})
    return out


def _patch_times(url: str, token: str, hazard_id: int, n: int) -> list[float]:
    times = []
    with client(url, token) as c:
        for i in range(n):
            etag = c.get(f"/api/hazards/{hazard_id}").headers["etag"]
            t = time.perf_counter()
            r = c.patch(
                f"/api/hazards/{hazard_id}", json={"name": f"flood check {i}"}, headers={"If-Match": etag}
            )
            times.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text[:200]
    return times


FLOODER = """
import asyncio, json, sys, time
import httpx

async def main(url, seconds, loops):
    answers = {}
    async def loop(k):
        async with httpx.AsyncClient(base_url=url, timeout=120) as c:
            i = 0
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                r = await c.post("/auth/login", json={"username": f"made-up-{k}-{i}", "password": "guess"})
                answers[r.status_code] = answers.get(r.status_code, 0) + 1
                i += 1
    await asyncio.gather(*(loop(k) for k in range(loops)))
    print(json.dumps(answers))

asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3])))
"""


def login_flood(url: str, tokens: dict[str, str], seconds: float, loops: int = 24) -> dict:
    with client(url, tokens["im"]) as c:
        hazard_id = c.get("/api/hazards", params={"limit": 1}).json()["features"][0]["id"]
    idle = _patch_times(url, tokens["im"], hazard_id, 30)
    # The flood runs in a process of its own: in this one its threads would hold the GIL and
    # slow the measuring client, not the server.
    flooder = subprocess.Popen(
        [sys.executable, "-c", FLOODER, url, str(seconds + 2), str(loops)], stdout=subprocess.PIPE, text=True
    )
    time.sleep(1.0)
    flooded: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        flooded += _patch_times(url, tokens["im"], hazard_id, 5)
    out, _ = flooder.communicate(timeout=seconds + 60)
    answers = json.loads(out.strip().splitlines()[-1])
    return {
        "loops": loops,
        "idle_p50_ms": statistics.median(idle) * 1000,
        "flood_p50_ms": statistics.median(flooded) * 1000,
        "ratio": statistics.median(flooded) / statistics.median(idle),
        "writes_during_flood": len(flooded),
        "login_answers": {str(k): v for k, v in sorted(answers.items())},
    }


def personal_data_matrix(url: str, tokens: dict[str, str]) -> dict:
    accident = {
        "code": "SEC-ACC-1",
        "occurred_on": "2025-02-01",
        "accident_kind": "demining",
        "description": SECRET_STORY,
        "victims": [
            {
                "status": "injured",
                "sex": "female",
                "age_band": "18_59",
                "full_name": SECRET_NAME,
                "birth_date": SECRET_BIRTH,
            }
        ],
    }
    with client(url, tokens["op"]) as c:
        sub = c.post(
            "/api/submissions", json={"kind": "accident", "payload": accident | {"code": "SEC-ACC-2"}}
        )
        assert sub.status_code == 201, sub.text[:300]
        submission_id = sub.json()["id"]
    with client(url, tokens["im"]) as c:
        made = c.post("/api/accidents", json=accident)
        assert made.status_code == 201, made.text[:300]
        accident_id = made.json()["id"]
        victims = c.get("/api/victims", params={"parent": accident_id}).json()["items"]
    paths = {
        "accident list": "/api/accidents?limit=10000",
        "accident record": f"/api/accidents/{accident_id}",
        "accident history": f"/api/accidents/{accident_id}/history",
        "accident page": f"/records/accidents/{accident_id}",
        "victim list": f"/api/victims?parent={accident_id}",
        "victim record": f"/api/victims/{victims[0]['id']}",
        "victim history": f"/api/victims/{victims[0]['id']}/history",
        "submission": f"/api/submissions/{submission_id}",
        "submission list": "/api/submissions?kind=accident",
        "accident export (OGC)": "/ogc/collections/accidents/items?limit=10000",
    }
    secrets = {"victim name": SECRET_NAME, "birth date": SECRET_BIRTH, "description": SECRET_STORY}
    from demine.accounts.roles import PERSONAL_DATA_ROLES

    checks = leaks = 0
    rows = []
    for name, (role, _) in ROLES.items():
        allowed = role in PERSONAL_DATA_ROLES
        with client(url, tokens[name]) as c:
            cookie = None
            for what, path in paths.items():
                if path.startswith("/records/"):
                    if cookie is None:  # pages need a session: the role's own login
                        login = httpx.post(
                            f"{url}/auth/login",
                            json={"username": f"sec_{name}", "password": "a long password 1"},
                        )
                        cookie = login.cookies
                    r = httpx.get(f"{url}{path}", cookies=cookie, timeout=120)
                else:
                    r = c.get(path)
                for label, secret in secrets.items():
                    checks += 1
                    seen = r.status_code == 200 and secret in r.text
                    if seen and not allowed:
                        leaks += 1
                        rows.append({"role": role, "where": what, "field": label})
    return {"checks": checks, "leaks": leaks, "leaked": rows, "roles": len(ROLES), "places": len(paths)}


def etag_fuzz(url: str, token: str, examples: int, folder: Path) -> dict:
    """Schemathesis over every PATCH/PUT/DELETE, each sent to a real record with its ETag."""
    import re
    import shutil

    hooks = ROOT / "tests" / "api" / "schemathesis_hooks.py"
    tally = folder / "tally.txt"
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    cmd = [
        exe, "run", f"{url}/openapi.json", "--checks", "not_a_server_error",
        "--header", f"Authorization: Bearer {token}", "--max-examples", str(examples),
        "--seed", "20261203", "--phases", "examples,fuzzing", "--generation-database", "none",
        "--generation-with-security-parameters", "false", "--workers", "2", "--no-color",
        "--request-timeout", "120",
        "--include-method", "PATCH", "--include-method", "PUT", "--include-method", "DELETE",
        # A changed password, a revoked token or a logout would end the fuzzer's own session.
        "--exclude-path", "/api/users/{username}",
        "--exclude-path", "/auth/tokens/{token_id}",
        "--exclude-path", "/auth/logout",
    ]  # fmt: skip
    env = os.environ | {
        "SCHEMATHESIS_HOOKS": str(hooks),
        "DEMINE_FUZZ_URL": url,
        "DEMINE_FUZZ_TOKEN": token,
        "DEMINE_FUZZ_TALLY": str(tally),
    }
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=folder, timeout=3600)
    found = re.search(r"(\d+) generated", proc.stdout)
    answers = [line.split() for line in tally.read_text().splitlines()] if tally.exists() else []
    statuses: dict[str, int] = {}
    for _, _, status in answers:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "cases": int(found.group(1)) if found else 0,
        "with_etag": len(answers),
        "server_errors": sum(int(s) >= 500 for _, _, s in answers),
        "passed": proc.returncode == 0,
        "statuses": dict(sorted(statuses.items())),
        "seconds": time.perf_counter() - started,
        "tail": proc.stdout[-1500:] if proc.returncode else "",
    }


def markdown(data: dict) -> str:
    lines = [BEGIN, "", "## Security checks (`benchmarks/security.py`)", ""]
    lines.append(
        f"Measured {data['when']} on a demo of {data['hazards']} hazards, SQLite, one server "
        f"process; load average before: {data['load']}."
    )
    lines += [
        "",
        "### Large bodies",
        "",
        "| request | answer | seconds | slowest /health meanwhile (s) |",
        "|---|---|---:|---:|",
    ]
    for b in data["bodies"]:
        lines.append(
            f"| 30 MB {b['request']} | {b['status']} | {b['seconds']:.2f} | {b['health_worst_s']:.3f} |"
        )
    f = data["flood"]
    lines += [
        "",
        "### Login flood (24 anonymous loops of made-up user names)",
        "",
        "| authorised PATCH | p50 (ms) |",
        "|---|---:|",
        f"| idle | {f['idle_p50_ms']:.1f} |",
        f"| during the flood | {f['flood_p50_ms']:.1f} |",
        "",
        f"Ratio {f['ratio']:.2f} (target ≤ 2); {f['writes_during_flood']} writes during the flood; "
        f"login answers {f['login_answers']} (401 checked, 429 limited before any hash).",
    ]
    m = data["matrix"]
    lines += [
        "",
        "### Personal data by role",
        "",
        f"{m['roles']} roles × {m['places']} places (lists, records, history, the record page, "
        "submissions, OGC) × 3 personal fields (a victim's name and birth date, an accident's "
        f"description): **{m['checks']} checks, {m['leaks']} leaks** to roles without "
        "personal-data access.",
    ]
    z = data["fuzz"]
    lines += [
        "",
        "### Schemathesis on the write paths, with current ETags",
        "",
        "Every generated PATCH, PUT and DELETE is sent to a real record with its current `If-Match` "
        "(`tests/api/schemathesis_hooks.py`), so edits reach validation and storage instead of stopping "
        "at 404 or 428.",
        "",
        f"**{z['cases']:,} cases generated, {z['with_etag']:,} sent with a current ETag, "
        f"{z['server_errors']} server errors**; schemathesis {'passed' if z['passed'] else 'FAILED'} "
        f"in {z['seconds']:.0f} s. Answers to the ETag cases: {z['statuses']}.",
        "",
        "A shorter run of the same is in `make test` on both stores "
        "(`tests/api/test_schemathesis.py::test_no_server_errors_on_real_records_with_their_etags`).",
        "",
        END,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hazards", type=int, default=300)
    parser.add_argument("--flood-seconds", type=float, default=10.0)
    parser.add_argument("--fuzz-examples", type=int, default=100, help="schemathesis examples per operation")
    args = parser.parse_args(argv)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory() as folder:
        db, tokens = prepare(Path(folder), args.hazards)
        process, url = start_server(db, 1)
        try:
            data = {
                "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "hazards": args.hazards,
                "load": load,
                "bodies": large_bodies(url, tokens),
                "flood": login_flood(url, tokens, args.flood_seconds),
                "matrix": personal_data_matrix(url, tokens),
                "fuzz": etag_fuzz(url, tokens["admin"], args.fuzz_examples, Path(folder)),
            }
        finally:
            process.terminate()
            process.wait(timeout=30)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2, default=str) + "\n")
    text = DOC.read_text()
    block = markdown(data)
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        marker = "## Reproduce"
        text = text.replace(marker, block + "\n\n" + marker) if marker in text else text + "\n" + block + "\n"
    DOC.write_text(text)
    print(block)
    ok = data["matrix"]["leaks"] == 0 and data["fuzz"]["passed"] and data["flood"]["ratio"] <= 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
