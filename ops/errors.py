"""The one error base of the `ops` package."""

from __future__ import annotations


class OpsError(Exception):
    """The ops endpoint cannot be served (the address is taken or refused; named in the message)."""
