"""The one error base of the `devtools` package."""

from __future__ import annotations


class DevToolError(Exception):
    """A dev tool (local homeserver, demo, terminal chat) could not do its job (named in the
    message)."""
