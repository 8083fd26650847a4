"""The answer chain: Scope → Condense → Retrieve → RelevanceGate → Prompt → Generate → PostCheck.

An LCEL sequence of named steps (`run_name`) passing one state dict along. The sources of the
answer are data, built from the retrieved Documents (never parsed out of generated text).
`AnswerChain.ainvoke` never raises for a failing LLM or store: the Answer has status "error",
a polite French message and the error kind.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda, RunnableSequence

from chains import extractive, gate, prompts
from chains.condense import condense_deterministic
from chains.errors import GenerationFailed
from chains.gate import QueryTerms, query_terms, scope
from chains.llm import classify_llm_error, overall_deadline
from chains.models import Answer, AnswerRequest, Source, UsedChunk
from chains.postcheck import postcheck, says_nothing
from chains.prompts import SourceContext
from chains.settings import ChainSettings

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class State:
    """What the steps hand on to one another, for one answer."""

    request: AnswerRequest
    timings: dict[str, float] = field(default_factory=dict)  # ms per step
    checks: dict[str, int] = field(default_factory=dict)  # counts the answer reports
    final: Answer | None = None  # set by the step that ends the answer; later steps skip
    standalone: str = ""  # the question to search (a follow-up rewritten)
    # the question as the gate and the composer read it: the standalone question, and the
    # corpus words the retriever read its typos as ("succession" for "succesion")
    asked: str = ""
    docs: list[Document] = field(default_factory=list)  # retrieved, first k
    relevant: list[Document] = field(default_factory=list)  # those the gate let through
    gate_figures: list[Any] = field(default_factory=list)  # the gate's measures, per doc
    contexts: list[SourceContext] = field(default_factory=list)  # numbered sources
    requests: list[str] = field(default_factory=list)  # a message's requests
    messages: list[BaseMessage] = field(default_factory=list)  # the LLM prompt
    draft: str = ""  # the generated text, before the post-check
    tokens: dict[str, int] = field(default_factory=dict)  # LLM usage
    llm_started: float | None = None  # monotonic time of the first LLM call
    generator: str | None = None  # set when the draft is not the configured generator's


StepFn = Callable[[State], Awaitable[State]]
STEPS = ("Scope", "Condense", "Retrieve", "RelevanceGate", "Prompt", "Generate", "PostCheck")

_WORD_RE = re.compile(r"\w{2,}")
_THINK_RE = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


def _timed(
    name: str, fn: Callable[[State], Awaitable[State]]
) -> Callable[[State], Awaitable[State]]:
    """A step that times itself and is skipped once the answer is final."""

    async def run(state: State) -> State:
        if state.final is not None:
            return state
        t0 = time.perf_counter()
        state = await fn(state)
        state.timings[name] = round((time.perf_counter() - t0) * 1000, 3)
        return state

    return run


def _step(name: str, fn: StepFn) -> Runnable:
    """A named LCEL step."""
    return RunnableLambda(fn, name=name).with_config(run_name=name)


def _message_text(msg: Any) -> str:
    text = getattr(msg, "text", None)
    if not isinstance(text, str):
        content = getattr(msg, "content", "")
        text = content if isinstance(content, str) else ""
    text = str(text)
    return _THINK_RE.sub("", text).strip()


def _chunks_from(doc: Document, key: str, limit: int | None = None) -> list[UsedChunk]:
    """The chunk dicts the retriever put under `metadata[key]`, as UsedChunks."""
    fiche_id = str(doc.metadata.get("fiche_id", ""))
    raw = doc.metadata.get(key) or []
    return [
        UsedChunk(
            id=str(c.get("id", f"{fiche_id}#{i}")),
            fiche_id=fiche_id,
            section=str(c.get("section") or ""),
            text=str(c.get("text") or ""),
            score=float(c.get("score") or 0.0),
        )
        for i, c in enumerate(raw[:limit])
        if c.get("text")
    ]


def _score(doc: Document) -> float | None:
    """The fiche's second-stage score, when the retriever gave one."""
    score = doc.metadata.get("score")
    return float(score) if isinstance(score, int | float) else None


def _meta_chunks(doc: Document, limit: int) -> list[UsedChunk]:
    """The fiche's best chunks (its page content when the retriever gave none)."""
    md = doc.metadata
    chunks = _chunks_from(doc, "chunks", limit)
    if not chunks and doc.page_content:
        chunks = [
            UsedChunk(
                id=f"{md.get('fiche_id', '')}#0",
                fiche_id=str(md.get("fiche_id", "")),
                section=str(md.get("section") or ""),
                text=doc.page_content,
                score=float(md.get("score") or 0.0),
            )
        ]
    return chunks


def _used_chunks(contexts: list[SourceContext]) -> list[UsedChunk]:
    """The chunks the answer was built on: each source's best chunks, then its outline."""
    out: list[UsedChunk] = []
    seen: set[str] = set()
    for ctx in contexts:
        for c in ctx.all_chunks:
            if c.id not in seen:
                seen.add(c.id)
                out.append(c)
    return out


def _requests(docs: list[Document]) -> list[str]:
    """The requests the retriever found in the question (a citizen's message)."""
    for doc in docs:
        found = doc.metadata.get("requests")
        if isinstance(found, list):
            return [str(r) for r in found]
    return []


def _with_corrections(question: str, docs: list[Document]) -> str:
    """The question, and the corpus words the retriever read its typos as, if any."""
    for doc in docs:
        found = doc.metadata.get("corrections")
        if isinstance(found, list) and found:
            return f"{question} ({' '.join(str(w) for w in found)})"
    return question


def _spelled(docs: list[Document]) -> tuple[tuple[str, str], ...]:
    """The question's abbreviations with the long forms the retriever searched for them."""
    for doc in docs:
        if pairs := _pairs(doc, "spelled"):
            return pairs
    return ()


def _excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + "…"


def _pairs(doc: Document, key: str) -> tuple[tuple[str, str], ...]:
    """A metadata entry made of (short, long) pairs, as strings; malformed pairs left out."""
    pairs = doc.metadata.get(key) or ()
    return tuple(
        (str(p[0]), str(p[1])) for p in pairs if isinstance(p, list | tuple) and len(p) == 2
    )


def _source(n: int, doc: Document, chunks: list[UsedChunk]) -> Source:
    md = doc.metadata
    return Source(
        n=n,
        fiche_id=str(md.get("fiche_id", "")),
        title=str(md.get("title", "")),
        url=str(md.get("url", "")),
        section=str(md.get("section") or ""),
        date=md.get("date"),
        excerpt=_excerpt(chunks[0].text if chunks else doc.page_content),
        services=[dict(s) for s in (md.get("services") or []) if isinstance(s, dict)],
    )


class AnswerChain:
    """The answer chain. `await chain.ainvoke(AnswerRequest(...))` → `Answer`."""

    def __init__(
        self, retriever: BaseRetriever, llm: BaseChatModel | None, settings: ChainSettings
    ) -> None:
        self.retriever = retriever
        self.llm = llm
        self.settings = settings
        self.generator = "openai" if llm is not None else extractive.NAME
        self.steps: list[tuple[str, StepFn]] = [
            (name, _timed(name, fn))
            for name, fn in (
                ("Scope", self._scope),
                ("Condense", self._condense),
                ("Retrieve", self._retrieve),
                ("RelevanceGate", self._gate),
                ("Prompt", self._prompt),
                ("Generate", self._generate),
                ("PostCheck", self._postcheck),
            )
        ]
        # The chain as LCEL, each step named: the one way it runs (LCEL's per-step callback
        # plumbing costs ~4 ms an answer, measured; tracing and callbacks see every step).
        self.runnable: Runnable = RunnableSequence(
            *(_step(name, fn) for name, fn in self.steps)
        ).with_config(run_name="AnswerChain")

    # ------------------------------------------------------------------ public

    async def ainvoke(self, request: AnswerRequest, config: RunnableConfig | None = None) -> Answer:
        t0 = time.perf_counter()
        state = State(request)
        try:
            state = await self.runnable.ainvoke(state, config=config)
        except GenerationFailed as exc:  # raised by a step: already classified
            state.final = self._error(request, state, exc.kind)
        except Exception:  # a bug or unexpected data: an error answer, never silence
            logger.exception("answer chain failed")
            state.final = self._error(request, state, "internal")
        answer: Answer = state.final
        answer.timings_ms = dict(state.timings)
        answer.latency_ms = round((time.perf_counter() - t0) * 1000, 3)
        logger.info(
            "answer status=%s generator=%s sources=%d latency_ms=%.1f",
            answer.status,
            answer.generator,
            len(answer.sources),
            answer.latency_ms,
        )
        return answer

    def invoke(self, request: AnswerRequest) -> Answer:
        """Synchronous convenience for scripts (never from inside an event loop)."""
        return asyncio.run(self.ainvoke(request))

    # ------------------------------------------------------------------ steps

    async def _scope(self, state: State) -> State:
        """Decline what no fiche covers, before any search (chains.gate.scope)."""
        req: AnswerRequest = state.request
        decision = scope(req.question)
        if decision.kind == "in_scope":
            if decision.question and decision.question != req.question:
                state.checks["injection_ignored"] = 1
                state.request = req.model_copy(update={"question": decision.question})
            return state
        state.checks["declined_" + decision.kind] = 1
        text = {
            "injection": prompts.DECLINE_INJECTION,
            "emergency": prompts.DECLINE_EMERGENCY,
        }.get(decision.kind, prompts.DECLINE_OUT_OF_SCOPE.format(category=decision.category))
        logger.info("request declined before search: %s", decision.category)
        state.final = Answer(
            status="no_source",
            text=text,
            checks=dict(state.checks),
            mode=req.mode,
            generator=self.generator,
        )
        return state

    async def _condense(self, state: State) -> State:
        req: AnswerRequest = state.request
        history = req.history[-self.settings.history_turns :] if self.settings.history_turns else []
        standalone = req.question
        if history and req.mode == "question":
            standalone = condense_deterministic(req.question, history)
            if self.llm is not None and self.settings.llm_condense:
                standalone = await self._condense_llm(req.question, history, standalone, state)
        limit = self.settings.query_max_chars
        if len(standalone) > limit:  # a long pasted message: search on its beginning
            standalone = standalone[:limit].rsplit(" ", 1)[0]
        state.standalone = standalone
        return state

    async def _condense_llm(self, question, history, fallback: str, state: State) -> str:
        messages = prompts.condense_prompt().format_messages(
            history=prompts.format_history(history), question=prompts.fence(question)
        )
        try:
            msg = await asyncio.wait_for(
                self.llm.ainvoke(messages, config={"run_name": "CondenseLLM"}),
                timeout=self._llm_time_left(state),
            )
            text = _message_text(msg).splitlines()[0].strip().strip("«»\"' ") if msg else ""
        except Exception as exc:
            kind = classify_llm_error(exc).kind
            logger.warning("condense failed (%s): deterministic rewrite used", kind)
            state.checks["condense_fallback"] = 1
            return fallback
        if not text or len(text) > 500:
            state.checks["condense_fallback"] = 1
            return fallback
        return text

    async def _retrieve(self, state: State) -> State:
        req: AnswerRequest = state.request
        if not _WORD_RE.search(state.standalone):  # empty, emoji only, punctuation
            state.docs = []
            return state
        # the chain owns the number of fiches (GUICHET_RETRIEVAL_K) and asks for it
        kwargs: dict[str, Any] = {"k": self.settings.retrieval_k}
        if req.audience:
            kwargs["audience"] = req.audience
        try:
            try:
                docs = await self.retriever.ainvoke(
                    state.standalone, config={"run_name": "Retriever"}, **kwargs
                )
            except TypeError as exc:
                # A plain BaseRetriever takes no arguments: search without them (the chain
                # keeps its first k fiches).
                if not any(f"'{name}'" in str(exc) for name in kwargs):
                    raise
                logger.warning("retriever %s takes no k or audience", type(self.retriever))
                docs = await self.retriever.ainvoke(
                    state.standalone, config={"run_name": "Retriever"}
                )
        except Exception as exc:
            logger.exception("retrieval failed: %s", type(exc).__name__)
            state.final = self._error(req, state, "retrieval")
            return state
        state.docs = list(docs)[: self.settings.retrieval_k]
        state.asked = _with_corrections(state.standalone, state.docs)
        return state

    async def _gate(self, state: State) -> State:
        docs: list[Document] = state.docs
        terms = query_terms(state.asked, _spelled(docs))
        relevant, figures = gate.relevant(docs, terms, self.settings)
        state.gate_figures.extend(figures)
        state.checks["gate_passed"] = len(relevant)
        state.checks["gate_rejected"] = len(docs) - len(relevant)
        if not relevant:
            state.final = self._no_source(state, docs, terms)
        state.relevant = relevant
        return state

    async def _prompt(self, state: State) -> State:
        req: AnswerRequest = state.request
        contexts: list[SourceContext] = []
        for n, doc in enumerate(state.relevant, start=1):
            chunks = _meta_chunks(doc, self.settings.context_chunks_per_source)
            contexts.append(
                SourceContext(
                    source=_source(n, doc, chunks),
                    chunks=chunks,
                    outline=_chunks_from(doc, "outline"),
                    abbreviations=_pairs(doc, "abbreviations"),
                    cases=frozenset(str(c) for c in doc.metadata.get("cases") or ()),
                    request=int(doc.metadata.get("request", -1)),
                    rank=next(r for r, d in enumerate(state.docs) if d is doc),
                    score=_score(doc),
                )
            )
        state.contexts = contexts
        state.requests = _requests(state.relevant)
        if self.llm is not None:
            state.messages = prompts.build_answer_messages(
                req.mode,
                req.question,
                contexts,
                self.settings.context_max_chars,
                requests=state.requests,
                key_passages=extractive.key_passages(
                    state.asked, contexts, self.settings, state.requests
                ),
            )
        return state

    async def _generate(self, state: State) -> State:
        req: AnswerRequest = state.request
        if self.llm is None:
            query = state.asked
            state.draft = extractive.compose(
                query, req.mode, state.contexts, self.settings, state.requests
            )
            return state
        messages: list[BaseMessage] = state.messages
        try:
            msg = await asyncio.wait_for(
                self.llm.ainvoke(messages, config={"run_name": "ChatModel"}),
                timeout=self._llm_time_left(state),
            )
        except Exception as exc:
            failure = classify_llm_error(exc)
            logger.warning("generation failed: %s (%s)", failure.kind, failure.detail[:200])
            raise failure from exc  # the chain's boundary turns it into an error answer
        usage = getattr(msg, "usage_metadata", None) or {}
        state.tokens = {k: int(usage[k]) for k in ("input_tokens", "output_tokens") if usage.get(k)}
        text = _message_text(msg)
        if not text:
            state.final = self._error(req, state, "malformed_response")
            return state
        if prompts.leaks_system_prompt(text):
            logger.warning("generated text quotes the system prompt: replaced")
            state.checks["prompt_leak"] = 1
            text = prompts.PROMPT_LEAK_REPLACEMENT
        text, copied = prompts.drop_format_example(text, state.contexts)
        if copied:
            logger.warning("generated text copies the prompt's example sentence: dropped")
            state.checks["prompt_example_dropped"] = copied
        if reason := says_nothing(text, state.standalone):
            # a draft that says nothing: the agent gets the embedded generator's instead,
            # labelled as such (its first line says no language model wrote it)
            logger.warning("generated draft says nothing (%s): extractive draft instead", reason)
            state.checks["llm_fallback"] = 1
            state.generator = extractive.NAME
            text = extractive.compose(
                state.standalone,
                req.mode,
                state.contexts,
                self.settings,
                state.requests,
            )
        state.draft = text
        return state

    async def _postcheck(self, state: State) -> State:
        req: AnswerRequest = state.request
        contexts: list[SourceContext] = state.contexts
        result = postcheck(state.draft, contexts)
        state.checks.update(result.checks)
        state.final = Answer(
            status="answered",
            text=result.text,
            sources=result.sources,
            chunks=_used_chunks(contexts),
            checks=dict(state.checks),
            flagged=result.flagged,
            standalone_question=state.standalone,
            mode=req.mode,
            generator=state.generator or self.generator,
            tokens=state.tokens,
        )
        return state

    def _llm_time_left(self, state: State) -> float:
        """Seconds left of the answer's LLM deadline, which starts at its first LLM call
        (condensing and generating share it)."""
        if state.llm_started is None:
            state.llm_started = time.monotonic()
        started = state.llm_started
        return max(0.0, overall_deadline(self.settings) - (time.monotonic() - started))

    # ------------------------------------------------------------------ final answers

    def _error(self, req: AnswerRequest, state: State, kind: str) -> Answer:
        deadline = overall_deadline(self.settings) if self.llm is not None else None
        return Answer(
            status="error",
            text=prompts.error_message(kind, deadline_s=deadline),
            checks=dict(state.checks),
            standalone_question=state.standalone,
            mode=req.mode,
            generator=self.generator,
            error=kind,
        )

    def _no_source(self, state: State, docs: list[Document], terms: QueryTerms) -> Answer:
        req: AnswerRequest = state.request
        query = " ".join(state.standalone.split())
        if len(query) > 160:
            query = query[:160].rsplit(" ", 1)[0] + "…"
        suggestions = []
        floor = self.settings.gate_suggestion_min_dense
        # a fiche holding no word of the topic the question names before its colon is not
        # offered either ("abri de jardin : …" and the lost driving licence's fiche)
        close = [
            d
            for d in docs
            if (d.metadata.get("dense_score") or 0.0) >= floor and gate.holds_topic(d, terms)
        ]
        for n, doc in enumerate(close[: self.settings.gate_suggestions], start=1):
            chunks = _meta_chunks(doc, 1)
            suggestions.append(_source(n, doc, chunks).model_copy(update={"cited": False}))
        lines = [prompts.NO_SOURCE_HEADER, "", prompts.NO_SOURCE_SEARCHED.format(query=query)]
        if suggestions:
            lines += ["", prompts.NO_SOURCE_SUGGESTIONS]
            lines += [f"- {s.title} : {s.url}" for s in suggestions]
        lines += ["", prompts.NO_SOURCE_TIPS]
        return Answer(
            status="no_source",
            text="\n".join(lines),
            checks=dict(state.checks),
            standalone_question=state.standalone,
            mode=req.mode,
            generator=self.generator,
            suggestions=suggestions,
        )


def build_answer_chain(
    retriever: BaseRetriever, llm: BaseChatModel | None, settings: ChainSettings
) -> AnswerChain:
    """The answer chain over any retriever; `llm=None` selects the extractive generator."""
    return AnswerChain(retriever, llm, settings)
