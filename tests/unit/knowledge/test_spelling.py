"""Typos read as the corpus's words (knowledge.spelling), against the real French word list."""

from __future__ import annotations

from collections import Counter

from knowledge.fiche_index import Vocabulary
from knowledge.retriever import expand_query
from knowledge.spelling import Speller, corpus_accented_forms, corpus_word_counts

COUNTS = {
    "succession": 40,
    "demission": 10,
    "decision": 100,
    "branchement": 50,
    "cantal": 50,
    "adopter": 30,
    "combien": 200,
    "zorbaxel": 10,
    "zorbaxal": 10,
    "assurance": 300,
}


def test_a_typo_is_read_as_the_corpus_word_one_edit_away():
    speller = Speller(COUNTS)
    assert speller.correct("succesion") == "succession"  # a letter undoubled
    assert speller.correct("adopeter") == "adopter"  # a letter added
    assert speller.correct("combein") == "combien"  # two letters swapped
    assert speller.correct("assurence") == "assurance"  # a letter changed
    assert speller.corrections("dame qui a hérité, la succesion passe par qui ?") == ["succession"]


def test_the_likeliest_kind_of_edit_decides_not_the_commoner_word():
    # "décision" is one letter changed and used ten times as often; a letter left undoubled
    # is the likelier typo
    assert Speller(COUNTS).correct("démision") == "demission"


def test_words_french_has_names_short_words_and_two_readings_are_left_alone():
    speller = Speller(COUNTS)
    assert speller.correct("franchement") is None  # French, though no fiche says it
    assert speller.correct("succession") is None  # a word of the corpus
    assert speller.correct("cantl") is None  # too short to guess from
    assert speller.correct("zorbaxl") is None  # two words one letter away, as common
    assert speller.corrections("Je suis Chantal, merci") == []  # a name
    assert speller.corrections("chantal") == ["cantal"]


def test_the_corpus_words_travel_with_the_vocabulary_and_expand_the_query():
    counts = corpus_word_counts(["La succession est ouverte.", "Une succession, des successions."])
    assert counts == {"succession": 2, "successions": 1, "ouverte": 1}
    vocab = Vocabulary.learn([], Counter(), spelling=COUNTS)
    again = Vocabulary.from_json(vocab.to_json())
    assert again.corrections("droits de succesion ?") == ["succession"]
    assert expand_query("droits de succesion ?", again) == "droits de succesion ? (succession)"
    # a vocabulary saved before the corpus's words were kept corrects nothing
    assert Vocabulary.from_json({"entries": {}}).corrections("succesion") == []


def test_words_typed_without_accents_are_spelt_as_the_fiches_spell_them():
    accents = corpus_accented_forms(
        [
            "Un conjoint décédé, un parent décédé. Après le décès, un délai. Un délai de 2 mois.",
            "Le salarié est salarié, salarié. L'élève est élevé, élève, élevé.",
            "À la côte, la cote.",
        ]
    )
    assert accents["decede"] == "décédé"
    assert accents["delai"] == "délai"
    assert "apres" not in accents  # written once only: no evidence
    assert "eleve" not in accents  # "élève" and "élevé" both written: no guess
    assert "salarie" not in accents  # French writes "salarie" (a verb) too
    speller = Speller(COUNTS, accents)
    assert speller.accented("mari decede, quel delai ?") == "mari décédé, quel délai ?"
    assert speller.accented("Delai ?") == "Délai ?"  # capitalised as typed
    # French writes "salarie" (a verb) and "cote" so: left as typed; an accented word is kept
    assert speller.accented("salarie a la cote, décède") == "salarie a la cote, décède"
    # the spellings travel with the vocabulary; one saved before them changes nothing
    vocab = Vocabulary.from_json(
        Vocabulary.learn([], Counter(), spelling=COUNTS, accents=accents).to_json()
    )
    assert vocab.accented("quel delai") == "quel délai"
    assert Vocabulary.from_json({"entries": {}, "spelling": COUNTS}).accented("delai") == "delai"
