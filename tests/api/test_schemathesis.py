"""Schemathesis against the OpenAPI document: generated requests never cause a server error.

Runs the ``schemathesis`` command (its pytest plugin does not support this pytest) against a
server of its own, as an admin (who reaches every write path) and as an operator (who
reaches the submission paths), with a bounded number of examples per operation
(``DEMINE_FUZZ_EXAMPLES``, default 5; the slow variant runs 50 and adds the coverage phase).
Operations that would end the fuzzer's own session (logout, revoking tokens) are left out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from serve_support import start_server, stop_server

from .conftest import prepare_database

EXAMPLES = int(os.environ.get("DEMINE_FUZZ_EXAMPLES", "5"))


@pytest.fixture(scope="module")
def fuzz_server(demo, tmp_path_factory):
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.gpkg"
    db, tokens = prepare_database(demo.template, db)
    process, url = start_server(db)
    yield url, tokens
    stop_server(process)


HOOKS = Path(__file__).parent / "schemathesis_hooks.py"


def run_schemathesis(
    url: str,
    token: str,
    examples: int,
    report: Path,
    *filters: str,
    phases: str = "examples,fuzzing",
    hooks: Path | None = None,
) -> subprocess.CompletedProcess:
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    cmd = [
        exe, "run", f"{url}/openapi.json",
        "--checks", "not_a_server_error",
        "--header", f"Authorization: Bearer {token}",
        "--max-examples", str(examples),
        "--seed", "20261125",
        "--phases", phases,
        "--generation-database", "none",
        "--generation-with-security-parameters", "false",
        "--workers", "2",
        # A forecast on a busy CI machine may take longer than schemathesis's 10 s default:
        # slow is not a server error.
        "--request-timeout", "120",
        "--no-color",
        "--report", "junit",
        "--report-junit-path", str(report),
        "--exclude-path", "/auth/logout",
        "--exclude-path", "/auth/tokens/{token_id}",
        *filters,
    ]  # fmt: skip
    env = os.environ.copy()
    if hooks is not None:  # the file the hooks tally their answers in
        env |= {
            "SCHEMATHESIS_HOOKS": str(HOOKS),
            "DEMINE_FUZZ_URL": url,
            "DEMINE_FUZZ_TOKEN": token,
            "DEMINE_FUZZ_TALLY": str(hooks),
        }
    # Run in the report's folder: schemathesis keeps state in ./.schemathesis.
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1200, cwd=report.parent, env=env)


def _check(proc: subprocess.CompletedProcess, report: Path) -> None:
    failures = report.read_text() if report.exists() and proc.returncode else ""
    tail = proc.stdout[-3000:] + proc.stderr[-2000:] + "\n" + failures[-6000:]
    assert proc.returncode == 0, tail


def test_no_server_errors_as_admin(fuzz_server, tmp_path):
    url, tokens = fuzz_server
    report = tmp_path / "admin.xml"
    _check(run_schemathesis(url, tokens["admin"], EXAMPLES, report), report)


def test_no_server_errors_submitting_as_operator(fuzz_server, tmp_path):
    url, tokens = fuzz_server
    report = tmp_path / "op.xml"
    proc = run_schemathesis(
        url, tokens["op_hdt"], EXAMPLES * 4, report, "--include-path-regex", "^/api/submissions"
    )
    _check(proc, report)


def test_no_server_errors_on_real_records_with_their_etags(fuzz_server, tmp_path):
    # Every change goes to an existing record with its current If-Match (the hooks), so the
    # validation and storage of real edits are fuzzed, not only the 404 and 428 answers.
    url, tokens = fuzz_server
    report = tmp_path / "etag.xml"
    writes = ("--include-method", "PATCH", "--include-method", "PUT", "--include-method", "DELETE")
    # A changed password revokes the user's tokens, the fuzzer's own among them: leave users out.
    writes += ("--exclude-path", "/api/users/{username}")
    tally = tmp_path / "tally.txt"
    _check(run_schemathesis(url, tokens["admin"], EXAMPLES, report, *writes, hooks=tally), report)
    answers = [line.split() for line in tally.read_text().splitlines()]
    statuses = [int(status) for _, _, status in answers]
    # Real records reached: many changes applied, the rest refused for a reason (422, 409 ...).
    assert sum(200 <= s < 300 for s in statuses) >= 10, statuses
    assert {method for method, _, _ in answers} >= {"PATCH", "PUT", "DELETE"}
    assert not [a for a in answers if int(a[2]) >= 500]


@pytest.mark.slow
def test_no_server_errors_long_run(fuzz_server, tmp_path):
    url, tokens = fuzz_server
    # The coverage phase adds boundary and negative values of every parameter: minutes, not seconds.
    report = tmp_path / "long.xml"
    _check(run_schemathesis(url, tokens["admin"], 50, report, phases="examples,coverage,fuzzing"), report)
