"""Rendering answers: sanitised HTML, sources, draft reminder, splitting."""

from __future__ import annotations

import json

from bot.render import markdown_to_html, render_answer, split_text
from chains.models import Answer, Source

SOURCE = Source(
    n=1,
    fiche_id="F14929",
    title="Passeport d'un majeur : première demande",
    url="https://www.service-public.fr/particuliers/vosdroits/F14929",
    section="Pièces à fournir",
    date="2020-08-26",
)


def test_html_injection_is_inert():
    html = markdown_to_html(
        '<script>alert(1)</script> <img src=x onerror="alert(1)"> [x](javascript:alert(1)) '
        "[ok](https://www.service-public.fr) <a href='data:text/html,x'>d</a> **gras**"
    )
    assert "<script" not in html
    assert "<img" not in html
    assert 'href="javascript' not in html
    assert 'href="data:' not in html
    assert '<a href="https://www.service-public.fr"' in html
    assert "<strong>gras</strong>" in html


def test_answer_has_numbered_dated_sources_and_reminder():
    answer = Answer(status="answered", text="Il faut un timbre fiscal [1].", sources=[SOURCE])
    [msg] = render_answer(answer)
    assert "1. [Passeport d'un majeur : première demande](https://www.service-public.fr/" in (
        msg.body
    )
    assert "fiche du 26/08/2020" in msg.body
    assert "Brouillon à vérifier" in msg.body
    assert '<a href="https://www.service-public.fr/particuliers/vosdroits/F14929"' in msg.html
    content = msg.content()
    assert content["format"] == "org.matrix.custom.html"
    assert content["msgtype"] == "m.text"


def test_brouillon_reminder_and_no_source_has_no_reminder():
    draft = Answer(status="answered", text="Madame, Monsieur, ...", mode="brouillon")
    assert "réponse au citoyen" in render_answer(draft)[0].body
    none = Answer(status="no_source", text="Je n'ai pas trouvé de fiche.")
    assert "Brouillon" not in render_answer(none)[0].body


def test_foreign_source_url_is_not_linked():
    bad = SOURCE.model_copy(update={"url": "javascript:alert(1)"})
    [msg] = render_answer(Answer(status="answered", text="x [1]", sources=[bad]))
    assert "javascript" not in msg.html


def test_long_answers_are_split_on_paragraphs_under_the_event_limit():
    paragraphs = [f"Paragraphe {i} " + "é" * 900 for i in range(60)]
    answer = Answer(status="answered", text="\n\n".join(paragraphs), sources=[SOURCE])
    parts = render_answer(answer, max_chars=12000)
    assert len(parts) > 4
    for part in parts:
        size = len(json.dumps(part.content(), ensure_ascii=False).encode("utf-8"))
        assert size < 48 * 1024  # room for encryption overhead under the 64 KiB limit
    assert "Brouillon à vérifier" in parts[-1].body
    assert parts[0].body.startswith("Paragraphe 0")
    assert "(1/" in parts[0].body
    joined = "".join(p.body for p in parts)
    for i in range(60):
        assert f"Paragraphe {i} " in joined


def test_split_text_cuts_huge_paragraphs_on_words():
    parts = split_text("mot " * 10000, 1000)
    assert all(len(p) <= 1000 for p in parts)
    assert sum(p.count("mot") for p in parts) == 10000
