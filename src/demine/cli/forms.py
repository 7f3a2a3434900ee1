"""Placeholder for the `forms` commands (being written); replaced by the real module."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
