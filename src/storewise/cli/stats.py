"""``storewise stats``: what the store holds, in figures."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from storewise.cli.common import console, guarded, print_json, state


@guarded
def stats(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts of customers, items, events by type, orders, date range, top items, quality."""
    with state(ctx).services() as services:
        figures = services.insights.stats()
    if as_json:
        print_json(figures)
        return
    table = Table(title="storewise stats", show_header=False)
    table.add_row("customers", f"{figures['customers']:,}")
    table.add_row("items (products)", f"{figures['items']:,}")
    table.add_row("non-product codes", f"{figures['non_product_codes']:,}")
    for kind, count in figures["events"].items():
        table.add_row(f"events: {kind}", f"{count:,}")
    table.add_row("orders", f"{figures['orders']:,}")
    table.add_row("revenue", f"{figures['revenue']:,.2f}")
    table.add_row("from", str(figures["date_range"]["first"]))
    table.add_row("to", str(figures["date_range"]["last"]))
    for key, value in figures["data_quality"].items():
        table.add_row(f"quality: {key.replace('_', ' ')}", f"{value:,}")
    console.print(table)
    top = Table("item", "title", "purchases", "buyers", title="top items")
    for row in figures["top_items"]:
        top.add_row(
            row["item_id"], row["title"] or "", f"{row['purchases']:,}", f"{row['buyers']:,}"
        )
    console.print(top)
