"""Query analysis (knowledge.query) and the vocabulary learned from the corpus
(knowledge.fiche_index.Vocabulary): pure functions, no store."""

from __future__ import annotations

from collections import Counter

from knowledge.fiche_index import (
    Vocabulary,
    build_cards,
    defined_abbreviations,
    long_form,
    lowercase_word_counts,
    title_acronyms,
)
from knowledge.query import analyse
from knowledge.retriever import abbreviation_pairs, expand_query

MESSAGE = (
    "Bonjour madame, je vous écris parce que je suis à bout. "
    "Mon fils a eu 18 ans en mars et il vient d'avoir son bac avec mention. "
    "On a déménagé à Lyon l'été dernier pour ses études et tout est compliqué. "
    "Est-ce qu'il peut toucher une aide pour payer son loyer alors qu'il est étudiant ? "
    "Merci d'avance, bonne journée."
)


def test_a_short_question_is_searched_as_typed():
    a = analyse("renouvellement CNI mineur pièces ?")
    assert a.main == "renouvellement CNI mineur pièces ?"
    assert a.requests == ()
    assert a.queries == ("renouvellement CNI mineur pièces ?",)


def test_the_need_in_the_fourth_sentence_is_a_request_and_greetings_are_set_aside():
    a = analyse(MESSAGE)
    assert a.requests, "the question of the fourth sentence was not found"
    assert "aide pour payer son loyer" in a.requests[0]
    assert not a.main.lower().startswith("bonjour")
    assert any("Merci" in s for s in a.set_aside)
    assert "Merci" not in a.main
    assert a.queries[0] == a.main
    assert a.queries[1] == a.requests[0]


def test_a_short_question_borrows_the_sentence_before_it():
    a = analyse(
        "Bonjour, mon employeur me demande de venir travailler le dimanche sans me payer "
        "plus. Je travaille dans un magasin de meubles depuis trois ans en CDI. Il ne paie pas "
        "les heures du dimanche. C'est légal ?"
    )
    assert a.requests == ("Il ne paie pas les heures du dimanche. C'est légal ?",)


def test_two_requests_are_both_kept_and_anger_is_not_searched_alone():
    a = analyse(
        "C'est scandaleux, ça fait trois mois que personne ne répond. Ma carte grise est "
        "toujours au nom de mon ex-mari alors que le juge m'a laissé la voiture. Comment "
        "enlever son nom ? Et combien ça coûte de refaire la carte grise ?"
    )
    assert len(a.requests) == 2
    assert all("scandaleux" not in r for r in a.requests)
    assert any("scandaleux" in s for s in a.set_aside)


def test_a_short_question_after_a_request_completes_it_without_copying_it():
    a = analyse(
        "J'ai quitté mon studio meublé il y a 2 mois et le propriétaire garde ma caution. "
        "On m'a parlé d'une commission de conciliation. Est-ce que je suis obligé de passer "
        "par elle avant d'aller au tribunal ? Et comment on la saisit ?"
    )
    assert a.requests == (
        "Est-ce que je suis obligé de passer par elle avant d'aller au tribunal ? "
        "Et comment on la saisit ?",
    )


def test_an_angry_sentence_that_tells_the_matter_is_kept():
    # the only sentence naming the operator and the paper bills vents too ("ça fait 3
    # semaines que…"): setting it aside left "Ils ont le droit de faire payer ça ?" alone
    a = analyse(
        "Ça fait 3 semaines que j'ai demandé à mon opérateur internet de repasser aux "
        "factures papier. Toujours rien ! Ils ont le droit de faire payer ça ?"
    )
    assert "opérateur internet" in a.main
    assert not any("opérateur" in s for s in a.set_aside)


def test_a_wish_beside_questions_tells_the_situation_and_alone_is_the_request():
    # "Je voudrais la vendre l'an prochain" is the citizen's plan: next to the questions
    # asked with a question mark it is no request of its own (it was searched alone and
    # left to the agent as unanswered), though it stays in the text searched as a whole
    a = analyse(
        "Mon divorce a été prononcé en janvier et le juge m'a laissé la voiture. Mon ex-mari "
        "est toujours sur la carte grise. Je voudrais la vendre l'an prochain. Est-ce que je "
        "peux enlever son nom toute seule ? Il y a une date limite ?"
    )
    assert a.requests, "the questions were not found"
    assert not any("vendre" in r for r in a.requests)
    assert "vendre l'an prochain" in a.main
    # a message that asks with no question mark: its wish is what it asks
    b = analyse(
        "Bonjour, je suis auto-entrepreneur depuis deux ans dans la réparation de vélos à "
        "Nantes. Je voudrais passer en société pour embaucher un apprenti l'an prochain. "
        "Merci."
    )
    assert any("passer en société" in r for r in b.requests)
    # "je voudrais savoir qui …" asks, whatever else the message asks
    c = analyse(
        "Bonjour, je suis peintre et je viens de vendre mes premières toiles à une galerie. "
        "J'ai reçu un courrier de l'Urssaf Limousin, c'est une arnaque ? Je voudrais aussi "
        "savoir qui je dois contacter pour mon affiliation."
    )
    assert any("qui je dois contacter" in r for r in c.requests)


def test_form_and_overview_cues():
    assert analyse("cerfa demande de logement social").wants_form
    assert analyse("formulaire en ligne pour la procuration").wants_form
    assert not analyse("logement social conditions de ressources").wants_form
    assert analyse("tout savoir sur le permis de conduire").wants_overview


ROWS = [
    (
        "F1",
        {
            "title": "Contrat à durée déterminée",
            "description": "Le CDD est un contrat de travail.",
            "breadcrumb": ["Accueil", "Travail", "Contrat à durée déterminée"],
            "abbreviations": [["CDD", "Contrat à durée déterminée"], ["PAS", "Prélèvement"]],
            "anchors": [["prime de précarité", "F2"]],
        },
    ),
    (
        "F2",
        {
            "title": "Indemnité de fin de contrat",
            "description": "",
            "abbreviations": [["JOAFE", "Journal officiel des associations"]],
            "related": [["Un salarié en CDD a-t-il droit à une prime ?", "F9"]],
        },
    ),
]


def test_vocabulary_is_learned_from_the_corpus_abbreviations():
    counts = lowercase_word_counts(["il ne faut pas " * 30, "le contrat"])
    vocab = Vocabulary.learn(ROWS, counts)
    assert vocab.expansions("publication au joafe ?") == ["Journal officiel des associations"]
    assert vocab.expansions("un cdd de 6 mois") == ["Contrat à durée déterminée"]
    assert vocab.expansions("cdd (contrat à durée déterminée)") == []  # already spelt out
    # "pas" is an everyday word in the corpus: expanded only when typed in capitals
    assert vocab.expansions("je ne sais pas") == []
    assert vocab.expansions("le PAS sur mon salaire") == ["Prélèvement"]
    assert "Journal officiel" in expand_query("joafe", vocab)
    # the pairs the answer chain's gate reads: as typed, with their long forms, the hand-kept
    # list's first
    assert abbreviation_pairs("CNI et un cdd ?", vocab) == [
        ("CNI", "carte nationale d'identité"),
        ("cdd", "contrat à durée déterminée"),
    ]
    assert vocab.pairs("publication au joafe ?") == [("joafe", "Journal officiel des associations")]


def test_inbound_anchor_text_names_the_target_fiche():
    cards = {c.id: c for c in build_cards(ROWS)}
    assert "prime de précarité" in cards["F2"].title_field
    assert "prime de précarité" not in cards["F1"].title_field
    assert "a-t-il droit à une prime" in cards["F2"].card_field
    assert cards["F1"].summary.startswith("Contrat à durée déterminée. Le CDD")


def test_long_forms_are_read_before_a_short_form_in_parentheses():
    # Schwartz and Hearst: the shortest tail whose letters spell the short form in order
    assert long_form("IRL", "le loyer suit l'indice de référence des loyers") == (
        "indice de référence des loyers"
    )
    assert long_form("Tascom", "soumis à la taxe sur les surfaces commerciales") == (
        "taxe sur les surfaces commerciales"
    )
    assert long_form("ZRR", "une commune de montagne") is None
    texts = [
        "Les entreprises sont soumises à la taxe sur les surfaces commerciales (Tascom).",
        "La taxe sur les surfaces commerciales (Tascom) est déclarée avant le 15 juin.",
        "Le compte personnel de formation (CPF) finance la formation.",  # once: not learned
        "Le revenu fiscal de référence (RFR) figure sur l'avis.",  # "référence": one word
        "Voir le formulaire (Cerfa) en ligne (2020) ou (a).",
    ]
    found = defined_abbreviations(texts)
    assert found["Tascom"] == Counter({"taxe sur les surfaces commerciales": 2})
    assert "RFR" not in found
    assert set(found) == {"Tascom", "CPF"}
    vocab = Vocabulary.learn(ROWS, Counter(), found)
    assert vocab.expansions("superette : tascom ?") == ["taxe sur les surfaces commerciales"]
    assert vocab.expansions("CPF") == []  # defined once only
    # what the DILA marks up wins over what the text defines
    marked = Vocabulary.learn(ROWS, Counter(), {"CDD": Counter({"contrat de durée": 5})})
    assert marked.expansions("un cdd") == ["Contrat à durée déterminée"]


def test_an_acronym_the_titles_spell_out_is_learned_from_their_initials():
    titles = [
        "Association reconnue d'utilité publique",
        "Fondation reconnue d'utilité publique",
        "Demande de reconnaissance : associations reconnues d'utilité publique",
        "Registre unique du personnel",  # the same initials, once: outnumbered
        "Revenu fiscal de référence",  # once: not learned
    ]
    acronyms = title_acronyms(titles)
    assert acronyms["rup"] == "reconnue d'utilité publique"
    assert "rfr" not in acronyms
    # "de", "d'" stand between two initials, and are no initial themselves
    assert "rdup" not in acronyms
    assert acronyms["arup"] == "Association reconnue d'utilité publique"
    counts = lowercase_word_counts(["une association", "le pas"])
    vocab = Vocabulary.learn(ROWS, counts, acronyms=acronyms | {"pas": "Prime annuelle"})
    assert vocab.expansions("asso qui veut la RUP ?") == ["reconnue d'utilité publique"]
    assert vocab.expansions("la rup") == []  # typed as an acronym only
    # an abbreviation the DILA marks up wins, and a word of the corpus is no acronym
    assert vocab.expansions("le PAS sur mon salaire") == ["Prélèvement"]
    assert vocab.entries["pas"] == "Prélèvement"


def test_a_country_named_is_searched_as_the_fiches_name_it():
    query = "usager qui part s'installer au canada, il cotise où pour la sécu ?"
    assert expand_query(query).endswith("(étranger hors Europe)")
    assert expand_query("il cotise où pour la sécu ?") == "il cotise où pour la sécu ?"


def test_a_two_letter_short_form_is_expanded_only_in_capitals():
    vocab = Vocabulary.learn(
        ROWS, Counter(), {"CA": Counter({"chiffre d'affaires": 3})}
    )  # "ca" is how "ça" is typed without its cedilla
    assert vocab.expansions("ca coute combien ?") == []
    assert vocab.expansions("le CA de la boite") == ["chiffre d'affaires"]


def test_vocabulary_round_trips_through_json():
    vocab = Vocabulary.learn(ROWS, Counter())
    again = Vocabulary.from_json(vocab.to_json())
    assert again.entries == vocab.entries
    assert again.case_sensitive == vocab.case_sensitive


def test_a_request_that_names_no_topic_is_searched_only_within_the_whole_message():
    message = (
        "Je suis fleuriste à mon compte depuis 2015 et j'ai dû fermer trois mois pendant les "
        "travaux de la rue. Mon voisin boulanger dit qu'il a reçu une indemnité de la "
        "commune sans rien demander. Il faut faire une demande quelque part ? C'est combien ?"
    )
    a = analyse(message)
    assert a.requests == ()
    assert "indemnité de la commune" in a.main
