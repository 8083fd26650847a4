"""knowledge.chunking on real fiches of the vendored sample."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from knowledge.chunking import DEFAULT_MAX_CHARS, chunk_fiche, split_paragraph
from knowledge.dila import parse_fiche
from knowledge.models import SECTION_SEP
from knowledge.paths import sample_corpus_dir

SAMPLE = sample_corpus_dir()


def load(rel: str):
    return parse_fiche((SAMPLE / rel).read_bytes(), rel)


@pytest.fixture(scope="module")
def sample_fiches():
    return [parse_fiche(p.read_bytes(), p.name) for p in sorted(SAMPLE.rglob("*.xml"))]


def test_chunks_follow_sections_with_title_and_path_as_context():
    f = load("vdd-2020/particuliers/F1342.xml")
    chunks = chunk_fiche(f)
    by_context = {}
    for c in chunks:
        by_context.setdefault(c.context, c)
    ctx = SECTION_SEP.join(
        ("Carte d'identité d'un mineur : première demande", "Demande en France", "Pièces à fournir")
    )
    assert ctx in by_context
    pieces = by_context[ctx]
    assert pieces.section == "Demande en France › Pièces à fournir"
    # the Cas titles below the chunk's path are kept as heading lines
    assert "L'enfant a un passeport valide :\n- Passeport de l'enfant" in pieces.text
    assert pieces.id == "F1342#demande-en-france/pieces-a-fournir#0"
    assert pieces.full_text == f"{pieces.context}\n{pieces.text}"
    # France and abroad never share a chunk: each situation is split on its own
    assert not any("Demande en France" in c.text and "À l'étranger" in c.text for c in chunks), (
        "a chunk mixes two situations"
    )


def test_first_chunk_holds_the_description_and_introduction():
    f = load("vdd-2025/particuliers/F2300.xml")
    first = chunk_fiche(f)[0]
    assert first.order == 0
    assert first.section == ""
    assert first.context == f.title
    assert first.text.startswith(f.description)
    assert (
        "Qu'est-ce que le salaire minimum interprofessionnel de croissance (Smic) ?" in first.text
    )


def test_description_not_repeated_when_the_introduction_contains_it():
    f = load("vdd-2020/particuliers/F1342.xml")
    sentence = "Pour demander la carte nationale d'identité d'un mineur, l'enfant et son"
    f = replace(f, description=f"{sentence} responsable doivent se rendre en mairie.")
    first = chunk_fiche(f)[0]
    assert first.text.count(sentence) == 1


def test_a_description_the_dila_cut_mid_word_is_marked_and_loses_its_cut_word():
    # A quarter of the 2020 descriptions end mid-word ("... la décl"): their words still
    # count for search, the cut word goes, and the mark tells the composer not to quote it.
    f = load("vdd-2020/particuliers/F1342.xml")
    whole = "Une phrase entière sur la démarche."
    cut = replace(f, description=f"{whole} Puis une seconde phrase coupée au milieu d'un mo")
    first = chunk_fiche(cut)[0]
    assert first.text.startswith(f"{whole} Puis une seconde phrase coupée au milieu d'un […]")
    only_cut = replace(f, description="Si vous avez perdu tous vos papiers la décl")
    text = chunk_fiche(only_cut)[0].text
    assert text.startswith("Si vous avez perdu tous vos papiers la […]")
    assert "décl" not in text


def test_chunk_ids_are_stable_across_parses_and_unique(sample_fiches):
    raw = (SAMPLE / "vdd-2020/particuliers/F12006.xml").read_bytes()
    a = chunk_fiche(parse_fiche(raw, "one"))
    b = chunk_fiche(parse_fiche(raw, "two"))
    assert [(c.id, c.hash) for c in a] == [(c.id, c.hash) for c in b]
    assert len(a) > 10
    for f in sample_fiches:
        ids = [c.id for c in chunk_fiche(f)]
        assert len(ids) == len(set(ids)), f.id
        assert all(i.startswith(f"{f.id}#") and i.count("#") == 2 for i in ids)


def test_chunk_hash_is_sha256_of_context_and_text():
    for c in chunk_fiche(load("vdd-2020/particuliers/F1604.xml")):
        assert c.hash == hashlib.sha256(f"{c.context}\n{c.text}".encode()).hexdigest()
        assert c.fiche_id == "F1604"


@pytest.mark.parametrize("max_chars", [300, 600, DEFAULT_MAX_CHARS, 2000])
def test_chunk_text_never_exceeds_max_chars(sample_fiches, max_chars):
    total = 0
    for f in sample_fiches:
        chunks = chunk_fiche(f, max_chars=max_chars)
        assert chunks, f.id
        assert all(0 < len(c.text) <= max_chars for c in chunks), f.id
        assert [c.order for c in chunks] == list(range(len(chunks)))
        total += len(chunks)
    assert total > len(sample_fiches)


def test_smaller_max_chars_gives_more_chunks():
    f = load("vdd-2020/particuliers/F14860.xml")
    assert len(chunk_fiche(f, max_chars=500)) > len(chunk_fiche(f, max_chars=1000))
    assert len(chunk_fiche(f, max_chars=1000)) > len(chunk_fiche(f, max_chars=2000))
    with pytest.raises(ValueError, match="max_chars"):
        chunk_fiche(f, max_chars=10)


def test_no_body_text_is_lost(sample_fiches):
    # every paragraph line of the fiche appears in some chunk (split parts may be re-joined)
    for f in sample_fiches:
        if f.kind != "F":
            continue
        blob = " ".join(" ".join(c.text.split()) for c in chunk_fiche(f, max_chars=600))
        for s in f.sections:
            for p in s.paragraphs:
                for line in p.split("\n"):
                    words = line.split()
                    probe = " ".join(words[:6])
                    assert probe in blob, (f.id, probe)


def test_long_table_is_split_on_rows_with_its_title_repeated():
    f = load("vdd-2025/particuliers/F2300.xml")
    table = next(
        p
        for s in f.sections
        for p in s.paragraphs
        if p.startswith("Montants pris en compte dans le calcul du Smic :")
    )
    parts = split_paragraph(table, 250)
    assert len(parts) > 2
    for part in parts:
        assert len(part) <= 250
        assert part.startswith("Montants pris en compte dans le calcul du Smic :\n")
    rows = [r for part in parts for r in part.splitlines()[1:]]
    assert rows == table.splitlines()[1:]


def test_long_paragraph_is_split_on_sentences():
    f = load("vdd-2020/particuliers/F1342.xml")
    para = next(
        p for s in f.sections for p in s.paragraphs if p.startswith("La carte d'identité n'est")
    )
    parts = split_paragraph(para, 120)
    assert len(parts) >= 2
    assert all(len(p) <= 120 for p in parts)
    assert parts[0].endswith(".")
    assert " ".join(parts) == para


def test_resource_chunk_names_the_form_and_its_cerfa_number():
    (c,) = chunk_fiche(load("vdd-2020/particuliers/R12675.xml"))
    assert c.id == "R12675##0"
    assert c.context == "Formulaire 14952*02 : Vote par procuration"
    assert "Numéro cerfa : 14952*02 (cerfa 14952)" in c.text
    assert "Fiches liées : Vote par procuration" in c.text
    assert c.text.endswith("Lien : https://www.formulaires.service-public.fr/gf/cerfa_14952.do")
    assert "Si le formulaire ne s'affiche pas" not in c.text  # DILA boilerplate left out
    assert len(c.text) < 600
    (grise,) = chunk_fiche(load("vdd-2020/particuliers/R13567.xml"))
    assert "cerfa 13750" in grise.full_text
    assert "certificat d'immatriculation" in grise.full_text


def test_resource_chunk_respects_a_small_bound_and_keeps_the_link():
    (c,) = chunk_fiche(load("vdd-2020/particuliers/R12675.xml"), max_chars=120)
    assert len(c.text) <= 120
    assert c.text.endswith("cerfa_14952.do")


def test_dossier_chunk_lists_its_child_fiches():
    (c,) = chunk_fiche(load("vdd-2020/particuliers/N358.xml"))
    assert c.context == "Carte d'identité"
    assert "Pour un majeur : Première demande, Renouvellement, Carte perdue, Carte volée." in c.text
    assert c.text.startswith(load("vdd-2020/particuliers/N358.xml").description)
    assert "Pour demander une carte nationale d'identité, les pièces justificatives" in c.text


def test_tiny_sibling_sections_are_packed_together():
    f = load("vdd-2020/particuliers/F1342.xml")
    chunks = chunk_fiche(f)
    abroad = [c for c in chunks if c.section == "À l'étranger"]
    packed = [c for c in abroad if "Coût :\nLa carte d'identité est gratuite." in c.text]
    assert packed, [c.text[:60] for c in abroad]
    assert "Durée de validité :" in packed[0].text


def test_a_chunk_names_its_section_again_when_its_text_goes_on_after_a_case():
    # "Montant" holds the case "Pour un mineur", then a sentence for every salaried person:
    # without its section's title again, that sentence reads as the minor's case
    f = load("vdd-2020/particuliers/F2300.xml")
    chunk = next(c for c in chunk_fiche(f) if "Pour un mineur :" in c.text.splitlines())
    assert chunk.section == "Cas général › Montant"
    lines = chunk.text.splitlines()
    general = lines.index(
        "Pour vérifier si le salaire versé est au moins égal au Smic, seules certaines sommes "
        "sont prises en compte."
    )
    assert lines[general - 1] == "Montant :"
    assert lines.index("Pour un mineur :") < general
