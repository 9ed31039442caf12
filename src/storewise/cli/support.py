"""``storewise support load-kb | classify | ask``: the customer-service assistant."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table

from storewise.cli.common import console, guarded, print_json, state
from storewise.errors import InputError

app = typer.Typer(help="Suggested answers for customer messages, with the customer's context.")


@app.command("load-kb")
@guarded
def load_kb(
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(help="CSV (intent,instruction,response) or Markdown files.")
    ],
) -> None:
    """Read a knowledge base, train the intent model and keep it for answering."""
    with state(ctx).services() as services, console.status("training the intent model"):
        summary = services.support.load_kb(files)
    console.print(
        f"knowledge base: {summary['entries']:,} answers, {summary['intents']} intents, "
        f"saved in {summary['folder']}"
    )


@app.command("classify")
@guarded
def classify(
    ctx: typer.Context,
    messages: Annotated[Path, typer.Option("--messages", help="One message per line.")],
    out: Annotated[Path, typer.Option("--out", help="CSV: message,intent,confidence.")],
) -> None:
    """Classify a file of messages in batch (empty intent: send to a human)."""
    if not messages.exists():
        raise InputError(f"{messages}: no such file")
    with state(ctx).services() as services:
        count = services.support.classify_file(messages, out)
    console.print(f"classified {count:,} messages into {out}")


@app.command("ask")
@guarded
def ask(
    ctx: typer.Context,
    message: Annotated[str, typer.Argument(help="The customer's message.")],
    customer: Annotated[
        str | None, typer.Option("--customer", help="The customer's id (for their context).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Suggest answers to a message, filled with the customer's facts."""
    with state(ctx).services() as services:
        result = services.support.suggest(customer, message)
    if as_json:
        print_json(result)
        return
    intent = result.get("intent") or "none (send to a human)"
    console.print(
        f"intent: [bold]{intent}[/] (confidence {result.get('confidence', 0):.2f}), "
        f"priority: [bold]{result.get('priority')}[/]"
    )
    for number, answer in enumerate(result.get("answers", []), 1):
        console.print(Panel(answer["text"], title=f"suggestion {number}", expand=False))
    actions = result.get("actions", [])
    if actions:
        table = Table("action", "why")
        for action in actions:
            table.add_row(str(action["label"]), str(action["reason"]))
        console.print(table)
