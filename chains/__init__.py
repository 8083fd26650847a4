"""The LangChain side of Guichet: prompts, the answer chain, generators, post-checks.

Talks to retrieval and models only through langchain-core abstractions (`BaseRetriever`,
`BaseChatModel`); never imports `bot` or `knowledge`.
"""
