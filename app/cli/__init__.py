"""The `guichet` command. Each module here registers the commands of one area:

- `app.cli.knowledge`: ingest, search, kb stats, eval retrieval
- `app.cli.answers`: ask, eval answers
- `app.cli.matrix`: run, feedback export
- `app.cli.demo`: demo, chat
"""

from __future__ import annotations

import typer

from app.cli import answers, demo, knowledge, matrix

app = typer.Typer(
    name="guichet",
    help="Guichet: a Tchap assistant drafting answers from service-public.fr fiches.",
    no_args_is_help=True,
    add_completion=False,
)
kb_app = typer.Typer(help="The knowledge base (store) itself.", no_args_is_help=True)
eval_app = typer.Typer(help="Quality evaluations on a JSONL question file.", no_args_is_help=True)
feedback_app = typer.Typer(help="Agents' 👍/👎 feedback on answers.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.add_typer(eval_app, name="eval")
app.add_typer(feedback_app, name="feedback")

for module in (knowledge, answers, matrix, demo):
    module.register(app=app, kb_app=kb_app, eval_app=eval_app, feedback_app=feedback_app)


def main() -> None:
    app()
