"""Incremental, idempotent ingest of DILA files into a `KnowledgeBase`.

1. Inputs are resolved first (URLs downloaded, paths checked): an unusable input raises
   `IngestError` before anything is written.
2. Every file is hashed. A file whose bytes the catalog already knows is not parsed; a
   fiche all of whose files are known and unchanged is skipped without parsing, chunking
   or embedding (this is what makes an unchanged re-ingest take seconds).
3. Other fiches are parsed (bad files go to `summary.skipped` with the reason), copies of a
   shared fiche from several audience zips are merged, chunked, and compared chunk by chunk
   with the catalog: only chunks whose embedded text changed are embedded again, and
   identical texts are embedded once.
4. Batches are written vectors first, then catalog rows (one transaction), then stale
   vectors are deleted; see `knowledge.store` for why a kill at any point is recoverable.
5. With `prune=True`, fiches absent from the inputs are deleted.
6. The lexical index is rebuilt from the catalog when anything changed.

What gets embedded: the chunk's context (fiche title › section path) plus the first
`embed_max_chars` characters of its body. The lexical index covers the full text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.errors import ParseError
from knowledge.models import AUDIENCES, Chunk, Fiche, IngestSummary, ParseProblem
from knowledge.sources import RawFile, iter_files, resolve_inputs
from knowledge.store import ChunkRow, KnowledgeBase, bump_generation

log = logging.getLogger(__name__)

_ID_FROM_NAME = re.compile(r"(?:^|[/:])([FNR]\d+)\.xml$", re.IGNORECASE)


def embed_text(chunk: Chunk, max_chars: int) -> str:
    """The text whose vector represents a chunk: its context and the head of its body."""
    body = chunk.text
    if len(body) > max_chars:
        cut = body.rfind(" ", 0, max_chars)
        body = body[: cut if cut > max_chars // 2 else max_chars]
    return f"{chunk.context}\n{body}" if chunk.context else body


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fiche_metadata(fiche: Fiche) -> dict[str, Any]:
    """What the catalog keeps about a fiche (returned in Document metadata)."""
    return {
        "title": fiche.title,
        "url": fiche.url,
        "description": fiche.description,
        "date": fiche.date.isoformat() if fiche.date else None,
        "date_important": fiche.date_important.isoformat() if fiche.date_important else None,
        "kind": fiche.kind,
        "type": fiche.type,
        "theme": fiche.theme,
        "dossier": fiche.dossier,
        "breadcrumb": list(fiche.breadcrumb),
        "schema": fiche.schema,
        "services": [
            {"title": s.title, "url": s.url, "kind": s.kind, "cerfa": s.cerfa}
            for s in fiche.services
        ],
        # What the fiche-level index (knowledge.fiche_index) learns from: the questions the
        # fiche lists, the abbreviations it defines, its inline links' anchor texts.
        "related": [[link.title, link.target_id] for link in fiche.related],
        "abbreviations": [list(pair) for pair in fiche.abbreviations],
        "anchors": [[link.title, link.target_id] for link in fiche.anchors],
        # which sections are cases (alternatives), for the composer's "Selon le cas"
        "cases": list(fiche.cases),
    }


def _vector_metadata(fiche_id: str, audiences: tuple[str, ...]) -> dict[str, Any]:
    meta: dict[str, Any] = {"fiche_id": fiche_id, "kind": fiche_id[:1]}
    for a in AUDIENCES:
        meta[f"aud_{a}"] = a in audiences
    return meta


@dataclass
class _Pending:
    fiche: Fiche
    raw_hashes: tuple[str, ...]
    is_new: bool
    chunks: list[tuple[Chunk, str, str]] = field(default_factory=list)  # chunk, etext, ehash
    to_embed: list[int] = field(default_factory=list)  # indexes into chunks
    meta_only: list[int] = field(default_factory=list)  # reuse vector, refresh metadata
    stale_ids: list[str] = field(default_factory=list)  # old chunk ids to delete
    # a chunk's text changed beyond what is embedded (a chunker change): the catalog's rows
    # and the lexical index must follow, though no vector does
    texts_changed: bool = False


def ingest(
    kb: KnowledgeBase, inputs: list[str], *, prune: bool = False, progress: bool = True
) -> IngestSummary:
    """Ingest the inputs (zips, directories, XML files, URLs) into kb; see module doc."""
    from knowledge.chunking import chunk_fiche
    from knowledge.dila import merge_all, parse_fiche

    started = time.perf_counter()
    summary = IngestSummary()
    settings = kb.settings
    with tempfile.TemporaryDirectory(prefix="guichet-ingest-") as tmp:
        items = resolve_inputs(inputs, settings, Path(tmp))
        repaired = kb.reconcile()
        files = list(iter_files(items, settings, summary.skipped))
    summary.files_read = len(files) + len(summary.skipped)

    states = kb.catalog.fiche_states()
    known_raw = {rh: fid for fid, (_, rhs) in states.items() for rh in rhs}
    groups: dict[str, list[tuple[RawFile, Fiche | None]]] = {}
    seen_raw: set[str] = set()
    protected: set[str] = set()  # IDs of skipped files: never pruned
    for rf in files:
        if rf.raw_hash in seen_raw:
            continue  # the very same bytes twice (the same zip given twice)
        seen_raw.add(rf.raw_hash)
        fid = known_raw.get(rf.raw_hash)
        if fid is not None:
            groups.setdefault(fid, []).append((rf, None))
            continue
        try:
            fiche = parse_fiche(rf.data, rf.source)
        except ParseError as exc:
            summary.skipped.append(ParseProblem(rf.source, exc.reason))
            m = _ID_FROM_NAME.search(rf.source)
            if m:
                protected.add(m.group(1).upper())
            continue
        groups.setdefault(fiche.id, []).append((rf, fiche))

    changed = repaired["orphans_deleted"] > 0 or repaired["missing_marked"] > 0
    todo: list[tuple[str, list[tuple[RawFile, Fiche | None]]]] = []
    for fid, members in groups.items():
        raw_set = tuple(sorted({rf.raw_hash for rf, _ in members}))
        state = states.get(fid)
        if state is not None and state[1] == raw_set and state[0]:
            summary.fiches_unchanged += 1
        else:
            todo.append((fid, members))

    bar = _progress(len(todo), progress)
    batch: list[_Pending] = []
    batch_chunks = 0
    in_flight: _Submitted | None = None  # embedding in the workers while we parse on

    def flush() -> None:
        nonlocal in_flight, changed, batch, batch_chunks
        submitted = _submit(kb, batch) if batch else None
        if in_flight is not None:
            changed |= _finish(kb, in_flight, summary, states)
            bar.update(len(in_flight.batch))
        in_flight = submitted
        batch, batch_chunks = [], 0

    try:
        for fid, members in todo:
            parsed = []
            for rf, fiche in members:
                if fiche is None:
                    try:
                        fiche = parse_fiche(rf.data, rf.source)
                    except ParseError as exc:
                        summary.skipped.append(ParseProblem(rf.source, exc.reason))
                        continue
                parsed.append(fiche)
            if not parsed:
                protected.add(fid)
                bar.update(1)
                continue
            (fiche,) = merge_all(parsed)
            raw_set = tuple(sorted({rf.raw_hash for rf, _ in members}))
            pending = _Pending(fiche, raw_set, is_new=fid not in states)
            chunks = chunk_fiche(fiche)
            pending.chunks = [
                (c, et, _hash(et))
                for c in chunks
                for et in (embed_text(c, settings.embed_max_chars),)
            ]
            batch.append(pending)
            batch_chunks += len(chunks)
            if batch_chunks >= settings.ingest_batch_chunks:
                flush()
        flush()  # submit the last batch, finish the previous one
        flush()  # finish the last batch
    finally:
        bar.close()

    if prune:
        present = set(groups) | protected
        gone = sorted(set(states) - present)
        if gone:
            _delete_fiches(kb, gone, summary)
            changed = True

    if changed or not kb.lexical_is_current():
        t = time.perf_counter()
        index = kb.rebuild_lexical()
        log.info("lexical index rebuilt: %d chunks in %.1fs", len(index), time.perf_counter() - t)
    summary.chunks_total = kb.catalog.counts()[1]
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary


@dataclass
class _Submitted:
    batch: list[_Pending]
    old_fiches: dict[str, Any]
    keys: list[str]
    future: Any  # Future of the (n, dim) array for `keys`


def _submit(kb: KnowledgeBase, batch: list[_Pending]) -> _Submitted:
    """Work out what a batch must embed (changed chunks, identical texts once) and start it."""
    old = kb.catalog.chunks_of(p.fiche.id for p in batch)
    old_fiches = kb.catalog.fiches(p.fiche.id for p in batch)
    texts: dict[str, str] = {}  # embed hash -> text
    for p in batch:
        previous = {c.id: c for c in old.get(p.fiche.id, [])}
        before = old_fiches.get(p.fiche.id)
        audiences_changed = before is None or tuple(before.audiences) != tuple(p.fiche.audiences)
        for i, (chunk, etext, ehash) in enumerate(p.chunks):
            prev = previous.get(chunk.id)
            if prev is not None and prev.hash != chunk.hash:
                p.texts_changed = True
            if prev is not None and prev.embed_hash == ehash:
                if audiences_changed:
                    p.meta_only.append(i)
            else:
                p.to_embed.append(i)
                texts.setdefault(ehash, etext)
        new_ids = {c.id for c, _, _ in p.chunks}
        p.stale_ids = [cid for cid in previous if cid not in new_ids]
    keys = list(texts)
    future = kb.embeddings.submit_array([texts[k] for k in keys]) if keys else None
    return _Submitted(batch, old_fiches, keys, future)


def _finish(
    kb: KnowledgeBase,
    sub: _Submitted,
    summary: IngestSummary,
    states: dict[str, tuple[str, tuple[str, ...]]],
) -> bool:
    """Upsert a batch's vectors, commit its catalog rows, drop its stale vectors."""
    import numpy as np

    batch, old_fiches = sub.batch, sub.old_fiches
    vectors: dict[str, Any] = {}
    if sub.future is not None:
        vectors = dict(zip(sub.keys, sub.future.result(), strict=True))
    anything = False
    ids, vecs, metas, meta_ids, meta_metas = [], [], [], [], []
    for p in batch:
        vmeta = _vector_metadata(p.fiche.id, p.fiche.audiences)
        for i in p.to_embed:
            chunk, _, ehash = p.chunks[i]
            ids.append(chunk.id)
            vecs.append(vectors[ehash])
            metas.append(vmeta)
        for i in p.meta_only:
            meta_ids.append(p.chunks[i][0].id)
            meta_metas.append(vmeta)
    if ids:
        kb.upsert_vectors(ids, np.stack(vecs), metas)
    if meta_ids:
        kb.update_vector_metadata(meta_ids, meta_metas)

    with kb.catalog.transaction() as conn:
        for p in batch:
            f = p.fiche
            before = old_fiches.get(f.id)
            same = (
                before is not None
                and before.hash == f.content_hash
                and not p.to_embed
                and not p.stale_ids
                and not p.texts_changed
            )
            conn.execute(
                "INSERT OR REPLACE INTO fiches(id, hash, raw_hashes, metadata, audiences) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    f.id,
                    f.content_hash,
                    json.dumps(list(p.raw_hashes)),
                    json.dumps(fiche_metadata(f), ensure_ascii=False),
                    json.dumps(list(f.audiences), ensure_ascii=False),
                ),
            )
            conn.execute("DELETE FROM chunks WHERE fiche_id = ?", (f.id,))
            conn.executemany(
                "INSERT OR REPLACE INTO chunks"
                "(id, fiche_id, hash, embed_hash, text, context, section, ord) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (c.id, f.id, c.hash, eh, c.text, c.context, c.section, c.order)
                    for c, _, eh in p.chunks
                ],
            )
            if p.is_new:
                summary.fiches_new += 1
            elif same:
                summary.fiches_unchanged += 1  # new bytes, same content
            else:
                summary.fiches_updated += 1
            summary.chunks_added += len(p.to_embed)
            summary.chunks_deleted += len(p.stale_ids)
            anything |= not same
            states[f.id] = (f.content_hash, p.raw_hashes)
        bump_generation(conn)
    stale = [cid for p in batch for cid in p.stale_ids]
    if stale:
        kb.delete_vectors(stale)
    return anything


def _delete_fiches(kb: KnowledgeBase, fiche_ids: list[str], summary: IngestSummary) -> None:
    chunks = kb.catalog.chunks_of(fiche_ids)
    with kb.catalog.transaction() as conn:
        for i in range(0, len(fiche_ids), 500):
            part = fiche_ids[i : i + 500]
            marks = ",".join("?" * len(part))
            conn.execute(f"DELETE FROM chunks WHERE fiche_id IN ({marks})", part)
            conn.execute(f"DELETE FROM fiches WHERE id IN ({marks})", part)
        bump_generation(conn)
    ids = [c.id for rows in chunks.values() for c in rows]
    kb.delete_vectors(ids)
    summary.fiches_deleted += len(fiche_ids)
    summary.chunks_deleted += len(ids)


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc="fiches",
        unit="fiche",
        file=sys.stderr,
        disable=not enabled or not sys.stderr.isatty() or total == 0,
        leave=False,
    )


__all__ = ["ChunkRow", "embed_text", "fiche_metadata", "ingest"]
