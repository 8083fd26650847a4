"""Commands of this area (see app/cli/__init__.py): `guichet run`, `guichet feedback export`."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

logger = logging.getLogger(__name__)


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


FEEDBACK_FIELDS = (
    "ts",
    "value",
    "reaction",
    "sender",
    "room_id",
    "answer_event_id",
    "status",
    "mode",
    "question",
    "answer",
    "sources",
)


def feedback_lines(rows: list[dict], fmt: str) -> str:
    """The export text of feedback rows (CSV with a header, or one JSON object a line)."""
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FEEDBACK_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        flat = dict(row)
        flat["sources"] = " | ".join(
            f"[{s.get('n')}] {s.get('title')} <{s.get('url')}>" for s in row.get("sources", [])
        )
        writer.writerow(flat)
    return out.getvalue()


async def _export(data_dir: Path) -> list[dict]:
    from app.wiring import STATE_FILE
    from bot.state import State

    path = data_dir / STATE_FILE
    if not path.exists():
        raise FileNotFoundError(path)
    state = await State.open(path)
    try:
        return await state.feedback_rows()
    finally:
        await state.close()


def register(
    *, app: typer.Typer, kb_app: typer.Typer, eval_app: typer.Typer, feedback_app: typer.Typer
) -> None:
    """Add this area's commands to the `guichet` app."""

    @app.command("run")
    def run(
        log_level: Annotated[
            str | None,
            typer.Option(help="Log level (DEBUG, INFO, WARNING); default GUICHET_LOG_LEVEL"),
        ] = None,
    ) -> None:
        """Run the bot (settings from GUICHET_* environment variables and .env)."""
        from pydantic import ValidationError

        from app.settings import warn_unknown_variables
        from app.wiring import run_bot
        from bot.errors import BotError
        from knowledge.errors import KnowledgeError
        from ops.errors import OpsError
        from ops.logs import secrets_of, setup_logging

        try:
            from bot.settings import BotSettings
            from chains.settings import ChainSettings
            from knowledge.settings import KnowledgeSettings

            settings = BotSettings()
            knowledge_settings, chain_settings = KnowledgeSettings(), ChainSettings()
            setup_logging(
                log_level or settings.log_level,
                json=settings.log_json,
                secrets=secrets_of(settings, knowledge_settings, chain_settings),
            )
            warn_unknown_variables()
            asyncio.run(run_bot(settings, knowledge_settings, chain_settings))
        except ValidationError as exc:
            typer.echo(f"guichet run: invalid settings:\n{exc}", err=True)
            raise typer.Exit(2) from exc
        except (BotError, OpsError, KnowledgeError) as exc:
            typer.echo(f"guichet run: {exc}", err=True)
            raise typer.Exit(2) from exc

    @feedback_app.command("export")
    def export(
        fmt: Annotated[
            ExportFormat, typer.Option("--format", help="csv or jsonl")
        ] = ExportFormat.csv,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="File (default stdout)")
        ] = None,
        data_dir: Annotated[
            Path | None,
            typer.Option("--data-dir", help="The bot's data directory (default GUICHET_DATA_DIR)"),
        ] = None,
    ) -> None:
        """Export the 👍/👎 feedback with its question, answer and sources."""
        from bot.settings import BotSettings

        directory = data_dir or BotSettings().data_dir
        try:
            rows = asyncio.run(_export(Path(directory)))
        except FileNotFoundError as exc:
            typer.echo(
                f"no bot state at {exc.args[0]}: has the bot run with this data dir?", err=True
            )
            raise typer.Exit(2) from exc
        text = feedback_lines(rows, fmt.value)
        if output:
            output.write_text(text, encoding="utf-8")
            typer.echo(f"{len(rows)} feedback rows written to {output}", err=True)
        else:
            sys.stdout.write(text)
