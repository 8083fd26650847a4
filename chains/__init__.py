"""The LangChain side of Guichet: prompts, the answer chain, generators, post-checks.

Talks to retrieval and models only through langchain-core abstractions (`BaseRetriever`,
`BaseChatModel`); never imports `bot` or `knowledge`.

- `chains.settings.ChainSettings` — env prefix `GUICHET_` (LLM endpoint, retrieval depth,
  relevance gate, history, extractive generator).
- `chains.llm.build_chat_model(settings)` — `ChatOpenAI` on any OpenAI-compatible endpoint
  (Albert API, vLLM, Ollama, llama.cpp server), or None → extractive generator.
- `chains.answer.build_answer_chain(retriever, llm, settings)` — LCEL steps Condense →
  Retrieve → RelevanceGate → Prompt → Generate → PostCheck; `await chain.ainvoke(
  AnswerRequest(...))` → `chains.models.Answer` (status answered / no_source / error; never
  raises for a failing LLM or store).
- `chains.prompts` — every prompt and user-facing system text, in French.
- `chains.postcheck` — citations, links and figures checked against the sources.
- `chains.extractive` — the no-model generator (fiche sentences, cited).
- `chains.evaluate` — `guichet eval answers` metrics.
"""
