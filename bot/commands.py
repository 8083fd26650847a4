"""Bot commands, declared once with `@REGISTRY.command(...)`; `!aide` is generated from them.

A handler takes a `CommandContext` and returns either a `Reply` (sent as a notice, never part of
the conversation memory) or an `Ask` (a question for the chain, e.g. `!brouillon <texte>`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot import texts
from bot.render import sources_markdown
from chains.models import Mode, Source


@dataclass(frozen=True, slots=True)
class Reply:
    text: str  # Markdown


@dataclass(frozen=True, slots=True)
class Ask:
    text: str
    mode: Mode


CommandResult = Reply | Ask


class CommandState(Protocol):
    """What commands may read or change (implemented by `bot.state.State`)."""

    async def reset(self, conversation: str) -> int: ...

    async def last_sources(self, conversation: str) -> list[Source]: ...

    async def mode(self, conversation: str) -> str: ...

    async def set_mode(self, conversation: str, mode: str) -> None: ...

    async def stats(self) -> dict[str, int]: ...


@dataclass(slots=True)
class CommandContext:
    conversation: str
    room_id: str
    sender: str
    args: str
    is_admin: bool
    prefix: str
    brouillon_marker: str
    state: CommandState
    runtime_stats: Callable[[], dict[str, object]] = dict


Handler = Callable[[CommandContext], Awaitable[CommandResult]]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    help: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    usage: str = ""
    admin: bool = False


@dataclass
class CommandRegistry:
    specs: dict[str, CommandSpec] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)

    def command(
        self,
        name: str,
        *,
        help: str,
        aliases: tuple[str, ...] = (),
        usage: str = "",
        admin: bool = False,
    ) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            spec = CommandSpec(name, help, handler, aliases, usage, admin)
            self.specs[name] = spec
            for alias in (name, *aliases):
                if alias in self._names:
                    raise ValueError(f"command name {alias!r} declared twice")
                self._names[alias] = name
            return handler

        return decorate

    def lookup(self, name: str) -> CommandSpec | None:
        key = self._names.get(name.lower())
        return self.specs[key] if key else None

    def help_text(self, prefix: str, *, is_admin: bool, brouillon_marker: str = "") -> str:
        lines = list(texts.HELP_INTRO)
        if brouillon_marker:
            lines.append(texts.HELP_BROUILLON.format(marker=brouillon_marker))
        lines += [texts.HELP_FEEDBACK, ""]
        lines.append(texts.HELP_COMMANDS)
        lines.append("")
        for spec in self.specs.values():
            if spec.admin and not is_admin:
                continue
            usage = f" {spec.usage}" if spec.usage else ""
            alias = ""
            if spec.aliases:
                alias = " (" + ", ".join(f"`{prefix}{a}`" for a in spec.aliases) + ")"
            tag = texts.HELP_ADMIN_TAG if spec.admin else ""
            lines.append(f"- `{prefix}{spec.name}{usage}`{alias} : {spec.help}{tag}")
        return "\n".join(lines)

    async def run(self, name: str, ctx: CommandContext) -> CommandResult:
        spec = self.lookup(name)
        if spec is None:
            text = texts.UNKNOWN_COMMAND.format(prefix=ctx.prefix, name=name) + self.help_text(
                ctx.prefix, is_admin=ctx.is_admin, brouillon_marker=ctx.brouillon_marker
            )
            return Reply(text)
        if spec.admin and not ctx.is_admin:
            return Reply(texts.ADMIN_ONLY.format(prefix=ctx.prefix, name=spec.name))
        return await spec.handler(ctx)


REGISTRY = CommandRegistry()


@REGISTRY.command("aide", aliases=("help", "aide-moi"), help=texts.COMMAND_HELP["aide"])
async def aide(ctx: CommandContext) -> CommandResult:
    return Reply(
        REGISTRY.help_text(ctx.prefix, is_admin=ctx.is_admin, brouillon_marker=ctx.brouillon_marker)
    )


@REGISTRY.command("reset", aliases=("oublie",), help=texts.COMMAND_HELP["reset"])
async def reset(ctx: CommandContext) -> CommandResult:
    await ctx.state.reset(ctx.conversation)
    return Reply(texts.RESET_DONE)


@REGISTRY.command("sources", help=texts.COMMAND_HELP["sources"])
async def sources(ctx: CommandContext) -> CommandResult:
    found = await ctx.state.last_sources(ctx.conversation)
    if not found:
        return Reply(texts.NO_SOURCES)
    listing = sources_markdown(found, excerpts=True)
    return Reply(texts.LAST_SOURCES + listing)


@REGISTRY.command(
    "brouillon",
    usage=texts.COMMAND_USAGE["brouillon"],
    help=texts.COMMAND_HELP["brouillon"],
)
async def brouillon(ctx: CommandContext) -> CommandResult:
    if not ctx.args.strip():
        return Reply(texts.BROUILLON_USAGE.format(prefix=ctx.prefix))
    return Ask(ctx.args.strip(), "brouillon")


MODES = {"question": "question", "questions": "question", "brouillon": "brouillon"}


@REGISTRY.command(
    "mode",
    usage=texts.COMMAND_USAGE["mode"],
    help=texts.COMMAND_HELP["mode"],
)
async def mode(ctx: CommandContext) -> CommandResult:
    wanted = ctx.args.strip().lower()
    if not wanted:
        current = await ctx.state.mode(ctx.conversation)
        return Reply(texts.MODE_CURRENT.format(mode=current, prefix=ctx.prefix))
    if wanted not in MODES:
        return Reply(texts.MODE_UNKNOWN.format(mode=wanted))
    await ctx.state.set_mode(ctx.conversation, MODES[wanted])
    return Reply(texts.MODE_SET[MODES[wanted]])


@REGISTRY.command("stats", help=texts.COMMAND_HELP["stats"], admin=True)
async def stats(ctx: CommandContext) -> CommandResult:
    data: dict[str, object] = dict(await ctx.state.stats())
    data.update(ctx.runtime_stats())
    lines = [texts.STATS_HEADING, ""] + [f"- {k} : {v}" for k, v in sorted(data.items())]
    return Reply("\n".join(lines))
