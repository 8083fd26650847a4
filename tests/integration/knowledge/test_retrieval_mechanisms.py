"""Each retrieval mechanism on the real sample store (real USE, real e5, real Chroma, real
BM25): message analysis, the fiche-level index and its corpus vocabulary, the second stage,
and a remote reranker (a real HTTP server speaking the rerank protocol) with its fallback."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.retriever import HybridRetriever, SearchRequest, expand_query
from knowledge.store import KnowledgeBase
from tests.support.kb import make_settings

# The need is in the fourth sentence, after a greeting, an anecdote and some anger.
MESSAGE = (
    "Bonjour Madame, je vous écris au nom de ma mère qui ne sait pas se servir d'internet. "
    "Elle a 82 ans, elle vit seule dans sa maison à la campagne depuis la mort de mon père. "
    "On a appelé trois fois et personne ne répond, c'est vraiment scandaleux. "
    "Elle voudrait voter aux municipales mais elle ne peut plus se déplacer jusqu'au bureau "
    "de vote : comment faire une procuration ? "
    "Merci d'avance, bonne journée."
)


def ids(docs) -> list[str]:
    return [d.metadata["fiche_id"] for d in docs]


def test_the_store_holds_a_fiche_index_with_e5_vectors(sample_kb):
    fiches = sample_kb.lexical().fiches
    assert fiches is not None
    assert len(fiches) == sample_kb.catalog.counts()[0]
    assert fiches.e5_vectors is not None
    assert fiches.e5_vectors.shape == (len(fiches), 384)
    assert fiches.card_vectors is not None
    assert fiches.card_vectors.shape[1] == 512
    assert sample_kb.lexical_is_current()


def test_a_citizens_need_in_the_fourth_sentence_is_found(sample_kb):
    retriever = sample_kb.retriever(k=5)
    docs = retriever.invoke(MESSAGE)
    assert "F1604" in ids(docs)[:3], ids(docs)
    # the analysis travels with the documents: the chain answers each request
    requests = docs[0].metadata["requests"]
    assert any("procuration" in r for r in requests)


def test_abbreviations_are_learned_from_the_corpus(sample_kb):
    vocabulary = sample_kb.lexical().fiches.vocabulary
    # none of these is in the hand-kept list of knowledge.retriever.ABBREVIATIONS
    assert vocabulary.entries["ptac"] == "Poids total autorisé en charge"
    assert vocabulary.entries["joafe"].startswith("Journal officiel des associations")
    assert vocabulary.expansions("ptac remorque permis B") == ["Poids total autorisé en charge"]
    docs = sample_kb.retriever(k=5).invoke("ptac remorque avec permis B")
    assert "F2828" in ids(docs)[:3], ids(docs)
    # each fiche's own marked-up abbreviations travel with it to the answer chain, whose
    # composer reads "au PTAC" as the long form's words too
    f2828 = next(d for d in docs if d.metadata["fiche_id"] == "F2828")
    assert ["PTAC", "Poids total autorisé en charge"] in f2828.metadata["abbreviations"]
    # defined in the running text only, "le salaire journalier de référence (SJR)": no
    # Abreviation block marks it up
    assert vocabulary.entries["sjr"] == "salaire journalier de référence"
    docs = sample_kb.retriever(k=5).invoke("SJR chomage calcul")
    assert ids(docs)[0] == "F14860", ids(docs)


def test_an_acronym_the_titles_spell_out_is_learned_from_their_initials(sample_kb):
    # no fiche abbreviates "extrait de casier judiciaire"; agents type "ECJ"
    vocabulary = sample_kb.lexical().fiches.vocabulary
    assert vocabulary.entries["ecj"] == "extrait de casier judiciaire"
    assert vocabulary.expansions("un ECJ") == ["extrait de casier judiciaire"]
    assert vocabulary.expansions("ecj") == []  # only typed as an acronym
    docs = sample_kb.retriever(k=5).invoke("ECJ pour un nouvel emploi, il le demande où ?")
    assert ids(docs)[0] == "F1420", ids(docs)


def test_a_typo_is_searched_as_the_corpus_word_it_stands_for(sample_kb):
    fiches = sample_kb.lexical().fiches
    query = "procurration pour voter"
    assert fiches.vocabulary.corrections(query) == ["procuration"]
    # as typed, the titles' BM25 finds a form first; with the word read, the fiche
    assert fiches.bm25("title", query, 1, None)[0][0] != "F1604"
    expanded = expand_query(query, fiches.vocabulary)
    assert fiches.bm25("title", expanded, 1, None)[0][0] == "F1604"
    docs = sample_kb.retriever(k=5).invoke(query)
    assert ids(docs)[0] == "F1604", ids(docs)
    # the chain's gate and composer read the word too
    assert docs[0].metadata["corrections"] == ["procuration"]


def test_the_body_field_finds_a_fiche_by_words_of_several_sections(sample_kb):
    # "journalier", "différé" and "carence" are in different chunks of the ARE fiche: no
    # chunk holds them together, the fiche's whole text does
    words = ["journalier", "differe", "carence"]
    chunks = sample_kb.catalog.chunks_of(["F14860"])["F14860"]
    folded = [c.text.lower().replace("é", "e") for c in chunks]
    assert not any(all(w in text for w in words) for text in folded)
    fiches = sample_kb.lexical().fiches
    assert fiches.bm25("body", " ".join(words), 3, None)[0][0] == "F14860"
    # saved with the other fields: a reader opening the store has it
    with KnowledgeBase.open(make_settings(sample_kb.store_dir)) as again:
        assert again.lexical().fiches.body_index is not None


def test_word_pairs_tell_the_fiche_holding_the_phrase(sample_kb):
    """F24661 holds "salaire", "journalier" and "référence" too (the body field ranks it
    second), but never side by side: only the ARE fiche holds the phrase."""
    fiches = sample_kb.lexical().fiches
    phrase = "salaire journalier de référence"
    assert [f for f, _ in fiches.bm25("body", phrase, 2, None)] == ["F14860", "F24661"]
    scores = dict(zip(fiches.ids, fiches.pair_scores(fiches.ids, phrase), strict=True))
    assert scores["F14860"] > 0
    assert scores["F24661"] == 0.0
    assert max(scores, key=scores.get) == "F14860"
    # a feature of the second stage, read from the question as typed
    staged = sample_kb.retriever(k=5).candidates_many([SearchRequest(phrase, 5)])[0]
    by_id = {c.fiche_id: c for c in staged.candidates}
    assert by_id["F14860"].body_pairs == pytest.approx(scores["F14860"])
    # saved with the other fields: a reader opening the store has it
    with KnowledgeBase.open(make_settings(sample_kb.store_dir)) as again:
        reread = again.lexical().fiches
        assert reread.pair_scores(["F14860"], phrase) == [pytest.approx(scores["F14860"])]


def test_inbound_anchor_texts_describe_their_target(sample_kb):
    """Fiches link "conforme aux normes" to F10619 ("Quelle photo fournir pour un titre
    d'identité… ?"), whose title has neither word: only the anchors can bring it up."""
    fiches = sample_kb.lexical().fiches
    title = fiches.titles[fiches.position["F10619"]].lower()
    assert "conforme" not in title
    assert "normes" not in title
    hits = fiches.bm25("title", "conforme aux normes", 3, None)
    assert "F10619" in [f for f, _ in hits]


def test_a_form_ranks_first_only_when_asked_for(sample_kb):
    retriever = sample_kb.retriever(k=5)
    plain = retriever.invoke("procuration de vote")
    assert ids(plain)[0].startswith("F"), ids(plain)
    asked = retriever.invoke("formulaire cerfa procuration de vote")
    assert any(f.startswith("R") for f in ids(asked)[:3]), ids(asked)


def test_a_fiche_for_the_other_side_of_18_does_not_come_first(sample_kb):
    """The sample holds the renewal of an adult's passport but not a minor's: a question
    about a minor gets a minor's passport fiche first, not the adult's."""
    retriever = sample_kb.retriever(k=5)
    found = ids(retriever.invoke("renouvellement passeport mineur pièces ?"))
    titles = sample_kb.lexical().fiches
    first = titles.titles[titles.position[found[0]]]
    assert "majeur" not in first.lower(), (found, first)
    assert "F21091" in found  # the adult's fiche is still among the five
    adult = ids(retriever.invoke("renouvellement passeport majeur pièces ?"))
    assert adult[0] == "F21091", adult


def test_switching_the_second_stage_off_changes_the_ranking_path(sample_kb):
    """Both paths answer; the second stage is what the fitted weights score."""
    on = sample_kb.retriever(k=5).invoke("passeport enfant premiere demande")
    off = HybridRetriever(kb=sample_kb, k=5, second_stage=False).invoke(
        "passeport enfant premiere demande"
    )
    assert "F14930" in ids(on)[:3]
    assert "F14930" in ids(off)[:5]


def test_without_e5_the_weights_fitted_without_it_score(sample_kb, monkeypatch):
    """A configuration without the second embedder is scored by weights fitted without its
    features: the weights fitted with them rank the child's identity card above the
    child's passport for "Comment faire un passeport pour un enfant mineur ?" once e5 is
    gone."""
    import knowledge.retriever as retriever_module
    from knowledge.ranking import E5_FEATURES, FEATURES, default_ranker

    plain = default_ranker(e5=False)
    assert all(plain.weights[FEATURES.index(f)] == 0.0 for f in E5_FEATURES)
    assert not np.array_equal(plain.weights, default_ranker().weights)

    asked: list[bool] = []

    def recording(e5: bool = True):
        asked.append(e5)
        return default_ranker(e5)

    monkeypatch.setattr(retriever_module, "default_ranker", recording)
    kb = KnowledgeBase.open(make_settings(sample_kb.store_dir, e5_second_stage=False))
    try:
        found = ids(kb.retriever(k=5).invoke("Comment faire un passeport pour un enfant mineur ?"))
    finally:
        kb.close()
    assert asked == [False]
    assert found[0] == "F14930", found
    sample_kb.retriever(k=5).invoke("passeport enfant premiere demande")
    assert asked == [False, True]


@pytest.fixture
def reranked_kb(sample_kb, openai_server, tmp_path):
    """A second handle on the sample store with a reranker at the test server."""

    def open_with(model: str, timeout: float = 5.0) -> KnowledgeBase:
        settings = make_settings(
            sample_kb.store_dir,
            e5_second_stage=True,
            rerank_url=openai_server.base_url,
            rerank_model=model,
            rerank_timeout=timeout,
        )
        return KnowledgeBase.open(settings)

    opened: list[KnowledgeBase] = []

    def factory(model: str, timeout: float = 5.0) -> KnowledgeBase:
        kb = open_with(model, timeout)
        opened.append(kb)
        return kb

    yield factory
    for kb in opened:
        kb.close()


QUERY = "renouveler un passeport pour un mineur"


def test_a_remote_reranker_reorders_the_local_ranking(reranked_kb, sample_kb, openai_server):
    local = ids(sample_kb.retriever(k=20).invoke(QUERY))
    kb = reranked_kb("rerank-test")
    before = openai_server.count(path="/v1/rerank")
    reranked = ids(kb.retriever(k=20).invoke(QUERY))
    assert openai_server.count(path="/v1/rerank") == before + 1
    # the reranker reorders the local top 20 (rerank_candidates): the same fiches
    assert sorted(reranked) == sorted(local)
    assert reranked != local


@pytest.mark.parametrize("mode", ["500", "malformed", "slow"])
def test_a_failing_reranker_falls_back_to_the_local_ranking(
    reranked_kb, sample_kb, openai_server, mode, caplog
):
    local = ids(sample_kb.retriever(k=5).invoke(QUERY))
    kb = reranked_kb(f"rerank-test:{mode}", timeout=0.5)
    with caplog.at_level("WARNING", logger="knowledge.rerank"):
        got = ids(kb.retriever(k=5).invoke(QUERY))
    assert got == local
    assert any("local ranking kept" in r.getMessage() for r in caplog.records)
    assert openai_server.count(path="/v1/rerank", mode=mode) >= 1


def test_a_question_typed_without_accents_reaches_the_embedders_with_them(sample_kb, monkeypatch):
    typed = "carte d'identite perimee, quel delai ?"
    spelt = "carte d'identité périmée, quel délai ?"
    assert sample_kb.lexical().fiches.vocabulary.accented(typed) == spelt
    read = []
    e5_queries = sample_kb.e5.embed_queries
    monkeypatch.setattr(sample_kb.e5, "embed_queries", lambda t: read.extend(t) or e5_queries(t))
    use_queries = sample_kb.embeddings.embed_queries_array
    monkeypatch.setattr(
        sample_kb.embeddings, "embed_queries_array", lambda t: read.extend(t) or use_queries(t)
    )
    docs = sample_kb.retriever(k=5).invoke(typed)
    assert read == [spelt, spelt]  # e5, then USE (BM25 folds accents anyway)
    assert docs
    # the answer chain's composer reads the words with their accents too: the French stemmer
    # cuts "identité" and "identite" differently
    assert docs[0].metadata["corrections"] == ["identité", "périmée", "délai"]
    # and the abbreviations it searched spelt out, which the chain's gate reads
    assert docs[0].metadata["spelled"] == []
    found = sample_kb.retriever(k=3).invoke("CNI perdue, que faire ?")
    assert found[0].metadata["spelled"] == [["CNI", "carte nationale d'identité"]]
