"""The ``truthset`` command line: parse options, call a service, render the result.

Every command that reports numbers takes ``--json``. A user error prints one line saying
what is wrong and how to fix it, and exits with status 1 — never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from truthset.core.errors import TruthsetError
from truthset.core.schema import TASK_TYPES


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=False, highlight=False)


@contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """A rich progress line (rows and rows/s) on stderr for anything long; silent with --json."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(SpinnerColumn(), TextColumn(label), MofNCompleteColumn(), TextColumn("rows"),
                  TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda n: bar.advance(task, n)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TruthsetError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
        except OSError as exc:
            click.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
            ctx.exit(1)
        except Exception as exc:
            from sqlalchemy.exc import OperationalError

            if isinstance(exc, OperationalError):
                click.echo(f"error: the database refused the operation: {exc.orig}. Check "
                           "TRUTHSET_DATABASE_URL and that the server is running.", err=True)
                ctx.exit(1)
            raise


@click.group(cls=_Group)
@click.option("--project", "-p", "project_dir", type=click.Path(path_type=Path), default=None,
              help="Project folder (default: found from the current folder upwards).")
@click.version_option(package_name="truthset")
@click.pass_context
def main(ctx: click.Context, project_dir: Path | None) -> None:
    """truthset: raw, messy data in; reliable training data and an evaluated baseline out."""
    ctx.obj = {"project_dir": project_dir}


def _open(ctx: click.Context) -> Any:
    from truthset.services.projects import open_project

    return open_project(ctx.obj["project_dir"])


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--task", type=click.Choice(TASK_TYPES), required=True, help="What annotators do.")
@click.option("--labels", default="", help="Comma-separated label names, e.g. ham,spam.")
@click.option("--name", default=None, help="Project name (default: the folder name).")
def init(directory: Path, task: str, labels: str, name: str | None) -> None:
    """Create a project in DIRECTORY.

    Example: truthset init spam --task text-classification --labels ham,spam
    """
    from truthset.services.projects import init_project

    project = init_project(directory, task=task, labels=labels.split(","), name=name)
    click.echo(f"created project {project.config.name!r} ({task}) in {project.root}")
    click.echo(f"edit {project.config_path} to write label definitions; then: truthset -p {directory} import FILE")


@main.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet", "images", "labelstudio"]),
              default=None, help="Override format detection.")
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding, e.g. cp1252.")
@click.option("--delimiter", default=None, help="CSV delimiter (default: detected; use '\\t' for tab).")
@click.option("--quoting", type=click.Choice(["auto", "minimal", "none"]), default="auto", show_default=True,
              help="CSV quoting: 'none' keeps quote characters as text.")
@click.option("--id-col", default=None, help="Column with item ids.")
@click.option("--text-col", default=None, help="Column with the text (or image path).")
@click.option("--label-col", default=None, help="Column with existing labels.")
@click.option("--annotator-col", default=None, help="Column naming who gave each label.")
@click.option("--lead-time-col", default=None, help="Column with seconds spent per label.")
@click.option("--label-sep", default="|", show_default=True, help="Separator of labels (multi-label).")
@click.option("--annotator", default="import", show_default=True, help="Annotator name for labels without one.")
@click.option("--on-duplicate", type=click.Choice(["merge", "reject", "error"]), default="merge", show_default=True,
              help="merge: copies become the same item; reject: copies are rejected rows; error: abort.")
@click.option("--labels-from-folders", is_flag=True, help="Images: use each sub-folder's name as the label.")
@click.option("--from-name", default=None, help="Label Studio: the control to read labels from.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def import_(ctx: click.Context, file: Path, fmt: str | None, as_json: bool, delimiter: str | None, **kw: Any) -> None:
    """Import FILE (CSV/TSV, JSONL, Parquet, image folder, Label Studio export).

    Example: truthset import messages.tsv --text-col SMS --label-col Label
    """
    from truthset.services.imports import ImportOptions, import_file

    if delimiter is not None:
        delimiter = delimiter.encode().decode("unicode_escape")
    options = ImportOptions(format=fmt, delimiter=delimiter, **kw)
    project = _open(ctx)
    with _progress(f"importing {file.name}", not as_json) as progress:
        report = import_file(project, file, options, progress=progress)
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
    c.print(f"[bold]batch {report.batch}[/bold]: {report.rows_read:,} rows read from {report.source} "
            f"({report.format}) in {report.seconds:.2f} s ({rate:,.0f} rows/s)")
    c.print(f"  items added:        {report.items_added:,}")
    c.print(f"  annotations added:  {report.annotations_added:,}" + (f" (gold: {report.gold_added:,})" if report.gold_added else ""))
    if report.duplicates or report.already_present:
        c.print(f"  duplicates:         {report.duplicates:,} exact duplicate copies in the file"
                + (f", {report.already_present:,} rows already in the project" if report.already_present else "")
                + " (merged into one item each; see 'truthset findings')")
    if report.rejected:
        c.print(f"  [red]rejected rows:      {report.rejected:,}[/red] (see 'truthset findings --kind rejected')")
    for name, n in (("conflicting labels on copies", report.conflicts), ("cancelled annotations skipped", report.cancelled_annotations),
                    ("empty annotations skipped", report.empty_annotations), ("rows with mojibake", report.mojibake_rows),
                    ("rows with control characters", report.control_char_rows)):
        if n:
            c.print(f"  {name}: {n:,}")
    if report.labels_added_to_schema:
        c.print(f"  labels added to the schema: {', '.join(report.labels_added_to_schema)}")
    if report.labels_not_in_schema:
        c.print(f"  [yellow]labels not in the schema[/yellow]: {', '.join(report.labels_not_in_schema)} "
                "(add them to truthset.yaml or run 'truthset schema check')")
    for f in report.findings[:5]:
        c.print(f"  line {f['line']}: {f['kind']}: {f['reason']}", markup=False)


@main.command()
@click.option("--batch", type=int, default=None, help="Batch number (default: the latest).")
@click.option("--kind", type=click.Choice(["rejected", "duplicate"]), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def findings(ctx: click.Context, batch: int | None, kind: str | None, as_json: bool) -> None:
    """List rejected and duplicate rows of an import, with line numbers and reasons.

    Example: truthset findings --kind rejected
    """
    from truthset.services.imports import import_findings

    project = _open(ctx)
    if batch is None:
        from truthset.store.repo import status_counts

        with project.engine.connect() as conn:
            batches = status_counts(conn, project.id)["by_batch"]
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
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet", "labelstudio", "conll"]),
              default="jsonl", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def export(ctx: click.Context, fmt: str, output: Path, as_json: bool) -> None:
    """Export items and current annotations.

    Example: truthset export --format labelstudio -o tasks.json
    """
    from truthset.services.exports import export_project

    project = _open(ctx)
    with _progress(f"exporting {output.name}", not as_json) as progress:
        report = export_project(project, output, fmt=fmt, progress=progress)
    if as_json:
        _echo_json(report.__dict__)
    else:
        click.echo(f"wrote {report.items:,} items and {report.annotations:,} annotations to {output} ({fmt})")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Counts by batch, label, annotator and stage.

    Example: truthset status --json
    """
    from truthset.store.repo import status_counts

    project = _open(ctx)
    with project.engine.connect() as conn:
        data = status_counts(conn, project.id)
    data = {"project": project.config.name, "task": project.task, "schema_version": project.schema_version, **data}
    if as_json:
        _echo_json(data)
        return
    _print_status(data)


def _print_status(data: dict[str, Any]) -> None:
    from rich.table import Table

    c = _console()
    c.print(f"[bold]{data['project']}[/bold] ({data['task']}, schema v{data['schema_version']}): "
            f"{data['items']:,} items, {data['items_annotated']:,} annotated, {data['annotations']:,} annotations, "
            f"{data['gold_items']:,} gold")
    for title, key in (("label", "by_label"), ("annotator", "by_annotator"), ("source", "by_source")):
        if data[key]:
            t = Table(title=f"annotations by {title}", title_justify="left")
            t.add_column(title)
            t.add_column("annotations", justify="right")
            for k, v in list(data[key].items())[:20]:
                t.add_row(str(k), f"{v:,}")
            c.print(t)
    if data["by_batch"]:
        t = Table(title="batches", title_justify="left")
        for col in ("batch", "source", "rows", "items_added", "annotations_added", "duplicates", "rejected"):
            t.add_column(col)
        for b in data["by_batch"]:
            t.add_row(*(f"{b[k]:,}" if isinstance(b[k], int) else str(b[k]) for k in
                        ("batch", "source", "rows", "items_added", "annotations_added", "duplicates", "rejected")))
        c.print(t)
    for stage, counts in data["by_stage"].items():
        c.print(f"stage {stage}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))


@main.group()
def schema() -> None:
    """Show, check and migrate the label schema (history is always kept)."""


@schema.command("show")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def schema_show(ctx: click.Context, as_json: bool) -> None:
    """Print the current schema and every version.

    Example: truthset schema show --json
    """
    from truthset.services.projects import schema_history

    project = _open(ctx.find_root())
    data = {"version": project.schema_version, "schema": project.config.schema.model_dump(),
            "versions": schema_history(project)}
    if as_json:
        _echo_json(data)
        return
    for v in data["versions"]:
        click.echo(f"v{v['version']}  {v['created_at'][:19]}  {v['note'].get('op', '')}  labels: {', '.join(v['labels'])}")


@schema.command("check")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def schema_check(ctx: click.Context, as_json: bool) -> None:
    """Find duplicate names, hotkey clashes, missing definitions, labels not in the schema.

    Exits 1 when an error is found. Example: truthset schema check
    """
    from truthset.services.schema import check

    findings = check(_open(ctx.find_root()))
    errors = [f for f in findings if f.severity == "error"]
    if as_json:
        _echo_json({"errors": len(errors), "warnings": len(findings) - len(errors),
                    "findings": [f.__dict__ for f in findings]})
    else:
        for f in findings:
            click.echo(f"{f.severity}: {f.code}: {f.message}")
        click.echo(f"{len(errors)} error(s), {len(findings) - len(errors)} warning(s)")
    if errors:
        ctx.exit(1)


def _migration_output(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _echo_json(result)
        return
    click.echo(f"schema v{result['version']}: {result['op']}; {result['annotations_migrated']:,} annotation(s) "
               f"migrated (old rows kept as history)"
               + (f"; {result['items_queued']:,} item(s) queued for re-annotation" if result["items_queued"] else ""))


@schema.command("rename")
@click.argument("old")
@click.argument("new")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def schema_rename(ctx: click.Context, old: str, new: str, as_json: bool) -> None:
    """Rename label OLD to NEW, keeping every annotation.

    Example: truthset schema rename spam junk
    """
    from truthset.services.schema import rename_label

    _migration_output(rename_label(_open(ctx.find_root()), old, new), as_json)


@schema.command("merge")
@click.argument("labels", nargs=-1, required=True)
@click.option("--into", required=True, help="The label they become (existing or new).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def schema_merge(ctx: click.Context, labels: tuple[str, ...], into: str, as_json: bool) -> None:
    """Merge LABELS into one label.

    Example: truthset schema merge promo scam --into spam
    """
    from truthset.services.schema import merge_labels

    _migration_output(merge_labels(_open(ctx.find_root()), list(labels), into), as_json)


@schema.command("split")
@click.argument("label")
@click.option("--into", required=True, multiple=False, help="New labels, comma- or space-separated.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def schema_split(ctx: click.Context, label: str, into: str, as_json: bool) -> None:
    """Split LABEL into new labels and queue its items for re-annotation.

    Example: truthset schema split spam --into "promo,scam"
    """
    from truthset.services.schema import split_label

    names = [n for n in into.replace(",", " ").split() if n]
    _migration_output(split_label(_open(ctx.find_root()), label, names), as_json)


@main.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="guide.html or guide.md (default: Markdown to stdout).")
@click.pass_context
def guide(ctx: click.Context, output: Path | None) -> None:
    """Render the annotation guide from the schema.

    Example: truthset guide -o guide.html
    """
    from truthset.core.guide import render_guide

    project = _open(ctx)
    fmt = "html" if output is not None and output.suffix.lower() in (".html", ".htm") else "md"
    text = render_guide(project.config.schema, project=project.config.name, task=project.task,
                        version=project.schema_version, fmt=fmt)  # type: ignore[arg-type]
    if output is None:
        click.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote the guide (schema v{project.schema_version}) to {output}")


@main.command()
@click.argument("directory", type=click.Path(path_type=Path), default=Path("truthset-demo"))
@click.option("--json", "as_json", is_flag=True)
def demo(directory: Path, as_json: bool) -> None:
    """Build a demo project from the bundled SMS Spam Collection and show what is in it.

    Example: truthset demo ./spam-demo
    """
    from truthset.services.demo import build_demo
    from truthset.store.repo import status_counts

    project, report = build_demo(directory)
    with project.engine.connect() as conn:
        data = {"project": project.config.name, "task": project.task,
                "schema_version": project.schema_version, **status_counts(conn, project.id)}
    if as_json:
        _echo_json({"directory": str(project.root), "import": report.to_dict(), "status": data})
        return
    click.echo(f"demo project in {project.root} — SMS Spam Collection (Almeida et al. 2011, CC BY 4.0)\n")
    _print_import(report)
    click.echo("")
    _print_status(data)
    click.echo(f"\nnext: cd {directory} && truthset guide -o guide.html; truthset findings --kind duplicate; "
               "truthset export --format labelstudio -o tasks.json")


if __name__ == "__main__":  # pragma: no cover
    main()
