"""Data in and out: ``import`` a file, list its ``findings``, ``export``, and ``batch`` due dates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from truthset.cli._common import _console, _echo_json, _open, _progress, main
from truthset.core.errors import TruthsetError


@main.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "parquet", "images", "labelstudio", "xlsx", "conll"]),
    default=None,
    help="Override format detection.",
)
@click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    help="Text encoding, e.g. cp1252; a file that does not decode gets a suggestion that does.",
)
@click.option(
    "--fix-text",
    is_flag=True,
    help="Repair mojibake and C1 control characters (ftfy); each original is kept in the findings.",
)
@click.option("--sheet", default=None, help="Excel: the sheet to read (default: the first).")
@click.option("--delimiter", default=None, help="CSV delimiter (default: detected; use '\\t' for tab).")
@click.option(
    "--quoting",
    type=click.Choice(["auto", "minimal", "none"]),
    default="auto",
    show_default=True,
    help="CSV quoting: 'none' keeps quote characters as text.",
)
@click.option("--id-col", default=None, help="Column with item ids.")
@click.option("--text-col", default=None, help="Column with the text (or image path).")
@click.option("--label-col", default=None, help="Column with existing labels.")
@click.option("--annotator-col", default=None, help="Column naming who gave each label.")
@click.option("--lead-time-col", default=None, help="Column with seconds spent per label.")
@click.option("--label-sep", default="|", show_default=True, help="Separator of labels (multi-label).")
@click.option("--annotator", default="import", show_default=True, help="Annotator name for labels without one.")
@click.option(
    "--on-duplicate",
    type=click.Choice(["merge", "reject", "error"]),
    default="merge",
    show_default=True,
    help="A row whose id (or content) is an item already met: merge: it is that item (a changed "
    "payload is reported, a different label by the same annotator supersedes); reject: "
    "changed payloads and conflicting labels are rejected rows; error: abort.",
)
@click.option("--labels-from-folders", is_flag=True, help="Images: use each sub-folder's name as the label.")
@click.option("--from-name", default=None, help="Label Studio: the control to read labels from.")
@click.option(
    "--due",
    default=None,
    help="Due date of this batch (2026-12-01 or 2026-12-01T17:00): its items "
    "are handed out before batches due later or not at all.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def import_(
    ctx: click.Context, /, file: Path, fmt: str | None, as_json: bool, delimiter: str | None, due: str | None, **kw: Any
) -> None:
    """Import FILE (CSV/TSV, Excel, JSONL, Parquet, image folder, Label Studio export, CoNLL).

    Example: truthset import messages.tsv --text-col SMS --label-col Label --due 2026-12-01
    """
    from truthset.services.batches import parse_due, set_due
    from truthset.services.imports import ImportOptions, import_file

    if delimiter is not None:
        delimiter = delimiter.encode().decode("unicode_escape")
    due_at = parse_due(due) if due else None  # a bad date fails before anything is read
    options = ImportOptions(format=fmt, delimiter=delimiter, **kw)
    project = _open(ctx)
    with _progress(f"importing {file.name}", not as_json) as progress:
        report = import_file(project, file, options, progress=progress)
    if due_at is not None and report.batch is not None:
        set_due(project, report.batch, due_at)
    if as_json:
        _echo_json(report.to_dict())
        return
    _print_import(report)


def _print_import(report: Any) -> None:
    c = _console()
    if report.already_imported:
        c.print(f"{report.source} was already imported as batch {report.batch}; nothing added.")
        return
    rate = report.rows_read / report.seconds if report.seconds else 0
    c.print(
        f"[bold]batch {report.batch}[/bold]: {report.rows_read:,} rows read from {report.source} "
        f"({report.format}) in {report.seconds:.2f} s ({rate:,.0f} rows/s)"
    )
    c.print(f"  items added:        {report.items_added:,}")
    c.print(
        f"  annotations added:  {report.annotations_added:,}"
        + (f" (gold: {report.gold_added:,})" if report.gold_added else "")
    )
    if report.new_judgements:
        c.print(f"  new judgements of items met before: {report.new_judgements:,} (same item, another label)")
    if report.duplicates or report.already_present:
        c.print(
            f"  duplicates:         {report.duplicates:,} exact duplicate copies of earlier rows"
            + (f", {report.already_present:,} rows already in the project" if report.already_present else "")
            + " (nothing new; see 'truthset findings --kind duplicate')"
        )
    if report.rejected:
        c.print(f"  [red]rejected rows:      {report.rejected:,}[/red] (see 'truthset findings --kind rejected')")
    for name, n, kind in (
        ("changed payloads (same id, other content)", report.changed_payloads, "changed"),
        ("items with the same content as another id's", report.same_content, "same_content"),
        ("conflicting labels (the later is current)", report.conflicts, "conflict"),
        ("rows with mojibake", report.mojibake_rows, "mojibake"),
        ("rows with control characters", report.control_char_rows, "control"),
        ("overlapping span pairs", report.overlapping_spans, "overlap"),
    ):
        if n:
            c.print(f"  [yellow]{name}: {n:,}[/yellow] (see 'truthset findings --kind {kind}')")
    for name, n in (
        ("rows repaired by --fix-text", report.repaired_rows),
        ("earlier annotations superseded", report.superseded),
        ("cancelled annotations skipped", report.cancelled_annotations),
        ("empty annotations skipped", report.empty_annotations),
    ):
        if n:
            c.print(f"  {name}: {n:,}")
    if (report.mojibake_rows or report.control_char_rows) and not report.repaired_rows:
        c.print("  --fix-text repairs mojibake and C1 controls on import (the originals stay in the findings)")
    if report.labels_added_to_schema:
        c.print(f"  labels added to the schema: {', '.join(report.labels_added_to_schema)}")
    if report.labels_not_in_schema:
        c.print(
            f"  [yellow]labels not in the schema[/yellow]: {', '.join(report.labels_not_in_schema)} "
            "(add them to truthset.yaml or run 'truthset schema check')"
        )
    for f in report.findings[:5]:
        c.print(f"  line {f['line']}: {f['kind']}: {f['reason']}", markup=False)


@main.command()
@click.option("--batch", type=int, default=None, help="Batch number (default: the latest).")
@click.option(
    "--kind",
    type=click.Choice(
        ["rejected", "duplicate", "changed", "same_content", "conflict", "mojibake", "control", "overlap"]
    ),
    default=None,
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def findings(ctx: click.Context, batch: int | None, kind: str | None, as_json: bool) -> None:
    """List what an import noted, row by row, with line numbers and reasons.

    Kinds: rejected rows, duplicated rows, changed payloads (same id, other content), items
    with the same content as another id's, conflicting labels, mojibake, control characters,
    overlapping spans.

    Example: truthset findings --kind mojibake
    """
    from truthset.services.imports import import_findings

    project = _open(ctx)
    if batch is None:
        from truthset.services.status import status

        batches = status(project)["by_batch"]
        if not batches:
            raise TruthsetError("no imports yet; run 'truthset import FILE' first")
        batch = batches[-1]["batch"]
    rows = import_findings(project, batch, kind=kind)
    if as_json:
        _echo_json({"batch": batch, "findings": rows})
        return
    for r in rows:
        click.echo(f"line {r['line']}\t{r['kind']}\t{r['field'] or '-'}\t{r['reason']}")
    click.echo(f"{len(rows)} finding(s) in batch {batch}", err=True)


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv", "parquet", "labelstudio", "conll"]),
    default="jsonl",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.option(
    "--labels",
    default=None,
    help="Training data: one row per item with its final label, its source and confidence, "
    "from consensus (the latest 'qc aggregate' run), run:N, adjudicated or latest.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def export(ctx: click.Context, fmt: str, output: Path, labels: str | None, as_json: bool) -> None:
    """Export items, annotations and gold (every format re-imports into an equal project), or
    (--labels) training data.

    \b
    Example: truthset export --format labelstudio -o tasks.json
    Training data: truthset export --labels consensus --format csv -o train.csv
    """
    if labels is not None:
        _export_training(ctx, fmt, output, labels, as_json)
        return
    from truthset.services.exports import export_project

    project = _open(ctx)
    with _progress(f"exporting {output.name}", not as_json) as progress:
        report = export_project(project, output, fmt=fmt, progress=progress)
    if as_json:
        _echo_json(report.__dict__)
    else:
        click.echo(f"wrote {report.items:,} items and {report.annotations:,} annotations to {output} ({fmt})")


def _export_training(ctx: click.Context, fmt: str, output: Path, labels: str, as_json: bool) -> None:
    from truthset.services.training_export import export_training_data

    project = _open(ctx)
    with _progress(f"exporting {output.name}", not as_json) as progress:
        report = export_training_data(project, output, fmt=fmt, labels=labels, progress=progress)
    if as_json:
        _echo_json(report.__dict__)
        return
    sources = ", ".join(f"{k} {v:,}" for k, v in report.by_source.items())
    click.echo(
        f"wrote {report.labelled:,} of {report.items:,} items with their final label to {output} ({fmt}; {sources})"
    )
    if report.unlabelled:
        reasons = ", ".join(f"{k}: {v:,}" for k, v in report.unlabelled_reasons.items())
        click.echo(
            f"{report.unlabelled:,} item(s) have no final label ({reasons}); listed in {report.unlabelled_file}",
            err=True,
        )


@main.group()
def batch() -> None:
    """Batches (one per import): due dates."""


@batch.command("due")
@click.argument("batch_id", type=int)
@click.argument("date", required=False)
@click.option("--clear", is_flag=True, help="Remove the batch's due date.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def batch_due(ctx: click.Context, batch_id: int, date: str | None, clear: bool, as_json: bool) -> None:
    """Set (or --clear) when batch BATCH_ID is due; the queue serves the batch due soonest first.

    Example: truthset batch due 3 2026-12-01
    """
    from truthset.core.errors import InvalidInput
    from truthset.services.batches import parse_due, set_due

    if clear == (date is not None):
        raise InvalidInput("give either a DATE (e.g. 2026-12-01) or --clear")
    due_at = None if clear else parse_due(date or "")
    project = _open(ctx)
    set_due(project, batch_id, due_at)
    if as_json:
        _echo_json({"batch": batch_id, "due_at": None if due_at is None else due_at.isoformat()})
        return
    click.echo(f"batch {batch_id}: " + ("no due date" if due_at is None else f"due {due_at.isoformat()}"))
