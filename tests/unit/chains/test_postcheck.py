from __future__ import annotations

from decimal import Decimal

import pytest

from chains.postcheck import (
    check_citations,
    check_figures,
    check_urls,
    figure_keys,
    find_figures,
    parse_number,
    postcheck,
)
from chains.prompts import SourceContext
from tests.unit.chains.memory import source_context


def _ctx(fiche: dict, n: int, n_chunks: int = 20) -> SourceContext:
    return source_context(fiche, n, n_chunks)


@pytest.fixture
def passport(fiches):
    """[1] F14929 passport (adult), [2] F14930 passport (minor), [3] F21258 timbre fiscal."""
    by_id = {f["fiche_id"]: f for f in fiches}
    return [_ctx(by_id["F14929"], 1), _ctx(by_id["F14930"], 2), _ctx(by_id["F21258"], 3)]


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1 234,56", "1234.56"),
        ("1\u202f234,56", "1234.56"),
        ("1\u00a0234", "1234"),
        ("1.234", "1234"),
        ("8,5", "8.5"),
        ("86,00", "86"),
        ("44,50", "44.5"),
        ("12.5", "12.5"),
    ],
)
def test_french_numbers(raw, value):
    assert parse_number(raw) == Decimal(value)


def test_figures_found_and_normalised():
    text = (
        "Le passeport coûte 86 € ; 44,50 euros en Guyane ; 1\u202f234,56\u00a0€ au total, "
        "soit 20 % ou 2 pour cent, à partir du 1er janvier 2021 ou du 15/03/2020, "
        "et de 1,5 million d'euros."
    )
    keys = [f.key for f in find_figures(text)]
    assert keys == [
        "amount:86",
        "amount:44.5",
        "amount:1234.56",
        "percent:20",
        "percent:2",
        "date:2021-01-01",
        "date:2020-03-15",
        "amount:1500000",
    ]
    # "25 €" and "25 euros" are the same figure; a full date also gives its day and month
    assert figure_keys(["25 euros"]) == figure_keys(["25 €"])
    assert "date:--01-01" in figure_keys(["le 1er janvier 2021"])


def test_unknown_citations_are_dropped():
    text, seen, dropped = check_citations("Coût : 86 € [1]. Voir [4]. Mixte [2, 7].", {1, 2, 3})
    assert (seen, dropped) == (4, 2)
    assert text == "Coût : 86 € [1]. Voir . Mixte [2]."


def test_markdown_link_label_is_not_a_citation():
    text, seen, dropped = check_citations("[la fiche](https://x.fr) [1]", {1})
    assert (seen, dropped) == (1, 0)
    assert text == "[la fiche](https://x.fr) [1]"


def test_urls_outside_the_sources_are_removed(passport):
    allowed_text = (
        "Fiche : https://www.service-public.fr/particuliers/vosdroits/F14929 [1]. "
        "Pré-demande : [en ligne](https://passeport.ants.gouv.fr/Vos-demarches/"
        "Faire-une-pre-demande-passeport). "
        "Arnaque : https://passeport-rapide.example.com/commande, "
        "et [ce site](http://evil.example.org/x) ; http://service-public.fr/particuliers/vosdroits/F14929/."
    )
    from chains.postcheck import allowed_urls

    text, seen, removed = check_urls(allowed_text, allowed_urls([c.source for c in passport]))
    assert (seen, removed) == (5, 2)
    assert "example.com" not in text
    assert "evil.example.org" not in text
    assert "et ce site ;" in text  # a removed Markdown link keeps its label
    assert "https://www.service-public.fr/particuliers/vosdroits/F14929" in text
    assert "(https://passeport.ants.gouv.fr/Vos-demarches/Faire-une-pre-demande-passeport)" in text
    # scheme, "www." and trailing slash do not matter
    assert "http://service-public.fr/particuliers/vosdroits/F14929/" in text


def test_figures_absent_from_sources_are_flagged():
    ref = figure_keys(["Le passeport coûte 86 €", "valable 10 ans"])
    text, seen, flagged = check_figures("Il coûte 86 euros, ou 96 € à l'étranger.", ref)
    assert seen == 2
    assert flagged == ["96 €"]
    assert text == "Il coûte 86 euros, ou 96 € (à vérifier) à l'étranger."


def test_postcheck_on_real_fiches(passport):
    draft = (
        "Pour un majeur, le passeport coûte 86 € [1] ; en Guyane 43 € [1]. "
        "Pour un mineur de 15 à 17 ans : 42 € [2]. Le timbre s'achète en ligne : "
        "https://timbres.impots.gouv.fr/pages/achat/choixTimbres.jsp [2]. "
        "Frais de dossier : 25 € [1]. Voir https://faux-passeport.example.net [5]."
    )
    result = postcheck(draft, passport)
    assert result.checks["citations_dropped"] == 1
    assert result.checks["urls_removed"] == 1
    assert result.checks["figures"] == 4
    assert result.flagged == ["25 €"]
    assert "25 € (à vérifier)" in result.text
    assert "86 € [1]" in result.text
    assert "42 € [2]" in result.text
    assert "[5]" not in result.text
    assert "example.net" not in result.text
    # cited sources first, uncited kept after them, numbers unchanged
    assert [(s.n, s.cited) for s in result.sources] == [(1, True), (2, True), (3, False)]
    assert result.checks["sources_cited"] == 2
    assert result.checks["sources_uncited"] == 1


def test_amount_from_an_uncited_source_is_flagged(passport):
    # 86 € is in the adult fiche [1] but the text cites only the minor's fiche [2]
    result = postcheck("Pour un mineur le passeport coûte 86 € [2].", passport)
    assert result.flagged == ["86 €"]


def test_no_citation_checks_against_all_sources(passport):
    result = postcheck("Le passeport coûte 86 €.", passport)
    assert result.flagged == []
    assert all(not s.cited for s in result.sources)


def test_clean_text_is_unchanged(passport):
    url = "https://www.service-public.fr/particuliers/vosdroits/F14929"
    draft = f"Le passeport coûte 86 € [1] : {url} [1]"
    result = postcheck(draft, passport)
    assert result.text == draft
    assert result.checks["citations_dropped"] == result.checks["urls_removed"] == 0
    assert result.checks["figures_flagged"] == 0


def test_percent_escapes_in_urls_are_not_figures():
    url = (
        "https://www.msa.fr/lfy/documents/11566/48471/Attestation+de+loyer+et+de+r%C3%A9sidence.pdf"
    )
    assert find_figures(f"Formulaire : {url} [1]") == []
    text, _, flagged = check_figures(f"Voir {url}", set())
    assert text == f"Voir {url}"
    assert flagged == []


def test_a_cited_source_names_the_section_its_quote_comes_from():
    from chains.models import Source, UsedChunk

    chunks = [
        UsedChunk(
            id="F1#0",
            fiche_id="F1",
            section="À l'étranger › Coût",
            text="Au consulat, le passeport coûte 96 € pour un adulte.",
            score=1.0,
        ),
        UsedChunk(
            id="F1#1",
            fiche_id="F1",
            section="En France › Coût",
            text="En mairie, le passeport d'un adulte coûte 86 € en timbre fiscal.",
            score=0.8,
        ),
    ]
    src = Source(
        n=1, fiche_id="F1", title="Passeport", url="https://x.fr/F1", section=chunks[0].section
    )
    ctx = SourceContext(src, chunks)
    quoted = postcheck(
        "En mairie, le passeport d'un adulte coûte 86 € en timbre fiscal. [1]", [ctx]
    )
    assert quoted.sources[0].section == "En France › Coût"
    # a labelled bullet is read without its label
    bullet = postcheck("- *En France* : En mairie, le passeport d'un adulte coûte 86 €. [1]", [ctx])
    assert bullet.sources[0].section == "En France › Coût"
    # a paraphrase keeps the retriever's section
    said = postcheck("Le passeport coûte 86 € en mairie pour un adulte. [1]", [ctx])
    assert said.sources[0].section == "À l'étranger › Coût"


def test_a_nested_list_keeps_its_indentation_and_renders_nested(passport):
    # the list a lead-in announces is nested under it: with its indentation collapsed to one
    # space its items rendered in Tchap as siblings of the lead-in and of the next bullet
    from bot.render import markdown_to_html

    draft = (
        "- *Pièces à fournir* :\n"
        "  - Il faut présenter les documents suivants :\n"
        "    - Photo d'identité\n"
        "    - Justificatif de domicile [1]\n"
        "  - Le passeport coûte 86 € [1]\n"
        "- Le  passeport est valable  10 ans [1]\n"
        "      un texte indenté  de six espaces"
    )
    result = postcheck(draft, passport)
    assert "    - Photo d'identité\n" in result.text
    assert "  - Le passeport coûte 86 € [1]" in result.text
    # inside a line, and before a line that is no list item, runs of spaces are cut
    assert "- Le passeport est valable 10 ans [1]\n un texte indenté de six espaces" in result.text
    html = markdown_to_html(result.text)
    assert html.count("<ul>") == 3
    assert "<pre>" not in html
    assert "<code>" not in html
