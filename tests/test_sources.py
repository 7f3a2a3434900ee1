"""Every default's source can be followed from the repository: docs/sources.md and the links to it.

The defaults once cited research notes that were never part of the repository; these tests keep
every citation on a page a reader has (``docs/sources.md``), every anchor that code or docs point
to on that page, and every entry of the page pointing at code that exists.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "docs" / "sources.md"
PACKAGE = ROOT / "src" / "demine"

# What citing the notes looked like: their folder, their file names, or the data model note by
# section ("data-model.md §3.1"; the generated docs/data-model.md has no numbered sections).
FORBIDDEN = re.compile(
    r"shared/reference|shared/|planning-figures|contamination-likelihood|peers-and-conventions"
    r"|data-model\.md\s*§|reference notes?\b"
)
TEXT_SUFFIXES = {".py", ".md", ".toml", ".html", ".js", ".json", ".txt", ".csv", ".cfg", ".yml", ".yaml"}
PUBLICATIONS = '## <a id="publications"></a>Publications'
LINK = re.compile(r"(?:docs/)?sources\.md#([A-Za-z0-9_-]+)")


def _scanned_files() -> list[Path]:
    files = [ROOT / "README.md"]
    for folder in ("src", "docs", "benchmarks"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in TEXT_SUFFIXES and ".egg-info" not in str(path):
                files.append(path)
    return files


def _anchors() -> set[str]:
    return set(re.findall(r'<a id="([^"]+)"></a>', SOURCES.read_text(encoding="utf-8")))


def test_no_file_cites_the_research_notes():
    offenders = []
    for path in _scanned_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if FORBIDDEN.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not offenders, "cite the public source (docs/sources.md), not the notes:\n" + "\n".join(offenders)


def test_every_anchor_pointed_to_exists():
    anchors = _anchors()
    assert len(anchors) >= 40
    missing = []
    for path in _scanned_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for anchor in LINK.findall(text):
            if anchor not in anchors:
                missing.append(f"{path.relative_to(ROOT)}: #{anchor}")
    # The page's own links (#entry) too.
    for anchor in re.findall(r"\]\(#([A-Za-z0-9_-]+)\)", SOURCES.read_text(encoding="utf-8")):
        if anchor not in anchors:
            missing.append(f"docs/sources.md: #{anchor}")
    assert not missing, "links to entries docs/sources.md does not have:\n" + "\n".join(missing)


def test_code_cites_the_page_where_it_holds_the_defaults():
    # The modules that hold default figures point their readers to the page.
    for module in (
        "synthetic/parameters.py",
        "prioritisation/weights.py",
        "workplan/config.py",
        "domain/codelists.py",
        "checks/rules.py",
    ):
        assert LINK.search((PACKAGE / module).read_text(encoding="utf-8")), module


def _entries(text: str) -> list[tuple[str, str]]:
    """(anchor, body) of every default's entry, i.e. the ``###`` sections before Publications."""
    defaults = text.split(PUBLICATIONS, 1)[0]
    parts = re.split(r'^### <a id="([^"]+)"></a>.*$', defaults, flags=re.M)
    return list(zip(parts[1::2], parts[2::2], strict=True))


def _code_names(body: str) -> list[tuple[str, str]]:
    """(file, name) pairs of the entry's **Code:** bullet: each name is checked in the file before it."""
    bullet = re.search(r"- \*\*Code:\*\*(.*?)(?=\n- \*\*|\Z)", body, flags=re.S)
    assert bullet, "entry without a **Code:** line"
    pairs, current = [], None
    for token in re.findall(r"`([^`]+)`", bullet.group(1)):
        if token.endswith(".py"):
            current = token
            pairs.append((token, ""))
        elif current is not None:
            quoted = re.match(r'"([^"]+)"', token)
            name = f'"{quoted.group(1)}"' if quoted else token.split("[", 1)[0].split(".")[-1]
            pairs.append((current, name))
    return pairs


def test_every_entry_has_value_code_and_source_and_the_code_exists():
    text = SOURCES.read_text(encoding="utf-8")
    entries = _entries(text)
    assert len(entries) >= 30
    problems = []
    for anchor, body in entries:
        for field in ("**Value:**", "**Code:**", "**Sources:**"):
            if field not in body:
                problems.append(f"#{anchor}: no {field}")
        for file, name in _code_names(body):
            path = PACKAGE / file
            if not path.is_file():
                problems.append(f"#{anchor}: src/demine/{file} does not exist")
            elif name and name not in path.read_text(encoding="utf-8"):
                problems.append(f"#{anchor}: {name} is not in src/demine/{file}")
    assert not problems, "\n".join(problems)


def test_every_publication_has_an_address_or_says_why_not_and_is_used():
    text = SOURCES.read_text(encoding="utf-8")
    head, publications = text.split(PUBLICATIONS, 1)
    sections = re.split(r'^### <a id="([^"]+)"></a>.*$', publications, flags=re.M)
    problems = []
    for anchor, body in zip(sections[1::2], sections[2::2], strict=True):
        has_address = re.search(r"https?://|\b[a-z0-9-]+\.(?:org|com|ua|co\.uk|news)\b", body)
        if not has_address and "no stable address" not in body:
            problems.append(f"#{anchor}: no address and no word on why")
        if f"(#{anchor})" not in head:
            problems.append(f"#{anchor}: no default cites it")
    assert not problems, "\n".join(problems)
