"""Bot commands, declared once with `@REGISTRY.command(...)`; `!aide` is generated from them.

A handler takes a `CommandContext` and returns either a `Reply` (sent as a notice, never part of
the conversation memory) or an `Ask` (a question for the chain, e.g. `!brouillon <texte>`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from bot.render import sources_markdown
from chains.models import Source


@dataclass(frozen=True, slots=True)
class Reply:
    text: str  # Markdown


@dataclass(frozen=True, slots=True)
class Ask:
    text: str
    mode: Literal["question", "brouillon"]


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
        lines = [
            "**Guichet** prépare des réponses à partir des fiches service-public.fr, avec les "
            "liens des fiches utilisées.",
            "",
            "- En message direct, écrivez simplement votre question.",
            "- Dans un salon d'équipe, mentionnez-moi ou répondez à l'une de mes réponses : "
            "je réponds dans un fil, et le fil garde le contexte.",
        ]
        if brouillon_marker:
            lines.append(
                f"- Commencez un message par `{brouillon_marker}` puis collez le message d'un "
                "usager : je rédige un brouillon de réponse."
            )
        lines += ["- Réagissez 👍 ou 👎 à une réponse pour nous aider à l'améliorer.", ""]
        lines.append("**Commandes :**")
        lines.append("")
        for spec in self.specs.values():
            if spec.admin and not is_admin:
                continue
            usage = f" {spec.usage}" if spec.usage else ""
            alias = ""
            if spec.aliases:
                alias = " (" + ", ".join(f"`{prefix}{a}`" for a in spec.aliases) + ")"
            tag = " — *admin*" if spec.admin else ""
            lines.append(f"- `{prefix}{spec.name}{usage}`{alias} : {spec.help}{tag}")
        return "\n".join(lines)

    async def run(self, name: str, ctx: CommandContext) -> CommandResult:
        spec = self.lookup(name)
        if spec is None:
            text = f"Commande inconnue : `{ctx.prefix}{name}`.\n\n" + self.help_text(
                ctx.prefix, is_admin=ctx.is_admin, brouillon_marker=ctx.brouillon_marker
            )
            return Reply(text)
        if spec.admin and not ctx.is_admin:
            return Reply(f"La commande `{ctx.prefix}{spec.name}` est réservée aux administrateurs.")
        return await spec.handler(ctx)


REGISTRY = CommandRegistry()


@REGISTRY.command("aide", aliases=("help", "aide-moi"), help="affiche cette aide")
async def aide(ctx: CommandContext) -> CommandResult:
    return Reply(
        REGISTRY.help_text(ctx.prefix, is_admin=ctx.is_admin, brouillon_marker=ctx.brouillon_marker)
    )


@REGISTRY.command("reset", aliases=("oublie",), help="oublie la conversation en cours")
async def reset(ctx: CommandContext) -> CommandResult:
    await ctx.state.reset(ctx.conversation)
    return Reply("C'est noté : j'ai oublié cette conversation. Posez votre nouvelle question.")


@REGISTRY.command(
    "sources", help="les sources de la dernière réponse, avec des extraits des fiches"
)
async def sources(ctx: CommandContext) -> CommandResult:
    found = await ctx.state.last_sources(ctx.conversation)
    if not found:
        return Reply("Aucune source à afficher : pas encore de réponse dans cette conversation.")
    listing = sources_markdown(found, excerpts=True)
    return Reply("**Sources de la dernière réponse :**\n\n" + listing)


@REGISTRY.command(
    "brouillon",
    usage="<message de l'usager>",
    help="rédige un brouillon de réponse au message d'un usager",
)
async def brouillon(ctx: CommandContext) -> CommandResult:
    if not ctx.args.strip():
        return Reply(
            f"Collez le message de l'usager après la commande : `{ctx.prefix}brouillon Bonjour, "
            "je voudrais savoir…`"
        )
    return Ask(ctx.args.strip(), "brouillon")


MODES = {"question": "question", "questions": "question", "brouillon": "brouillon"}


@REGISTRY.command(
    "mode",
    usage="[question|brouillon]",
    help="affiche ou change le mode de la conversation (brouillon : chaque message est celui "
    "d'un usager)",
)
async def mode(ctx: CommandContext) -> CommandResult:
    wanted = ctx.args.strip().lower()
    if not wanted:
        current = await ctx.state.mode(ctx.conversation)
        return Reply(
            f"Mode actuel : **{current}**. Changez-le avec `{ctx.prefix}mode question` ou "
            f"`{ctx.prefix}mode brouillon`."
        )
    if wanted not in MODES:
        return Reply(f"Mode inconnu : `{wanted}`. Modes : `question`, `brouillon`.")
    await ctx.state.set_mode(ctx.conversation, MODES[wanted])
    if MODES[wanted] == "brouillon":
        return Reply("Mode **brouillon** : collez le message d'un usager, je rédige la réponse.")
    return Reply("Mode **question** : posez vos questions, je réponds avec les fiches.")


@REGISTRY.command("stats", help="statistiques d'utilisation", admin=True)
async def stats(ctx: CommandContext) -> CommandResult:
    data: dict[str, object] = dict(await ctx.state.stats())
    data.update(ctx.runtime_stats())
    lines = ["**Statistiques :**", ""] + [f"- {k} : {v}" for k, v in sorted(data.items())]
    return Reply("\n".join(lines))
