"""The Matrix/Tchap side of Guichet: the only package that imports matrix-nio.

Also the composition root: `bot.wiring` builds the knowledge base, the chain and the bot from
settings, and `bot.cli` is the `guichet` command.
"""
