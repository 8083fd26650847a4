"""The French lexical index: analyzer, BM25 ranking, masks, atomic persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from knowledge.lexical import (
    FrenchAnalyzer,
    LexicalIndex,
    LexicalIndexHandle,
    PairIndex,
    word_pairs,
)

DOCS = {
    "F1#a#0": "Renouvellement du passeport d'un mineur : pièces à fournir en mairie",
    "F2#a#0": "Carte d'identité d'un majeur : première demande",
    "F3#a#0": "Aide personnalisée au logement (APL) : conditions de ressources",
    "F4#a#0": "Le passeport biométrique est valable dix ans pour un majeur",
}


def test_analyzer_stems_folds_accents_and_drops_stop_words():
    a = FrenchAnalyzer()
    assert a("Renouvellement du passeport") == a("renouvellement passeport")
    assert a("passeports") == a("passeport")
    assert a("pièces") == a("pieces")  # accents folded after stemming
    assert "du" not in a("le passeport du mineur")
    assert "le" not in a("le passeport")
    assert a("renouveler") == a("renouvellement")  # same Snowball stem


def test_a_query_drops_the_words_it_asks_with_and_documents_keep_them():
    a = FrenchAnalyzer()
    # "combien", "ça", "une dame" say how the question is asked, not what it is about
    assert a.query("une dame : combien de parts fiscales ? ça dépend ?") == a(
        "parts fiscales dépend"
    )
    assert a("Combien coûte un passeport ?") == a("combien coûte passeport")  # fiches keep them
    index = LexicalIndex.build(
        ["F5#a#0", "F6#a#0"],
        ["À partir de combien d'enfants a-t-on droit aux prestations ?", "Parts fiscales"],
    )
    # "combien" no longer lifts the fiche titled "À partir de combien…"
    assert index.scores("combien de parts ?").tolist() == index.scores("parts").tolist()
    assert index.search("combien de parts ?", 5)[0][0] == "F6#a#0"


def test_search_ranks_and_masks():
    index = LexicalIndex.build(list(DOCS), list(DOCS.values()))
    hits = index.search("renouveler passeport mineur", 3)
    assert hits[0][0] == "F1#a#0"
    assert all(score > 0 for _, score in hits)
    assert {h[0] for h in hits} <= {"F1#a#0", "F4#a#0"}  # docs without the words score 0
    mask = np.array([False, True, True, True])
    masked = index.search("passeport", 5, mask=mask)
    assert [h[0] for h in masked] == ["F4#a#0"]
    assert index.search("xyzzy inconnu", 5) == []
    assert index.search("", 5) == []


def test_word_pairs_join_words_at_most_the_window_apart():
    a = FrenchAnalyzer()
    terms = a("titre de séjour pluriannuel")  # "de" is a stop word
    assert word_pairs(terms, 1) == [(terms[0], terms[1]), (terms[1], terms[2])]
    assert (terms[0], terms[2]) in word_pairs(terms, 2)
    assert word_pairs(terms[:1], 2) == []


def test_the_pair_index_scores_a_phrase_above_its_words_scattered(tmp_path):
    a = FrenchAnalyzer()
    texts = [
        "Le congé parental d'éducation permet d'interrompre son activité.",  # the phrase
        "Le congé est accordé. Les droits de l'autorité parentale restent.",  # the words apart
        "Congé de maternité : durée et indemnités.",
        "Déclaration de revenus : parts fiscales.",
    ]
    index = PairIndex.build([a(t) for t in texts])
    columns = index.query_columns(a.query("congé parental ?"))
    scores = [index.score(d, columns) for d in range(len(texts))]
    assert scores[0] > 0
    assert scores[1] == scores[2] == scores[3] == 0.0
    # each pair of the query counts: two phrases find both texts
    both = index.query_columns(a.query("congé parental ou congé maternité"))
    assert index.score(0, both) > 0
    assert index.score(2, both) > 0
    # words the corpus never pairs, or never has, give no column
    assert len(index.query_columns(a.query("parental congé"))) == 0
    assert len(index.query_columns(a.query("xyzzy inconnu"))) == 0
    assert index.score(0, index.query_columns([])) == 0.0
    # no document, or documents of one word or none: no pair, no error
    for docs in ([], [[], ["passeport"]]):
        empty = PairIndex.build(docs)
        assert len(empty.query_columns(a.query("congé parental"))) == 0
    assert PairIndex.build([[], ["passeport"]]).score(1, np.zeros(0, np.int32)) == 0.0
    # saved and loaded: the same scores
    index.save(tmp_path / "pairs.npz")
    again = PairIndex.load(tmp_path / "pairs.npz")
    assert again.words == index.words
    assert [again.score(d, columns) for d in range(len(texts))] == scores


def test_save_swaps_current_atomically_and_handle_reloads(tmp_path):
    root = tmp_path / "lexical"
    first = LexicalIndex.build(list(DOCS)[:2], list(DOCS.values())[:2], generation=1)
    first.save(root)
    handle = LexicalIndexHandle(root)
    loaded = handle.get()
    assert loaded is not None
    assert loaded.generation == 1
    assert len(loaded) == 2
    assert handle.get() is loaded  # unchanged pointer: no reload

    second = LexicalIndex.build(list(DOCS), list(DOCS.values()), generation=2)
    second.save(root)
    current = json.loads((root / "CURRENT").read_text())
    assert current["generation"] == 2
    assert [p.name for p in root.glob("gen-*")] == [current["dir"]]  # old generation removed
    reloaded = handle.get()
    assert reloaded is not loaded
    assert reloaded.generation == 2
    assert len(reloaded) == 4
    assert reloaded.search("APL logement", 1)[0][0] == "F3#a#0"


def test_load_without_index_is_none(tmp_path):
    assert LexicalIndex.load(tmp_path) is None
    assert LexicalIndexHandle(tmp_path).get() is None


def test_unreadable_pointer_is_a_store_error(tmp_path):
    from knowledge.errors import StoreError

    (tmp_path / "CURRENT").write_text("{not json")
    with pytest.raises(StoreError, match="unreadable"):
        LexicalIndex.load(tmp_path)
