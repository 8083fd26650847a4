"""`guichet ask` and `guichet eval answers`: the answer chain from the command line.

This is a composition point: it opens the knowledge base (`knowledge`), builds the chat
model and the chain (`chains`) from their settings, and prints.
"""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

AUDIENCE_HELP = "Particuliers, Professionnels or Associations (filters the fiches)."
STORE_HELP = "Knowledge base directory (default: GUICHET_STORE_DIR or .guichet/store)."
QUESTION_HELP = "The question (or, with --mode brouillon, the citizen's message)."
MODE_HELP = "question: answer the agent; brouillon: draft a reply to the citizen."
FILE_HELP = "JSONL file: kind, question/message, expected, answer_facts."


def _fail(message: str) -> typer.Exit:
    typer.secho(f"Erreur : {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=1)


@contextmanager
def _chain(store: Path | None):
    """Open the store and build the chain; a clear error and exit 1 when that fails."""
    from chains.answer import build_answer_chain
    from chains.llm import build_chat_model
    from chains.settings import ChainSettings
    from knowledge.errors import KnowledgeError
    from knowledge.settings import KnowledgeSettings
    from knowledge.store import KnowledgeBase

    try:
        ks = KnowledgeSettings(store_dir=store) if store else KnowledgeSettings()
        cs = ChainSettings()
    except ValueError as exc:  # pydantic ValidationError
        raise _fail(f"configuration invalide : {exc}") from exc
    try:
        kb = KnowledgeBase.open(ks)
    except KnowledgeError as exc:
        raise _fail(f"{exc} (créez la base avec `guichet ingest ... --store DIR`)") from exc
    try:
        chain = build_answer_chain(kb.retriever(k=cs.retrieval_k), build_chat_model(cs), cs)
        yield chain
    finally:
        kb.close()


def _check_audience(audience: str | None) -> str | None:
    from knowledge.models import AUDIENCES, audience_named

    if audience is None:
        return None
    named = audience_named(audience)
    if named is not None:
        return named
    raise _fail(f"audience inconnue {audience!r} : choisissez parmi {', '.join(AUDIENCES)}")


def ask(
    question: Annotated[str, typer.Argument(help=QUESTION_HELP)],
    mode: Annotated[
        str,
        typer.Option(help=MODE_HELP),
    ] = "question",
    audience: Annotated[str | None, typer.Option(help=AUDIENCE_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    store: Annotated[Path | None, typer.Option(help=STORE_HELP)] = None,
) -> None:
    """Answer one question from the fiches, with its sources."""
    from chains.models import AnswerRequest

    if mode not in ("question", "brouillon"):
        raise _fail(f"mode inconnu {mode!r} : question ou brouillon")
    if not question.strip():
        raise _fail("la question est vide")
    aud = _check_audience(audience)
    with _chain(store) as chain:
        answer = asyncio.run(
            chain.ainvoke(AnswerRequest(question=question, mode=mode, audience=aud))
        )
    if as_json:
        out = {
            "status": answer.status,
            "text": answer.text,
            "sources": [
                {"n": s.n, "fiche_id": s.fiche_id, "title": s.title, "url": s.url, "cited": s.cited}
                for s in answer.sources
            ],
            "checks": answer.checks,
            "latency_ms": answer.latency_ms,
            "flagged": answer.flagged,
            "error": answer.error,
        }
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        typer.echo(answer.text)
        if answer.sources:
            typer.echo("\nSources :")
            for s in answer.sources:
                mark = "" if s.cited else " (non citée)"
                date = f", mise à jour {s.date}" if s.date else ""
                typer.echo(f"  [{s.n}] {s.title} — {s.url}{date}{mark}")
        typer.secho(
            f"\n[{answer.status} · {answer.generator} · {answer.latency_ms:.0f} ms]",
            fg=typer.colors.BRIGHT_BLACK,
        )
    if answer.status == "error":
        raise typer.Exit(code=2)


def eval_answers(
    file: Annotated[Path, typer.Argument(help=FILE_HELP)],
    show_misses: Annotated[
        bool, typer.Option("--misses", help="Print every failed item with the answer given.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    store: Annotated[Path | None, typer.Option(help=STORE_HELP)] = None,
) -> None:
    """Rate answers on a JSONL file: expected fiche cited, facts, traceable links, figures."""
    from chains.evaluate import RATE_KEYS, EvalFileError, evaluate_answers, load_items

    try:
        items = load_items(file)
    except EvalFileError as exc:
        raise _fail(str(exc)) from exc
    with _chain(store) as chain:

        def progress(result) -> None:
            if not as_json:
                sys.stderr.write(".")
                sys.stderr.flush()

        summary = asyncio.run(evaluate_answers(chain, items, progress=progress))
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    sys.stderr.write("\n")

    def fmt(v) -> str:
        return "—" if v is None else f"{v:.1%}" if isinstance(v, float) else str(v)

    header = f"{'':24}" + "".join(f"{k:>14}" for k in ("all", *summary["by_kind"]))
    typer.echo(header)
    blocks = [summary, *summary["by_kind"].values()]
    for key in ("n", *RATE_KEYS):
        typer.echo(f"{key:24}" + "".join(f"{fmt(b[key]):>14}" for b in blocks))
    for key in ("p50_ms", "p95_ms"):
        typer.echo(f"{key:24}" + "".join(f"{b[key] or 0:>14.1f}" for b in blocks))
    if summary["misses"]:
        typer.echo(f"\n{len(summary['misses'])} manqué(s) :")
        for m in summary["misses"] if show_misses else summary["misses"][:20]:
            typer.echo(
                f"  ligne {m['line']} {m['id']} ({m['kind']}, {m['status']}) : attendu "
                f"{m['expected']}, cité {m['cited']}, faits absents {m['facts_missing']}"
            )
            if show_misses:
                typer.echo(f"    question : {m['question'][:400]}")
                typer.echo(
                    "    réponse :\n" + "\n".join(f"      {x}" for x in m["answer"].splitlines())
                )


def register(
    *, app: typer.Typer, kb_app: typer.Typer, eval_app: typer.Typer, feedback_app: typer.Typer
) -> None:
    """Add this area's commands to the `guichet` app."""
    app.command("ask")(ask)
    eval_app.command("answers")(eval_answers)
