"""How `guichet chat` shows the bot's plain-text (Markdown) bodies in a terminal."""

from __future__ import annotations

import io

from bot.routing import strip_reply_fallback
from devtools.chat import Printer, terminal_text

BODY = (
    "**Passeport d'un mineur : première demande** [1]\n"
    "_En France › Retrait du passeport_\n"
    "- Fiche : https://www.service-public.fr/particuliers/vosdroits/F14930 [1]\n"
    "\n"
    "**Sources :**\n"
    "1. [Passeport d'un mineur](https://www.service-public.fr/particuliers/vosdroits/F14930)"
    " (fiche du 01/09/2020)\n"
    "2. [https://example.gouv.fr/a_b_c](https://example.gouv.fr/a_b_c)\n"
    "*⚠️ Brouillon à vérifier.*"
)


def test_plain_output_has_readable_sources_and_no_markup():
    text = terminal_text(BODY, color=False)
    assert text.splitlines() == [
        "Passeport d'un mineur : première demande [1]",
        "En France › Retrait du passeport",
        "- Fiche : https://www.service-public.fr/particuliers/vosdroits/F14930 [1]",
        "",
        "Sources :",
        "1. Passeport d'un mineur <https://www.service-public.fr/particuliers/vosdroits/F14930>"
        " (fiche du 01/09/2020)",
        "2. https://example.gouv.fr/a_b_c",  # underscores inside a URL are not emphasis
        "⚠️ Brouillon à vérifier.",
    ]


def test_terminal_output_uses_ansi_bold_and_italic():
    text = terminal_text(BODY, color=True)
    assert "\033[1mPasseport d'un mineur : première demande\033[22m" in text
    assert "\033[3mEn France › Retrait du passeport\033[23m" in text


def test_notices_dimmed_on_a_terminal_only():
    tty = io.StringIO()
    Printer(tty, color=True).bot_message("Guichet", "Je cherche…", notice=True)
    assert tty.getvalue().startswith("\033[1;36mGuichet> \033[0m\033[2mJe cherche…\033[0m")
    pipe = io.StringIO()
    Printer(pipe).bot_message("Guichet", "Je cherche…\nsuite", notice=True)
    assert pipe.getvalue() == "Guichet> Je cherche…\n  suite\n\n"


def test_reply_fallback_removed():
    body = "> <@agent:localhost> passeport mineur\n> suite\n\nVoici la réponse"
    assert strip_reply_fallback(body) == "Voici la réponse"
    assert strip_reply_fallback("Pas de citation") == "Pas de citation"


def test_typing_status_is_transient_and_terminal_only():
    tty = io.StringIO()
    printer = Printer(tty, color=True)
    printer.status("… Guichet rédige une réponse")
    printer.bot_message("Guichet", "Réponse", notice=False)
    out = tty.getvalue()
    assert out.startswith("\r\033[K\033[2m… Guichet rédige une réponse\033[0m\r\033[K")
    assert "Réponse" in out
    pipe = io.StringIO()
    Printer(pipe).status("… Guichet rédige une réponse")
    assert pipe.getvalue() == ""
