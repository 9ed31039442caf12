"""``storewise ingest {orders,events,items,customers} FILE...``: bring data in, with a report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Protocol

import typer
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from storewise.app import PRESETS, IngestReport, parse_mapping
from storewise.cli.common import console, err_console, guarded, state
from storewise.errors import InputError

app = typer.Typer(help="Import files into the store; every row is stored, repaired or reported.")

Files = Annotated[list[Path], typer.Argument(help="CSV (.gz ok), Parquet or JSON-lines files.")]
PresetOpt = Annotated[
    str | None, typer.Option("--preset", help=f"Column layout: {', '.join(sorted(PRESETS))}.")
]
MapOpt = Annotated[
    list[str] | None, typer.Option("--map", help="Rename a column: SRC=DST (repeatable).")
]
ReportOpt = Annotated[
    Path | None, typer.Option("--report-json", help="Write the ingest report as JSON here.")
]
RejectOpt = Annotated[
    Path | None, typer.Option("--rejected-csv", help="Write rejected rows with line and reason.")
]
EncodingOpt = Annotated[
    str | None, typer.Option("--encoding", help="Text encoding (default: detected).")
]
DelimiterOpt = Annotated[
    str | None, typer.Option("--delimiter", help="CSV delimiter (default: detected).")
]
TimeFormatOpt = Annotated[
    str | None,
    typer.Option("--time-format", help="strftime layout of timestamps, e.g. '%d/%m/%Y %H:%M'."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")]


class FileProgress(Protocol):
    """What the import says after each stage of each chunk of a file."""

    @property
    def file(self) -> str: ...
    @property
    def rows_read(self) -> int: ...
    @property
    def stored(self) -> int: ...
    @property
    def total_rows(self) -> int | None: ...
    @property
    def stage(self) -> str: ...


class _Rows(ProgressColumn):
    """Rows read and stored, the stage, and a percentage only when the file's row count is
    known (Parquet): a compressed CSV is read ahead long before its rows are stored, so its
    bytes say nothing about how far the import is."""

    def render(self, task: Task) -> Text:
        fields = task.fields
        if "read" not in fields:
            return Text("")
        share = f"{task.percentage:3.0f}% " if task.total is not None else ""
        return Text(
            f"{share}{fields['read']:,} read · {fields['stored']:,} stored · {fields['stage']}"
        )


def show_report(report: IngestReport) -> None:
    """Print a short human summary of an ingest report."""
    table = Table(title=f"ingest {report.kind} ({report.preset})", show_header=False)
    table.add_row("rows read", f"{report.rows_read:,}")
    table.add_row("stored", f"{report.stored:,}")
    table.add_row("duplicates (already stored)", f"{report.duplicates:,}")
    table.add_row("rejected", f"{report.rejected_total:,}")
    for reason, count in report.rejected.most_common():
        table.add_row(f"  rejected: {reason}", f"{count:,}")
    for reason, count in report.repaired.most_common():
        table.add_row(f"  repaired: {reason}", f"{count:,}")
    for reason, count in report.notes.most_common():
        table.add_row(f"  note: {reason}", f"{count:,}")
    if report.identities_linked:
        table.add_row("guest events linked to customers", f"{report.identities_linked:,}")
    table.add_row("seconds", f"{report.seconds:.1f}")
    console.print(table)


def _run(
    ctx: typer.Context,
    kind: str,
    files: list[Path],
    preset: str | None,
    mapping: list[str] | None,
    report_json: Path | None,
    rejected_csv: Path | None,
    encoding: str | None,
    delimiter: str | None,
    time_format: str | None,
    quiet: bool,
) -> None:
    pairs = parse_mapping(mapping or [])
    if report_json is not None and report_json.is_dir():
        raise InputError(f"{report_json}: is a folder; give a file name for --report-json")
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=20),
        _Rows(),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def tick(state: FileProgress) -> None:
        if state.file not in tasks:
            tasks[state.file] = progress.add_task(Path(state.file).name, total=state.total_rows)
        task = tasks[state.file]
        done = state.stage == "done"
        total = state.total_rows if state.total_rows is not None else (state.rows_read or 1)
        progress.update(
            task,
            completed=state.rows_read,
            total=total if done or state.total_rows is not None else None,
            read=state.rows_read,
            stored=state.stored,
            stage=state.stage,
        )

    with state(ctx).services() as services, progress:
        report = services.ingest.files(
            kind,
            files,
            preset=preset,
            mapping=pairs,
            encoding=encoding,
            delimiter=delimiter,
            time_format=time_format,
            rejected_csv=rejected_csv,
            progress=tick,
        )
    if report_json is not None:
        try:
            report_json.parent.mkdir(parents=True, exist_ok=True)
            report_json.write_text(json.dumps(report.to_dict(), indent=2))
        except OSError as exc:
            raise InputError(
                f"{report_json}: the import was committed, but its report could not be written "
                f"({exc.strerror or exc})"
            ) from exc
    if not quiet:
        show_report(report)


def _command(kind: str, summary: str) -> None:
    @app.command(kind, help=summary)
    @guarded
    def command(
        ctx: typer.Context,
        files: Files,
        preset: PresetOpt = None,
        mapping: MapOpt = None,
        report_json: ReportOpt = None,
        rejected_csv: RejectOpt = None,
        encoding: EncodingOpt = None,
        delimiter: DelimiterOpt = None,
        time_format: TimeFormatOpt = None,
        quiet: QuietOpt = False,
    ) -> None:
        _run(
            ctx,
            kind,
            files,
            preset,
            mapping,
            report_json,
            rejected_csv,
            encoding,
            delimiter,
            time_format,
            quiet,
        )


_command("orders", "Order lines (preset generic or online-retail).")
_command("events", "Behaviour events: views, carts, purchases, returns, ratings, searches.")
_command("items", "The catalog: titles, descriptions, categories, prices, stock.")
_command("customers", "Customer profiles and consents (email and name stored encrypted).")


@app.command("presets")
def presets() -> None:
    """List the column presets and what files they read."""
    table = Table("preset", "kind", "reads")
    for preset in PRESETS.values():
        table.add_row(preset.name, preset.kind, preset.description)
    console.print(table)
