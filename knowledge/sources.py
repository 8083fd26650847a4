"""Ingest inputs: DILA zips, directories, single XML files and http(s) URLs.

`resolve_inputs` checks every input first (so a bad one fails the command before anything
is written) and `iter_files` yields the XML files they hold as `RawFile`s. Zip members that
are too large or compressed suspiciously well (zip bombs) are refused and reported.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from knowledge.errors import IngestError
from knowledge.models import ParseProblem
from knowledge.settings import KnowledgeSettings

log = logging.getLogger(__name__)

# Members smaller than this are never treated as zip bombs, whatever their ratio.
_RATIO_FLOOR_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RawFile:
    source: str  # "vosdroits-particuliers.zip:F1234.xml" or a path
    data: bytes
    raw_hash: str


@dataclass(frozen=True, slots=True)
class Input:
    kind: str  # "zip" | "xml"
    path: Path
    label: str  # what the user gave (path or URL)


def _is_url(value: str) -> bool:
    return urlsplit(value).scheme in ("http", "https")


def download(url: str, dest_dir: Path, settings: KnowledgeSettings) -> Path:
    """Stream `url` to a file in dest_dir (size-capped); IngestError when it cannot."""
    name = Path(urlsplit(url).path).name or "download"
    dest = dest_dir / name
    limit = settings.max_download_bytes
    try:
        with (
            httpx.Client(timeout=settings.download_timeout, follow_redirects=True) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise IngestError(f"cannot download {url}: HTTP {response.status_code}")
            size = 0
            with open(dest, "wb") as fh:
                for block in response.iter_bytes(1 << 20):
                    size += len(block)
                    if size > limit:
                        raise IngestError(f"cannot download {url}: larger than {limit} bytes")
                    fh.write(block)
    except httpx.HTTPError as exc:
        raise IngestError(f"cannot download {url}: {type(exc).__name__}: {exc}") from exc
    if size == 0:
        raise IngestError(f"cannot download {url}: empty response")
    log.info("downloaded %s (%d bytes)", url, size)
    return dest


def _classify(path: Path, label: str) -> Input:
    if zipfile.is_zipfile(path):
        return Input("zip", path, label)
    if path.suffix.lower() == ".xml":
        return Input("xml", path, label)
    with open(path, "rb") as fh:
        head = fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return Input("xml", path, label)
    raise IngestError(f"{label}: not a DILA zip, a directory or an XML file")


def resolve_inputs(inputs: list[str], settings: KnowledgeSettings, tmp_dir: Path) -> list[Input]:
    """Turn the user's inputs into a list of zip/XML files, or raise IngestError."""
    if not inputs:
        raise IngestError("nothing to ingest: give at least one zip, directory, file or URL")
    out: list[Input] = []
    for raw in inputs:
        if _is_url(raw):
            out.append(_classify(download(raw, Path(tempfile.mkdtemp(dir=tmp_dir)), settings), raw))
            continue
        path = Path(raw).expanduser()
        if not path.exists():
            raise IngestError(f"{raw}: no such file or directory")
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".xml", ".zip")
            )
            if not found:
                raise IngestError(f"{raw}: the directory holds no .xml or .zip file")
            out.extend(
                Input("zip" if p.suffix.lower() == ".zip" else "xml", p, str(p)) for p in found
            )
            continue
        out.append(_classify(path, raw))
    for item in out:
        if item.kind == "zip":
            _check_zip(item)
    return out


def _check_zip(item: Input) -> None:
    try:
        with zipfile.ZipFile(item.path) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise IngestError(f"{item.label}: unreadable zip: {exc}") from exc
    if not any(i.filename.lower().endswith(".xml") for i in members):
        raise IngestError(f"{item.label}: the zip holds no XML file (empty zip?)")


# A file counts as unchanged when its bytes and the parser and chunker that read them are:
# bump this when either changes what it makes of a file (the next ingest re-parses every
# fiche; the vectors of chunks whose text did not change are reused).
# 5: case titles; 6: warnings by paragraph; 7: "; " glue; 8: a chunk's section named again
# when its text goes on after one of its cases; 9: a header cell's row span ends with the
# header rows
PARSER_VERSION = b"guichet-parser-9\n"


def _digest(data: bytes) -> str:
    return hashlib.sha256(PARSER_VERSION + data).hexdigest()


def iter_files(
    items: list[Input], settings: KnowledgeSettings, skipped: list[ParseProblem]
) -> Iterator[RawFile]:
    """Every XML file of the inputs; refused ones are appended to `skipped`."""
    cap = settings.max_member_bytes
    for item in items:
        if item.kind == "xml":
            size = item.path.stat().st_size
            if size > cap:
                skipped.append(
                    ParseProblem(str(item.path), f"file too large ({size} bytes > {cap})")
                )
                continue
            data = item.path.read_bytes()
            yield RawFile(str(item.path), data, _digest(data))
            continue
        zip_name = item.path.name if not _is_url(item.label) else item.label
        with zipfile.ZipFile(item.path) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                source = f"{zip_name}:{info.filename}"
                if not info.filename.lower().endswith(".xml"):
                    skipped.append(ParseProblem(source, "not an XML file"))
                    continue
                if info.file_size > cap:
                    skipped.append(
                        ParseProblem(
                            source,
                            f"zip member too large ({info.file_size} bytes uncompressed > {cap})",
                        )
                    )
                    continue
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size > _RATIO_FLOOR_BYTES and ratio > settings.max_compression_ratio:
                    skipped.append(
                        ParseProblem(
                            source,
                            f"zip member refused: compression ratio {ratio:.0f}:1 "
                            f"(> {settings.max_compression_ratio:.0f}:1, zip bomb?)",
                        )
                    )
                    continue
                try:
                    with zf.open(info) as fh:
                        data = fh.read(cap + 1)
                except (zipfile.BadZipFile, OSError, EOFError) as exc:
                    skipped.append(ParseProblem(source, f"unreadable zip member: {exc}"))
                    continue
                if len(data) > cap:  # the header lied about the size
                    skipped.append(
                        ParseProblem(source, f"zip member too large (> {cap} bytes uncompressed)")
                    )
                    continue
                yield RawFile(source, data, _digest(data))
