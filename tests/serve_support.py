"""Starting and stopping a real ``demine serve`` for tests: a free loopback port, wait for health.

Shared by the API, web and reliability tests. The server's output goes to a temporary file,
not a pipe: nobody reads it while tests run, and a full pipe would stall the server mid-request.
Its last lines are in the error when the server exits early or never answers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

DEMINE = [sys.executable, "-m", "demine"]


def free_port() -> int:
    """A TCP port nobody listens on at the moment, on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    db: Path | str, *extra: str, env: dict[str, str] | None = None, timeout: float = 60, poll: float = 0.1
) -> tuple[subprocess.Popen, str]:
    """``demine serve --db db *extra`` on a free loopback port; returns the process and its URL."""
    port = free_port()
    cmd = [*DEMINE, "serve", "--db", str(db), "--host", "127.0.0.1", "--port", str(port)]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [*cmd, "--log-level", "warning", *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ | (env or {}),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"demine serve exited: {log.read().decode(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(poll)
    process.kill()
    process.wait()
    raise RuntimeError(f"demine serve did not answer within {timeout:.0f} s")


def stop_server(process: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate the server (a clean shutdown), killing it if it does not stop in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
