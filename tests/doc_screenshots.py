"""The screenshots the documentation shows, kept current without rewriting them every run.

A browser test takes the picture; the file in ``docs/screenshots/`` is only rewritten when
the page looks different (more than a few pixels changed), so a test run leaves the
working tree clean when nothing visible changed, and a change to a page still shows up as
a changed PNG to look at and commit.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"

# WebGL maps and font hinting differ by a few pixels from one run to the next; a real change
# to a page moves far more than this share of them.
CHANGED_SHARE = 0.002


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def looks_the_same(old: bytes, new: bytes) -> bool:
    """Whether two PNGs show the same picture (same size, almost every pixel equal)."""
    a, b = _pixels(old), _pixels(new)
    if a.shape != b.shape:
        return False
    changed = np.any(a != b, axis=2).mean()
    return bool(changed <= CHANGED_SHARE)


def keep_screenshot(page, name: str, *, full_page: bool = False) -> Path:
    """Screenshot ``page`` into ``docs/screenshots/<name>.png`` if it looks different."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    png = page.screenshot(full_page=full_page)
    if not (path.exists() and looks_the_same(path.read_bytes(), png)):
        path.write_bytes(png)
    return path
