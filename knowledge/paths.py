"""Where the data bundled with the `knowledge` package lives (no I/O at import time).

`sample_corpus_dir()` is the vendored sample corpus: real service-public.fr fiches (DILA,
Licence Ouverte / Etalab 2.0, see `ATTRIBUTION.md` in it) as DILA XML files under
`vdd-2020/{particuliers,professionnels,associations}/` (schema 3.3) and `vdd-2025/…`
(six schema-3.4 fiches). `sample_questions_path()` is a JSONL file of
`{"question", "expected"}` lines whose expected fiches are all in the sample.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def sample_corpus_dir() -> Path:
    """The directory of the vendored sample corpus (ingest it as a directory of XML files)."""
    return Path(str(files("knowledge") / "sample"))


def sample_questions_path() -> Path:
    """The sample's question set: dev questions whose expected fiche is in the sample."""
    return sample_corpus_dir() / "questions.jsonl"
