"""Commands of this area (see app/cli/__init__.py): `guichet demo`, `guichet chat`."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_DEMO_DIR = Path(".guichet/demo")


def _log_to_file(path: Path, level: str) -> None:
    """The terminal is the conversation: our logs (and nio's warnings) go to a file."""
    from ops.logs import setup_logging

    path.parent.mkdir(parents=True, exist_ok=True)
    setup_logging(level, json=False, stream=open(path, "a", encoding="utf-8"))  # noqa: SIM115


def demo(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Where Synapse, the bot, the store and logs live")
    ] = DEFAULT_DEMO_DIR,
    reply_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for each answer before moving on")
    ] = 120.0,
    log_level: Annotated[str, typer.Option(help="Level of <data-dir>/demo.log")] = "INFO",
) -> None:
    """Everything on 127.0.0.1: a local Synapse, the bot, the sample corpus, and a terminal
    chat with the bot in an encrypted DM. Ctrl-C or /quit stops it all; reruns are faster."""
    from devtools.demo import DemoError, run_demo

    _log_to_file(data_dir / "demo.log", log_level)
    try:
        code = run_demo(data_dir, reply_timeout_s=reply_timeout)
    except DemoError as exc:
        typer.secho(f"guichet demo: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    raise typer.Exit(code)


def chat(
    demo_dir: Annotated[
        Path,
        typer.Option(
            help="Read the homeserver and the demo agent's login from <demo-dir>/demo.json "
            "(when --homeserver is not given)"
        ),
    ] = DEFAULT_DEMO_DIR,
    homeserver: Annotated[str | None, typer.Option(help="Homeserver base URL")] = None,
    user: Annotated[str | None, typer.Option(help="Your Matrix ID")] = None,
    password: Annotated[
        str | None,
        typer.Option(envvar="GUICHET_CHAT_PASSWORD", help="Your password (first login only)"),
    ] = None,
    bot: Annotated[str | None, typer.Option(help="The bot's Matrix ID")] = None,
    store_dir: Annotated[
        Path | None,
        typer.Option(help="This client's encryption store (default <demo-dir>/chat-cli)"),
    ] = None,
    reply_timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer")] = 120.0,
    log_level: Annotated[str, typer.Option(help="Level of <store-dir>/chat.log")] = "INFO",
) -> None:
    """Talk to the bot from the terminal, in an encrypted DM (lines from stdin; /quit exits).

    Without options it joins the running `guichet demo` as its demo agent."""
    from devtools.chat import ChatConfig, ChatError, run_chat
    from devtools.demo import DemoCredentials, DemoError, DemoPaths, chat_config

    try:
        if homeserver is None:
            paths = DemoPaths(demo_dir.resolve())
            config = chat_config(
                paths, DemoCredentials.load(paths.credentials), reply_timeout_s=reply_timeout
            )
            # Not the demo's own chat store: `guichet demo` may be using it right now, and two
            # processes must never share one device's encryption store.
            config.store_dir = store_dir or paths.root / "chat-cli"
        else:
            if not user or not bot:
                raise typer.BadParameter("--homeserver needs --user and --bot too")
            config = ChatConfig(
                homeserver_url=homeserver,
                user_id=user,
                bot_user_id=bot,
                store_dir=store_dir or Path(".guichet/chat") / user.lstrip("@").replace(":", "_"),
                password=password,
                reply_timeout_s=reply_timeout,
            )
        _log_to_file(config.store_dir / "chat.log", log_level)
        code = asyncio.run(run_chat(config))
    except (ChatError, DemoError) as exc:
        typer.secho(f"guichet chat: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        logging.getLogger(__name__).info("chat interrupted")
        raise typer.Exit(130) from None
    raise typer.Exit(code)


def register(
    *, app: typer.Typer, kb_app: typer.Typer, eval_app: typer.Typer, feedback_app: typer.Typer
) -> None:
    """Add this area's commands to the `guichet` app."""
    app.command("demo")(demo)
    app.command("chat")(chat)
