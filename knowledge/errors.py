"""Errors of the `knowledge` package: one base class, `KnowledgeError`.

- `ParseError`: a DILA XML file could not be turned into a `Fiche` (names the source and why).
- `IngestError`: an ingest input is unusable (not a zip/dir/XML, empty zip, unreachable URL...).
- `StoreError`: the Chroma store or the lexical index cannot be opened, read or written.
- `EmbeddingModelMismatch`: the store was built with another embedding model than the one
  configured (opening it would silently return garbage).
"""

from __future__ import annotations


class KnowledgeError(Exception):
    """Base class of every error raised by `knowledge`."""


class ParseError(KnowledgeError):
    """A DILA file could not be parsed; `source` is the file name, `reason` says why."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class IngestError(KnowledgeError):
    """An ingest input cannot be used at all (the whole command fails with this message)."""


class StoreError(KnowledgeError):
    """The knowledge store (Chroma and/or the lexical index) is unusable or inconsistent."""


class EmbeddingModelMismatch(StoreError):
    """The store was built with a different embedding model than the configured one."""

    def __init__(self, stored: str, configured: str, location: str | None = None) -> None:
        self.stored = stored
        self.configured = configured
        self.location = location
        where = f" at {location}" if location else ""
        super().__init__(
            f"the store{where} was built with embedding model {stored!r}, "
            f"but {configured!r} is configured: re-ingest into a new store, "
            f"or configure {stored!r} again"
        )
