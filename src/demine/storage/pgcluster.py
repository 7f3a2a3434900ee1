"""A throwaway local PostgreSQL + PostGIS cluster, for the test suite and the benchmarks.

``initdb`` into a temporary directory, ``pg_ctl start`` on a free loopback port with trust
authentication, ``pg_ctl stop`` at the end. initdb refuses to run as root, so when we are root
the cluster runs as the ``postgres`` OS user (``runuser -u postgres --``). The binaries come from
Debian's ``postgresql-15`` and ``postgresql-15-postgis-3``; ``scripts/ensure-postgres``
installs them when missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from demine.domain.errors import DemineError

PG_BIN = Path(os.environ.get("DEMINE_PG_BIN", "/usr/lib/postgresql/15/bin"))
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
ENSURE_SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "ensure-postgres"

# Durability is pointless for a throwaway cluster; these make table creation and commits fast.
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "128MB",
    "listen_addresses": "'127.0.0.1'",
}

# PostgreSQL's defaults (fsync, synchronous commit) with a little more shared memory.
DURABLE_SETTINGS = {"listen_addresses": "'127.0.0.1'", "shared_buffers": "256MB", "max_connections": "200"}


def ensure_binaries() -> Path:
    """The PostgreSQL bin directory, installing PostgreSQL 15 + PostGIS 3 first when missing."""
    if (PG_BIN / "initdb").exists() and POSTGIS_CONTROL.exists():
        return PG_BIN
    if not ENSURE_SCRIPT.exists():
        raise DemineError(
            "PostgreSQL 15 + PostGIS 3 are not installed: "
            "apt-get install -y postgresql-15 postgresql-15-postgis-3"
        )
    done = subprocess.run([str(ENSURE_SCRIPT)], capture_output=True, text=True)
    if done.returncode != 0:
        raise DemineError(f"cannot install PostgreSQL + PostGIS: {done.stderr.strip()}")
    return PG_BIN


def free_port() -> int:
    """A TCP port on the loopback interface nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One running throwaway cluster; ``url(name)`` is a SQLAlchemy URL for one of its databases."""

    def __init__(self, base: Path | None = None, fast: bool = True) -> None:
        # fast: no fsync (tests); durable (fast=False) for benchmarks that compare commit costs.
        self.fast = fast
        self.bin = ensure_binaries()
        self.root = Path(tempfile.mkdtemp(prefix="demine-pg-", dir=base))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.started = False

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise DemineError(f"{' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done

    def start(self) -> Cluster:
        """initdb and start the server (returns self)."""
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
            os.chmod(self.root, 0o755)
            # The temporary directories above ours must be traversable by the postgres user.
            for parent in self.root.parents:
                if parent == Path("/"):
                    break
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o011)
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--no-sync", "--locale=C.UTF-8",
        )  # fmt: skip
        settings = FAST_SETTINGS if self.fast else DURABLE_SETTINGS
        options = " ".join(f"-c {k}={v}" for k, v in settings.items())
        options += f" -p {self.port} -k {self.root}"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        self.started = True
        return self

    def stop(self) -> None:
        """Stop the server and remove its files."""
        if self.started:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL for ``database`` on this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, *statements: str, database: str = "postgres") -> None:
        """Run statements outside a transaction (CREATE/DROP DATABASE cannot run in one)."""
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname={database}", autocommit=True
        ) as conn:
            for sql in statements:
                conn.execute(sql)

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database (as a copy of ``template`` when given); its URL."""
        clause = f' TEMPLATE "{template}"' if template else ""
        self.admin(f'CREATE DATABASE "{name}"{clause}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever still uses it."""
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
