"""knowledge.dila on real DILA files: the vendored sample (2020, schema 3.3; 2025, schema 3.4)
and the bad-input fixtures of tests/fixtures/dila/."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from knowledge.dila import fiche_hash, merge, merge_all, parse_fiche
from knowledge.errors import KnowledgeError, ParseError
from knowledge.paths import sample_corpus_dir, sample_questions_path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dila"
SAMPLE = sample_corpus_dir()


def load(rel: str):
    return parse_fiche((SAMPLE / rel).read_bytes(), rel)


def paragraphs(fiche) -> list[str]:
    return [p for s in fiche.sections for p in s.paragraphs]


def section(fiche, *path: str):
    found = [s for s in fiche.sections if s.path == path]
    assert found, f"no section {path} in {fiche.id}: {[s.path for s in fiche.sections]}"
    return [p for s in found for p in s.paragraphs]


# --------------------------------------------------------------------------- metadata


def test_metadata_of_a_2020_fiche():
    f = load("vdd-2020/particuliers/F1342.xml")
    assert f.id == "F1342"
    assert f.kind == "F"
    assert f.type == "Fiche d'information conditionnée"
    assert f.title == "Carte d'identité d'un mineur : première demande"
    assert f.description.startswith("Pour faire la carte d'identité d'un enfant mineur")
    assert f.audiences == ("Particuliers",)
    assert f.theme == "Papiers - Citoyenneté"
    assert f.breadcrumb == (
        "Accueil particuliers",
        "Papiers - Citoyenneté",
        "Carte d'identité",
        "Carte d'identité d'un mineur : première demande",
    )
    assert f.dossier == "Carte d'identité"
    assert f.date == dt.date(2020, 7, 21)
    assert f.date_important is None
    assert f.schema == "3.3"
    assert f.url == "https://www.service-public.fr/particuliers/vosdroits/F1342"
    refs = {r.url: r.title for r in f.references}
    assert refs["https://www.legifrance.gouv.fr/loda/article_lc/LEGIARTI000034729485"].startswith(
        "Décret n°55-1397 du 22 octobre 1955"
    )
    # dc:source URLs are kept even when no Reference block names them
    assert "http://www.senat.fr/questions/base/2018/qSEQ180706028.html" in refs
    related = {q.target_id: q.title for q in f.related}
    assert related["F11601"] == "Est-on obligé d'avoir une carte d'identité ?"
    assert [(s.target_id, s.title) for s in f.see_also] == [
        ("F1359", "Autorisation de sortie du territoire (AST)")
    ]
    pre = [s for s in f.services if s.title == "Pré-demande de carte d'identité"]
    assert pre
    assert pre[0].kind == "Téléservice"
    assert pre[0].url.startswith("https://passeport.ants.gouv.fr/")
    assert len(f.content_hash) == 64


def test_schema_34_dates_url_and_audiences():
    f = load("vdd-2025/particuliers/F2300.xml")
    assert f.schema == "3.4"
    assert f.date == dt.date(2025, 6, 13)
    assert f.date_important == dt.date(2024, 11, 1)
    assert f.audiences == ("Particuliers", "Professionnels")
    assert f.url == "https://www.service-public.gouv.fr/particuliers/vosdroits/F2300"
    pro = load("vdd-2025/professionnels/F23548.xml")
    assert pro.url == "https://entreprendre.service-public.gouv.fr/vosdroits/F23548"
    assert pro.date_important == dt.date(2025, 2, 18)


def test_url_rule_when_spurl_is_missing():
    data = (SAMPLE / "vdd-2020/professionnels/F22354.xml").read_bytes()
    assert b"spUrl" not in data
    f = parse_fiche(data, "F22354.xml")
    assert f.audiences == ("Professionnels",)
    assert f.url == "https://entreprendre.service-public.gouv.fr/vosdroits/F22354"
    # the same rule for the other portals, on a real fiche with its spUrl taken out
    raw = (SAMPLE / "vdd-2020/associations/F1119.xml").read_bytes()
    sp_url = b'spUrl="https://www.service-public.fr/associations/vosdroits/F1119"'
    stripped = raw.replace(sp_url, b"")
    assert stripped != raw
    assert (
        parse_fiche(stripped, "F1119.xml").url
        == "https://www.service-public.gouv.fr/associations/vosdroits/F1119"
    )
    raw = (SAMPLE / "vdd-2020/particuliers/F1342.xml").read_bytes()
    sp_url = b'spUrl="https://www.service-public.fr/particuliers/vosdroits/F1342"'
    stripped = raw.replace(sp_url, b"")
    assert (
        parse_fiche(stripped, "F1342.xml").url
        == "https://www.service-public.gouv.fr/particuliers/vosdroits/F1342"
    )


def test_online_services_carry_cerfa_numbers():
    f = load("vdd-2020/particuliers/F1604.xml")
    forms = [s for s in f.services if s.cerfa == "14952*02"]
    assert len(forms) == 1, "services are deduplicated by ID"
    assert forms[0].kind == "Formulaire"
    assert forms[0].title == "Vote par procuration"
    assert forms[0].url == "https://www.formulaires.service-public.fr/gf/cerfa_14952.do"
    # and the body names the form where the fiche mentions it
    assert any("Formulaire : Vote par procuration (cerfa n° 14952*02)" in p for p in paragraphs(f))


def test_resource_is_a_fiche_with_itself_as_service():
    r = load("vdd-2020/particuliers/R12675.xml")
    assert r.kind == "R"
    assert r.type == "Formulaire"
    assert r.title == "Formulaire 14952*02 : Vote par procuration"
    assert r.url == "https://www.service-public.fr/particuliers/vosdroits/R12675"
    own = r.services[0]
    assert own.title == r.title
    assert own.kind == "Formulaire"
    assert own.cerfa == "14952*02"
    assert own.url == "https://www.formulaires.service-public.fr/gf/cerfa_14952.do"
    assert ("F1604", "Vote par procuration") in [(s.target_id, s.title) for s in r.see_also]
    assert r.dossier == "Élections"
    assert r.children == ()
    tele = load("vdd-2020/associations/R1757.xml")
    assert tele.kind == "R"
    assert tele.services[0].kind == "Téléservice"
    assert (tele.services[0].url or "").startswith("https://")


def test_dossier_lists_its_child_fiches():
    n = load("vdd-2020/particuliers/N358.xml")
    assert n.kind == "N"
    assert n.type == "Dossier"
    assert [c.target_id for c in n.children][:4] == ["F1341", "F21089", "F1344", "F1759"]
    assert section(n, "Pour un mineur") == [
        "- Première demande\n- Renouvellement\n- Carte perdue\n- Carte volée"
    ]


# --------------------------------------------------------------------------- body


def test_introduction_comes_first_with_empty_path():
    f = load("vdd-2025/particuliers/F2300.xml")
    assert f.sections[0].path == ()
    assert (
        f.sections[0]
        .paragraphs[0]
        .startswith("Qu'est-ce que le salaire minimum interprofessionnel de croissance (Smic) ?")
    )


def test_situations_chapters_and_cases_become_section_paths():
    f = load("vdd-2020/particuliers/F1342.xml")
    paths = [s.path for s in f.sections]
    assert ("Demande en France", "Pièces à fournir", "L'enfant a un passeport valide") in paths
    assert (
        "À l'étranger",
        "Pièces à fournir",
        "L'enfant a un passeport périmé",
        "Passeport périmé depuis moins de 5 ans",
    ) in paths
    # which sections are cases (Situation, Cas) and which are chapters
    assert {"Demande en France", "À l'étranger", "L'enfant a un passeport valide"} <= set(f.cases)
    assert "Pièces à fournir" not in f.cases
    items = section(f, "Demande en France", "Pièces à fournir", "L'enfant a un passeport valide")
    assert items[0] == "- Passeport de l'enfant"
    assert items[1].splitlines()[:2] == [
        "- Photo d'identité de moins de 6 mois et conforme aux normes",
        "- Pièce d'identité du parent qui dépose la demande",
    ]


def test_conditions_are_dropped_and_conditioned_fragments_kept():
    raw = (SAMPLE / "vdd-2020/particuliers/F1342.xml").read_bytes()
    assert b"<FragmentConditionne>" in raw
    assert b'<estVrai var="T10010"/>' in raw
    f = parse_fiche(raw, "F1342.xml")
    assert section(f, "Demande en France")[0].startswith(
        "Pour demander la carte nationale d'identité d'un mineur, l'enfant et son responsable"
    )
    assert not any("T10010" in p or "estVrai" in p for p in paragraphs(f))


def test_tables_become_readable_rows():
    f = load("vdd-2025/particuliers/F2300.xml")
    table = section(f, "Cas général", "Quel est le montant du Smic ?", "Salarié majeur")[1]
    assert table.splitlines() == [
        "Montants du Smic :",
        "Smic horaire – Montant brut : 11,88 € ; "
        "Montant net (déduction des cotisations salariales) : 9,40 €",
        "Smic mensuel – Montant brut : 1 801,80 € ; "
        "Montant net (déduction des cotisations salariales) : 1 426,30 €",
        "Smic annuel – Montant brut : 21 621,60 € ; "
        "Montant net (déduction des cotisations salariales) : 17 115,69 €",
    ]
    # a table whose first column is not a header names every column
    rows = section(f, "Cas général", "Quel est le montant du Smic ?")[-1].splitlines()
    assert rows[0] == "Montants pris en compte dans le calcul du Smic :"
    assert rows[1] == (
        "Salaire, avantages et primes : Salaire de base ; Somme prise en compte ? : Oui"
    )


def test_a_row_glues_its_cells_without_their_full_stops():
    # F10623 (2020): "… qui liaient les ex-époux. ; Séparation de corps : …" read badly in a
    # draft, as did "… 18h30. ; Numéro vert" in an office's cell and "; ;" for an empty line
    table = (
        "<Tableau><Titre>Différences entre le divorce et la séparation de corps</Titre>"
        '<Colonne type="header"/><Colonne type="normal"/><Colonne type="normal"/>'
        '<Rangée type="header"><Cellule/><Cellule><Paragraphe>Divorce</Paragraphe></Cellule>'
        "<Cellule><Paragraphe>Séparation de corps</Paragraphe></Cellule></Rangée>"
        '<Rangée type="normal"><Cellule><Paragraphe>Devoirs liés au mariage</Paragraphe>'
        "</Cellule><Cellule><Paragraphe>Disparition de toutes les obligations qui liaient les "
        "ex-époux.</Paragraphe></Cellule><Cellule><Paragraphe>Les devoirs liés au mariage sont "
        "maintenus. Le mariage n'est pas dissout.</Paragraphe></Cellule></Rangée></Tableau>"
    )
    data = _one_paragraph("Les différences :").replace(
        b"</Texte></Publication>", f"{table}</Texte></Publication>".encode()
    )
    rows = section(parse_fiche(data, "F1.xml"))[-1].splitlines()
    assert rows[-1] == (
        "Devoirs liés au mariage – Divorce : Disparition de toutes les obligations qui liaient "
        "les ex-époux ; Séparation de corps : Les devoirs liés au mariage sont maintenus. Le "
        "mariage n'est pas dissout."
    )


def test_notes_are_prefixed():
    f = load("vdd-2020/particuliers/F1342.xml")
    texts = paragraphs(f)
    assert any(p.startswith("À savoir : si vous souhaitez que l'enfant utilise un") for p in texts)
    assert (
        "Attention : le service peut exiger que le dépôt du dossier se fasse uniquement "
        "sur rendez-vous." in texts
    )
    smic = paragraphs(load("vdd-2025/particuliers/F2300.xml"))
    assert any(p.startswith("À noter : Ces dispositions légales concernant le") for p in smic)


def test_a_warning_keeps_its_paragraphs_apart_after_its_title():
    # one line glued with " ; " was read as a single 90-word sentence by the composer
    fiche = load("vdd-2020/professionnels/N23456.xml")
    assert fiche.title == "Impôt sur le revenu d'un professionnel"  # not the warning's
    assert section(fiche, "Avertissement") == [
        "Covid-19 : mesures exceptionnelles pour accompagner les entreprises : Les entreprises "
        "et travailleurs indépendants en difficulté pendant la période de l'épidémie de "
        "coronavirus peuvent demander le report ou la remise du paiement de leurs échéances "
        "de certains impôts.",
        "L'acompte de CFE à payer au 15 juin est automatiquement reporté jusqu'au 15 décembre. "
        "Il est possible de moduler le paiement des acomptes de CVAE.",
        "Les entreprises de certains secteurs peuvent bénéficier d'une réduction de CFE.",
    ]


@pytest.mark.parametrize(
    ("rel", "sentence"),
    [
        # <MiseEnEvidence>Smic net </MiseEnEvidence>est donné <MiseEnEvidence>à titre indicatif
        ("vdd-2025/particuliers/F2300.xml", "Le montant du Smic net est donné à titre indicatif."),
        # au 1<Exposant>er</Exposant> janvier
        ("vdd-2025/particuliers/F2300.xml", "Le Smic est revalorisé chaque année au 1er janvier."),
        # encore<MiseEnEvidence> 6 mois</MiseEnEvidence> de pratique
        ("vdd-2025/particuliers/F2300.xml", "qui n'a pas encore 6 mois de pratique"),
        # auprès de votre<LienInterne ...>Caf</LienInterne>.  (space lost upstream)
        ("vdd-2020/particuliers/F1878.xml", "Renseignez-vous auprès de votre Caf."),
        # ...la retraite</LienInterne><MiseEnEvidence>et</MiseEnEvidence> que vous...
        (
            "vdd-2020/particuliers/F14860.xml",
            "l'âge minimum légal de départ à la retraite et que vous remplissez",
        ),
        # <Valeur>89 €</Valeur><LienInterne ...>si la photo est prise...
        (
            "vdd-2020/particuliers/F14929.xml",
            "Timbre fiscal : 86 € ou 89 € si la photo est prise directement au guichet",
        ),
        # <LienIntra>l'entreprise individuelle</LienIntra> (</MiseEnEvidence>EI ou <LienInterne>EIRL
        (
            "vdd-2020/professionnels/F23961.xml",
            "sous le statut de l'entreprise individuelle (EI ou EIRL).",
        ),
        # dématérialisé </LienInterne>. : no space before the full stop
        (
            "vdd-2020/particuliers/F1342.xml",
            "l'état civil du lieu de naissance est dématérialisé. Si ce n'est pas le cas",
        ),
    ],
)
def test_inline_elements_keep_words_apart_and_whole(rel, sentence):
    text = "\n".join(paragraphs(load(rel)))
    assert sentence in text


def test_every_sample_file_parses():
    files = sorted(SAMPLE.rglob("*.xml"))
    assert len(files) >= 280
    fiches = [parse_fiche(p.read_bytes(), p.name) for p in files]
    kinds = {f.kind for f in fiches}
    assert kinds == {"F", "N", "R"}
    for f in fiches:
        assert f.title, f.id
        assert f.url.startswith("https://"), f.id
        if f.kind == "F":
            assert any(s.paragraphs for s in f.sections), f"{f.id} has no body text"


def test_sample_questions_expect_fiches_of_the_sample():
    import json

    ids = {p.stem for p in SAMPLE.rglob("*.xml")}
    lines = [json.loads(x) for x in sample_questions_path().read_text().splitlines()]
    assert len(lines) >= 80
    assert all(set(q["expected"]) <= ids and q["question"] for q in lines)


# --------------------------------------------------------------------------- hashing, merge


def test_content_hash_is_stable_and_tracks_content():
    raw = (SAMPLE / "vdd-2020/particuliers/F1342.xml").read_bytes()
    a, b = parse_fiche(raw, "a"), parse_fiche(raw, "b")
    assert a.content_hash == b.content_hash == fiche_hash(a)
    free = "La carte d'identité est gratuite.".encode()
    assert free in raw
    changed = parse_fiche(raw.replace(free, b"Payante."), "c")
    assert changed.content_hash != a.content_hash
    dated = parse_fiche(raw.replace(b"modified 2020-07-21", b"modified 2020-07-22"), "d")
    assert dated.content_hash != a.content_hash


def test_shared_fiche_is_merged_into_one_with_all_audiences():
    part = load("vdd-2020/particuliers/F2300.xml")
    pro = load("vdd-2020/professionnels/F2300.xml")
    assert part.breadcrumb[0] == "Accueil particuliers"
    assert pro.breadcrumb[0] == "Accueil professionnels"
    assert part.content_hash != pro.content_hash  # breadcrumb, theme and link audiences differ
    ab, ba = merge(part, pro), merge(pro, part)
    assert ab.audiences == ba.audiences == ("Particuliers", "Professionnels")
    assert ab.content_hash == ba.content_hash == fiche_hash(ab)
    assert ab.breadcrumb == part.breadcrumb  # the Particuliers copy is the primary one
    merged = merge_all([part, load("vdd-2020/particuliers/F1342.xml"), pro])
    assert [f.id for f in merged] == ["F2300", "F1342"]
    assert merged[0].content_hash == ab.content_hash


def test_merge_keeps_the_newest_copy():
    old = load("vdd-2020/particuliers/F2300.xml")
    new = load("vdd-2025/particuliers/F2300.xml")
    assert merge(old, new).date == merge(new, old).date == dt.date(2025, 6, 13)
    with pytest.raises(ValueError, match="F1342"):
        merge(old, load("vdd-2020/particuliers/F1342.xml"))


def test_merge_does_not_touch_its_inputs():
    part = load("vdd-2020/particuliers/F2300.xml")
    before = dataclasses.replace(part)
    merge(part, load("vdd-2020/professionnels/F2300.xml"))
    assert part == before


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("malformed.xml", "malformed XML"),
        ("unknown_root.xml", "unknown root element <Annuaire>"),
        ("missing_id.xml", "has no ID"),
        ("billion_laughs.xml", "DOCTYPE/ENTITY"),
        ("doctype.xml", "DOCTYPE/ENTITY"),
        ("empty.xml", "empty file"),
    ],
)
def test_bad_input_raises_parse_error_naming_source_and_reason(name, reason):
    data = (FIXTURES / name).read_bytes()
    with pytest.raises(ParseError) as info:
        parse_fiche(data, f"zip:{name}")
    err = info.value
    assert isinstance(err, KnowledgeError)
    assert err.source == f"zip:{name}"
    assert reason in err.reason
    assert str(err).startswith(f"zip:{name}: ")


def test_entity_declaration_refused_even_when_not_at_the_start():
    # the same attack in UTF-16 is refused before lxml sees it
    data = (FIXTURES / "billion_laughs.xml").read_text().replace("UTF-8", "UTF-16")
    with pytest.raises(ParseError, match="DOCTYPE/ENTITY"):
        parse_fiche(data.encode("utf-16"), "utf16.xml")


def test_invalid_or_mismatched_id_is_refused():
    raw = (SAMPLE / "vdd-2020/particuliers/F1342.xml").read_bytes()
    with pytest.raises(ParseError, match="invalid ID"):
        parse_fiche(raw.replace(b'ID="F1342" type', b'ID="../etc" type', 1), "x.xml")
    with pytest.raises(ParseError, match="does not match root"):
        parse_fiche(raw.replace(b'ID="F1342" type', b'ID="R1342" type', 1), "y.xml")


def test_whitespace_only_and_garbage_inputs():
    with pytest.raises(ParseError, match="empty file"):
        parse_fiche(b"  \n\t ", "blank.xml")
    with pytest.raises(ParseError, match="malformed XML"):
        parse_fiche(b"PK\x03\x04 not xml at all", "zip-as-xml.xml")


def test_mutated_real_files_give_a_fiche_or_a_parse_error():
    """Truncated, renamed, emptied or corrupted real files never raise anything else."""
    import random
    import re

    from knowledge.chunking import chunk_fiche

    rng = random.Random(20201112)
    files = sorted(SAMPLE.rglob("*.xml"))
    outcomes = {"fiche": 0, "error": 0}
    reasons: list[str] = []
    for _ in range(150):
        path = rng.choice(files)
        data = path.read_bytes()
        op = rng.randrange(4)
        if op == 0:
            data = data[: rng.randrange(len(data))]
        elif op == 1:
            tag = rng.choice(sorted(set(re.findall(rb"<([A-Za-z]+)[ >/]", data))))
            data = data.replace(b"<" + tag, b"<Zz" + tag).replace(b"</" + tag, b"</Zz" + tag)
        elif op == 2:
            data = re.sub(rb'fusion(Horizontale|Verticale)="\d+"', b'fusionVerticale="x"', data)
            data = re.sub(rb"<Cellule>", b'<Cellule fusionHorizontale="99999">', data, count=1)
        else:
            i = rng.randrange(len(data))
            data = data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]
        try:
            fiche = parse_fiche(data, path.name)
        except ParseError as exc:
            reasons.append(exc.reason)
            outcomes["error"] += 1
        else:
            assert chunk_fiche(fiche)
            outcomes["fiche"] += 1
    assert outcomes["fiche"] > 0
    assert outcomes["error"] > 0
    assert all(reasons)


def _one_paragraph(inner: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Publication '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" ID="F1" type="Fiche d\'information">'
        "<dc:title>T</dc:title><Audience>Particuliers</Audience><Texte><Paragraphe>"
        f"{inner}</Paragraphe></Texte></Publication>"
    ).encode()


@pytest.mark.parametrize(
    ("inner", "expected"),
    [
        # real paragraphs of the 2020 corpus (F11166, F1360, F10332): markup cutting a word
        (
            "Le titr<Exposant/>e de séjour de l'étranger polygame lui est retiré",
            "Le titre de séjour de l'étranger polygame lui est retiré",
        ),
        (
            'et plus  couramment "c<Expression>ertificat de non-gage"</Expression>, mais',
            'et plus couramment "certificat de non-gage", mais',
        ),
        (
            "vous pouvez consulter le service V<Expression>igilance atmosphérique</Expression> :",
            "vous pouvez consulter le service Vigilance atmosphérique :",
        ),
        # while real one-letter words and hyphenated words keep their space
        ("Il y<MiseEnEvidence>a</MiseEnEvidence> un délai", "Il y a un délai"),
        ("Indiquez votre<Expression>e-mail</Expression>.", "Indiquez votre e-mail."),
    ],
)
def test_words_cut_by_markup_are_rejoined(inner, expected):
    fiche = parse_fiche(_one_paragraph(inner), "snippet.xml")
    assert fiche.sections[-1].paragraphs == (expected,)


def test_a_header_cell_spanning_rows_spans_the_header_rows_only():
    # F13213 (2020) gives its one header row's cells fusionVerticale="2": the span ran into
    # the first body row, whose cells were pushed right ("Ressources ; Montant de base ;
    # 69 309 € ou moins ; 131,95 €"); a header spanning two header rows is still joined
    header = "".join(
        f'<Cellule fusionVerticale="2"><Paragraphe>{h}</Paragraphe></Cellule>'
        for h in ("Ressources", "Montant de base")
    )
    body = "".join(
        '<Rangée type="normal">'
        f"<Cellule><Paragraphe>{a}</Paragraphe></Cellule>"
        f"<Cellule><Paragraphe>{b}</Paragraphe></Cellule></Rangée>"
        for a, b in (("69 309 € ou moins", "131,95 €"), ("Plus de 92 381 €", "32,99 €"))
    )
    table = (
        "<Tableau><Titre>Montants des allocations familiales</Titre>"
        '<Colonne type="normal"/><Colonne type="normal"/>'
        f'<Rangée type="header">{header}</Rangée>{body}</Tableau>'
    )
    data = _one_paragraph("Les montants :").replace(
        b"</Texte></Publication>", f"{table}</Texte></Publication>".encode()
    )
    rows = section(parse_fiche(data, "F1.xml"))[-1].splitlines()
    assert rows[1:] == [
        "Ressources : 69 309 € ou moins ; Montant de base : 131,95 €",
        "Ressources : Plus de 92 381 € ; Montant de base : 32,99 €",
    ]
    stacked = table.replace(
        f'<Rangée type="header">{header}</Rangée>',
        '<Rangée type="header"><Cellule fusionVerticale="2"><Paragraphe>Ressources</Paragraphe>'
        "</Cellule><Cellule><Paragraphe>Montant</Paragraphe></Cellule></Rangée>"
        '<Rangée type="header"><Cellule><Paragraphe>de base</Paragraphe></Cellule></Rangée>',
    )
    data = _one_paragraph("Les montants :").replace(
        b"</Texte></Publication>", f"{stacked}</Texte></Publication>".encode()
    )
    rows = section(parse_fiche(data, "F1.xml"))[-1].splitlines()
    assert rows[1] == "Ressources : 69 309 € ou moins ; Montant – de base : 131,95 €"
