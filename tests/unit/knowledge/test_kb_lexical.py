"""The French lexical index: analyzer, BM25 ranking, masks, atomic persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from knowledge.lexical import FrenchAnalyzer, LexicalIndex, LexicalIndexHandle

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
