"""No traceback for any input: the command line met with hostile arguments and files.

Hypothesis draws a command, then fills its database, file and value arguments from files a
user might give by mistake (a README, random bytes, an empty file, a directory, a file that
does not exist, a spreadsheet that is really text) and from odd strings. Each run goes
through ``demine.cli.app.main`` in this process (a subprocess per example would take minutes):
the only way out allowed is ``SystemExit`` with status 0, 1 or 2 and no traceback printed.
The register used is a copy of a small demo, checked unchanged after the commands that
must not write to it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from demine.cli.app import main

pytestmark = pytest.mark.sqlite_only

# Commands that only read the register (so its bytes must not change) and that finish in a
# moment on a tiny register; writes are exercised on files in the hostile folder.
READERS = [
    ["summary"],
    ["hazards", "list"],
    ["hazards", "show", "{value}"],
    ["history", "{value}"],
    ["check", "--severity", "{value}"],
    ["export", "{out}", "--kind", "{value}"],
    ["export", "{out}", "--kind", "hazard", "--where", "{value}"],
    ["export", "{out}", "--kind", "hazard", "--format", "{value}"],
    ["forecast", "--scenario", "{file}", "--trials", "20"],
    ["forecast", "--programme", "{file}", "--trials", "20"],
    ["backtest", "--programme", "{file}", "--at", "{value}"],
    ["report", "{value}", "{out}", "--period", "{value}"],
    ["report", "monthly", "{out}", "--period", "{value}"],
    ["prioritise", "--weights", "{file}"],
    ["traverse", "{file}"],
    ["import", "{file}", "--kind", "hazard", "--dry-run"],
    ["forms", "ingest", "{file}", "--form", "{value}"],
]
ODD = st.one_of(
    st.sampled_from(["", "-", "--", "bogus", "HA-000001", "2026-02-30", "9999999", "-1", "nan", "1,2,3"]),
    st.text(min_size=0, max_size=20).filter(lambda s: "\x00" not in s),
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    db = folder / "register.gpkg"
    subprocess.run(
        [sys.executable, "-m", "demine", "demo", "--hazards", "20", "--seed", "3", "--db", str(db)],
        check=True,
        capture_output=True,
    )
    readme = Path(__file__).resolve().parents[1] / "README.md"
    files = {
        "readme": readme,
        "random": folder / "random.bin",
        "empty": folder / "empty.gpkg",
        "directory": folder,
        "missing": folder / "missing.gpkg",
        "fake_xlsx": folder / "fake.xlsx",
        "fake_shp": folder / "fake.shp",
        "fake_csv": folder / "fake.csv",
    }
    files["random"].write_bytes(bytes(range(256)) * 4)
    files["empty"].write_bytes(b"")
    shutil.copy(readme, files["fake_xlsx"])
    files["fake_shp"].write_bytes(b"\x00\x00'\n" * 50)
    files["fake_csv"].write_text('code,"unclosed\n1,2,3,4\n\xff\n', encoding="latin-1")
    return folder, db, files


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_arguments_and_files_never_traceback(hostile, data, capsys):
    folder, db, files = hostile
    template = data.draw(st.sampled_from(READERS), label="command")
    file_choice = st.sampled_from(sorted(files)).map(lambda k: str(files[k]))
    args = []
    for part in template:
        if part == "{value}":
            args.append(data.draw(ODD, label="value"))
        elif part == "{file}":
            args.append(data.draw(file_choice, label="file"))
        elif part == "{out}":
            args.append(
                str(folder / ("out" + data.draw(st.sampled_from([".gpkg", ".csv", ".pdf", ".txt", ""]))))
            )
        else:
            args.append(part)
    # The real register most of the time, so that the hostile argument is what gets judged.
    target = data.draw(st.sampled_from([str(db)] * 8 + [str(p) for p in files.values()]), label="--db")
    before = _digest(db)
    try:
        main([*args, "--db", target])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out = capsys.readouterr()
    event(f"{template[0]} exit {code}")
    assert "Traceback" not in out.err + out.out, (args, target, out.err[-2000:])
    assert code in (0, 1, 2, 3, 4), (args, target, code, out.err[-2000:])
    assert _digest(db) == before, f"{args} changed the register"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["summary", "--db", "{readme}"], "is not a SQLite/GeoPackage database"),
        (["init", "--db", "{readme}"], "is not a SQLite/GeoPackage database"),
        (["summary", "--db", "{random}"], "is not a SQLite/GeoPackage database"),
        (["release", "HA-000001", "{latin1}", "--method", "cleared", "--date", "2026-01-01"], "not UTF-8"),
        (["forecast", "--scenario", "{latin1}"], "not UTF-8"),
        (["prioritise", "--weights", "{latin1}"], "not UTF-8"),
    ],
)
def test_the_reported_cases_are_clear_errors(hostile, args, message, capsys):
    _folder, db, files = hostile
    readme_before = _digest(files["readme"])
    values = {
        "readme": str(files["readme"]),
        "random": str(files["random"]),
        "latin1": str(files["fake_csv"]),
    }
    argv = [a.format(**values) for a in args]
    if "--db" not in argv:
        argv += ["--db", str(db)]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 3
    assert message in err and "Traceback" not in err
    assert _digest(files["readme"]) == readme_before
