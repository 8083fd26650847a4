"""Commands of the knowledge area (see app/cli/__init__.py): ingest, search, kb stats,
eval retrieval. Every command reads `KnowledgeSettings` (GUICHET_* env, .env) and accepts
`--store DIR` to override the store location.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="Store directory (overrides GUICHET_STORE_DIR)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def _settings(store: Path | None) -> Any:
    from knowledge.settings import KnowledgeSettings

    settings = KnowledgeSettings()
    if store is not None:
        settings = settings.model_copy(update={"store_dir": store})
    return settings


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=1)


def _quiet_logs() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("bm25s", "chromadb", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def ingest_command(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="DILA zip(s), directories (*.xml, *.zip inside), XML files or http(s) URLs.",
            metavar="PATH_OR_URL...",
        ),
    ],
    prune: Annotated[
        bool, typer.Option("--prune", help="Delete fiches absent from the inputs.")
    ] = False,
    store: StoreOpt = None,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="No progress bar on stderr.")
    ] = False,
    as_json: JsonOpt = False,
    metrics_file: Annotated[
        Path | None,
        typer.Option(
            "--metrics-file",
            help="Write this run's metrics (Prometheus text format) to this file, for "
            "node_exporter's textfile collector: the scheduled job's stats reach Prometheus.",
        ),
    ] = None,
) -> None:
    """Ingest DILA fiches (incremental: unchanged fiches are skipped)."""
    from knowledge.errors import KnowledgeError
    from knowledge.ingest import ingest
    from knowledge.models import IngestSummary
    from knowledge.store import KnowledgeBase
    from ops.metrics import write_ingest_textfile

    _quiet_logs()
    settings = _settings(store)
    new_store = not Path(settings.store_dir).exists()
    try:
        with KnowledgeBase.open(settings, create=True, for_ingest=True) as kb:
            summary = ingest(kb, inputs, prune=prune, progress=not no_progress)
            location = kb.location
    except KnowledgeError as exc:
        if new_store:  # a failed first ingest leaves no empty store behind
            shutil.rmtree(settings.store_dir, ignore_errors=True)
        if metrics_file is not None:
            write_ingest_textfile(IngestSummary(), str(metrics_file), ok=False)
        raise _fail(exc) from exc
    if metrics_file is not None:
        write_ingest_textfile(summary, str(metrics_file), ok=True)
    data = {
        "files_read": summary.files_read,
        "fiches_new": summary.fiches_new,
        "fiches_updated": summary.fiches_updated,
        "fiches_unchanged": summary.fiches_unchanged,
        "fiches_deleted": summary.fiches_deleted,
        "chunks_added": summary.chunks_added,
        "chunks_deleted": summary.chunks_deleted,
        "chunks_total": summary.chunks_total,
        "skipped": [{"source": p.source, "reason": p.reason} for p in summary.skipped],
        "seconds": summary.seconds,
        "store": location,
    }
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    typer.echo(f"Store: {location}")
    typer.echo(f"Files read: {summary.files_read}")
    typer.echo(
        f"Fiches: {summary.fiches_new} new, {summary.fiches_updated} updated, "
        f"{summary.fiches_unchanged} unchanged, {summary.fiches_deleted} deleted"
    )
    typer.echo(
        f"Chunks: {summary.chunks_total} in store ({summary.chunks_added} embedded, "
        f"{summary.chunks_deleted} deleted)"
    )
    typer.echo(f"Skipped: {len(summary.skipped)}")
    for p in summary.skipped:
        typer.echo(f"  - {p.source}: {p.reason}")
    typer.echo(f"Time: {summary.seconds:.1f} s")


def search_command(
    query: Annotated[str, typer.Argument(help="The question or keywords.")],
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="Fiches to return.")] = 5,
    audience: Annotated[
        str | None,
        typer.Option(help="Only fiches for Particuliers, Professionnels or Associations."),
    ] = None,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
) -> None:
    """Search the knowledge base (hybrid: dense + lexical)."""
    from knowledge.errors import KnowledgeError
    from knowledge.models import AUDIENCES
    from knowledge.store import KnowledgeBase

    _quiet_logs()
    if audience is not None and audience not in AUDIENCES:
        typer.echo(f"error: --audience must be one of {', '.join(AUDIENCES)}", err=True)
        raise typer.Exit(code=2)
    try:
        with KnowledgeBase.open(_settings(store)) as kb:
            docs = kb.retriever(k=k).search(query, k=k, audience=audience)
    except KnowledgeError as exc:
        raise _fail(exc) from exc
    rows = [
        {
            "fiche_id": d.metadata["fiche_id"],
            "title": d.metadata["title"],
            "url": d.metadata["url"],
            "score": d.metadata["score"],
            "section": d.metadata["section"],
        }
        for d in docs
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("No fiche found.")
    for i, r in enumerate(rows, 1):
        section = f" › {r['section']}" if r["section"] else ""
        typer.echo(f"{i}. [{r['fiche_id']}] {r['title']}{section}  ({r['score']:.4f})")
        typer.echo(f"   {r['url']}")


def stats_command(as_json: JsonOpt = False, store: StoreOpt = None) -> None:
    """Fiches, chunks, audiences, embedding model and location of the store."""
    from knowledge.errors import KnowledgeError
    from knowledge.store import KnowledgeBase

    _quiet_logs()
    try:
        with KnowledgeBase.open(_settings(store)) as kb:
            stats = kb.stats()
    except KnowledgeError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(stats, ensure_ascii=False, indent=2))
        return
    typer.echo(f"Store: {stats['store']}")
    typer.echo(f"Vectors: {stats['chroma']} (collection {stats['collection']})")
    typer.echo(f"Embedding model: {stats['embedding_model']}")
    typer.echo(
        f"Fiches: {stats['fiches']}  ({', '.join(f'{k}: {v}' for k, v in stats['kinds'].items())})"
    )
    typer.echo(f"Chunks: {stats['chunks']}  (vectors: {stats['vectors']})")
    typer.echo("Audiences: " + ", ".join(f"{k}: {v}" for k, v in stats["audiences"].items()))
    typer.echo(f"Size on disk: {stats['size_bytes'] / 1e6:.1f} MB")


def eval_retrieval_command(
    file: Annotated[Path, typer.Argument(help='JSONL: {"question": ..., "expected": [IDs]}')],
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="Depth of the search.")] = 10,
    show_misses: Annotated[
        bool,
        typer.Option(
            "--misses", help="Print each question whose first fiche is not an expected one."
        ),
    ] = False,
    ignore_audience: Annotated[
        bool,
        typer.Option(
            "--ignore-audience",
            help="Search every fiche, even for an item that names its audience.",
        ),
    ] = False,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
) -> None:
    """hit@1/5/10, MRR@10 and latency of the retriever on a question file (per kind); an
    item's "audience" restricts its search to that audience's fiches, as in `eval answers`
    and in the bot when GUICHET_AUDIENCE is set."""
    from knowledge.errors import KnowledgeError
    from knowledge.evaluate import evaluate_retrieval
    from knowledge.store import KnowledgeBase

    _quiet_logs()
    misses: list[dict] | None = [] if show_misses else None
    try:
        with KnowledgeBase.open(_settings(store)) as kb:
            result = evaluate_retrieval(kb, file, k=k, misses=misses, audience=not ignore_audience)
            titles = (
                {
                    f: r.metadata.get("title", "")
                    for f, r in kb.catalog.fiches(
                        {i for m in misses for i in (*m["expected"], *m["top"])}
                    ).items()
                }
                if misses
                else {}
            )
    except KnowledgeError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps({**result, "misses": misses} if misses is not None else result))
        return
    for key, value in result.items():
        typer.echo(f"{key}: {value}")
    for m in misses or []:
        rank = "not in the top" if m["rank"] is None else f"rank {m['rank']}"
        typer.echo(f"\nMISS {m['id']} ({rank}): {m['question'][:300]}")
        for fid in m["expected"]:
            typer.echo(f"  expected {fid} {titles.get(fid, '?')}")
        for fid in m["top"]:
            typer.echo(f"  got      {fid} {titles.get(fid, '?')}")


def register(
    *, app: typer.Typer, kb_app: typer.Typer, eval_app: typer.Typer, feedback_app: typer.Typer
) -> None:
    """Add this area's commands to the `guichet` app."""
    app.command("ingest")(ingest_command)
    app.command("search")(search_command)
    kb_app.command("stats")(stats_command)
    eval_app.command("retrieval")(eval_retrieval_command)
