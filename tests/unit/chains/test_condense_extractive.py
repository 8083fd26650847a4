from __future__ import annotations

import re
from dataclasses import replace

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from chains.answer import build_answer_chain
from chains.condense import condense_deterministic, looks_like_followup
from chains.extractive import (
    Picked,
    Shown,
    _answers,
    _body,
    _bullet,
    _parts,
    _unit,
    _with_antecedents,
    compose,
    fiche_units,
    kin_named,
    modal_verbs,
    pick,
    profile,
    score,
    specificity,
)
from chains.models import AnswerRequest, Source, Turn, UsedChunk
from chains.prompts import SourceContext
from chains.text import compounds, split_sentences, stem_set
from tests.unit.chains.memory import source_context

PASSPORT = [Turn(question="Quelles pièces pour un passeport d'un majeur ?", answer="…")]


@pytest.mark.parametrize(
    ("question", "followup"),
    [
        ("et pour un mineur ?", True),
        ("Et à l'étranger ?", True),
        ("combien ?", True),
        ("Mais si elle est périmée ?", True),
        ("Comment renouveler une carte d'identité périmée ?", False),
        ("Quel est le montant du Smic horaire ?", False),
        # the pronoun takes up the topic named before the comma
        ("procuration pour voter, ça se fait où ?", False),
        ("le passeport, ça coûte combien ?", False),
        ("oui, ça coûte combien ?", True),
    ],
)
def test_followup_detection(question, followup):
    assert looks_like_followup(question) is followup


def test_condense_keeps_topic_and_swaps_contrasts():
    q = condense_deterministic("et pour un mineur ?", PASSPORT)
    assert "passeport" in q.lower()
    assert "majeur" not in q.lower()
    assert q.endswith("pour un mineur")
    q = condense_deterministic("Et à l'étranger ?", PASSPORT)
    assert "passeport" in q.lower()
    assert "majeur" in q.lower()


def test_condense_leaves_standalone_questions_alone():
    q = "Comment renouveler une carte d'identité périmée ?"
    assert condense_deterministic(q, PASSPORT) == q
    assert condense_deterministic("et pour un mineur ?", []) == "et pour un mineur ?"


def test_condense_walks_back_over_followups():
    history = [*PASSPORT, Turn(question="et à l'étranger ?", answer="…")]
    q = condense_deterministic("combien ça coûte ?", history)
    assert "passeport" in q.lower()
    assert "etranger" in stem_set(q) or "étranger" in q.lower()


def test_a_pronoun_of_inversion_is_no_word_of_the_question():
    # "peut-elle" read as one word ("peut-el") was a term no fiche holds: the relevance gate
    # counted it against every fiche, the composer as something asked
    assert stem_set("une association peut-elle vendre des crêpes ?") == stem_set(
        "une association vendre des crêpes"
    )
    assert stem_set("faut-il déclarer ? y a-t-il un délai ? est-ce obligatoire ?") == stem_set(
        "déclarer délai obligatoire"
    )
    assert "rendez-vous" in stem_set("prendre rendez-vous en mairie")
    assert "auto-entrepreneur" in stem_set("un auto-entrepreneur")


def test_sentences_and_items():
    text = "Le passeport est valide 10 ans. Il doit être retiré dans les 3 mois.\n- Votre carte"
    assert split_sentences(text) == [
        "Le passeport est valide 10 ans.",
        "Il doit être retiré dans les 3 mois.",
        "- Votre carte",
    ]
    # an abbreviation before a figure or a capital ends no sentence: "(NAF rév." was quoted
    # alone, cut before its "2)"
    assert split_sentences(
        "Forme : 4 chiffres + 1 lettre (NAF rév. 2). Doit figurer sur les bulletins de paie. "
        "Loyer d'octobre 2018 à sept. 2019 : 5 €."
    ) == [
        "Forme : 4 chiffres + 1 lettre (NAF rév. 2).",
        "Doit figurer sur les bulletins de paie.",
        "Loyer d'octobre 2018 à sept. 2019 : 5 €.",
    ]
    # a numbered item keeps its number and its sentences: "1." was a piece of its own, and
    # the steps of an appeal were read as loose sentences with their lead-in dropped
    assert split_sentences(
        "Vous devez respecter les étapes suivantes :\n1. Recours préalable. Il doit être fait "
        "dans les 2 mois.\n2. Recours devant le tribunal."
    ) == [
        "Vous devez respecter les étapes suivantes :",
        "1. Recours préalable. Il doit être fait dans les 2 mois.",
        "2. Recours devant le tribunal.",
    ]


def _ctx(fiche: dict, n: int) -> SourceContext:
    return source_context(fiche, n, n_chunks=len(fiche["chunks"]))


def test_extractive_picks_the_sentences_on_the_question(fiches, settings):
    by_id = {f["fiche_id"]: f for f in fiches}
    ctxs = [_ctx(by_id["F14929"], 1)]
    text = compose("Quelle est la durée de validité du passeport ?", "question", ctxs, settings)
    assert "Le passeport est valide 10 ans. [1]" in text
    text = compose("Combien coûte le passeport ?", "question", ctxs, settings)
    assert "Le passeport coûte 86 € [1]" in text
    assert "_En France › Coût › Cas général_" in text  # the situation is shown
    # the online services of the fiche, with their links
    assert "https://passeport.ants.gouv.fr/Vos-demarches/Faire-une-pre-demande-passeport" in text


def test_extractive_brouillon_is_a_courteous_draft(fiches, settings):
    by_id = {f["fiche_id"]: f for f in fiches}
    ctxs = [_ctx(by_id["F21089"], 1)]
    text = compose(
        "Bonjour, ma carte d'identité est périmée, combien coûte le renouvellement ?",
        "brouillon",
        ctxs,
        settings,
    )
    lines = text.splitlines()
    assert lines[0].startswith("Projet de réponse composé avec les phrases des fiches")
    assert lines[2] == "Bonjour,"
    assert lines[4].startswith("Nous avons bien reçu votre message")  # no promise made
    assert lines[-1] == "Cordialement,"
    assert "gratuit" in text
    assert f"{by_id['F21089']['title']} : {by_id['F21089']['url']} [1]" in text
    assert "vous" in text.lower()
    assert "selon la fiche" not in text.lower()


def test_extractive_caps_sentences(fiches, settings):
    few = settings.model_copy(update={"extractive_max_sentences": 2})
    ctxs = [_ctx(f, i + 1) for i, f in enumerate(fiches[:3])]
    text = compose("passeport pièces à fournir", "question", ctxs, few)
    # each quoted unit (a sentence, or a whole list) ends with its citation
    units = [
        line
        for line in text.splitlines()
        if re.search(r"\[\d+\]$", line) and not line.startswith("- En ligne")
    ]
    assert 1 <= len(units) <= 2
    # the pièces are given as the fiche lists them: a list, whole
    assert any(line.startswith("- ") for line in text.splitlines())


async def test_plain_retriever_without_audience_support(fiches, settings):
    class Plain(BaseRetriever):
        def _get_relevant_documents(self, query, *, run_manager):
            f = fiches[0]
            md = {
                "fiche_id": f["fiche_id"],
                "title": f["title"],
                "url": f["url"],
                "section": "",
                "score": 1.0,
                "dense_score": 0.8,
                "lexical_score": 5.0,
                "date": f["date"],
                "audiences": f["audiences"],
                "kind": "F",
                "type": f["type"],
                "services": f["services"],
                "chunks": [
                    {"id": "x#0", "section": c["section"], "text": c["text"], "score": 1.0}
                    for c in f["chunks"][:3]
                ],
            }
            return [Document(page_content=f["chunks"][0]["text"], metadata=md)]

    chain = build_answer_chain(Plain(), None, settings)
    answer = await chain.ainvoke(
        AnswerRequest(question="passeport majeur demande", audience="Particuliers")
    )
    assert answer.status == "answered"
    assert answer.sources[0].fiche_id == "F14929"


def test_extractive_does_not_repeat_a_sentence_across_fiches(fiches, settings):
    ctxs = [_ctx(f, i + 1) for i, f in enumerate(fiches[:3])]  # 3 fiches sharing sentences
    text = compose("photo d'identité conforme aux normes", "question", ctxs, settings)
    quoted = [
        line.rsplit(" [", 1)[0]
        for line in text.splitlines()
        if line.startswith("- ") and not line.startswith(("- En ligne", "- Fiche"))
    ]
    assert quoted
    assert len(quoted) == len(set(quoted))


def test_lead_ins_and_labels_are_not_quoted(settings):
    src = Source(
        n=1,
        fiche_id="F1727",
        title="Perte du permis de conduire",
        url="https://www.service-public.fr/particuliers/vosdroits/F1727",
    )
    text = (
        "Perte du permis de conduire\n"
        "Permis de conduire perdu en France :\n"
        "Téléservice : Suivez votre demande de permis de conduire\n"
        "Si vous avez perdu votre permis de conduire, il faut faire une déclaration de perte "
        "et une demande de renouvellement."
    )
    chunk = UsedChunk(id="F1727#0", fiche_id="F1727", section="", text=text, score=1.0)
    out = compose("permis de conduire perdu", "question", [SourceContext(src, [chunk])], settings)
    # the heading line names the case the answer belongs to, it is not quoted as a sentence
    assert out.splitlines()[2] == "_Permis de conduire perdu en France_"
    assert out.splitlines()[3].startswith("Si vous avez perdu votre permis de conduire")
    assert "perdu en France :" not in out
    assert "Téléservice : Suivez" not in out
    assert "- Perte du permis de conduire [1]" not in out


def _context(
    fid: str,
    title: str,
    parts: list[tuple[str, str]],
    n: int = 1,
    request: int = -1,
    cases: frozenset[str] = frozenset(),
):
    """A source made by hand: its title and its (section, text) chunks in reading order
    (`cases`: the titles of its sections that are cases, not chapters)."""
    src = Source(
        n=n, fiche_id=fid, title=title, url=f"https://www.service-public.fr/particuliers/{fid}"
    )
    chunks = [
        UsedChunk(id=f"{fid}#{i}", fiche_id=fid, section=section, text=text, score=1.0)
        for i, (section, text) in enumerate(parts)
    ]
    return SourceContext(src, chunks, outline=chunks, request=request, cases=cases)


def _reply(opening: str, requests: list[str], contexts, settings) -> str:
    """The draft replying to a citizen's message: its opening, then its requests."""
    return compose(f"{opening} " + " ".join(requests), "brouillon", contexts, settings, requests)


def _quoted(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.search(r"\[\d+\]$", line)]


def test_a_sentence_a_second_fiche_says_in_other_words_is_not_repeated(settings):
    first = _context(
        "F24418",
        "Démission d'un membre d'une association",
        [
            (
                "",
                "Tout membre peut librement démissionner à tout moment s'il est à jour de ses "
                "cotisations et respecte les statuts. L'association prend acte de la démission.",
            )
        ],
    )
    second = _context(
        "F71",
        "Démission ou exclusion d'un membre d'une association",
        [
            (
                "",
                "Tout membre peut librement démissionner à tout moment s'il est à jour de ses "
                "cotisations (si les statuts en prévoient).",
            )
        ],
        n=2,
    )
    text = compose(
        "un membre peut-il démissionner à tout moment ?", "question", [first, second], settings
    )
    assert sum("librement démissionner" in line for line in _quoted(text)) == 1


def test_sentences_alike_but_with_other_figures_are_both_kept(settings):
    ctx = _context(
        "F1631",
        "Allocation journalière de présence parentale",
        [
            ("Montant", "Le montant quotidien est de 43,83 € pour un couple."),
            ("Montant", "Le montant quotidien est de 52,08 € pour un couple aussi."),
        ],
    )
    text = compose("AJPP montant quotidien ?", "question", [ctx], settings)
    assert "43,83 €" in text
    assert "52,08 €" in text


def test_each_part_of_a_question_asked_in_several_parts_gets_its_answer(settings):
    ctx = _context(
        "F1459",
        "Livret de famille : en cas de perte ou de vol",
        [
            (
                "",
                "Si vous avez perdu votre livret de famille, vous pouvez demander un second "
                "livret de famille. Le second livret de famille porte la mention duplicata. "
                "Le livret de famille perdu ne peut plus être utilisé.",
            ),
            ("En France", "Vous devez demander le duplicata à la mairie de votre domicile."),
            ("Coût", "La démarche est gratuite."),
        ],
    )
    text = compose(
        "livret de famille perdu, on le refait où ? c'est payant ?", "question", [ctx], settings
    )
    assert "à la mairie de votre domicile" in text
    assert "gratuite" in text


def test_a_yes_no_question_gets_the_sentence_that_says_yes_or_no_first(settings):
    ctx = _context(
        "F1412",
        "Copie certifiée conforme d'un document administratif",
        [
            (
                "",
                "Par exemple, une université étrangère peut vous demander la copie certifiée "
                "conforme d'un diplôme français de licence pour une inscription.",
            ),
            (
                "",
                "Il n'est plus obligatoire de fournir une copie certifiée conforme d'un "
                "diplôme pour une démarche auprès d'une administration française.",
            ),
        ],
    )
    text = compose(
        "une administration peut-elle exiger une copie certifiée conforme d'un diplôme ?",
        "question",
        [ctx],
        settings,
    )
    assert _quoted(text)[0].startswith("Il n'est plus obligatoire")


@pytest.mark.parametrize(
    ("title", "text", "question", "not_quoted", "quoted"),
    [
        (  # a question in the fiche's text is a heading
            "Litige avec l'administration : saisir le Défenseur des droits",
            "Qui peut saisir le Défenseur des droits ? Toute personne peut saisir le "
            "Défenseur des droits pour un litige avec une administration.",
            "qui peut saisir le défenseur des droits ?",
            "Qui peut saisir",
            "Toute personne peut saisir",
        ),
        (  # a description the DILA cut mid-word, marked by the chunker
            "Que faire si j'ai perdu tous mes papiers en même temps ?",
            "Si vous avez perdu un sac où se trouvaient tous vos papiers la […]\n"
            "Il faut commencer par remplacer votre carte d'identité ou votre passeport.",
            "perdu tous mes papiers sac",
            "[…]",
            "Il faut commencer par remplacer",
        ),
    ],
)
def test_text_that_is_no_sentence_is_never_quoted(
    settings, title, text, question, not_quoted, quoted
):
    ctx = _context("F1", title, [("", text)])
    out = compose(question, "question", [ctx], settings)
    assert not_quoted not in out
    assert quoted in out


def test_a_fiche_found_for_another_request_must_speak_of_it(settings):
    first = _context(
        "F33808",
        "Forfait mobilités durables",
        [
            (
                "",
                "Le forfait mobilités durables n'est pas obligatoire pour l'employeur. "
                "Il est d'un montant maximum de 400 € par an et par salarié.",
            )
        ],
    )
    unrelated = _context(
        "F33988",
        "L'employeur doit-il dénoncer le salarié ayant commis une infraction routière ?",
        [("", "S'il ne remplit pas cette obligation, l'employeur encourt une amende de 750 €.")],
        n=2,
        request=1,
    )
    requests = ["Le forfait vélo, je suis obligé ?", "Jusqu'à combien sans charges ?"]
    text = compose(
        "Bonjour, mes salariés veulent le forfait vélo. Je suis obligé ? Jusqu'à "
        "combien sans charges ?",
        "brouillon",
        [first, unrelated],
        settings,
        requests,
    )
    assert "400 €" in text
    assert "amende" not in text
    assert "F33988" not in text


def test_a_request_no_quoted_sentence_answers_is_left_to_the_agent_and_named(settings):
    ctx = _context(
        "F24418",
        "Démission d'un membre d'une association",
        [
            (
                "",
                "Tout membre d'une association peut librement démissionner à tout moment s'il "
                "est à jour de ses cotisations.",
            )
        ],
    )
    requests = [
        "Est-ce que la présidente peut m'empêcher de démissionner ?",
        "Et le remboursement de ma licence de randonnée, je le demande à la fédération ?",
    ]
    text = compose(
        "Je veux quitter mon association de randonnée. " + " ".join(requests),
        "brouillon",
        [ctx],
        settings,
        requests,
    )
    assert "librement démissionner" in text
    flags = [line for line in text.splitlines() if line.startswith("[À compléter par l'agent")]
    # the fiche was found and answers the first request: the flag names the other one, and
    # does not say that no fiche was found
    assert len(flags) == 1
    assert "remboursement de ma licence" in flags[0]
    assert "ne répondent pas" in flags[0]


def test_a_request_about_the_first_fiches_matter_is_not_answered_from_another_matter(settings):
    first = _context(
        "F2117",
        "Pêche en eau douce",
        [
            (
                "",
                "Vous pouvez vous procurer la carte de pêche en ligne sur le site de "
                "délivrance des cartes de pêche. Avec un petit-fils de moins de 12 ans, "
                "pêcher la truite dans une rivière est ouvert de mars à septembre.",
            )
        ],
    )
    other = _context(
        "F33805",
        "Carte d'identité perdue ou volée : comment acheter un timbre fiscal ?",
        [("", "Où acheter le timbre fiscal ? Vous pouvez l'acheter dans un bureau de tabac.")],
        n=2,
        request=1,
    )
    requests = [
        "Et la truite, c'est ouvert jusqu'à quand ?",
        "Où est-ce qu'on achète la carte de pêche et combien ça coûte ?",
    ]
    text = _reply(
        "Bonjour, je voudrais emmener mon petit-fils pêcher dans la rivière.",
        requests,
        [first, other],
        settings,
    )
    assert "carte de pêche en ligne" in text
    # the fiche found for the price shares "carte" and "acheter" with the request, but not
    # its matter, the fishing the first fiche's title names
    assert "timbre" not in text
    assert "F33805" not in text


def test_a_form_found_for_a_request_must_name_the_messages_matter(settings):
    first = _context(
        "F31498",
        "Entreprise individuelle à responsabilité limitée (EIRL)",
        [
            (
                "",
                "Le statut de l'EIRL permet de protéger vos biens personnels. Le dépôt de la "
                "déclaration d'affectation est payant (50,68 €) pour les micro-entrepreneurs.",
            )
        ],
    )
    form = _context(
        "R50189",
        "Formulaire 15807*02 : Demande de réservation de nom, de numéro en vue de "
        "l'immatriculation d'un navire neuf ou existant de commerce ou de pêche",
        [("", "Demande de réservation de nom d'un navire neuf ou existant - Formulaire")],
        n=2,
        request=0,
    )
    requests = [
        "Comment je fais, quel formulaire, et combien ça coûte vu que mon activité existe ?",
        "Un fournisseur pourra-t-il se servir sur mes biens perso ?",
    ]
    text = _reply(
        "Bonjour, je suis graphiste et je veux passer en EIRL.", requests, [first, form], settings
    )
    assert "protéger vos biens personnels" in text
    # "formulaire", "existe" and the "vu" of "vu que" / "en vue de" are all the form's
    # title shares with the message: no word of its matter
    assert "navire" not in text


def test_an_online_service_is_linked_only_when_it_speaks_of_the_question_or_the_answer(
    settings,
):
    ctx = _context(
        "F23914",
        "Prestations sociales pour les commerçants et les artisans indépendants",
        [
            (
                "Indemnités journalières maladie",
                "Les artisans bénéficient d'indemnités journalières en cas d'arrêt maladie. "
                "Le montant de l'indemnité est égal à 1/730 du revenu annuel moyen.",
            )
        ],
    )
    ctx.source.services = [
        {
            "title": "Mon compte retraite",
            "url": "https://www.info-retraite.fr/",
            "kind": "Téléservice",
        },
        {
            "title": "Simulateur des indemnités journalières",
            "url": "https://www.ameli.fr/simulateur",
            "kind": "Simulateur",
        },
        # hyphenated: it speaks of a "plainte"… which the question does not
        {
            "title": "Pré-plainte en ligne",
            "url": "https://www.pre-plainte.fr/",
            "kind": "Téléservice",
        },
    ]
    text = compose(
        "artisan en arrêt maladie, ses indemnités journalières c'est combien ?",
        "question",
        [ctx],
        settings,
    )
    assert "1/730" in text
    assert "Simulateur des indemnités journalières" in text
    # the fiche lists it, but nothing of the question or of the answer is about retirement
    assert "Mon compte retraite" not in text
    assert "Pré-plainte" not in text
    theft = compose("on m'a volé mon sac, je porte plainte où ?", "question", [ctx], settings)
    assert "Pré-plainte en ligne" in theft


@pytest.mark.parametrize(
    ("question", "quoted", "not_quoted"),
    [
        # the case of another country is the special one: a theft told with no country
        # is answered from the French case
        (
            "on m'a volé mon permis, je peux conduire en attendant le nouveau ?",
            "récépissé de déclaration de vol vous permet de conduire",
            "consulat",
        ),
        (
            "permis volé pendant un séjour à l'étranger, je peux conduire en attendant ?",
            "consulat",
            "récépissé de déclaration de vol vous permet de conduire",
        ),
        # a country named is abroad as well
        (
            "permis volé pendant les vacances au Maroc, je peux conduire en attendant ?",
            "consulat",
            "récépissé de déclaration de vol vous permet de conduire",
        ),
    ],
)
def test_a_case_in_another_country_answers_only_a_question_abroad(
    settings, question, quoted, not_quoted
):
    ctx = _context(
        "F1450",
        "Vol du permis de conduire",
        [
            (
                "Vol dans un autre pays",
                "Pour conduire en attendant le nouveau permis volé, adressez-vous au consulat.",
            ),
            (
                "Vol en France",
                "Le récépissé de déclaration de vol vous permet de conduire en attendant le "
                "nouveau permis.",
            ),
        ],
    )
    text = compose(question, "question", [ctx], settings)
    lead = _quoted(text)[0]
    assert quoted in lead
    assert not_quoted not in lead


def test_the_second_fiche_is_not_added_for_a_case_abroad_the_question_does_not_name(settings):
    first = _context(
        "F14930",
        "Passeport d'un mineur : première demande",
        [
            (
                "En France › Pièces à fournir",
                "Pour un passeport de mineur, il faut fournir :\n"
                "- Photo d'identité de moins de 6 mois\n"
                "- Pièce d'identité du parent qui fait la demande",
            )
        ],
    )
    second = _context(
        "F21090",
        "Renouvellement de la carte d'identité d'un mineur",
        [
            (
                "À l'étranger › Pièces à fournir",
                "Pour un mineur, les pièces à fournir au consulat sont :\n"
                "- Pièce d'identité du parent qui dépose la demande\n"
                "- Passeport de l'enfant",
            )
        ],
        n=2,
    )
    second.rank = 1
    text = compose(
        "renouvellement passeport mineur pièces ?", "question", [first, second], settings
    )
    assert "Photo d'identité" in text
    # the second fiche's only case that answers is abroad, which the question does not name
    assert "consulat" not in text
    asked_abroad = compose(
        "renouvellement passeport mineur à l'étranger : pièces ?",
        "question",
        [first, second],
        settings,
    )
    assert "consulat" in asked_abroad


def test_a_list_quoted_after_the_direct_answer_keeps_its_items_under_its_lead_in(settings):
    ctx = _context(
        "F998",
        "Pension alimentaire impayée : procédure de paiement direct",
        [
            (
                "",
                "La procédure de paiement direct permet d'obtenir le paiement d'une pension "
                "alimentaire impayée auprès de l'employeur du débiteur.\n"
                "Le créancier de la pension alimentaire doit fournir à l'huissier :\n"
                "- l'original du jugement fixant la pension alimentaire\n"
                "- un décompte des sommes dues",
            )
        ],
    )
    sentence, listing = fiche_units(ctx)
    lines = _body(Picked(ctx, [sentence, listing], 2.0), brouillon=False)
    lead = next(i for i, line in enumerate(lines) if "doit fournir à l'huissier" in line)
    assert lines[lead].startswith("- ")
    assert lines[lead + 1] == "  - l'original du jugement fixant la pension alimentaire"
    assert lines[lead + 2].startswith("  - un décompte des sommes dues")


def test_a_section_quoted_in_two_bullets_is_named_once_above_them(settings):
    # a sentence and a list of one case after the lead: "- *Après un délai de 6 mois* : …"
    # twice in a row read as two cases; the label is said once, the two bullets under it
    ctx = _context(
        "F2741",
        "Demandeur d'asile : peut-il travailler ?",
        [
            ("Pendant les 6 premiers mois", "Vous ne pouvez pas travailler pendant 6 mois."),
            (
                "Après un délai de 6 mois",
                "Vous pouvez solliciter une autorisation de travail aux 2 conditions suivantes :\n"
                "- Vous êtes titulaire de l'attestation de demande d'asile\n"
                "- Votre demande est en cours d'examen depuis plus de 6 mois\n"
                "Une promesse d'embauche doit accompagner la demande.",
            ),
        ],
    )
    lead, listing, promise = fiche_units(ctx)
    lines = _body(Picked(ctx, [lead, listing, promise], 2.0), brouillon=False)
    label = [i for i, line in enumerate(lines) if "Après un délai de 6 mois" in line]
    assert len(label) == 1
    i = label[0]
    assert lines[i] == "- *Après un délai de 6 mois* :"
    assert lines[i + 1].startswith("  - Vous pouvez solliciter une autorisation")
    assert lines[i + 2] == "    - Vous êtes titulaire de l'attestation de demande d'asile"
    assert lines[i + 4] == "  - Une promesse d'embauche doit accompagner la demande. [1]"


def test_the_case_a_packed_chunk_titles_decides_which_sentences_answer(settings):
    """A chunk packing several cases keeps their titles as heading lines: the case the
    question names wins, and its sentences come with their case, not another case's."""
    ctx = _context(
        "F9001",
        "Faut-il déclarer une piscine ?",
        [
            (
                "",
                "Piscine enterrée de plus de 10 m² :\n"
                "Elle doit faire l'objet d'une déclaration préalable de travaux en mairie.\n"
                "Piscine hors-sol démontable :\n"
                "Une piscine hors-sol installée moins de 3 mois par an peut rester en place "
                "l'été. Vous n'avez pas besoin de la déclarer.",
            )
        ],
    )
    text = compose("piscine hors-sol démontable : déclaration ?", "question", [ctx], settings)
    assert text.splitlines()[2] == "_Piscine hors-sol démontable_"
    assert "Vous n'avez pas besoin de la déclarer" in text


def test_a_sentence_leaning_on_the_one_before_is_never_quoted_alone(settings):
    ctx = _context(
        "F9002",
        "Contrat d'accompagnement",
        [
            ("", "Un conseiller vous reçoit pour faire le point sur votre projet."),
            (
                "Durée",
                "Le contrat est signé pour 6 mois. Cette durée peut être prolongée de 3 mois "
                "maximum.",
            ),
            ("Allocation", "Il est possible de percevoir une allocation mensuelle de 300 €."),
        ],
    )
    text = compose(
        "contrat d'accompagnement : prolongé combien de temps ?", "question", [ctx], settings
    )
    lines = _quoted(text)
    assert any(
        line.startswith("Le contrat est signé pour 6 mois. Cette durée peut être prolongée")
        for line in lines
    )
    assert not any(line.startswith(("Cette durée", "- Cette durée")) for line in lines)


@pytest.mark.parametrize(
    "leaning",
    [
        "Et au taux de 10 % pour les boissons à consommer sur place.",
        "Alors que le congé parental peut être accordé jusqu'au 3e anniversaire de l'enfant.",
        # and the connectives that say how it follows from it
        "En conséquence, une association est libre de définir ses instances.",
        "De même, les entreprises bénéficient d'une réduction d'impôt.",
        "À l'inverse, la société n'est plus tenue de nommer un commissaire aux comptes.",
        "Par contre, un mineur de moins de 16 ans ne peut pas récupérer de mandat cash.",
        "Dans le cas contraire, elle est due à compter du 1er jour du mois suivant.",
        # and "c'est" naming what the sentence before said
        "C'est le cas si vous continuez à travailler au-delà de 62 ans.",
        "C'est notamment le cas s'il y a déjà présenté une demande d'asile.",
        "C'est ce qu'on appelle la remballe.",
        "Ce n'est pas le cas des boissons alcoolisées.",
        # and "il est" or "elle est" naming what it speaks of ("Elle est délivrée contre
        # paiement d'une redevance de 30 €" was quoted alone)
        "Elle est due par l'exploitant.",
        "Il est de 5,5 % pour les produits alimentaires.",
    ],
)
def test_a_sentence_opening_on_et_or_alors_que_goes_on_with_the_one_before(leaning):
    ctx = _context(
        "F9041",
        "TVA",
        [("Taux", f"Les boissons sont soumises au taux de 20 % à emporter. {leaning}")],
    )
    (unit,) = fiche_units(ctx)
    assert unit.text.endswith(leaning)


@pytest.mark.parametrize(
    "sentence",
    [
        "C'est le juge qui fixe le montant.",  # "c'est" opening a sentence of its own
        # an illustration is not joined to the rule (it would lengthen it): an example
        "C'est le cas par exemple des boissons servies en terrasse.",
        "C'est par exemple le cas des boissons servies en terrasse.",
        # an impersonal "il est" leans on nothing
        "Il est possible de demander un rescrit fiscal.",
        "Il n'est cependant pas obligatoire d'afficher les prix.",
        "Il est interdit de vendre de l'alcool aux mineurs.",
    ],
)
def test_a_sentence_opening_on_c_est_stands_alone_unless_it_names_the_one_before(sentence):
    ctx = _context(
        "F9041",
        "TVA",
        [("Taux", f"Les boissons sont soumises au taux de 20 % à emporter. {sentence}")],
    )
    units = fiche_units(ctx)
    assert [u.text for u in units] == [
        "Les boissons sont soumises au taux de 20 % à emporter.",
        sentence,
    ]
    assert units[1].example == ("exemple" in sentence)


def test_a_list_leaning_on_the_sentence_before_is_quoted_with_it(settings):
    # the list's lead-in "Toutefois, il hérite … dans les 3 cas suivants :" is not joined when
    # the fiche is read (a list is a unit of its own); quoted alone it would say that a
    # grandchild inherits, the opposite of the rule
    ctx = _context(
        "F9012",
        "Héritage : qui hérite en l'absence de testament ?",
        [
            ("", "Les héritiers sont désignés par la loi dans un ordre précis."),
            (
                "Que reçoit un petit-enfant ?",
                "En principe, un petit-enfant n'hérite pas de ses grands-parents.\n"
                "Toutefois, il hérite par représentation, à la place de ses parents, dans les "
                "2 cas suivants :\n- Son parent est décédé\n- Son parent a renoncé à la "
                "succession",
            ),
        ],
    )
    text = compose("un petit-enfant hérite-t-il par représentation ?", "question", [ctx], settings)
    assert "En principe, un petit-enfant n'hérite pas de ses grands-parents. Toutefois, il " in (
        text
    )
    quoted = _quoted(text)
    assert not any(line.lstrip("- *").startswith("Toutefois") for line in quoted)
    assert not any("*Que reçoit un petit-enfant ?* : Toutefois" in line for line in quoted)


def test_a_numbered_list_is_one_unit_with_its_lead_in():
    ctx = _context(
        "F9015",
        "Congé maternité d'une indépendante",
        [
            (
                "Indemnités",
                "Pour la maternité, l'indépendante a droit, de façon cumulée, à :\n"
                "1. une allocation forfaitaire de repos maternel de 3 428 €\n"
                "2. une indemnité journalière forfaitaire de 56,35 €",
            )
        ],
    )
    units = fiche_units(ctx)
    assert len(units) == 1
    assert units[0].is_list
    assert units[0].text.splitlines() == [
        "Pour la maternité, l'indépendante a droit, de façon cumulée, à :",
        "- 1. une allocation forfaitaire de repos maternel de 3 428 €",
        "- 2. une indemnité journalière forfaitaire de 56,35 €",
    ]


def test_a_sentence_quoted_before_its_list_is_not_quoted_again_from_another_fiche():
    rule = "Aucune expulsion locative ne peut avoir lieu pendant la trêve hivernale."
    ctx = _context(
        "F9013",
        "Expulsion d'un locataire",
        [
            (
                "Trêve hivernale",
                f"{rule}\nMais la trêve hivernale ne s'applique pas dans les cas suivants :\n"
                "- Relogement assuré\n- Logement étudiant",
            )
        ],
    )
    p = profile("trêve hivernale : une expulsion est-elle possible ?")
    picked = pick(ctx, p, budget_words=110, max_units=5, shown=Shown())
    assert picked is not None
    assert any(u.is_list and u.text.startswith(f"{rule} Mais") for u in picked.units)
    shown = Shown()
    for u in picked.units:
        shown.add(u)
    other = _context("F9014", "Trêve hivernale", [("", rule)])
    assert shown.repeats(next(u for u in fiche_units(other) if u.text == rule))


def test_a_sentence_quoted_inside_a_joined_unit_is_not_quoted_again():
    # _with_antecedents quotes a leaning sentence after its antecedent as one unit told apart
    # as the antecedent (its sig): the leaning sentence, picked again for a part of the
    # question, was quoted a second time right after it
    before = _unit(
        "Toute heure effectuée au-delà d'une durée moyenne de 35 heures par semaine est une "
        "heure supplémentaire.",
        "Heures supplémentaires",
        18,
        False,
    )
    leaning = _unit(
        "Toutefois, pour éviter d'attendre plusieurs années avant d'être rémunéré, un "
        "décompte spécifique est effectué.",
        "Heures supplémentaires",
        20,
        False,
    )
    joined = _unit(f"{before.text} {leaning.text}", before.section, before.order, False)
    shown = Shown()
    shown.add(replace(joined, sig=before.sig, opening=before.opening, denies=before.denies))
    assert shown.repeats(leaning)
    assert not shown.repeats(_unit("Le décompte est mensuel.", "Heures supplémentaires", 21, False))


def test_a_sentence_joined_after_another_is_not_said_again_in_other_words():
    # the fiche joined "Sa durée…" to the sentence it leans on; the same rule written "La
    # durée du congé…" in another section was quoted right below it
    section = "Conditions"
    units = fiche_units(
        _context(
            "F35001",
            "Congé de proche aidant dans la fonction publique",
            [
                (
                    section,
                    "Le congé peut être accordé uniquement au fonctionnaire. Sa durée est "
                    "fixée à 3 mois renouvelables dans la limite d'un an sur l'ensemble de "
                    "la carrière.",
                )
            ],
        )
    )
    assert len(units) == 1
    assert units[0].tail
    shown = Shown()
    shown.add(units[0])
    again = _unit(
        "La durée du congé est fixée à 3 mois renouvelables dans la limite d'un an sur "
        "l'ensemble de la carrière.",
        "Durée",
        7,
        False,
    )
    assert shown.repeats(again)
    # a sentence saying much more than the short one joined is no repeat
    lead = fiche_units(
        _context(
            "F32177",
            "Alcool au travail",
            [
                (
                    "",
                    "L'employeur peut autoriser certains alcools. Il peut aussi interdire tout "
                    "alcool.",
                )
            ],
        )
    )[0]
    shown = Shown()
    shown.add(lead)
    assert not shown.repeats(
        _unit(
            "L'employeur peut aussi limiter ou interdire, pour la sécurité de ses salariés, "
            "toute consommation d'alcool sur le lieu de travail dans le règlement intérieur.",
            "",
            4,
            False,
        )
    )


def test_a_rule_stamped_with_its_year_is_the_same_rule():
    shown = Shown()
    shown.add(
        _unit(
            "La taxe foncière 2020 sur les propriétés bâties (TFPB) est due par les "
            "propriétaires ou usufruitiers de propriétés bâties.",
            "",
            0,
            False,
        )
    )
    assert shown.repeats(
        _unit(
            "La taxe foncière sur les propriétés bâties (TFPB) est due par les propriétaires "
            "ou usufruitiers de propriétés bâties.",
            "Qui doit payer ?",
            3,
            False,
        )
    )
    # a scale of its year, or other figures, say something else
    shown = Shown()
    shown.add(_unit("0,319 € par kilomètre parcouru pour une voiture.", "", 0, False))
    assert not shown.repeats(
        _unit(
            "0,319 € par kilomètre parcouru pour une voiture (en 2019 déclaré en 2020).",
            "",
            1,
            False,
        )
    )


def test_a_tables_rows_for_other_ages_are_left_out(settings):
    # F760 (2020): "jeune 19 ans … il touche combien ?" was answered with the rows of a
    # pregnant woman and of a jobseeker under 18 (130,34 €), not the 18-20 row (310,39 €);
    # "jeune 19 ans", in an agent's keyword style, was not even read as an age
    row = (
        "- Situation : Primo demandeur d'emploi ; Situation spécifique : Âgé {} ; Rémunération : {}"
    )
    ctx = _context(
        "F760",
        "Rémunération des formations de Pôle emploi",
        [
            (
                "Montant de la rémunération",
                "Montant de la rémunération du demandeur d'emploi pendant la formation :\n"
                + "\n".join(
                    row.format(age, pay)
                    for age, pay in (
                        ("de moins de 18 ans", "130,34 €"),
                        ("entre 18 et 20 ans", "310,39 €"),
                        ("entre 21 et 25 ans", "339,35 €"),
                    )
                ),
            ),
            (
                "Versement",
                "Si vous effectuez une formation à temps plein, la rémunération est versée "
                "mensuellement au début du mois suivant.",
            ),
        ],
    )
    question = "jeune 19 ans jamais travaille, inscrit pole emploi sans ARE, il touche combien ?"
    assert profile(question).ages == ((19.0, "ans"),)
    text = compose(question, "question", [ctx], settings)
    assert "310,39 €" in text
    assert "130,34 €" not in text
    assert "339,35 €" not in text
    # a duration is no age, nor is an item of a list that is no table's row
    assert profile("salarié en CDI depuis 3 ans, il a droit à quoi ?").ages == ()


def test_a_sentence_opening_on_pas_de_answers_no():
    assert _unit(
        "Pas de TVA, quelle que soit la nature de la transaction.", "", 0, False
    ).says_yes_no
    assert not _unit("Passé ce délai, la demande est rejetée.", "", 0, False).says_yes_no


def test_a_name_in_capitals_is_no_demonstrative():
    # "Le permis CE permet…" was read as leaning ("Passé ce délai, …") and joined to the
    # description saying the same thing
    units = fiche_units(
        _context(
            "F2846",
            "Permis CE",
            [
                (
                    "",
                    "Le permis CE permet de conduire un poids lourd de plus de 3,5 t attelé "
                    "d'une remorque dont le PTAC dépasse 750 kg. Le permis CE permet de "
                    "conduire un poids lourd de plus de 3,5 tonnes (permis C), attelé d'une "
                    "remorque dont le PTAC dépasse 750 kg.",
                )
            ],
        )
    )
    assert len(units) == 2
    assert not units[1].leans
    assert _unit("Passé ce délai, la demande est rejetée.", "", 0, False).leans


@pytest.mark.parametrize(
    ("question", "amount", "delay"),
    [
        ("c'est combien ?", True, False),
        ("combien coûte le timbre ?", True, False),
        ("ça dure combien de temps ?", False, True),
        ("combien de parts fiscales ?", False, False),
        ("l'attestation, c'est tous les combien ?", False, True),
        ("salaire d'un apprenti de 19 ans ?", True, False),
        ("la demande de carte grise, c'est payant ?", True, False),
        ("réduction d'impôt : plafond ?", True, False),
        # owing it, not its price (the same stem as "payant")
        ("locaux vides, elle paie quand même la taxe ?", False, False),
        # what "combien" measures: a leave, a notice, a contract last; a fine costs
        ("congé de combien si elle le prend seule ?", False, True),
        ("un préavis de combien pour le locataire ?", False, True),
        ("une amende de combien ?", True, False),
        # the resources one must have are an amount; having none tells the situation
        ("carte de séjour visiteur : ressources minimum exigées ?", True, False),
        ("jeune femme sans ressources, elle peut avoir le RSA ?", False, False),
        ("revenus à ne pas dépasser pour la CSS ?", True, False),
        # "quand" (a stop word) asks for a date, unless it tells the situation
        ("déclaration de grossesse avant quand ?", False, True),
        ("recours, c'est possible ? jusqu'à quand ?", False, True),
        ("la déclaration annuelle est à déposer quand ?", False, True),
        ("Quand doit-on déclarer une naissance ?", False, True),
        ("quand il pleut l'eau descend chez le voisin, il peut faire quoi ?", False, False),
        ("Quand on est au chômage, on garde la mutuelle ?", False, False),
    ],
)
def test_combien_asks_for_what_it_counts(question, amount, delay):
    p = profile(question)
    assert (p.amount, p.delay) == (amount, delay)


@pytest.mark.parametrize(
    ("question", "count"),
    [
        ("asso cultuelle, il faut combien de membres minimum ?", True),
        ("combien de parts fiscales pour un couple avec 2 enfants ?", True),
        ("le nombre de trimestres pour partir à taux plein ?", True),
        ("combien de jours de congé pour un mariage ?", False),  # a duration
        ("c'est combien la carte grise ?", False),  # an amount
    ],
)
def test_how_many_asks_for_a_number(question, count):
    assert profile(question).count is count


def test_a_question_asking_how_many_gets_the_sentence_stating_the_number(settings):
    ctx = _context(
        "F1131",
        "Association reconnue d'utilité publique",
        [
            ("Demande", "Les adhérents votent la demande en assemblée."),
            ("Conditions", "L'association doit compter au moins 200 adhérents."),
        ],
    )
    question = "reconnaissance : il faut combien d'adhérents ?"
    assert "au moins 200" in _quoted(compose(question, "question", [ctx], settings))[0]


def test_the_case_whose_age_range_holds_the_persons_age_is_the_answer(settings):
    ctx = _context(
        "F9003",
        "Travail de nuit d'un jeune",
        [
            ("Avant 16 ans", "Le travail de nuit est interdit entre 20 h et 6 h."),
            ("À partir de 16 ans", "Le travail de nuit est interdit entre 22 h et 6 h."),
        ],
    )
    text = compose("un jeune de 17 ans peut travailler de nuit ?", "question", [ctx], settings)
    assert _quoted(text)[0] == "Le travail de nuit est interdit entre 22 h et 6 h. [1]"
    assert text.splitlines()[2] == "_À partir de 16 ans_"


def test_the_row_for_the_persons_age_leads_and_rows_for_other_ages_are_left_out(settings):
    ctx = _context(
        "F9034",
        "Permis CE",
        [
            (
                "Validité du permis › Durée de validité du permis en fonction de l'âge",
                "Moins de 55 ans – Durée de validité : 5 ans\n"
                "De 55 à 60 ans – Durée de validité : 5 ans ou jusqu'aux 60 ans\n"
                "De 60 à 76 ans – Durée de validité : 2 ans ou jusqu'aux 76 ans\n"
                "Plus de 76 ans – Durée de validité : 1 an",
            ),
            (
                "Mineur",
                "Un mineur de moins de 16 ans ne peut pas conduire de poids lourd.",
            ),
        ],
    )
    question = "un monsieur de 62 ans, son permis CE est valable combien de temps ?"
    quoted = _quoted(compose(question, "question", [ctx], settings))
    assert quoted[0] == "De 60 à 76 ans – Durée de validité : 2 ans ou jusqu'aux 76 ans [1]"
    assert not [q for q in quoted if "Moins de 55 ans" in q or "Plus de 76 ans" in q], quoted
    # a sentence for the person's age range, its first words saying it, gains
    young = "un jeune de 15 ans peut conduire un poids lourd ?"
    assert "moins de 16 ans" in _quoted(compose(young, "question", [ctx], settings))[0]


def test_a_first_time_written_with_a_digit_meets_the_case_for_the_first_time(settings):
    ctx = _context(
        "F9035",
        "Vaccination contre la grippe",
        [
            (
                "Comment se faire vacciner ?",
                "Si vous avez déjà bénéficié d'un bon de vaccination :\n"
                "Vous allez directement chez votre pharmacien avec le bon.\n"
                "Si vous bénéficiez d'un bon de vaccination pour la 1re fois :\n"
                "Vous devez consulter votre médecin traitant, muni du bon.",
            )
        ],
    )
    question = "dame qui a reçu son 1er bon pour le vaccin grippe, elle va où ?"
    text = compose(question, "question", [ctx], settings)
    assert _quoted(text)[0] == "Vous devez consulter votre médecin traitant, muni du bon. [1]"


def test_a_table_is_quoted_with_its_title_never_a_row_alone(settings):
    ctx = _context(
        "F9004",
        "Tarifs du dépôt",
        [
            (
                "Coût",
                "Tarifs du dépôt (en euros TTC) :\n"
                "Type de dépôt : Simple ; Par courrier : 46,37 € ; En ligne : 47,50 €\n"
                "Type de dépôt : Complet ; Par courrier : 92,74 € ; En ligne : 95,28 €",
            )
        ],
    )
    text = compose("combien coûte le dépôt en ligne ?", "question", [ctx], settings)
    assert "Tarifs du dépôt (en euros TTC) :\n- Type de dépôt : Simple" in text
    assert "- Type de dépôt : Complet ; Par courrier : 92,74 € ; En ligne : 95,28 € [1]" in text


def test_a_table_without_column_headers_is_one_unit_under_its_case(settings):
    # "Peines maximales encourues :" then rows "Vol simple ; 3 ans de prison …", under each
    # age's case: read as headings, the title line took the case's place and the rows of
    # two cases ran together under one label
    ctx = _context(
        "F20283",
        "Mineur victime de vol ou de racket",
        [
            (
                "Sanctions",
                "Les peines encourues dépendent des faits et de l'âge de l'auteur.\n"
                "Si l'auteur est majeur :\n"
                "Peines maximales encourues :\n"
                "Vol simple ; 3 ans de prison 45 000 € d'amende\n"
                "Vol avec violences ; 5 ans de prison 75 000 € d'amende\n"
                "S'il a entre 13 et 17 ans :\n"
                "Peines maximales encourues :\n"
                "Vol avec violences ; 2 ans et demi de prison 7 500 € d'amende\n"
                "Extorsion avec violences (racket) ; 5 ans de prison 7 500 € d'amende\n"
                "S'il a moins de 13 ans :\n"
                "Des sanctions spécifiques s'appliquent. Il ne pourra pas aller en prison.",
            )
        ],
    )
    units = fiche_units(ctx)
    tables = [u for u in units if "Vol avec violences" in u.text]
    assert [u.section for u in tables] == [
        "Sanctions › Si l'auteur est majeur",
        "Sanctions › S'il a entre 13 et 17 ans",
    ]
    assert tables[0].is_list
    assert tables[0].text == (
        "Peines maximales encourues :\n"
        "- Vol simple ; 3 ans de prison 45 000 € d'amende\n"
        "- Vol avec violences ; 5 ans de prison 75 000 € d'amende"
    )
    text = compose(
        "mineur de 15 ans, vol avec violences, quelle peine ?", "question", [ctx], settings
    )
    # the case of the age told leads, under its own title; the adult's table is not its
    assert "_Sanctions › S'il a entre 13 et 17 ans_\nPeines maximales encourues :" in text
    assert "75 000 €" not in text


def test_the_case_for_the_side_of_18_of_the_person_told_of_leads(settings):
    # "un gamin de 16 ans" is a minor: the case "Interdiction de vente aux mineurs" answers,
    # not the smokers' fine that the words "amende" and "cigarette" favour (and the
    # retriever's best chunks, whose sentences gain)
    ctx = _context(
        "F33736",
        "Cigarette électronique",
        [
            (
                "Les sanctions › A l'égard des fumeurs",
                "Le fait de vapoter dans les endroits interdits est puni d'une amende de 68 €.\n"
                "Si la procédure de l'amende forfaitaire n'est pas utilisée, l'amende maximale "
                "encourue pour les contraventions de la 3e classe est de 450 €.",
            ),
            (
                "Les sanctions › A l'égard du responsable des lieux",
                "Sont punis d'une amende de 68 €, pouvant être majorée à 450 €, les "
                "responsables des lieux qui ne signalent pas l'interdiction.\n"
                "L'amende maximale encourue pour les contraventions de la quatrième classe est "
                "de 750 €.",
            ),
            (
                "Interdiction de vente aux mineurs",
                "Il est interdit de vendre ou d'offrir gratuitement, dans les débits de tabac, "
                "des produits du vapotage à des mineurs de moins de 18 ans, sous peine d'une "
                "contravention de 750 € (pour une personne physique).\n"
                "La personne qui délivre l'un de ces produits est tenue d'obtenir la preuve "
                "que le client est majeur.",
            ),
        ],
    )
    question = (
        "buraliste a vendu une cigarette electronique a un gamin de 16 ans, c'est combien "
        "l'amende ?"
    )
    text = compose(question, "question", [ctx], settings)
    assert _quoted(text)[0].startswith("Il est interdit de vendre"), text
    # an age told, not a duration: "depuis 3 ans", "il y a 2 ans", "3 ans d'ancienneté"
    assert profile(question).side == "mineur"
    assert profile("mon fils a 15 ans, il peut signer ?").side == "mineur"
    assert profile("j'ai 24 ans et je voudrais passer le concours").side == "majeur"
    assert profile("en CDI depuis 3 ans, elle a 3 ans d'ancienneté").side is None
    assert profile("démission il y a 2 ans, et mon enfant ?").side is None


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "prime d'installation combien et quand elle est versée ?",
            ["prime d'installation combien ?", "et quand elle est versée ?"],
        ),
        (
            "aide : montant et délai pour la demander ?",
            ["aide : montant ?", "et délai pour la demander ?"],
        ),
        ("où le refaire ? c'est payant ?", ["où le refaire ?", "c'est payant ?"]),
        # the second question may open on a preposition
        (
            "capital décès c'est combien et dans quel délai ?",
            ["capital décès c'est combien ?", "et dans quel délai ?"],
        ),
        (
            "il déclare la vente et à qui il envoie le cerfa ?",
            ["il déclare la vente ?", "et à qui il envoie le cerfa ?"],
        ),
        ("il peut manger et boire ?", []),
        ("il part en vacances et à la mer ?", []),
        # the words the question was read as (its unaccented words, its typos) are no part of
        # their own: each part takes its own
        (
            "elle doit resilier elle meme ? y a des frais ? (résilier même)",
            ["elle doit resilier elle meme (résilier même) ?", "y a des frais ?"],
        ),
        ("le delai pour le faire ? (délai)", []),
        # an agent's questions listed with commas: the telling stays with the first
        (
            "monsieur apatride, il veut voyager, le document coute combien, valable combien, "
            "demande ou ?",
            [
                "monsieur apatride, il veut voyager, le document coute combien ?",
                "valable combien ?",
                "demande ou ?",
            ],
        ),
        # or with "et" opening a clause
        (
            "plainte deja faite, il a combien de temps pour prevenir l assurance et il envoie "
            "quoi ?",
            [
                "plainte deja faite, il a combien de temps pour prevenir l assurance ?",
                "et il envoie quoi ?",
            ],
        ),
        # a question word alone asks of the same thing; "de quoi" before a verb and "CB"
        # (the bank card) ask nothing
        ("la carte pro ça se demande comment, combien ?", []),
        ("plus de quoi payer son loyer, le crous l'aide de combien ?", []),
        ("un client conteste son paiement CB, il a combien de temps ?", []),
    ],
)
def test_a_question_asked_in_several_parts_is_split_into_them(question, parts):
    assert _parts(question) == parts


def test_a_reply_names_the_section_a_leaning_sentence_speaks_of(settings):
    ctx = _context(
        "F9006",
        "Aides à l'embauche",
        [
            ("Aide à l'adaptation du poste", "Cette aide rembourse l'aménagement du poste."),
            ("Aide à l'adaptation du poste", "Son montant maximum est de 3 000 €."),
        ],
    )
    text = compose(
        "Bonjour, je veux adapter le poste d'un salarié, quelle aide ?",
        "brouillon",
        [ctx],
        settings,
    )
    assert "_Aide à l'adaptation du poste_\nCette aide rembourse l'aménagement du poste." in text


def test_a_bare_figure_under_its_case_title_is_an_answer(settings):
    ctx = _context(
        "F9007",
        "Contribution annuelle",
        [
            (
                "",
                "Matériels concernés :\nTout appareil récepteur est concerné.\n"
                "Montant › En métropole :\n138 €\nMontant › Outre-mer :\n88 €",
            )
        ],
    )
    text = compose("contribution annuelle montant en métropole ?", "question", [ctx], settings)
    assert text.splitlines()[2:4] == ["_Montant › En métropole_", "138 € [1]"]


def test_lead_ins_keep_what_they_introduce(settings):
    ctx = _context(
        "F9008",
        "Retrait d'un cotitulaire",
        [
            (
                "",
                "La démarche est à effectuer en ligne en utilisant le téléservice suivant :\n"
                "Téléservice : Demander le retrait d'un cotitulaire\n"
                "Vous devez certifier sur l'honneur que le demandeur dispose\n"
                "- d'une attestation d'assurance\n"
                "- et d'un permis de conduire.",
            )
        ],
    )
    units = [u.text for u in fiche_units(ctx)]
    assert units == [
        "La démarche est à effectuer en ligne en utilisant le téléservice suivant : "
        "Téléservice : Demander le retrait d'un cotitulaire",
        "Vous devez certifier sur l'honneur que le demandeur dispose\n"
        "- d'une attestation d'assurance\n- et d'un permis de conduire.",
    ]


def test_a_sentence_leaning_on_its_heading_is_not_joined_across_headings():
    """Each département's case ends on the same sentence leaning on its own heading: five
    units, not one sentence said five times."""
    case = (
        "La démarche s'effectue en ligne :\n"
        "Téléservice : Déclaration d'événements sportifs\n"
        "Elle peut aussi s'effectuer par courrier au moyen du formulaire.\n"
    )
    text = "".join(f"{d} :\n{case}" for d in ("Isère (38)", "Loire (42)", "Yvelines (78)"))
    ctx = _context("F34326", "Organisation d'une course à pied", [("Déclaration", text)])
    units = [u.text for u in fiche_units(ctx)]
    assert units == ["Elle peut aussi s'effectuer par courrier au moyen du formulaire."] * 3
    # a service's line between a sentence and the one leaning on it does not part them
    ctx = _context(
        "F1344",
        "Carte d'identité perdue",
        [
            (
                "Démarche",
                "Vous pouvez faire une pré-demande en ligne.\n"
                "Téléservice : Pré-demande de carte d'identité\n"
                "Il faudra ensuite vous rendre en mairie.",
            )
        ],
    )
    assert [u.text for u in fiche_units(ctx)] == [
        "Vous pouvez faire une pré-demande en ligne. Il faudra ensuite vous rendre en mairie."
    ]


def test_a_reply_adds_a_second_fiche_that_matches_the_message_as_well_as_the_first(settings):
    lost = _context(
        "F9009",
        "Que faire si j'ai perdu tous mes papiers ?",
        [("", "Il faut déclarer la perte de vos papiers d'identité en mairie.")],
    )
    stolen = _context(
        "F9010",
        "Que faire si tous mes papiers ont été volés ?",
        [("", "Il faut déclarer le vol de vos papiers d'identité au commissariat.")],
        n=2,
    )
    message = (
        "Bonjour, on m'a volé mon sac hier soir avec tous mes papiers d'identité dedans. "
        "Je dois aller où pour déclarer le vol de mes papiers ? Et ça coûte combien ?"
    )
    requests = ["Je dois aller où pour déclarer le vol de mes papiers ?", "Et ça coûte combien ?"]
    text = compose(message, "brouillon", [lost, stolen], settings, requests)
    assert "Il faut déclarer le vol de vos papiers d'identité au commissariat. [2]" in text


def test_a_sentence_introducing_a_simulator_is_no_case_title(settings):
    ctx = _context(
        "F9011",
        "Coût de la carte grise",
        [
            (
                "En ligne",
                "Vous pouvez évaluer le coût de votre carte grise en utilisant ce simulateur :\n"
                "Simulateur : Calculer le coût de la carte grise\n"
                "Vous recevrez votre carte grise sous pli sécurisé.",
            )
        ],
    )
    units = fiche_units(ctx)
    assert [u.section for u in units] == ["En ligne", "En ligne"]
    assert units[0].text.endswith("ce simulateur : Simulateur : Calculer le coût de la carte grise")


def test_an_aside_or_an_example_never_opens_the_answer(settings):
    rule = (
        "L'électeur désigné doit être inscrit dans la même commune que celui qui lui donne "
        "procuration."
    )
    ctx = _context(
        "F9005",
        "Vote par procuration",
        [
            ("Qui peut recevoir une procuration ?", rule),
            (
                "Qui peut recevoir une procuration ?",
                "Par exemple, un électeur inscrit à Lyon peut recevoir la procuration d'un autre "
                "électeur inscrit à Lyon, mais pas celle d'un électeur inscrit à Villeurbanne.",
            ),
            (
                "Qui peut recevoir une procuration ?",
                "À savoir : un électeur inscrit peut recevoir au plus 2 procurations, dont 1 "
                "seule établie en France.",
            ),
        ],
    )
    text = compose("qui peut recevoir une procuration d'un électeur ?", "question", [ctx], settings)
    quoted = _quoted(text)
    assert quoted[0] == f"{rule} [1]"
    # the aside, which matches the question best, still comes with the answer
    assert any(line.startswith("- À savoir : un électeur inscrit") for line in quoted)


def test_a_warning_never_opens_the_answer(settings):
    # a fiche's "Avertissement" (2020: the Covid measures of the moment) is beside the rule:
    # "CDD de combien max ?" opened on a Covid renewal measure instead of the durations
    rule = "Le CDD conclu pour un accroissement temporaire d'activité dure 18 mois maximum."
    warning = (
        "Renouvellement des contrats : en raison de la crise sanitaire, un accord "
        "d'entreprise peut fixer la durée maximale du CDD et le nombre de ses renouvellements."
    )
    ctx = _context(
        "F9015",
        "Contrat à durée déterminée (CDD)",
        [("Avertissement", warning), ("Durée maximale", rule)],
    )
    text = compose(
        "renouvellement du CDD : durée maximale avec un accord d'entreprise ?",
        "question",
        [ctx],
        settings,
    )
    quoted = _quoted(text)
    assert quoted[0] == f"{rule} [1]"
    assert any(
        line.startswith("- *Avertissement* : Renouvellement des contrats") for line in quoted
    )


@pytest.mark.parametrize(("rank", "added"), [(1, True), (2, False)])
def test_the_retrievers_second_fiche_joins_when_nearly_as_good_as_the_first(settings, rank, added):
    first = _context(
        "F9006",
        "Fin d'un contrat à durée déterminée (CDD)",
        [
            ("", "Le CDD prend fin à la date prévue dans le contrat, sans préavis ni formalité."),
            (
                "Indemnité",
                "À la fin du contrat, le salarié reçoit une indemnité de fin de contrat égale à "
                "10 % de sa rémunération.",
            ),
        ],
    )
    specific = (
        "L'employeur ne peut rompre le CDD de façon anticipée qu'en cas de faute grave, de "
        "force majeure ou d'inaptitude constatée par le médecin du travail."
    )
    second = _context("F9007", "Rupture anticipée d'un CDD par l'employeur", [("", specific)], n=2)
    # the retriever's second fiche (rank 1), or its third when the gate set the second aside
    second.rank = rank
    # (asked without a modal: "peut-il rompre" would make the third fiche's "ne peut rompre…"
    # the yes or no, as good as any first fiche's)
    question = "rupture d'un CDD par l'employeur avant la fin du contrat : c'est possible ?"
    text = compose(question, "question", [first, second], settings)
    assert _quoted(text)[0].startswith("Le CDD prend fin à la date prévue")
    assert (specific in text) is added


def test_the_case_of_what_the_person_lacks_is_not_the_answer(settings):
    ctx = _context(
        "F9008",
        "Justificatif de domicile pour une inscription",
        [
            (
                "Vous avez une facture à votre nom",
                "Vous présentez une facture d'électricité ou de gaz à votre nom, de moins de "
                "3 mois.",
            ),
            (
                "Vous êtes hébergé chez un proche",
                "Vous présentez une attestation d'hébergement signée par la personne qui vous "
                "héberge et une copie de sa pièce d'identité.",
            ),
        ],
    )
    question = "il loge chez un proche, pas de facture à son nom : quel justificatif de domicile ?"
    text = compose(question, "question", [ctx], settings)
    assert _quoted(text)[0].startswith("Vous présentez une attestation d'hébergement")


@pytest.mark.parametrize(
    ("question", "lacks"),
    [
        ("pas de facture à son nom, il fait comment ?", {"factur", "nom"}),
        ("couple sans enfant, droit à l'APL ?", {"enfant"}),
        ("il n'a plus de titre de séjour et travaille", {"titr", "sejour"}),
        ("asso qui reçoit plus de 153 000 € de subventions", set()),  # "more than"
        ("en l'absence de testament, qui hérite ?", {"test"}),
        # a verb ends what is lacked: the rest is what the person does
        ("femme sans enfant veut donner ses ovocytes", {"enfant"}),
        # a compound typed without its hyphen is also the fiches' word ("auto-école")
        ("passer le code sans auto ecole", {"auto", "ecol", "auto-ecol"}),
    ],
)
def test_what_a_question_says_the_person_lacks(question, lacks):
    assert profile(question).negated == lacks


def test_a_measure_told_points_at_the_sentence_stating_one(settings):
    # "55 km" is a length: the rule stated in kilometres answers first, not the one that
    # names the "gérant" as the question does
    ctx = _context(
        "F9010",
        "Frais de déplacement déductibles",
        [
            ("Conditions", "Les frais de trajet du gérant sont déductibles s'ils sont justifiés."),
            (
                "Distance",
                "Les frais de trajet sont déductibles lorsque la distance n'excède pas 40 km.",
            ),
        ],
    )
    question = "gérant qui fait 55 km pour aller au travail, ses frais de trajet sont déductibles ?"
    text = compose(question, "question", [ctx], settings)
    assert _quoted(text)[0].startswith("Les frais de trajet sont déductibles lorsque la distance")


@pytest.mark.parametrize(
    ("text", "dimensions"),
    [
        ("abri de jardin de 12m2", {"surface"}),
        ("une surface habitable de 9 m²", {"surface"}),
        ("un mur de 2m20", {"length"}),
        ("un semi-rigide de 5,50 m", {"length"}),
        ("vélo 25 km/h", {"speed"}),
        ("dans les 3 mois", set()),
        ("inférieure à 331 kWh/m²", set()),
    ],
)
def test_the_measures_a_text_states(text, dimensions):
    assert profile(text).measures == dimensions


def test_a_compound_typed_without_its_hyphen_meets_the_fiches_word(settings):
    # "auto ecole" is two words to the stemmer, "auto-école" one: the question's pair is read
    # as the compound too, so that "sans auto ecole" makes "En auto-école" the other case
    ctx = _context(
        "F9009",
        "Code de la route",
        [
            ("En auto-école › Prix", "L'inscription coûte 30 € et l'auto-école facture ses frais."),
            ("En candidat libre › Prix", "L'inscription coûte 30 €."),
        ],
    )
    text = compose("code sans auto ecole, ça coûte combien ?", "question", [ctx], settings)
    assert _quoted(text)[0].startswith("L'inscription coûte 30 €.")
    assert "facture ses frais" not in text
    assert "auto-ecol" in profile("inscrit en auto ecole").stems
    # never across punctuation: "d'hote, env 20 000 €" holds no compound
    assert compounds("2 chambres d'hote, env 20 000 €, en micro bic") == "micro-bic"


def test_the_case_the_person_is_in_is_theirs_below_its_title_too(settings):
    # "Donneuse sans enfant" is the case of a question "sans enfant" down to its subsections
    # ("› Prise en charge"), and "Donneuse avec enfant" the other one
    ctx = _context(
        "F9042",
        "Don d'ovules",
        [
            ("Donneuse avec enfant › Prise en charge", "Les frais de garde sont remboursés."),
            ("Donneuse sans enfant › Prise en charge", "Les frais de transport sont remboursés."),
        ],
    )
    text = compose("donneuse sans enfant : quels frais remboursés ?", "question", [ctx], settings)
    assert _quoted(text)[0].startswith("Les frais de transport sont remboursés.")


def test_a_sentence_pointing_back_never_opens_the_answer(settings):
    ctx = _context(
        "F9009",
        "Locataire sans assurance",
        [
            (
                "Absence d'assurance du locataire",
                "Le bailleur peut résilier le bail ou souscrire une assurance à la place du "
                "locataire.",
            ),
            (
                "Absence d'assurance du locataire",
                "S'il choisit cette dernière solution, le bailleur ne peut plus résilier le bail "
                "pour défaut d'assurance du locataire, dont il récupère le coût sur le loyer "
                "chaque mois, majoré de 10 % au plus, sans autre formalité de sa part envers le "
                "locataire ni l'assureur, et jusqu'à ce que le locataire lui présente une "
                "attestation d'assurance à son nom.",
            ),
        ],
    )
    text = compose("le bailleur peut-il résilier le bail ?", "question", [ctx], settings)
    assert _quoted(text)[0].startswith("Le bailleur peut résilier le bail")


def test_a_sentence_leaning_on_a_title_never_opens_the_answer(settings):
    # "En plus, …" first under its title: nothing to join it to, it follows the rule
    ctx = _context(
        "F9011",
        "Taxe sur les véhicules de société",
        [
            (
                "Déclaration",
                "En plus, une société n'a pas à déposer de déclaration quand elle ne doit "
                "aucune taxe sur ses véhicules de société après l'abattement de 15 000 €.",
            ),
            (
                "Véhicules loués",
                "La taxe sur les véhicules loués est calculée par trimestre civil.",
            ),
        ],
    )
    question = "une société doit-elle déposer une déclaration de taxe sur les véhicules loués ?"
    text = compose(question, "question", [ctx], settings)
    quoted = _quoted(text)
    assert quoted[0].startswith("La taxe sur les véhicules loués")
    assert "En plus, une société n'a pas à déposer" in quoted[1]


def test_how_long_gets_the_duration_not_an_age_nor_another_time(settings):
    # "entre 16 et 25 ans" says who, and "en même temps" is no duration: the part "combien
    # de temps ?" is answered by the contract's duration
    ctx = _context(
        "F9010",
        "Contrat d'accompagnement des jeunes",
        [
            ("", "Le contrat accompagne les jeunes entre 16 et 25 ans sans emploi ni formation."),
            ("Allocation", "Le contrat d'accompagnement ouvre droit à une allocation."),
            ("Allocation › Montant", "Le montant maximum de l'allocation est de 497 € par mois."),
            (
                "Allocation › Montant",
                "L'allocation est cumulable avec des revenus d'activité jusqu'à 300 € par mois.",
            ),
            (
                "Allocation › Montant",
                "Vous ne pouvez pas percevoir en même temps l'allocation et une autre aide.",
            ),
            ("Démarche", "Adressez-vous à la mission locale de votre domicile."),
            ("Durée du contrat", "Le contrat est conclu pour 1 an."),
        ],
    )
    question = "contrat jeunes : montant de l'allocation ? et c'est pour combien de temps ?"
    text = compose(question, "question", [ctx], settings)
    assert "Le contrat est conclu pour 1 an. [1]" in text


@pytest.mark.parametrize(
    ("question", "where"),
    [
        ("RQTH demande ou ?", True),
        ("carte grise : on la fait où", True),
        ("garde alternée ou résidence chez la mère ?", False),
        # "X qui" ending or opening its clause asks where to turn
        ("artisan en EIRL, le bâtiment dans son patrimoine pro, ça passe par qui ?", True),
        ("il envoie sa candidature a qui ? il touche quelque chose ?", True),
        ("bar au rdc, il peut voir qui avant d'aller au tribunal ?", True),
        ("appel devant qui et il a combien de temps", True),
        # a relative clause tells, it does not ask
        ("un fournisseur à qui je dois de l'argent peut saisir mes biens ?", False),
        # an office asked for, or where to turn
        ("copie d'acte pour le petit-fils, il s'adresse a quelle mairie", True),
        ("recours au niveau UE, quel organisme ?", True),
        # the words of offices and places alone tell the situation
        ("societe avec 90 m2 de bureaux a la meme adresse, elle paie la TSB ?", False),
        ("elle a sa date et lieu de naissance, elle fait comment", False),
        ("il a insulte ma collegue au guichet, il risque quoi ?", False),
    ],
)
def test_ou_without_its_accent_and_x_qui_ask_where_to_turn(question, where):
    assert profile(question).where is where


def test_a_part_of_a_question_is_answered_only_by_a_unit_on_its_topic(settings):
    ctx = _context(
        "F9011",
        "Aide à l'embauche d'un jeune",
        [
            (
                "Montant et versement",
                "L'aide est versée par tranche de 1 000 € chaque trimestre, pendant 1 an au plus.",
            ),
            (
                "Démarche",
                "L'employeur a un délai de 4 mois à partir de l'embauche pour déposer sa demande.",
            ),
        ],
    )
    question = "aide embauche jeune : montant et délai pour la demander ?"
    part = profile(question, ["et délai pour la demander ?"], one_request=True)
    paid_for, deadline = fiche_units(ctx)
    # a duration of payment is a delay, but no deadline to ask for the aid
    assert not _answers(paid_for, part, on_topic=True)
    assert _answers(deadline, part, on_topic=True)


def test_a_part_is_answered_by_a_sentence_naming_what_the_fiche_says_least(settings):
    # the fiche's sentences name the "fournisseur d'électricité": one naming it did not
    # answer "elle doit résilier elle-même ?", the one naming "résilier" does
    resiliation = "La résiliation de votre ancien contrat est automatique."
    ctx = _context(
        "F9013",
        "Électricité : comment changer de fournisseur ?",
        [
            ("", "Il existe plusieurs fournisseurs d'électricité et de gaz sur le marché."),
            (
                "",
                "Vous pouvez vous aider d'un téléservice pour choisir ou changer de "
                "fournisseur d'électricité et de gaz sur votre commune.",
            ),
            ("", "Le changement est gratuit."),
            ("", resiliation),
            (
                "",
                "En changeant de fournisseur, vous ne changez pas de compteur d'électricité ou "
                "de gaz.",
            ),
            (
                "",
                "Si le litige n'a pas été résolu dans un délai de 2 mois, vous pouvez saisir "
                "gratuitement le médiateur national de l'énergie.",
            ),
        ],
    )
    text = compose(
        "elle veut quitter son fournisseur d'électricité, elle doit résilier elle-même ? "
        "y a des frais ?",
        "question",
        [ctx],
        settings,
    )
    assert "est gratuit" in text
    assert resiliation in text


def test_a_part_left_unanswered_takes_the_sentence_naming_its_least_common_word(settings):
    # "il doit envoyer l'arrêt en combien de temps ?" beside "plein traitement pendant
    # combien de temps ?": the durations of pay answer the second part; for the first, of the
    # fiche's sentences stating a delay, the one about sending the sick note
    sending = "Vous devez envoyer l'avis d'arrêt de travail dans un délai de 48 heures."
    ctx = _context(
        "F9014",
        "Arrêt maladie d'un fonctionnaire",
        [
            ("Rémunération", "Votre arrêt maladie est payé à plein traitement pendant 3 mois."),
            ("Rémunération", "Pendant les 9 mois suivants, le traitement est réduit de moitié."),
            ("Rémunération", "Le congé de maladie dure 1 an au plus sur 12 mois."),
            ("Rémunération", "Après 90 jours d'arrêt maladie, vous êtes payé à demi-traitement."),
            ("Fin du congé", "L'arrêt maladie peut être prolongé de 6 mois au plus."),
            (
                "Rémunération",
                "Si vous avez déjà été en arrêt maladie pendant 90 jours, en combien de temps "
                "êtes-vous payé ? À demi-traitement, après 3 mois.",
            ),
            ("Rémunération", "L'arrêt maladie est rémunéré à partir du 2e jour d'arrêt."),
            ("Démarche", sending),
        ],
    )
    text = compose(
        "arrêt maladie : il doit envoyer l'arrêt en combien de temps ? plein traitement "
        "pendant combien de temps ?",
        "question",
        [ctx],
        settings,
    )
    assert "plein traitement pendant 3 mois" in text
    assert sending in text
    # the part's own pick can be held to the sentences naming that word
    part = profile("il doit envoyer l'arrêt en combien de temps ?")
    only = pick(ctx, part, budget_words=55, max_units=2, shown=Shown(), naming="envoi")
    assert only is not None
    assert [u.text for u in only.units] == [sending]


def test_a_list_asked_of_one_thing_is_answered_by_the_heading_for_that_thing(settings):
    # "conditions d'âge ?": the conditions are headed one by one, and the one headed "Âge"
    # answers, though it is no list; the family situation's list did
    age = "Vous devez avoir moins de 55 ans."
    family = (
        "Vous devez être :\n- veuf ou veuve\n- et ne pas vivre en couple (remariage, "
        "concubinage, Pacs)"
    )
    widow = "Conditions liées au veuf (ou veuve)"
    paid = "Versement de l'allocation"
    ctx = _context(
        "F9015",
        "Allocation veuvage",
        [
            (
                "",
                "Au décès de votre époux, vous pouvez bénéficier d'une allocation de veuvage "
                "sous certaines conditions liées notamment à votre âge et à vos ressources.",
            ),
            (
                "Conditions liées à l'époux décédé",
                "Votre époux doit avoir été affilié à l'assurance vieillesse au moins 3 mois "
                "durant l'année précédant le décès.",
            ),
            (f"{widow} › Situation familiale", family),
            (f"{widow} › Âge", age),
            (
                f"{widow} › Âge",
                "À savoir : si vous avez 55 ans ou plus, vous pouvez demander une pension de "
                "réversion.",
            ),
            (f"{widow} › Résidence", "Vous devez résider en France."),
            (
                f"{paid} › Montant",
                "Le montant net de l'allocation veuvage est de 622,82 € par mois.",
            ),
            (
                f"{paid} › Point de départ",
                "Le point de départ de votre allocation dépend de la date à laquelle vous en "
                "faites la demande :\n- au 1er jour du mois du décès si vous faites votre "
                "demande dans les 12 mois suivant le décès,\n- au 1er jour du mois de votre "
                "demande au-delà.",
            ),
            (
                f"{paid} › Durée",
                "Vous percevez l'allocation veuvage :\n- tant que vous remplissez les "
                "conditions,\n- au maximum pendant 2 ans (ou jusqu'à vos 55 ans si vous aviez "
                "50 ans à la date du décès).",
            ),
        ],
    )
    question = "allocation veuvage : conditions d'âge ? montant 2020 ?"
    text = compose(question, "question", [ctx], settings)
    assert "622,82 €" in text
    assert age in text
    assert "veuf ou veuve\n" not in text


def test_what_one_risks_is_answered_by_the_sentence_stating_the_penalty():
    # "il risque quoi ?", "amende si oubli ?": the sentence stating the fine scores above
    # the rule's other sentences naming the same things
    fine = "Louer sans déclaration de mise en location est puni d'une amende de 5 000 €."
    ctx = _context(
        "F9016",
        "Déclaration de mise en location",
        [
            (
                "",
                "Dans certaines communes, le propriétaire doit faire une déclaration de mise "
                "en location.",
            ),
            (
                "Démarche",
                "La déclaration de mise en location se fait en mairie dans les 15 jours "
                "suivant la signature du bail.",
            ),
            ("Sanction", fine),
        ],
    )
    units = fiche_units(ctx)
    p = profile("proprio qui loue sans faire la déclaration de mise en location, il risque quoi ?")
    assert p.penalty
    best = max(units, key=lambda u: score(u, p, u.section_stems))
    assert best.text == fine
    # a fine stated "sous peine de", or as a contravention's sum, is one; a contravention's
    # class is not
    read = fiche_units(
        _context(
            "F9017",
            "Vapotage",
            [
                ("", "Il est interdit d'en vendre aux mineurs, sous peine d'une contravention."),
                ("", "L'infraction est une contravention de 750 €."),
                ("", "S'il s'agit d'une contravention de la 4e classe, le juge est saisi."),
            ],
        )
    )
    assert [u.penalty for u in read] == [True, True, False]


def test_a_part_is_not_answered_by_the_case_of_a_place_the_question_does_not_name(settings):
    # "il le refait où ?": the consulate abroad is no answer for someone in France
    abroad = "Vous devez faire la demande auprès de l'ambassade ou au consulat compétent."
    how = "Comment demander un nouveau livret de famille ?"
    ctx = _context(
        "F9018",
        "Livret de famille : duplicata",
        [
            (
                "",
                "Si vous avez perdu votre livret de famille original ou si on vous l'a volé, "
                "vous pouvez demander un second livret de famille (on l'appelle duplicata).",
            ),
            ("", "La démarche est gratuite."),
            (
                f"{how} › En France",
                "Vous devez demander le duplicata du livret de famille à la mairie du lieu de "
                "votre domicile.",
            ),
            (f"{how} › À l'étranger", abroad),
            (
                "Remise du livret",
                "Le retrait par un des titulaires du premier livret est effectué, sur "
                "présentation d'une pièce d'identité, auprès de la mairie du lieu du domicile.",
            ),
            ("Coût", "Le second livret de famille est gratuit."),
        ],
        cases=frozenset({f"{how} › En France", f"{how} › À l'étranger"}),
    )
    question = "usager a perdu son livret de famille lors d'un déménagement, il le refait {}où ?"
    text = compose(question.format("") + " c'est payant ?", "question", [ctx], settings)
    assert "mairie du lieu de votre domicile" in text
    assert abroad not in text
    # named, the place's case answers
    there = question.format("à l'étranger, ") + " c'est payant ?"
    assert abroad in compose(there, "question", [ctx], settings)


@pytest.mark.parametrize(
    ("question", "rate"),
    [
        ("contribution sur le chiffre d'affaires, quel taux ? a declarer avant quand", True),
        ("C'est quel pourcentage, et est-ce que les producteurs en paient une partie ?", True),
        ("taux de TVA ?", True),
        # the rate named, no figure asked of it
        ("son taux AT/MP c'est collectif, mixte ou individuel ? qui le fixe", False),
        ("taux de cotisations réduit pendant combien de temps ?", False),
        # the rate told: it is the situation
        ("carte d'invalidité taux de 80 %, quel taux pour la carte de priorité ?", False),
    ],
)
def test_a_rate_asked_points_at_the_sentences_stating_a_percentage(question, rate):
    p = profile(question)
    assert p.rate is rate
    ctx = _context(
        "F9019",
        "Contribution sociale de solidarité des sociétés (C3S)",
        [
            ("", "La C3S est due par les entreprises dont le chiffre d'affaires dépasse 19 M€."),
            ("Taux de la C3S", "Le taux de la C3S est de 0,16 % du chiffre d'affaires."),
        ],
    )
    rated, plain = fiche_units(ctx)[1], fiche_units(ctx)[0]
    gap = score(rated, p, rated.section_stems) - score(plain, p, plain.section_stems)
    without = score(rated, replace(p, rate=False), rated.section_stems) - score(
        plain, replace(p, rate=False), plain.section_stems
    )
    assert (gap > without) is rate


@pytest.mark.parametrize(
    ("question", "deadline"),
    [
        ("Comment je fais pour contester, et j'ai combien de temps ?", True),
        ("recours gracieux contre un refus de la mairie, il a combien de temps ?", True),
        ("la DDT a combien de temps pour répondre ?", True),
        ("a-t-il combien de temps pour faire appel ?", True),
        # how long something lasts
        ("la radiation, ça dure combien de temps ?", False),
        ("arrêt maladie : plein traitement pendant combien de temps ?", False),
    ],
)
def test_the_time_one_has_to_act_is_a_deadline_not_a_duration(question, deadline):
    stems = profile(question).stems
    assert ("del" in stems) is deadline
    assert ("dur" in stems) is not deadline


def test_a_sentence_naming_what_the_one_before_said_is_never_quoted_alone(settings):
    ctx = _context(
        "F9012",
        "Retrait du passeport",
        [
            ("", "Vous êtes prévenu par SMS quand le passeport est prêt."),
            (
                "Retrait",
                "Le passeport doit être retiré dans les 3 mois. Passé ce délai, le passeport "
                "est détruit et la demande doit être refaite.",
            ),
        ],
    )
    text = compose("passeport détruit si pas retiré ?", "question", [ctx], settings)
    lines = _quoted(text)
    assert any(
        line.startswith("Le passeport doit être retiré dans les 3 mois. Passé") for line in lines
    )
    assert not any(line.lstrip("- ").startswith("Passé ce délai") for line in lines)


def test_a_fiche_for_minors_is_not_added_to_an_answer_about_an_adult(settings):
    adult = _context(
        "F9013",
        "Renouvellement du passeport d'un majeur",
        [("Coût", "Le passeport coûte 86 € pour un majeur.")],
    )
    minor = _context(
        "F9014",
        "Passeport d'un mineur",
        [("Coût", "Le passeport coûte 42 €.")],
        n=2,
    )
    minor.rank = 1
    text = compose(
        "combien coûte un passeport pour un adulte ?", "question", [adult, minor], settings
    )
    assert "86 €" in text
    assert "Passeport d'un mineur" not in text
    # asked for a minor, the same fiche joins
    text = compose(
        "combien coûte un passeport pour un adulte et pour un mineur ?",
        "question",
        [adult, minor],
        settings,
    )
    assert "42 €" in text


@pytest.mark.parametrize(("rank", "added"), [(1, True), (2, False)])
def test_a_reply_to_a_citizen_adds_another_fiche_only_if_its_title_names_the_matter(
    settings, rank, added
):
    """...unless it is the retriever's second fiche: it was ranked on the whole message, and
    its title often names none of the citizen's words."""
    first = _context(
        "F9006",
        "Fin d'un contrat à durée déterminée (CDD)",
        [("", "Le contrat prend fin à la date prévue, sans préavis ni formalité.")],
    )
    specific = (
        "L'employeur ne peut rompre le CDD avant la fin du contrat qu'en cas de faute grave, "
        "de force majeure ou d'inaptitude constatée par le médecin du travail."
    )
    # a fiche whose title shares one word with the message: the retriever's second, or a
    # fiche below it
    second = _context("F9015", "Sanctions disciplinaires au travail", [("", specific)], n=2)
    second.rank = rank
    message = "l'employeur peut-il rompre mon CDD avant la fin du contrat ?"
    assert (specific in compose(message, "brouillon", [first, second], settings)) is added


def test_of_two_sentences_alike_the_one_in_the_retrievers_best_chunk_leads(settings):
    parts = [
        ("Artisan", "La carte est délivrée par la chambre de métiers dans un délai d'un mois."),
        ("Commerçant", "La carte est délivrée par la préfecture dans un délai de 15 jours."),
    ]
    ctx = _context("F9011", "Carte professionnelle", parts)
    # in reading order, the first sentence leads
    text = compose("carte : délivrée dans quel délai ?", "question", [ctx], settings)
    assert "chambre de métiers" in _quoted(text)[0]
    # the retriever matched the second chunk best (on more than shared words): it leads
    best = SourceContext(ctx.source, [ctx.outline[1]], outline=ctx.outline)
    assert [u.chunk_rank for u in fiche_units(best)] == [-1, 0]
    text = compose("carte : délivrée dans quel délai ?", "question", [best], settings)
    assert "préfecture" in _quoted(text)[0]


@pytest.mark.parametrize(
    "example",
    [
        "Par exemple, avec un salaire de 2 000 € par mois, l'indemnité est de 32,87 € par jour.",
        "Exemple : avec un salaire de 2 000 € par mois, l'indemnité est de 32,87 € par jour.",
        "Exemple de calcul : un salaire de 2 000 € par mois donne une indemnité de 32,87 €.",
    ],
)
def test_an_example_however_announced_follows_the_rule(settings, example):
    rule = "L'indemnité journalière est égale à 50 % du salaire journalier de base."
    ctx = _context("F9012", "Indemnités journalières", [("Montant", example), ("Montant", rule)])
    quoted = _quoted(compose("indemnité journalière : quel montant ?", "question", [ctx], settings))
    assert quoted[0] == f"{rule} [1]"


def test_a_word_few_sentences_of_the_fiche_hold_points_at_the_answer(settings):
    # every sentence speaks of the fee and the pavement: the word that picks the answer out
    # is the one only it holds ("hiver"), not the two words the others share with the question
    winter = "La redevance est due pour une année entière, même si la terrasse ferme en hiver."
    ctx = _context(
        "F9012",
        "Terrasse de café ou de restaurant",
        [
            ("", "La redevance d'occupation du trottoir concerne les terrasses des cafés."),
            ("Déclaration", "La redevance d'occupation du trottoir est déclarée par l'exploitant."),
            ("Paiement", "La redevance d'occupation du trottoir est payée chaque trimestre."),
            ("Durée", winter),
        ],
    )
    ctx.chunks = []  # no chunk the retriever preferred: the words alone decide
    question = "redevance du trottoir en hiver ?"
    assert _quoted(compose(question, "question", [ctx], settings))[0] == f"{winter} [1]"


def test_a_long_list_answers_as_well_as_its_best_item(settings):
    banned = (
        "Le transport exceptionnel est interdit :\n"
        "- sur l'ensemble du réseau routier, à partir de midi le samedi jusqu'à 6 heures du "
        "matin le lundi, sauf dérogation accordée par le préfet ;\n"
        "- pendant les périodes d'interdiction de circulation des poids lourds définies chaque "
        "année par arrêté ministériel ;\n"
        "- pendant la fermeture des barrières de dégel sur les routes de montagne ;\n"
        "- par temps de neige ou de verglas ou lorsque la visibilité est insuffisante."
    )
    ctx = _context(
        "F9013",
        "Transport exceptionnel",
        [
            ("", "Le transport exceptionnel est soumis à une autorisation préalable du préfet."),
            ("Interdictions", banned),
        ],
    )
    ctx.chunks = []
    text = compose("convoi exceptionnel, il peut rouler le samedi ?", "question", [ctx], settings)
    assert "à partir de midi le samedi" in text.split("\n\n")[1]  # the answer, first


def test_a_sentence_opening_as_one_quoted_and_saying_most_of_it_is_not_quoted_again(settings):
    ctx = _context(
        "F24418",
        "Démission d'un membre d'une association",
        [
            (
                "",
                "Tout membre d'une association peut librement démissionner à tout moment s'il "
                "est à jour de ses cotisations et respecte les dispositions statutaires.",
            ),
            (
                "Démission",
                "Tout membre d'une association peut librement démissionner à tout moment s'il "
                "est à jour de ses cotisations (si le paiement de cotisations est prévu par les "
                "statuts). Toutefois, s'il est membre de droit, il ne peut pas démissionner.",
            ),
        ],
    )
    text = compose(
        "je veux quitter l'association, la présidente peut m'empêcher de démissionner ?",
        "question",
        [ctx],
        settings,
    )
    assert sum("librement démissionner" in line for line in _quoted(text)) == 1
    # rules opening alike that deny what the other says, or with other figures, are quoted
    rules = _context(
        "F32744",
        "Revenus d'une location meublée",
        [
            (
                "Régime fiscal",
                "Si vous louez une chambre d'hôte et que vos recettes annuelles ne dépassent "
                "pas 170 000 €, vous relevez du régime micro-BIC.",
            ),
            (
                "Régime fiscal",
                "Si vous louez une chambre d'hôte et que vos recettes annuelles dépassent "
                "170 000 €, vous relevez du régime réel.",
            ),
            (
                "Régime fiscal",
                "Si vous louez une chambre d'hôte et que vos recettes annuelles ne dépassent "
                "pas 176 200 €, vous relevez du régime micro-BIC en 2020.",
            ),
        ],
    )
    text = compose("chambre d'hôte recettes : quel régime ?", "question", [rules], settings)
    assert "170 000 €, vous relevez du régime micro-BIC" in text
    assert "régime réel" in text
    assert "176 200 €" in text


@pytest.mark.parametrize(
    ("question", "listing"),
    [
        ("asso qui reçoit des subventions, quelles obligations ?", True),
        # "obligé" has the stem of "obligations" and asks yes or no
        ("mon salarié vient à vélo, je suis obligé de payer le forfait ?", False),
        ("carte grise : quels documents ?", True),
        # one paper is no list of papers; a justificatif asked for is one of a list
        ("je peux conduire avec le papier de la police en attendant ?", False),
        ("déclaration envoyée en papier, ils ont combien de temps pour répondre ?", False),
        ("quels papiers pour refaire sa carte grise ?", True),
        ("il fournit quoi comme justificatif de domicile ?", True),
    ],
)
def test_obligations_asks_for_a_list_obliged_for_yes_or_no(question, listing):
    assert profile(question).listing is listing


@pytest.mark.parametrize(
    ("question", "fiche_word", "title", "parts", "answer"),
    [
        # "durée de validité ?" and "valable 4 ans" share no stem
        (
            "carte de commerçant ambulant : durée de validité ?",
            "valable",
            "Carte de commerçant ambulant",
            [
                ("", "La carte est délivrée dans un délai maximal d'1 mois."),
                ("", "Un certificat provisoire peut être délivré en attendant la carte."),
                ("Durée", "La carte est valable 4 ans et renouvelable."),
            ],
            "valable 4 ans",
        ),
        # "par internet ?" and "en ligne" neither
        (
            "duplicata permis de chasser, on le demande par internet ?",
            "ligne",
            "Permis de chasser : duplicata",
            [
                ("", "Il est possible de vérifier en ligne la validité d'un permis de chasser."),
                ("", "Le duplicata coûte 30 €."),
                ("Procédure", "Vous pouvez faire la demande de duplicata en ligne ou au guichet."),
            ],
            "demande de duplicata en ligne",
        ),
    ],
)
def test_an_everyday_word_meets_the_fiches_word(
    question, fiche_word, title, parts, answer, settings
):
    """The fiches' word for an everyday one the question uses is added to its stems."""
    assert stem_set(fiche_word) <= profile(question).stems
    text = compose(question, "question", [_context("F1", title, parts)], settings)
    assert answer in text


@pytest.mark.parametrize(
    "question",
    [
        "prime et allocation en même temps, c'est possible ?",
        "il peut toucher les deux aides ?",
        "la prime c'est cumulabe avec une allocation ?",  # typed so
    ],
)
def test_two_aids_together_meet_the_fiches_cumul(question, settings):
    """ "en même temps", "toucher les deux" ask what the fiches call "cumulable"."""
    ctx = _context(
        "F3",
        "Prime de mobilité des apprentis",
        [
            ("", "La prime de mobilité aide les apprentis qui déménagent pour leur formation."),
            ("", "La prime est versée par la région en une fois, sur le compte de l'apprenti."),
            ("", "La prime est demandée avant la rentrée, avec le contrat d'apprentissage."),
            ("Montant", "La prime s'élève à 500 € pour un apprenti qui touche un salaire."),
            ("Montant", "La prime est portée à 800 € pour un apprenti qui touche une aide."),
            ("Démarche", "La prime est demandée en ligne sur le site de la région."),
            ("Autres aides", "La prime de mobilité est cumulable sans limite."),
        ],
    )
    text = compose(question, "question", [ctx], settings)
    assert "cumulable sans limite" in text


@pytest.mark.parametrize(
    ("question", "asks_age"),
    [
        ("carte jeune : jusqu'à quel âge ?", True),
        ("bafa : âge minimum ?", True),
        ("retraite anticipée : conditions d'âge ?", True),
        ("adoption : écart d'âge minimum ?", True),
        ("mon fils a 15 ans, il lui faut quoi ?", False),  # an age told, not asked
        ("carte jeune : valable combien de temps ?", False),
    ],
)
def test_an_age_asked(question, asks_age):
    assert profile(question).age is asks_age


def test_an_age_asked_quotes_the_sentence_stating_one(settings):
    """ "jusqu'à quel âge ?" is answered by "de 16 à 25 ans", not by a duration in years."""
    ctx = _context(
        "F4",
        "Carte jeune de la région",
        [
            ("", "La carte jeune donne des réductions dans les musées de la région."),
            ("", "La carte jeune est gratuite."),
            ("", "La carte jeune est valable 2 ans."),
            ("", "La carte jeune se demande en ligne sur le site de la région."),
            ("Réductions", "La carte jeune donne 50 % de réduction sur les trains régionaux."),
            ("Bénéficiaires", "La carte jeune est réservée aux personnes de 16 à 25 ans."),
        ],
    )
    text = compose("carte jeune : jusqu'à quel âge ?", "question", [ctx], settings)
    assert "de 16 à 25 ans" in text


def test_a_reply_to_a_citizen_heads_no_unlabelled_bullets_with_selon_le_cas(settings):
    ctx = _context(
        "F33808",
        "Forfait mobilités durables",
        [
            ("", "La prise en charge du forfait vélo par l'employeur n'est pas obligatoire."),
            ("Montant", "Le forfait vélo est d'un montant maximum de 400 € par an et par salarié."),
            ("Cumul", "Le cumul du forfait vélo est possible dans la limite de 400 € par an."),
        ],
    )
    message = (
        "Bonjour, deux salariés viennent à vélo et demandent le forfait vélo. Je suis obligé "
        "de le payer ? Et le montant maximum du forfait vélo sans cotisations ?"
    )
    draft = compose(message, "brouillon", [ctx], settings)
    assert "400 €" in draft
    assert "pas obligatoire" in draft
    assert "Selon le cas" not in draft
    # "Montant" and "Cumul" are chapters of the fiche, not cases: the answer labels its
    # bullets with them and says no "Selon le cas"
    answer = compose("forfait vélo : obligatoire ? montant maximum ?", "question", [ctx], settings)
    assert "*Cumul* : Le cumul" in answer
    assert "Selon le cas" not in answer


def test_selon_le_cas_heads_the_bullets_of_several_cases_only(settings):
    parts = [
        ("Demande en France", "En France, la demande se fait en mairie, le délai est de 2 mois."),
        ("À l'étranger", "À l'étranger, la demande se fait au consulat, le délai est de 3 mois."),
    ]
    question = "demande de passeport : quel délai ?"
    cases = frozenset({"Demande en France", "À l'étranger"})
    answer = compose(
        question, "question", [_context("F1", "Passeport", parts, cases=cases)], settings
    )
    assert "Selon le cas :" in answer
    assert "*À l'étranger* : À l'étranger" in answer
    # the same sections as chapters: labelled, no "Selon le cas"
    chapters = compose(question, "question", [_context("F1", "Passeport", parts)], settings)
    assert "*À l'étranger* : À l'étranger" in chapters
    assert "Selon le cas" not in chapters
    # a reply to a citizen from several cases closes on the rules depending on the situation
    message = "Bonjour, je veux refaire mon passeport, quel est le délai ? Merci"
    draft = compose(
        message, "brouillon", [_context("F1", "Passeport", parts, cases=cases)], settings
    )
    assert "dépendent de votre situation" in draft
    draft = compose(message, "brouillon", [_context("F1", "Passeport", parts)], settings)
    assert "dépendent de votre situation" not in draft


@pytest.mark.parametrize(
    "question",
    [
        "autorisation de travail déposée il y a 3 mois, toujours rien, ça veut dire quoi ?",
        "autorisation de travail : la préfecture ne répond pas depuis 3 mois, c'est normal ?",
    ],
)
def test_a_request_left_unanswered_gets_what_the_silence_means(settings, question):
    ctx = _context(
        "F2728",
        "Autorisation de travail d'un étranger salarié",
        [
            ("Démarche", "La demande d'autorisation de travail est faite par l'employeur."),
            (
                "Démarche",
                "L'autorisation de travail permet d'exercer un emploi salarié en France.",
            ),
            (
                "Démarche",
                "Il est interdit d'embaucher un travailleur étranger sans autorisation de travail.",
            ),
            (
                "Délai",
                "Si l'administration n'a pas répondu dans un délai de 2 mois, la demande est "
                "refusée.",
            ),
        ],
    )
    text = compose(question, "question", [ctx], settings)
    assert "la demande est refusée" in _quoted(text)[0]


def test_a_fine_answers_what_one_risks_not_what_something_costs(settings):
    ctx = _context(
        "F1392",
        "Carte de pêche",
        [
            ("Sanctions", "Pêcher sans carte de pêche est puni d'une amende de 450 €."),
            (
                "Coût",
                "Le prix de la carte de pêche annuelle d'un adulte dépend de la fédération "
                "départementale, dans la limite de 100 €.",
            ),
        ],
    )
    cost = compose("carte de pêche : c'est combien ?", "question", [ctx], settings)
    assert "100 €" in _quoted(cost)[0]
    risk = compose("pêcher sans carte de pêche, il risque quoi ?", "question", [ctx], settings)
    assert "450 €" in _quoted(risk)[0]


def test_a_sentence_naming_an_abbreviation_the_fiche_marks_up_speaks_of_its_long_form(
    settings,
):
    ctx = _context(
        "F1119",
        "Dissolution d'une association",
        [
            (
                "Liquidation",
                "La liquidation débute par une annonce de la dissolution dans le journal "
                "désigné par les statuts de l'association.",
            ),
            ("Publication", "Aucun texte n'impose de déclarer la dissolution au JOAFE."),
        ],
    )
    question = "dissolution de l'asso : une annonce au Journal officiel des associations ?"
    assert "statuts" in _quoted(compose(question, "question", [ctx], settings))[0]
    ctx.abbreviations = (
        ("JOAFE", "Journal officiel des associations et fondations d'entreprises"),
    )
    assert "JOAFE" in _quoted(compose(question, "question", [ctx], settings))[0]


def test_a_sentence_scoring_a_third_of_the_best_still_answers(settings):
    # "Il peut circuler ?" is best answered by the rule on the old registration; the
    # provisional certificate, scoring about a third of it, says for how long and where:
    # the answer quotes it too (a floor at 45 % of the best left it out).
    ctx = _context(
        "F1050",
        "Carte grise d'un véhicule d'occasion",
        [
            (
                "Circulation",
                "Après la vente, vous ne pouvez pas circuler avec l'ancienne carte grise barrée "
                "du véhicule acheté au-delà d'un mois.",
            ),
            (
                "Circulation",
                "Un certificat provisoire permet de circuler en France uniquement, pendant 1 mois.",
            ),
            ("Coût", "La taxe régionale dépend de la puissance fiscale."),
        ],
    )
    text = compose(
        "il a acheté une voiture avec la carte grise barrée, il peut circuler avec ?",
        "question",
        [ctx],
        settings,
    )
    quoted = _quoted(text)
    assert "l'ancienne carte grise barrée" in quoted[0]
    assert any("en France uniquement, pendant 1 mois" in q for q in quoted)
    assert not any("puissance fiscale" in q for q in quoted)


def test_the_second_fiche_gives_a_second_sentence_only_when_it_answers_nearly_as_well(settings):
    first = _context(
        "F9030",
        "Réductions de prix en magasin",
        [
            ("", "Une réduction de prix annoncée doit indiquer le prix de référence barré."),
            ("Affichage", "Le commerçant affiche la réduction sur l'étiquette du produit."),
        ],
    )
    what = (
        "Les ventes en liquidation sont des ventes accompagnées de réductions de prix pour "
        "écouler rapidement le stock du magasin."
    )
    how_long = "La liquidation du stock dure au plus 2 mois après la déclaration en mairie."
    aside = "Le commerçant tient un inventaire des marchandises liquidées."
    second = _context(
        "F9031",
        "Liquidation du stock d'un magasin",
        [("", what), ("Durée", how_long), ("Inventaire", aside)],
        n=2,
    )
    second.rank = 1
    question = "liquidation du stock d'un magasin : réductions de prix, ça dure combien de temps ?"
    text = compose(question, "question", [first, second], settings)
    # both sentences that answer, not the third, which scores far below them
    assert what in text
    assert how_long in text
    assert aside not in text
    # one sentence when the next scores far below the fiche's best
    text = compose(
        "réductions de prix pour liquidation du stock ?", "question", [first, second], settings
    )
    assert what in text
    assert how_long not in text


def test_a_meeting_is_no_case_on_the_island_of_la_reunion(settings):
    rule = (
        "Lorsque la réunion ne se rattache pas aux activités de l'école (kermesse, bourse aux "
        "vêtements), l'association demande l'autorisation préalable de la mairie."
    )
    ctx = _context(
        "F9032",
        "Association de parents d'élèves",
        [
            ("", "Elle est déclarée en préfecture comme toute association loi 1901."),
            ("Rôle de l'association › Réunions et services", rule),
            (
                "Cotisation › À la Réunion",
                "À la Réunion, l'association demande l'autorisation du rectorat pour une kermesse.",
            ),
        ],
    )
    text = compose(
        "association de parents d'élèves, une kermesse à l'école, il faut l'autorisation de la "
        "mairie ?",
        "question",
        [ctx],
        settings,
    )
    # the meeting's section answers; the island's case does not, the question not naming it
    assert _quoted(text)[0] == f"{rule} [1]"
    assert "rectorat" not in text
    # a meeting is no place: its sentences are not set aside as a case elsewhere; the island is
    places = {u.section: u.places for u in fiche_units(ctx)}
    assert places["Rôle de l'association › Réunions et services"] == frozenset()
    assert places["Cotisation › À la Réunion"] == {"overseas"}
    assert profile("il vit à la Réunion depuis 3 ans, il a droit à quoi ?").elsewhere
    assert not profile("je vais à la réunion de l'AG, il faut un pouvoir ?").elsewhere


def test_a_country_named_makes_the_cases_abroad_its_own_not_the_overseas_ones(settings):
    general = "Le timbre fiscal s'achète dans un bureau de tabac agréé ou en ligne."
    overseas = "En Guyane, le timbre fiscal s'achète à la trésorerie ou en ligne."
    abroad = "À l'étranger, le timbre fiscal se paie au consulat."
    ctx = _context(
        "F9036",
        "Timbre fiscal",
        [("Cas général", general), ("En Guyane", overseas), ("À l'étranger", abroad)],
    )
    places = {u.section: u.places for u in fiche_units(ctx)}
    assert places == {
        "Cas général": frozenset(),
        "En Guyane": frozenset({"overseas"}),
        "À l'étranger": frozenset({"abroad"}),
    }
    trip = "je pars en Italie, le timbre fiscal s'achète à la trésorerie ?"
    assert profile(trip).elsewhere == {"abroad"}
    assert _quoted(compose(trip, "question", [ctx], settings))[0] == f"{general} [1]"
    home = "j'habite en Guyane, le timbre fiscal s'achète à la trésorerie ?"
    assert _quoted(compose(home, "question", [ctx], settings))[0] == f"{overseas} [1]"


def test_a_reply_names_the_cases_its_figures_belong_to(settings):
    # two cases of a price table quoted side by side read as contradicting each other: a
    # reply names them; a sentence of one case beside general ones is left unlabelled
    parts = [
        ("Prix", "Les frais de fourrière sont à payer pour récupérer le véhicule."),
        ("Prix › Voiture particulière › Cas général", "Enlèvement de la voiture : 121,27 €"),
        ("Prix › Voiture particulière › Paris", "Enlèvement de la voiture : 150 €"),
    ]
    cases = frozenset({"Voiture particulière", "Cas général", "Paris"})
    ctx = _context("F9035", "Mise en fourrière d'un véhicule", parts, cases=cases)
    message = (
        "Ma voiture a été enlevée par la fourrière. Combien coûte l'enlèvement de la voiture ?"
    )
    text = compose(message, "brouillon", [ctx], settings)
    assert "*Paris* : Enlèvement de la voiture : 150 €" in text
    assert "Cas général" in text
    # one case only: no label, as before
    one = _context("F9035", "Mise en fourrière d'un véhicule", parts[:2], cases=cases)
    text = compose(message, "brouillon", [one], settings)
    assert "Enlèvement de la voiture : 121,27 €" in text
    assert "Cas général" not in text


def test_a_hyphenated_region_is_a_case_elsewhere(settings):
    # "Alsace-Moselle" is one token to the stemmer: read word by word, it is a special
    # place like "Moselle" alone, and a question that does not name it gets the general case
    local = "La démission par lettre prend effet à sa réception par le président."
    general = "La démission prend effet à sa réception par le bureau."
    ctx = _context(
        "F9034",
        "Démission d'un membre d'une association",
        [
            ("", "Tout membre peut démissionner s'il est à jour de ses cotisations."),
            ("Cas général", general),
            ("Alsace-Moselle", local),
        ],
    )
    places = {u.section: u.places for u in fiche_units(ctx)}
    assert places == {
        "": frozenset(),
        "Cas général": frozenset(),
        "Alsace-Moselle": {"alsace-moselle"},
    }
    text = compose(
        "démission par lettre : elle prend effet à la réception ?", "question", [ctx], settings
    )
    # the general case answers; the region's, if quoted at all, comes after it, named
    assert _quoted(text)[0] == f"{general} [1]"
    assert local not in text or "*Alsace-Moselle* :" in text or "_Alsace-Moselle_" in text
    assert profile("association en Alsace-Moselle : un membre peut-il démissionner ?").elsewhere
    assert profile("il part vivre en Nouvelle-Calédonie, il garde ses droits ?").elsewhere


@pytest.mark.parametrize(
    ("title", "condition_given"),
    [
        ("Peut-on cumuler le RSA avec l'allocation aux personnes âgées ?", True),
        ("Cumul du RSA et de l'allocation aux personnes âgées", False),
    ],
)
def test_a_question_answer_second_fiche_gives_its_condition_too(settings, title, condition_given):
    first = _context(
        "F9033",
        "Allocation de solidarité aux personnes âgées",
        [
            ("", "L'allocation est versée chaque mois aux retraités ayant de faibles ressources."),
            ("Montant", "Son montant dépend des ressources du foyer."),
        ],
    )
    answer = (
        "Oui, vous pouvez cumuler le RSA avec l'allocation de solidarité aux personnes âgées "
        "si vous remplissez les conditions générales pour en bénéficier."
    )
    condition = "Le montant du RSA sera alors réduit du montant de l'allocation perçue."
    second = _context(
        "F9034", title, [("", answer), ("", condition), ("", "Le RSA est versé par la Caf.")], n=2
    )
    second.rank = 1
    text = compose(
        "RSA et allocation personnes âgées en même temps, c'est possible ?",
        "question",
        [first, second],
        settings,
    )
    assert answer in text
    # a question-answer fiche answers its title's question as a whole: its next sentence
    # comes at half its best's score; another fiche's, only when nearly as good
    assert (condition in text) is condition_given


def test_the_leads_own_case_comes_first_and_each_other_case_is_named_once(settings):
    said = {
        "Titularisé à partir de 2015": [
            "Contractuel, vous avez cotisé au régime général et à l'Ircantec.",
            "Titulaire, vous cotisez à la CNRACL et à la RAFP : une pension de ces 4 caisses.",
        ],
        "Titularisé avant 2013": [
            "Vos cotisations retraite de contractuel pouvaient être reversées à la CNRACL.",
            "Le reversement des cotisations retraite se faisait sur votre demande.",
        ],
    }
    parts = [(case, text) for case, texts in said.items() for text in texts]
    ctx = _context("F9035", "Retraite d'un contractuel titularisé", parts, cases=set(said))
    answer = compose(
        "contractuel titularisé : cotisations au régime général, Ircantec, CNRACL, RAFP, "
        "pension de combien de caisses ? reversement des cotisations ?",
        "question",
        [ctx],
        settings,
    )
    lines = answer.splitlines()
    heading = lines.index("Selon le cas :")
    # the lead's case: its heading above the lead, its other sentences right after it, bare
    lead = lines[2].strip("_")
    (other,) = set(said) - {lead}
    own = [i for i, line in enumerate(lines) for t in said[lead][1:] if t in line]
    assert own
    assert all(i < heading and not lines[i].startswith("- *") for i in own)
    # the other case: named once, its sentences side by side in one bullet
    assert answer.count(f"*{other}*") == 1
    assert f"- *{other}* : {' '.join(said[other])} [1]" in answer


def test_a_year_stated_sets_aside_the_case_of_another_period(settings):
    before = "Logement loué › Contrat de location signé avant le 9 mars 2015"
    after = "Logement loué › Contrat de location signé après le 9 mars 2015"
    ctx = _context(
        "F9036",
        "Détecteur de fumée dans le logement",
        [
            (before, "Le locataire doit installer le détecteur de fumée dans le logement."),
            (after, "Le propriétaire doit installer le détecteur de fumée dans le logement."),
        ],
        cases=frozenset({"Logement loué"}),
    )
    question = "détecteur de fumée : au propriétaire ou au locataire ? bail signé en "
    assert _quoted(compose(question + "2018", "question", [ctx], settings))[0].startswith(
        "Le propriétaire doit"
    )
    assert _quoted(compose(question + "2012", "question", [ctx], settings))[0].startswith(
        "Le locataire doit"
    )


@pytest.mark.parametrize(
    ("after", "section", "completes"),
    [
        # a condition, a figure or a place right after the answer completes it
        ("Si la demande est incomplète, elle est renvoyée au commerçant.", "Demande", True),
        ("Le délai est porté à 2 mois pour un commerce de plus de 300 m².", "Demande", True),
        ("Le dossier se dépose auprès du placier de la commune.", "Demande", True),
        # a sentence that says nothing of the kind, or the next one of another section
        ("Les commerçants non sédentaires sont nombreux en été.", "Demande", False),
        ("Si la demande est incomplète, elle est renvoyée au commerçant.", "Tarifs", False),
    ],
)
def test_the_sentence_after_the_answer_is_quoted_when_it_completes_it(after, section, completes):
    from chains.extractive import Shown, _follower, fiche_units, profile, score

    ctx = _context(
        "F32276",
        "Vente sur un marché : comment obtenir une place ?",
        [
            ("Demande", "La mairie répond à la demande de place dans un délai de 1 mois."),
            (section, after),
        ],
    )
    every = fiche_units(ctx)
    p = profile("la mairie répond à une demande de place au marché en combien de temps ?")
    scored = [(score(u, p, u.section_stems), u) for u in every]
    follower = _follower(every[0], every, scored, Shown())
    assert (follower is not None and follower.text == after) is completes
    # one already in the draft is not quoted twice
    shown = Shown()
    shown.add(every[-1])
    assert _follower(every[0], every, scored, shown) is None


def test_a_sum_stated_leads_to_the_case_whose_range_holds_it(settings):
    up_to = "Remboursement › Si le code secret a été utilisé › Jusqu'à 50 € dépensés"
    above = "Remboursement › Si le code secret a été utilisé › Plus de 50 € dépensés"
    ctx = _context(
        "F2428",
        "Vol de sa carte bancaire",
        [
            (up_to, "Il n'y a aucun remboursement."),
            (above, "Le remboursement est partiel : 50 € sont à votre charge."),
        ],
        cases=frozenset({"Remboursement"}),
    )
    question = "carte volée, le voleur a retiré {} avec mon code, la banque rembourse quoi ?"
    assert _quoted(compose(question.format("200 €"), "question", [ctx], settings))[0].startswith(
        "Le remboursement est partiel"
    )
    assert _quoted(compose(question.format("30 euros"), "question", [ctx], settings))[0].startswith(
        "Il n'y a aucun remboursement"
    )


@pytest.mark.parametrize(
    ("documents", "quoted"),
    [
        # as close to the message as the others: quoted fifth
        (
            "Les documents pour la carte de pêche de votre fils : une photo et un justificatif.",
            True,
        ),
        # 48 % of the best (above the 30 % floor of the first four): beyond four, left out
        (
            "Les documents à fournir pour la carte de pêche sont une photo et un justificatif.",
            False,
        ),
    ],
)
def test_a_reply_to_a_citizen_may_quote_a_fifth_sentence_when_it_answers_well(
    settings, documents, quoted
):
    said = [
        "La carte de pêche se demande en ligne auprès de la fédération départementale.",
        "Le prix de la carte de pêche annuelle est de 75 € pour un adulte.",
        "La durée de validité de la carte de pêche annuelle est d'un an.",
        "La carte de pêche est gratuite pour un enfant de moins de 12 ans.",
    ]
    aside = "Les poissons pêchés doivent mesurer une taille minimale."
    ctx = _context("F9037", "Carte de pêche", [("", t) for t in [*said, documents, aside]])
    message = (
        "Bonjour, mon fils veut pêcher : la carte de pêche se demande où, quel prix pour la "
        "carte de pêche, quelle durée de validité, et pour un enfant, et quels documents "
        "pour la carte de pêche ? Merci"
    )
    draft = compose(message, "brouillon", [ctx], settings)
    assert all(t in draft for t in said)
    assert (documents in draft) is quoted
    assert aside not in draft
    # an answer to an agent's question keeps to four sentences, but for a part of the
    # question (its questions listed with commas) that a fifth answers
    answer = compose(message, "question", [ctx], settings)
    assert sum(t in answer for t in [*said, documents]) == (5 if quoted else 4)


def test_a_sentence_of_another_subsection_of_the_leads_section_names_it(settings):
    cars = "Indemnisation › Véhicules automobiles"
    bikes = "Indemnisation › Vélomoteurs, scooters, motos"
    ctx = _context(
        "F9038",
        "Véhicule personnel d'un bénévole",
        [
            (cars, "Le barème des frais kilométriques des bénévoles est de 0,319 € par km."),
            (cars, "Le barème kilométrique des bénévoles s'applique aux frais non remboursés."),
            (bikes, "Le barème des frais kilométriques des bénévoles est de 0,124 € par km."),
        ],
    )
    answer = compose(
        "bénévole : barème des frais kilométriques non remboursés ?", "question", [ctx], settings
    )
    lines = answer.splitlines()
    # the lead's own subsection is named above it; a sentence of the same subsection follows
    # bare, one of another subsection under the title where the two part
    assert lines[2] == f"_{cars}_"
    assert (
        "- Le barème kilométrique des bénévoles s'applique aux frais non remboursés. [1]" in lines
    )
    assert any(line.startswith("- *Vélomoteurs, scooters, motos* : ") for line in lines)
    assert "*Indemnisation*" not in answer


def test_a_labelled_list_with_no_lead_in_is_nested_under_its_label():
    items = "- Carte d'identité\n- Justificatif de domicile [1]"
    # its items under the label, not the first one beside it and the others as siblings
    assert _bullet(items, "*Le passeport est périmé* : ") == [
        "- *Le passeport est périmé* :",
        "  - Carte d'identité",
        "  - Justificatif de domicile [1]",
    ]
    assert _bullet(items) == ["- Carte d'identité", "- Justificatif de domicile [1]"]
    # a lead-in that only repeats the label is said once
    table = "Identité et famille :\n- Avoir des papiers personnels ; À tout âge [1]"
    assert _bullet(table, "*Identité et famille* : ") == [
        "- *Identité et famille* :",
        "  - Avoir des papiers personnels ; À tout âge [1]",
    ]


def test_the_subsections_of_another_section_are_told_apart(settings):
    msa = "Régime agricole (MSA) › Conditions de ressources"
    ctx = _context(
        "F9039",
        "Allocation de rentrée scolaire",
        [
            ("", "L'allocation de rentrée scolaire est versée sous conditions de ressources."),
            (f"{msa} › 1", "Plafond de ressources : 25 093 €"),
            (f"{msa} › 2", "Plafond de ressources : 30 884 €"),
        ],
    )
    answer = compose(
        "allocation de rentrée scolaire : plafond de ressources ?", "question", [ctx], settings
    )
    # each plafond saying which (not the two amounts side by side): the first leads under
    # its section's path, the other's bullet names its subsection
    first = (
        "_Régime agricole (MSA) › Conditions de ressources › 1_\nPlafond de ressources : 25 093 €"
    )
    assert first in answer, answer
    assert "- *2* : Plafond de ressources : 30 884 € [1]" in answer, answer


def _minor_passport(*parts: tuple[str, str]):
    """A minor's first passport: its summary, at the head of "En France", then `parts`."""
    summary = (
        "Pour demander le passeport d'un mineur, l'enfant et son représentant se rendent dans "
        "une mairie équipée avec les pièces justificatives."
    )
    return _context(
        "F14930", "Passeport d'un mineur : première demande", [("En France", summary), *parts]
    )


def test_a_question_naming_only_the_fiches_matter_opens_on_its_summary(settings):
    # "renouveler un passeport": every sentence of the fiche holds "passeport", and the
    # shortest of them ("L'ancien passeport doit être restitué.") outscored the summary that
    # says where to go and what it costs
    ctx = _context(
        "F21091",
        "Renouvellement du passeport d'un majeur",
        [
            (
                "",
                "Pour refaire un passeport périmé ou bientôt périmé, il faut se rendre dans "
                "une mairie équipée. Il coûte 86 € en France.",
            ),
            (
                "En France › Où et comment faire la démarche ?",
                "Le lieu de la demande ne dépend pas de votre domicile. Votre présence est "
                "indispensable pour procéder à la prise d'empreintes.",
            ),
            (
                "En France › Retrait du passeport",
                "Le passeport doit être retiré dans les 3 mois. L'ancien passeport doit être "
                "restitué.",
            ),
        ],
    )
    text = compose("renouveler un passeport", "question", [ctx], settings)
    assert _quoted(text)[0].startswith("Pour refaire un passeport périmé")
    # a question asking for more than the matter still gets the sentence on what it asks
    text = compose("retrait du passeport renouvelé délai ?", "question", [ctx], settings)
    assert "3 mois" in _quoted(text)[0]
    # a fiche written for France and abroad opens on its first situation's head
    minor = _minor_passport(
        ("En France › Durée de validité", "Le passeport d'un mineur est valable 5 ans.")
    )
    text = compose("passeport mineur", "question", [minor], settings)
    assert _quoted(text)[0].startswith("Pour demander le passeport d'un mineur")


def test_a_question_telling_of_the_person_the_title_names_opens_on_the_summary(settings):
    # "mon fils a 15 ans" is the title's "mineur": the question names nothing else but the
    # matter, and opened on the signing rule of the case "À partir de 13 ans"
    minor = _minor_passport(
        (
            "En France › Retrait du passeport › À partir de 13 ans",
            "Si son responsable est d'accord, l'enfant peut signer le passeport. Le "
            "responsable doit se présenter au guichet avec son enfant pour récupérer le "
            "passeport.",
        )
    )
    question = "mon fils a 15 ans, il lui faut quoi pour son premier passeport ?"
    for mode in ("question", "brouillon"):
        text = compose(question, mode, [minor], settings)
        assert _quoted(text)[0].startswith("Pour demander le passeport d'un mineur"), text
    # a word the title does not hold is asked about: the case answers it
    text = compose(
        "mon fils a 15 ans, il peut signer son passeport ?", "question", [minor], settings
    )
    assert _quoted(text)[0].startswith("Si son responsable est d'accord")


def test_a_list_with_no_lead_in_is_quoted_under_its_sections_title(settings):
    # "- 115,99 € par mois …" alone reads as a loose statement; under its section's title it
    # says what it lists, in a reply to a citizen too (which otherwise names no section)
    ctx = _context(
        "F33646",
        "Allocation de soutien familial (ASF) : enfant orphelin",
        [
            ("", "L'ASF est versée à la personne qui élève seule un enfant orphelin."),
            ("Demande", "La demande d'ASF se fait auprès de la Caf."),
            (
                "Montant selon la situation de l'enfant",
                "- 115,99 € par mois pour un orphelin de père ou de mère\n"
                "- 154,64 € par mois pour un orphelin de père et de mère",
            ),
            ("Pièces à fournir", "- Acte de décès du parent\n- Livret de famille"),
        ],
    )
    message = (
        "Bonjour, mon mari est décédé. L'ASF c'est combien par mois ? Et quelles pièces fournir ?"
    )
    requests = ["L'ASF c'est combien par mois ?", "Et quelles pièces fournir ?"]
    for mode in ("brouillon", "question"):
        lines = compose(message, mode, [ctx], settings, requests).splitlines()
        for title, item in (
            ("Montant selon la situation de l'enfant", "115,99 € par mois"),
            ("Pièces à fournir", "Acte de décès du parent"),
        ):
            at = next(k for k, x in enumerate(lines) if item in x)
            above = lines[at - 1]
            assert above in (f"_{title}_", f"- *{title}* :"), (mode, lines)


def test_a_list_whose_lead_in_answers_leads_the_draft(settings):
    # no list was asked for, but the lead-in says the answer; a table never leads that way
    ctx = _context(
        "F1216",
        "Dans quels cas saisir la commission départementale de conciliation ?",
        [
            ("", "La CDC intervient gratuitement auprès du locataire."),
            (
                "Litige individuel › Est-ce obligatoire ?",
                "La saisine de la CDC est un préalable obligatoire avant tout recours au juge "
                "pour les litiges suivants :\n- hausse d'un loyer sous-évalué,\n"
                "- complément de loyer.",
            ),
        ],
    )
    question = "la saisine de la CDC avant le juge, c'est obligatoire pour un locataire ?"

    def opening(source) -> str:  # the draft's first line below its label and heading
        lines = compose(question, "question", [source], settings).splitlines()
        return next(x for x in lines[2:] if x and not x.startswith("_"))

    assert opening(ctx).startswith("La saisine de la CDC est un préalable obligatoire")
    # the same list laid out as a table ("Litige : … ; Délai : …") does not lead
    table = _context(
        "F1216",
        ctx.source.title,
        [
            ("", "La CDC intervient gratuitement auprès du locataire."),
            (
                "Litige individuel › Est-ce obligatoire ?",
                "La saisine de la CDC est un préalable obligatoire avant tout recours au juge "
                "pour les litiges suivants :\n- Litige : hausse du loyer ; Délai : 2 mois\n"
                "- Litige : complément de loyer ; Délai : 3 mois",
            ),
        ],
    )
    assert opening(table).startswith("La CDC intervient gratuitement")


def test_a_sentence_naming_back_further_on_follows_its_antecedent_when_both_are_chosen():
    # "… même en dessous de ce chiffre d'affaires" led the draft before the sentence stating
    # the figure; orders repeat across a fiche's sections, which once made such a lead join
    # itself and vanish
    rule = _unit(
        "Le micro-entrepreneur ouvre un compte dédié si son chiffre d'affaires dépasse "
        "10 000 € pendant 2 années.",
        "Compte bancaire dédié",
        2,
        False,
    )
    advice = _unit(
        "Un compte dédié est recommandé même en dessous de ce chiffre d'affaires.",
        "Compte bancaire dédié",
        3,
        False,
    )
    other = _unit("Les factures sont conservées 10 ans.", "Facturation", 3, False)
    assert advice.points_back
    assert not advice.leans
    out = _with_antecedents([advice, rule], [rule, advice, other], Shown())
    assert [u.text for u in out] == [f"{rule.text} {advice.text}"]
    # alone, it is not given the sentence before: it does not open on a word that needs it
    assert [u.text for u in _with_antecedents([advice], [rule, advice, other], Shown())] == [
        advice.text
    ]


def test_a_forms_record_is_quoted_without_its_catalogue_lines(settings):
    record = _context(
        "R48756",
        "Formulaire 15725*03 : Déclaration conjointe d'un Pacs",
        [
            (
                "",
                "Formulaire 15725*03 : Déclaration conjointe d'un Pacs et attestations sur "
                "l'honneur\nNuméro cerfa : 15725*03 (cerfa 15725)\nFiches liées : Se pacser\n"
                "Déclaration conjointe d'un Pacs - Formulaire\n"
                "Permet aux futurs partenaires de déclarer leur Pacs.\n"
                "Lien : https://www.formulaires.service-public.fr/gf/cerfa_15725.do",
            )
        ],
    )
    text = compose("formulaire pour se pacser ?", "question", [record], settings)
    for line in ("Numéro cerfa", "Fiches liées", "Lien :", "- Formulaire ["):
        assert line not in text
    assert "Permet aux futurs partenaires de déclarer leur Pacs. [1]" in text


def test_a_fiche_quoted_beside_the_first_gives_one_short_list(settings):
    # "quelles obligations ?" asks for lists; the fiche beside the first answered it with two
    # lists of 14 and 9 bodies bound to name an auditor: a draft of 600 words
    first = _context(
        "F1001",
        "Association : obligations comptables",
        [
            (
                "Comptes annuels",
                "Une association doit établir des comptes annuels si elle reçoit plus de "
                "153 000 € de subventions. Elle doit alors nommer un commissaire aux comptes "
                "et publier ses comptes.",
            )
        ],
    )
    bodies = [f"- Associations de la catégorie {i} soumises à obligations" for i in range(1, 11)]
    others = [f"- Organismes du groupe {i} soumis à obligations" for i in range(1, 9)]
    second = replace(
        _context(
            "F1002",
            "Dans quels cas une association doit-elle nommer un commissaire aux comptes ?",
            [
                (
                    "Associations",
                    "Les associations suivantes ont l'obligation de nommer un commissaire aux "
                    "comptes dès 153 000 € de subventions :\n" + "\n".join(bodies),
                ),
                (
                    "Autres organismes",
                    "Les obligations comptables s'appliquent aussi aux organismes suivants :\n"
                    + "\n".join(others),
                ),
            ],
            n=2,
        ),
        rank=1,
    )
    question = "asso qui reçoit plus de 153 000 € de subventions, quelles obligations ?"
    text = compose(question, "question", [first, second], settings)
    beside = text.split("Voir aussi")[1].split("\n", 1)[1]
    assert beside.count(":\n") == 1, text  # one list
    assert "catégorie 6 " in beside
    assert "catégorie 7 " not in beside
    assert "- …" in beside
    assert "groupe" not in beside


def test_a_sentence_stating_the_amount_the_question_states_gains(settings):
    # "sa maison a été construite il y a 18 mois … TVA à 10 %": the rule that names the 10 %
    # rate answers, before the fiche's general opening
    ctx = _context(
        "F23568",
        "Taux de TVA pour les travaux de rénovation d'un logement",
        [
            (
                "",
                "Les travaux de rénovation réalisés dans un logement ancien bénéficient de taux "
                "de TVA réduits sous certaines conditions.",
            ),
            (
                "Conditions",
                "Le taux intermédiaire de 10 % est réservé aux travaux d'amélioration et "
                "d'aménagement sur les logements achevés depuis plus de 2 ans.",
            ),
        ],
    )
    question = "facture avec TVA à 10 % pour l'aménagement de combles, maison construite en 2019 ?"
    assert profile(question).figures == frozenset({"percent:10"})
    text = compose(question, "question", [ctx], settings)
    assert _quoted(text)[0].startswith("Le taux intermédiaire de 10 %"), text


def _succession_declaration():
    return _context(
        "F9036",
        "Droits de succession : déclaration",
        [
            (
                "Qui doit faire une déclaration ? › Vous êtes l'enfant du défunt",
                "Vous devez faire une déclaration de succession seulement si l'actif brut "
                "successoral est supérieur ou égal à 50 000 €.",
            ),
            (
                "Qui doit faire une déclaration ? › Vous êtes le conjoint du défunt",
                "Vous devez faire une déclaration de succession seulement si l'actif brut "
                "successoral est supérieur ou égal à 50 000 € et si vous n'avez pas reçu de "
                "donation.",
            ),
            (
                "Qui doit faire une déclaration ? › Vous êtes un autre bénéficiaire",
                "Vous devez faire une déclaration de succession si l'actif brut successoral est "
                "supérieur ou égal à 3 000 €.",
            ),
        ],
        cases=frozenset(
            {
                "Vous êtes l'enfant du défunt",
                "Vous êtes le conjoint du défunt",
                "Vous êtes un autre bénéficiaire",
            }
        ),
    )


def test_the_case_for_the_relative_told_of_leads_and_others_are_the_other_beneficiaries(
    settings,
):
    ctx = _succession_declaration()
    # no case names a nephew: he is one of the other beneficiaries
    nephew = "un neveu hérite de 10 000 € de sa tante, il doit faire une déclaration ?"
    assert "3 000 €" in _quoted(compose(nephew, "question", [ctx], settings))[0]
    # a son's is his own case
    son = "un fils hérite de 10 000 € de sa mère, il doit faire une déclaration ?"
    quoted = _quoted(compose(son, "question", [ctx], settings))
    assert "50 000 €." in quoted[0]
    assert not [q for q in quoted if "3 000 €" in q], quoted
    # a question naming no relative leaves every case as it was
    assert profile("il hérite de 10 000 €, déclaration ?").kin == frozenset()


def test_kinship_words_are_read_as_groups_of_relatives():
    assert kin_named("grand mère qui donne à sa petite-fille") == {"ascendant", "petit-enfant"}
    assert kin_named("un neveu hérite de sa tante") == {"neveu-niece"}
    assert kin_named("sa femme est décédée") == {"conjoint"}
    assert kin_named("une femme de 32 ans") == frozenset()  # a woman, not a wife
    assert kin_named("Vous êtes un autre bénéficiaire") == frozenset()


def test_a_sentence_from_another_section_is_labelled_with_the_case_it_is_for(settings):
    ctx = _context(
        "F9037",
        "Droits de succession : qui est exonéré ?",
        [
            (
                "Qui paie les droits ?",
                "Les droits de succession sont payés par chaque héritier sur sa part, sauf "
                "exonération.",
            ),
            (
                "Exonérations liées au bénéficiaire › Frère ou sœur",
                "Vous êtes exonéré des droits de succession si vous avez constamment vécu avec "
                "le défunt durant les 5 années ayant précédé son décès.",
            ),
        ],
    )
    question = "qui paie les droits de succession ? le frère qui vivait avec le défunt aussi ?"
    quoted = _quoted(compose(question, "question", [ctx], settings))
    # whom the exemption is for, not only the chapter it is in
    assert quoted[-1].startswith("- *Exonérations liées au bénéficiaire › Frère ou sœur* : "), (
        quoted
    )


def test_the_sentence_naming_the_persons_situation_beats_the_summary_repeating_the_title(
    settings,
):
    ctx = _context(
        "F9038",
        "Directives anticipées : dernières volontés sur les soins en fin de vie",
        [
            (
                "",
                "Toute personne majeure peut rédiger des directives anticipées pour exprimer "
                "ses souhaits concernant sa fin de vie.",
            ),
            (
                "De quoi s'agit-il ?",
                "Les directives anticipées vous permettent de faire connaître vos souhaits sur "
                "votre fin de vie.",
            ),
            (
                "Formalités › Qui peut rédiger des directives anticipées ?",
                "La personne majeure sous tutelle peut rédiger des directives anticipées avec "
                "l'autorisation du juge ou du conseil de famille.",
            ),
            (
                "Formalités › Comment les rédiger ?",
                "Elles doivent prendre la forme d'un document écrit, daté et signé. Le document "
                "est manuscrit ou dactylographié. Il se fait sur papier libre.",
            ),
            (
                "Faire connaître leur existence",
                "Vous devez informer votre médecin de leur existence. Ainsi le médecin qui vous "
                "accompagnera lors de votre fin de vie saura où trouver vos directives.",
            ),
            (
                "Durée de validité",
                "Les directives anticipées ont une durée illimitée. Elles peuvent être "
                "modifiées ou annulées à tout moment.",
            ),
        ],
    )
    question = "monsieur sous tutelle veut écrire ce qu'il veut pour sa fin de vie, il a le droit ?"
    p = profile(question)
    every = fiche_units(ctx)
    weights = specificity(every, title=ctx.source.title)
    by_text = {u.text[:40]: score(u, p, u.section_stems, weights=weights) for u in every}
    # "fin de vie" says which fiche (its title words weigh less), "sous tutelle" which sentence
    tutelle = by_text["La personne majeure sous tutelle peut ré"]
    assert tutelle > by_text["Vous devez informer votre médecin de leu"], by_text
    assert specificity(every, title=ctx.source.title)["vi"] < specificity(every)["vi"]


@pytest.mark.parametrize(
    ("question", "needed"),
    [
        ("mon fils a 15 ans, il lui faut quoi pour son premier passeport ?", True),
        ("pour la carte grise, que doit-il fournir ?", True),
        ("qu'est-ce qu'elle doit apporter à la mairie ?", True),
        ("il doit amener quoi au rendez-vous ?", True),
        ("elle a besoin de quoi pour s'inscrire ?", True),
        # what someone can do, or a list already asked for by its name
        ("le propriétaire peut faire quoi ?", False),
        ("passeport mineur : quelles pièces ?", False),
    ],
)
def test_what_is_needed_is_read_from_the_ways_agents_ask_it(question, needed):
    assert profile(question).needed is needed


def test_what_is_needed_gives_the_list_of_pieces_with_the_other_cases_named(settings):
    # a packed chunk as the chunker writes it: the case titles as heading lines, each right
    # above its list (read as the list's case, not as its lead-in)
    pieces = "\n".join(
        [
            "Il faut présenter les documents originaux.",
            "L'enfant a une carte d'identité valide :",
            "- Carte d'identité de l'enfant",
            "- Photo d'identité de moins de 6 mois",
            "- Justificatif de domicile",
            "L'enfant n'a pas de carte d'identité :",
            "- Photo d'identité de moins de 6 mois",
            "- Acte de naissance de moins de 3 mois",
            "- Justificatif de domicile",
        ]
    )
    ctx = _context(
        "F9040",
        "Passeport d'un mineur : première demande",
        [
            ("", "Le passeport d'un mineur se demande en mairie, avec l'enfant."),
            ("En France › Pièces à fournir", pieces),
            ("En France › Retrait", "Le passeport doit être retiré dans les 3 mois."),
        ],
        cases=frozenset(
            {
                "En France",
                "L'enfant a une carte d'identité valide",
                "L'enfant n'a pas de carte d'identité",
            }
        ),
    )
    text = compose(
        "mon fils a 15 ans, il lui faut quoi pour son premier passeport ?",
        "question",
        [ctx],
        settings,
    )
    lines = text.splitlines()
    heading = next(i for i, line in enumerate(lines) if line.startswith("_En France › Pièces"))
    case = lines[heading].strip("_").split(" › ")[-1]
    assert case in ctx.cases  # the list's own case heads it
    assert lines[heading + 1].startswith("- ")
    other = next(line for line in lines if line.startswith("Autres cas de la fiche :"))
    (other_case,) = set(ctx.cases) - {case, "En France"}
    assert other == f"Autres cas de la fiche : {other_case}. [1]"
    # asked for nothing of the kind, no list leads and no other case is named
    text = compose("passeport d'un mineur : où le retirer ?", "question", [ctx], settings)
    assert "Autres cas" not in text


def test_the_other_cases_named_beside_the_list_are_not_quoted_after_it(settings):
    # "Autres cas de la fiche : Changement du nom d'un mineur" was followed by the minor's
    # pièces, quoted as a second list: the draft contradicted the case it had just chosen
    adult = "Changement du nom d'un majeur"
    minor = "Changement du nom d'un mineur"
    ctx = _context(
        "F9042",
        "Changement de nom de famille",
        [
            (
                f"Demande au ministère › {adult}",
                "Le dossier de changement de nom comprend les pièces suivantes :\n"
                "- Copie intégrale de votre acte de naissance\n- Bulletin n°3 du casier "
                "judiciaire\n- Requête adressée au ministre de la justice",
            ),
            (
                f"Demande au ministère › {minor}",
                "Le dossier de changement de nom comprend les pièces suivantes :\n"
                "- Copie intégrale de l'acte de naissance du mineur\n- Accord écrit du "
                "mineur de plus de 13 ans\n- Autorisation du conseil de famille",
            ),
            ("Demande au ministère", "Le dossier est adressé au ministre de la justice."),
        ],
        cases=frozenset({adult, minor}),
    )
    text = compose(
        "changement de nom de famille : quelles pièces pour le dossier ?",
        "question",
        [ctx],
        settings,
    )
    named = next(line for line in text.splitlines() if line.startswith("Autres cas de la fiche"))
    other = adult if adult in named else minor
    assert named == f"Autres cas de la fiche : {other}. [1]"
    # the list of the case chosen is quoted, the other case's is not
    assert ("conseil de famille" in text) is (other == adult)
    assert ("Bulletin n°3" in text) is (other == minor)


def test_the_age_told_does_not_match_the_unit_of_another_range(settings):
    """ "15 ans" says nothing of "Date d'expiration : moins de 5 ans": the case of a valid
    card is as good a guess, and comes first in the fiche."""
    pieces = "- Carte d'identité de l'enfant\n- Photo d'identité\n- Justificatif de domicile"
    valid = "L'enfant a une carte d'identité valide"
    expired = "L'enfant a une carte d'identité périmée"
    ctx = _context(
        "F9041",
        "Passeport d'un mineur : première demande",
        [
            ("", "Le passeport d'un mineur se demande en mairie, avec l'enfant."),
            (f"Pièces à fournir › {valid}", pieces),
            (f"Pièces à fournir › {expired} › Date d'expiration : moins de 5 ans", pieces),
        ],
        cases=frozenset({valid, expired, "Date d'expiration : moins de 5 ans"}),
    )
    text = compose(
        "mon fils a 15 ans, il lui faut quoi pour son premier passeport ?",
        "question",
        [ctx],
        settings,
    )
    heading = next(line for line in text.splitlines() if line.startswith("_Pièces"))
    assert heading.strip("_").endswith(valid), text


def test_a_list_leaning_on_the_sentence_before_leads_with_it(settings):
    """The best answer is a list whose lead-in leans on the sentence before ("Il peut s'agir
    …"): it leads with that sentence rather than giving way to another case's list."""
    ctx = _context(
        "F9042",
        "Carte de bibliothèque : justificatif de domicile",
        [
            (
                "Vous avez un justificatif de domicile à votre nom",
                "Un seul justificatif de domicile récent est nécessaire. Il peut s'agir par "
                "exemple d'un des documents suivants :\n- Facture d'eau\n- Quittance de loyer"
                "\n- Avis d'imposition",
            ),
            (
                "Vous êtes sans domicile stable",
                "Vous pouvez élire domicile auprès d'une des structures suivantes :\n- un CCAS"
                "\n- un organisme agréé",
            ),
        ],
        cases=frozenset({"Vous avez un justificatif de domicile à votre nom"}),
    )
    text = compose("quel justificatif de domicile ?", "question", [ctx], settings)
    quoted = [line for line in text.splitlines()[1:] if line and not line.startswith("_")]
    assert quoted[0].startswith("Un seul justificatif de domicile récent est nécessaire. Il peut")
    assert quoted[1] == "- Facture d'eau"


def test_what_is_needed_is_answered_by_the_list_of_pieces_first(settings):
    """ "que faut-il pour son passeport ?" in a citizen's message: the list of pièces leads,
    not the sentence of the case for the child's age."""
    valid = "L'enfant a une carte d'identité valide"
    ctx = _context(
        "F9043",
        "Passeport d'un mineur : première demande",
        [
            ("", "Le passeport d'un mineur se demande en mairie, avec l'enfant."),
            (
                f"Pièces à fournir › {valid}",
                "- Carte d'identité\n- Photo d'identité\n- Justificatif de domicile",
            ),
            (
                "Retrait › À partir de 13 ans",
                "L'enfant qui part en voyage peut signer lui-même son passeport au retrait.",
            ),
        ],
        cases=frozenset({valid, "À partir de 13 ans"}),
    )
    message = "Bonjour, mon fils de 15 ans part en voyage, que faut-il pour son passeport ?"
    draft = _reply("Bonjour,", [message], [ctx], settings)
    first = next(line for line in draft.splitlines() if line.startswith(("_", "- ")))
    assert first == f"_Pièces à fournir › {valid}_", draft


def test_a_fiche_for_the_other_sector_of_employment_is_not_quoted_beside(settings):
    public = _context(
        "F9041",
        "Don de jours de repos à un agent public aidant familial",
        [("", "Tout agent public peut donner des jours de repos non pris à un collègue.")],
    )
    private = _context(
        "F9042",
        "Don de jours de repos à un salarié parent d'enfant gravement malade",
        [("", "Un salarié peut donner des jours de repos à un collègue parent d'enfant malade.")],
        n=2,
    )
    private.rank = 1
    asked = "agente de la mairie, elle peut donner des jours de repos à un collègue ?"
    assert "[2]" not in compose(asked, "question", [public, private], settings)
    # no sector told: the retriever's second fiche is quoted beside the first
    asked = "don de jours de repos à un collègue : possible ?"
    assert "Voir aussi « Don de jours de repos à un salarié" in compose(
        asked, "question", [public, private], settings
    )


@pytest.mark.parametrize(
    ("question", "yes_no"),
    [
        ("superette de 350 m2, elle paie la Tascom ?", True),
        ("le proprio peut augmenter le loyer en cours de bail ?", True),
        ("y a une allocation ? combien par jour ?", True),
        ("j'ai droit au chômage ?", True),
        ("peut-on cumuler la PCH et l'AAH ?", True),
        # a noun asked for, a word asking for something else
        ("carence et montant des IJ ?", False),
        ("allocation veuvage : montant 2020 ?", False),
        ("il le refait où ?", False),
        ("elle doit déclarer quand ?", False),
        ("il paie combien ?", False),
    ],
)
def test_a_question_asked_by_intonation_asks_yes_or_no(question, yes_no):
    assert profile(question).yes_no is yes_no


def test_a_question_asked_by_intonation_is_answered_by_the_sentence_saying_yes_or_no(settings):
    ctx = _context(
        "F9102",
        "Compte bancaire d'un mineur",
        [
            ("", "Oui, le mineur peut effectuer seul les retraits sur son compte."),
            ("Gestion", "Les parents gèrent le compte bancaire de leur enfant."),
        ],
    )
    question = "mon fils, il peut gérer son compte bancaire ?"
    assert _quoted(compose(question, "question", [ctx], settings))[0].startswith("Oui, le mineur")


def test_a_yes_no_question_is_answered_by_the_sentence_saying_what_one_may_do_as_asked(settings):
    # "il peut être trésorier ?": the sentence saying one "peut être trésorier" answers it,
    # not one saying what a minor "ne peut pas" do
    ctx = _context(
        "F9103",
        "Qui peut être trésorier d'une association ?",
        [
            ("Vous êtes mineur", "Un mineur ne peut pas accomplir seul les actes de disposition."),
            (
                "Vous êtes mineur",
                "Un mineur peut être trésorier d'une association avec l'accord de ses parents.",
            ),
        ],
    )
    question = "un ado de 15 ans peut être trésorier de l'asso ?"
    assert _quoted(compose(question, "question", [ctx], settings))[0].startswith(
        "Un mineur peut être trésorier"
    )
    assert modal_verbs("il peut lui interdire ?") == modal_verbs("Elle peut interdire l'accès")
    assert modal_verbs("Vous pouvez contester la décision") == {"contest"}


def test_a_sentence_giving_a_name_does_not_lead(settings):
    ctx = _context(
        "F9104",
        "Action de groupe dans le domaine de la santé",
        [
            ("De quoi s'agit-il ?", "On parle aussi de recours collectif."),
            (
                "Comment la mettre en œuvre ?",
                "L'action de groupe est gratuite et l'adhésion à l'association n'est pas "
                "nécessaire.",
            ),
        ],
    )
    question = "pour le recours collectif il doit adhérer à l'asso ? ça coûte quelque chose ?"
    quoted = _quoted(compose(question, "question", [ctx], settings))
    assert quoted[0].startswith("L'action de groupe est gratuite")


def test_a_case_whose_range_excludes_the_persons_age_is_left_out(settings):
    ctx = _context(
        "F9105",
        "Mineur délinquant : peines encourues",
        [
            ("S'il a entre 10 et 12 ans", "Le juge ne peut prendre que des mesures éducatives."),
            (
                "S'il a entre 13 et 17 ans",
                "Un vol avec violences est puni de 2 ans et demi de prison au plus.",
            ),
        ],
    )
    text = compose(
        "gamin de 12 ans arrêté pour vol, il risque la prison ?", "question", [ctx], settings
    )
    assert "mesures éducatives" in text
    assert "2 ans et demi" not in text


def test_a_case_for_paris_gives_way_unless_the_question_names_it(settings):
    ctx = _context(
        "F9106",
        "Opération tranquillité vacances",
        [
            (
                "À Paris ou petite couronne (92-93-94)",
                "Vous devez vous rendre à votre commissariat au moins 5 jours avant votre départ.",
            ),
            (
                "Cas général",
                "Vous devez vous rendre au commissariat ou à la gendarmerie au moins 2 jours "
                "avant votre départ.",
            ),
        ],
        cases=frozenset({"À Paris ou petite couronne (92-93-94)", "Cas général"}),
    )
    question = "tranquillité vacances : s'inscrire combien de jours avant le départ ?"
    assert "2 jours" in _quoted(compose(question, "question", [ctx], settings))[0]
    in_paris = "tranquillité vacances à Paris : s'inscrire combien de jours avant le départ ?"
    assert "5 jours" in _quoted(compose(in_paris, "question", [ctx], settings))[0]


def test_a_sentence_after_a_case_back_in_its_section_is_not_that_cases():
    # the chunker names the chunk's own section again when its text goes on after a case
    # (knowledge.chunking): what follows is the section's, not the last case's
    text = "\n".join(
        [
            "Pour un mineur :",
            "Un salarié de moins de 18 ans peut percevoir un Smic minoré.",
            "Montant :",
            "Pour vérifier si le salaire versé est au moins égal au Smic, seules certaines "
            "sommes sont prises en compte.",
        ]
    )
    ctx = _context(
        "F2300", "Smic", [("Cas général › Montant", text)], cases=frozenset({"Pour un mineur"})
    )
    sections = {u.text[:20]: u.section for u in fiche_units(ctx)}
    assert sections["Un salarié de moins "] == "Cas général › Montant › Pour un mineur"
    assert sections["Pour vérifier si le "] == "Cas général › Montant"


@pytest.mark.parametrize(
    ("text", "last_item"),
    [
        # the sentence's main clause comes after its list: it ends the last item
        (
            "Les parents qui :\n- n'ont pas déclaré l'enfant à la mairie,\n- ou ne l'ont pas "
            "inscrit dans une école,\npeuvent être sanctionnés par une amende de 1 500 €.",
            "- ou ne l'ont pas inscrit dans une école, peuvent être sanctionnés par une amende "
            "de 1 500 €.",
        ),
        # and when it leads in a second list, that list's items are the sentence's too
        (
            "Les entreprises qui souhaitent :\n- fabriquer des armes civiles\n- ou des armes de "
            "guerre,\ndoivent déposer deux demandes distinctes :\n- l'une auprès du ministère de "
            "l'intérieur ;\n- l'autre auprès du ministère de la défense.",
            "- l'autre auprès du ministère de la défense.",
        ),
    ],
)
def test_a_sentence_going_on_after_its_list_stays_with_it(text, last_item):
    ctx = _context("F9040", "Démarche", [("Sanctions", text)])
    (unit,) = fiche_units(ctx)
    assert unit.is_list
    assert unit.text.splitlines()[-1] == last_item
    assert unit.text.startswith(text.splitlines()[0])


def test_the_case_for_the_number_of_children_told_leads_and_other_counts_give_way(settings):
    # "allocations familiales avec 2 enfants" opened on "Famille nombreuse (3 enfants ou
    # plus) › 3 enfants", the words "allocation" and "enfant" being everywhere
    big = "Montant › Famille nombreuse (3 enfants ou plus) : allocation forfaitaire › 3 enfants"
    ctx = _context(
        "F13213",
        "Allocations familiales",
        [
            (big, "L'allocation forfaitaire pour un enfant concerné est de 83,44 € par mois."),
            ("Montant › 2 enfants", "L'allocation de base est de 131,95 € par mois."),
        ],
        cases=frozenset({"Famille nombreuse (3 enfants ou plus) : allocation forfaitaire"}),
    )
    quoted = _quoted(
        compose("allocations familiales avec 2 enfants, combien ?", "question", [ctx], settings)
    )
    assert quoted[0].startswith("L'allocation de base")
    assert not any("83,44 €" in q for q in quoted)
    three = "ils ont trois enfants, les allocations c'est combien ?"
    quoted = _quoted(compose(three, "question", [ctx], settings))
    assert quoted[0].startswith("L'allocation forfaitaire")


def test_a_two_column_table_whose_rows_are_named_is_one_unit_with_its_lead(settings):
    # a table whose first column names each row ("1 – Nombre de parts : 1,25") has no " ; ":
    # its rows were loose sentences, its title line a heading over the paragraphs after it,
    # and the sentence leading in the table was dropped
    ctx = _context(
        "F35120",
        "Quotient familial : personne seule avec enfant",
        [
            (
                "Enfant en garde exclusive",
                "Vous avez droit à 1 part de quotient familial.\n"
                "Si vous vivez seul avec un enfant à charge exclusive, vous pouvez bénéficier "
                "d'une demi-part supplémentaire :\n"
                "Nombre de parts de quotient familial :\n"
                "1 – Nombre de parts : 2\n"
                "2 – Nombre de parts : 2,5\n"
                "Par enfant supplémentaire – Nombre de parts : 1\n"
                "Vous pouvez aussi bénéficier d'une majoration dans certaines situations.",
            )
        ],
    )
    units = fiche_units(ctx)
    table = next(u for u in units if "Nombre de parts : 2,5" in u.text)
    assert table.is_list
    assert table.text == (
        "Si vous vivez seul avec un enfant à charge exclusive, vous pouvez bénéficier d'une "
        "demi-part supplémentaire :\n"
        "- 1 – Nombre de parts : 2\n"
        "- 2 – Nombre de parts : 2,5\n"
        "- Par enfant supplémentaire – Nombre de parts : 1"
    )
    after = next(u for u in units if u.text.startswith("Vous pouvez aussi"))
    assert after.section == "Enfant en garde exclusive"  # not under the table's title


def test_a_tables_row_for_the_year_told_is_quoted_beside_the_rule(settings):
    # F32303 (2020): "CNI faite en 2012 … elle est encore valable ?" gave the rule of the
    # automatic extension but not the table's row for a card issued in 2012 (its new date):
    # the rule is a list, and one list per answer left the table out; rows named by another
    # year are left out
    row = "{} – Date inscrite sur la carte : {} ; Nouvelle date : {}"
    ctx = _context(
        "F32303",
        "Carte d'identité : prolongation de 5 ans",
        [
            (
                "",
                "Votre carte d'identité est prolongée automatiquement et reste valable 5 ans "
                "supplémentaires si vous remplissez les 2 conditions suivantes :\n"
                "- Vous étiez majeur au moment de sa délivrance.\n"
                "- La carte était encore valide le 1er janvier 2014.\n"
                "Condition de prolongation automatique :\n"
                + "\n".join(row.format(y, y + 10, y + 15) for y in range(2004, 2014)),
            )
        ],
    )
    question = "dame avec CNI faite en 2012, elle est encore valable ?"
    text = compose(question, "question", [ctx], settings)
    assert "prolongée automatiquement" in text
    assert "- 2012 – Date inscrite sur la carte : 2022 ; Nouvelle date : 2027" in text
    assert "2011 –" not in text
    assert "2013 –" not in text
    # no year told: one list, the rule's
    text = compose("CNI périmée, elle est encore valable ?", "question", [ctx], settings)
    assert "Nouvelle date" not in text


def test_a_tables_rows_for_another_count_of_what_the_question_counts_are_left_out(settings):
    # F34470 (2020): "un porteur 2 essieux …, la taxe c'est combien par semestre ?" was given
    # the rows of every vehicle; the row for 2 axles answers
    row = "Catégorie : Porteur à {} essieux ; Tarif par semestre : {} €"
    ctx = _context(
        "F34470",
        "Taxe à l'essieu",
        [
            (
                "Montant",
                "Tarifs de la taxe par semestre selon la catégorie du véhicule :\n"
                + "\n".join(
                    row.format(n, tarif)
                    for n, tarif in (("2", "62"), ("3", "112"), ("à partir de 4", "74"))
                ),
            ),
            ("Paiement", "La taxe est payée chaque semestre par télépaiement."),
        ],
    )
    text = compose("porteur 2 essieux, la taxe c'est combien ?", "question", [ctx], settings)
    assert "Porteur à 2 essieux ; Tarif par semestre : 62 €" in text
    assert "112 €" not in text
    assert "74 €" not in text
    # a count the rows do not state, or no count: the table as it is
    text = compose("camion de 19 tonnes, la taxe c'est combien ?", "question", [ctx], settings)
    assert "112 €" in text


@pytest.mark.parametrize(("runner_up_score", "named"), [(4.8, True), (3.0, False)])
def test_a_near_tie_names_the_other_fiche_even_when_the_first_fills_the_answer(
    settings, runner_up_score, named
):
    # the first fiche fills the answer (two sentences at most); the retriever's second
    # fiche, scored nearly as high, is named in one sentence: retrieval was unsure which
    # one the agent means ("passeport abîmé" beside "renouvellement du passeport")
    few = settings.model_copy(update={"extractive_max_sentences": 2})
    first = _context(
        "F9011",
        "Passeport : renouvellement",
        [
            ("", "Le renouvellement du passeport se fait en mairie. Il coûte 86 € en France."),
            ("Délai", "Le délai de fabrication du passeport est de quelques semaines."),
        ],
    )
    second = _context(
        "F9012",
        "Comment remplacer un passeport abîmé ?",
        [("", "Un passeport abîmé se remplace comme on renouvelle un passeport.")],
        n=2,
    )
    contexts = [replace(first, score=5.0), replace(second, rank=1, score=runner_up_score)]
    text = compose("passeport abîmé : renouvellement ?", "question", contexts, few)
    assert ("Un passeport abîmé se remplace" in text) is named


@pytest.mark.parametrize(
    ("question", "of"),
    [
        ("en micro bic l'abattement c'est combien ?", {"abatt"}),
        ("le forfait journalier c'est combien par jour ?", {"forf"}),
        ("la rente : combien ?", {"rent"}),
        ("l'agrément : combien d'ancienneté ?", set()),  # "combien de" counts something else
    ],
)
def test_what_a_question_asks_the_amount_of(question, of):
    assert profile(question).amount_of == of


def test_a_rate_answers_the_amount_of_what_is_asked(settings):
    # "l'abattement c'est combien ?": the rate of the abattement answers, not the sentence
    # sharing most of the question's other words
    ctx = _context(
        "F9013",
        "Location d'une chambre d'hôte : imposition",
        [
            (
                "Régime micro-BIC",
                "Si vous louez une chambre d'hôte, le régime micro-BIC s'applique à vos recettes.",
            ),
            (
                "Régime micro-BIC",
                "Le bénéfice imposable est égal aux recettes diminuées d'un abattement "
                "forfaitaire pour frais de 71 %.",
            ),
        ],
    )
    question = "chambre d'hôte en micro-BIC : l'abattement c'est combien ?"
    text = compose(question, "question", [ctx], settings)
    assert _quoted(text)[0].startswith("Le bénéfice imposable est égal aux recettes diminuées")


def test_a_tables_rows_for_another_measure_than_the_one_told_are_left_out(settings):
    # F833 (2020): "un bateau à moteur de 8 m, taxe annuelle coque ?" was given the rule on
    # which boats are concerned; the row for 8 m answers, and the rows for other lengths go
    row = "Longueur en mètre (m) : {} ; Droit : {}"
    ctx = _context(
        "F833",
        "Navigation maritime : achat d'un bateau de plaisance",
        [
            (
                "Droit sur la longueur de la coque du bateau",
                "Droit selon la longueur de la coque :\n"
                + "\n".join(
                    row.format(length, tax)
                    for length, tax in (
                        ("Moins de 7 m", "Exonération"),
                        ("De 7 m à moins de 8 m", "92 €"),
                        ("De 8 m à moins de 9 m", "105 €"),
                    )
                ),
            ),
        ],
    )
    text = compose(
        "bateau à moteur de 8 m, la taxe coque c'est combien ?", "question", [ctx], settings
    )
    assert "De 8 m à moins de 9 m ; Droit : 105 €" in text
    assert "92 €" not in text
    assert "Exonération" not in text
