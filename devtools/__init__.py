"""Developer tools: what runs Guichet on one machine for a person, a test or a bench.

- `devtools.homeserver`: a local Synapse (`LocalSynapse`), for the demo, the tests and benches;
- `devtools.demo`, `devtools.chat`: `guichet demo` and the terminal chat client;
- `devtools.synapse`: agents (real nio clients) and an in-process bot runner;
- `devtools.process`, `devtools.load`: `guichet ingest` / `guichet run` as child processes and
  the load scenario run against them (reliability tests and bench);
- `devtools.openai_server`, `devtools.llamacpp`, `devtools.chroma_server`: the fake
  OpenAI-compatible server, llama.cpp's server with a small model, a `chroma run` server.

Nothing in `bot`, `ops`, `chains` or `knowledge` imports it; it is not imported by `guichet run`.
"""
