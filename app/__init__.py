"""The application: the `guichet` command (`app.cli`) and the composition root (`app.wiring`),
the one place where settings become concrete pieces (knowledge base, chain, bot, metrics, ops
endpoint) wired together. It may import every other package; none imports it.
"""
