"""The Matrix/Tchap runtime of Guichet: the only package that imports matrix-nio.

Events, routing, commands, rendering, state, access and the bot service. It imports `chains`
(the answer chain's models) and nothing of `app`, `ops` or `devtools`: the composition root
(`app.wiring`) builds it and hands it its pieces.
"""
