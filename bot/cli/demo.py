"""Commands of this area (see bot/cli/__init__.py)."""

from __future__ import annotations

import typer


def register(
    *, app: typer.Typer, kb_app: typer.Typer, eval_app: typer.Typer, feedback_app: typer.Typer
) -> None:
    """Add this area's commands to the `guichet` app."""
