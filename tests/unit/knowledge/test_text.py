from knowledge.lexical import FrenchAnalyzer
from knowledge.text import FRENCH_STOP_WORDS, QUESTION_WORDS, fold


def test_fold_lowercases_and_drops_accents_the_way_agents_type():
    assert fold("Congé Maternité") == "conge maternite"
    assert fold("Sœur d’un élève") == "soeur d'un eleve"
    assert fold("Ångström") == "angstrom"  # outside the fast table: NFKD


def test_the_index_and_the_answer_side_share_one_folding():
    analyze = FrenchAnalyzer()
    assert analyze("congé maternité de ma sœur") == analyze("conge maternite de ma soeur")


def test_stop_words_are_folded_and_question_words_are_not_topic_words():
    assert all(w == fold(w) for w in FRENCH_STOP_WORDS | QUESTION_WORDS)
    assert {"le", "de", "vous"} <= FRENCH_STOP_WORDS
    assert {"bonjour", "combien", "pourquoi"} <= QUESTION_WORDS
    assert not {"passeport", "conge", "loyer"} & (FRENCH_STOP_WORDS | QUESTION_WORDS)
