"""Fixtures shared by the whole suite live in tests/support/, one module per real service
(the servers themselves are in devtools/, which the benches use too):

- tests.support.kb: a real store built once from the bundled sample corpus
- tests.support.chroma_server: a real `chroma run` server on 127.0.0.1
- tests.support.openai_server: a real HTTP server speaking the OpenAI chat/embeddings protocol
- tests.support.synapse: a real Synapse homeserver (SQLite, 127.0.0.1)

Servers are started lazily (session scope), so a run that needs none starts none.
"""

pytest_plugins = [
    "tests.support.kb",
    "tests.support.chroma_server",
    "tests.support.openai_server",
    "tests.support.synapse",
]
