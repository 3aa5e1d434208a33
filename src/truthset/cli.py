"""The ``truthset`` command line: parse options, call a service, render the result.

Every command that reports numbers takes ``--json``. A user error prints one line saying
what is wrong and how to fix it, and exits with status 1 — never a traceback.
"""

from __future__ import annotations

import json
import os
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
@click.option("--due", default=None, help="Due date of this batch (2026-12-01 or 2026-12-01T17:00): its items "
                                          "are handed out before batches due later or not at all.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def import_(ctx: click.Context, /, file: Path, fmt: str | None, as_json: bool, delimiter: str | None,
            due: str | None, **kw: Any) -> None:
    """Import FILE (CSV/TSV, JSONL, Parquet, image folder, Label Studio export).

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
        cols = ("batch", "source", "rows", "items_added", "annotations_added", "duplicates", "rejected",
                "items_open", "due_at")
        for col in cols:
            t.add_column(col)
        for b in data["by_batch"]:
            t.add_row(*(f"{b[k]:,}" if isinstance(b[k], int) else str(b[k] or "") for k in cols))
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


@main.group()
def user() -> None:
    """Users of the web app: admin, reviewer, annotator."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "reviewer", "annotator"]), default="annotator", show_default=True)
@click.option("--password", default=None, help="Default: asked for (or read from TRUTHSET_PASSWORD).")
@click.pass_context
def user_add(ctx: click.Context, name: str, role: str, password: str | None) -> None:
    """Create a user who can log in.

    Example: truthset user add alice --role annotator
    """
    import os

    from truthset.services.users import add_user

    if password is None:
        password = os.environ.get("TRUTHSET_PASSWORD") or click.prompt(
            f"password for {name}", hide_input=True, confirmation_prompt=True)
    project = _open(ctx.find_root())
    with project.engine.begin() as conn:
        account = add_user(conn, name, role=role, password=password)
    click.echo(f"user {account.name!r} ({account.role}) can now log in")


@user.command("password")
@click.argument("name")
@click.option("--password", default=None)
@click.pass_context
def user_password(ctx: click.Context, name: str, password: str | None) -> None:
    """Set a user's password. Example: truthset user password alice"""
    import os

    from truthset.services.users import set_password

    if password is None:
        password = os.environ.get("TRUTHSET_PASSWORD") or click.prompt(
            f"new password for {name}", hide_input=True, confirmation_prompt=True)
    with _open(ctx.find_root()).engine.begin() as conn:
        set_password(conn, name, password)
    click.echo(f"password of {name!r} changed")


@user.command("token")
@click.argument("name")
@click.pass_context
def user_token(ctx: click.Context, name: str) -> None:
    """Issue an API token for scripts (shown once; replaces the old one).

    Example: curl -H "Authorization: Bearer $(truthset user token bot)" http://127.0.0.1:8000/api/me
    """
    from truthset.services.users import new_token

    with _open(ctx.find_root()).engine.begin() as conn:
        click.echo(new_token(conn, name))


@user.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List users and roles. Example: truthset user list"""
    from truthset.services.users import list_users

    with _open(ctx.find_root()).engine.connect() as conn:
        rows = list_users(conn)
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['name']}\t{r['role']}\t{'can log in' if r['can_log_in'] else 'no login'}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes. 2 on a 2-core machine about doubles what the app takes (the web "
                   "stack is Python, one core per process); they share the store, SQLite or PostgreSQL.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Run the annotation web app (API docs at /docs).

    Example: truthset serve --port 8000 --workers 2
    """
    import uvicorn

    from truthset.server.app import create_app

    project = _open(ctx)
    click.echo(f"truthset {project.config.name}: http://{host}:{port}/ (log in; API docs at /docs)"
               + (f", {workers} worker processes" if workers > 1 else ""))
    if workers == 1:
        uvicorn.run(create_app(project), host=host, port=port, log_level="warning")
        return
    from truthset.server.app import session_key

    session_key(project)  # made once here, before the workers start and read it
    project.close()
    os.environ["TRUTHSET_PROJECT"] = str(project.root)
    uvicorn.run("truthset.server.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level="warning")


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


@main.group()
def qc() -> None:
    """Quality control: agreement, aggregation, gold checks, acceptance sampling.

    Works on the project's annotations, or on a plain file of answers with --answers.
    """


def _answers_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed([
        click.option("--answers", type=click.Path(path_type=Path), default=None,
                     help="A CSV/TSV of judgements instead of the project's annotations."),
        click.option("--item-col", default="item", show_default=True),
        click.option("--annotator-col", default="annotator", show_default=True),
        click.option("--label-col", default="label", show_default=True),
        click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
    ]):
        f = opt(f)
    return f


def _gold_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed([
        click.option("--gold", "gold_file", type=click.Path(path_type=Path), default=None,
                     help="A CSV/TSV of true labels (default: the project's gold items)."),
        click.option("--gold-item-col", default="item", show_default=True),
        click.option("--gold-label-col", default="label", show_default=True),
    ]):
        f = opt(f)
    return f


def _frame(ctx: click.Context, answers: Path | None, item_col: str, annotator_col: str, label_col: str) -> tuple[Any, Any]:
    from truthset.services import qc as svc

    if answers is not None:
        return None, svc.read_answers(answers, item_col=item_col, annotator_col=annotator_col, label_col=label_col)
    project = _open(ctx.find_root())
    return project, svc.project_annotations(project)


def _gold(project: Any, gold_file: Path | None, item_col: str, label_col: str) -> Any:
    from truthset.services import qc as svc

    if gold_file is not None:
        return svc.read_gold(gold_file, item_col=item_col, label_col=label_col)
    return svc.project_gold(project) if project is not None else None


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*("" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v)) for v in r))
    _console().print(t)


@qc.command("agreement")
@_answers_options
@click.option("--level", type=click.Choice(["nominal", "ordinal", "interval", "ratio"]), default=None,
              help="Krippendorff level (default: from truthset.yaml, else nominal for categorical tasks).")
@click.option("--n-boot", type=int, default=1000, show_default=True, help="Bootstrap replicates for the CIs.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_context
def qc_agreement(ctx: click.Context, answers: Path | None, item_col: str, annotator_col: str, label_col: str,
                 as_json: bool, level: str | None, n_boot: int, seed: int) -> None:
    """How far annotators agree, with bootstrap confidence intervals over items.

    Example: truthset qc agreement --answers answers.csv --item-col question --annotator-col worker --label-col answer
    """
    from truthset.services import qc as svc

    if answers is None:
        project = _open(ctx.find_root())
        if project.task == "ner":
            spans, texts, coverage = svc.project_spans(project)
            data = svc.span_agreement_report(spans, texts, coverage)
            if as_json:
                _echo_json(data)
            else:
                _table("span agreement (NER)", ["measure", "value"],
                       [[k, v] for k, v in data.items()])
            return
        df = svc.project_annotations(project)
        level = level or project.config.quality.agreement_level or "nominal"
    else:
        _, df = _frame(ctx, answers, item_col, annotator_col, label_col)
        if level is None:
            raise click.UsageError("with --answers, say how labels compare: --level nominal|ordinal|interval|ratio")
    data = svc.agreement_report(df, level=level, n_boot=n_boot, seed=seed)
    if as_json:
        _echo_json(data)
        return
    click.echo(f"{data['items']:,} items ({data['items_with_2plus']:,} with 2+ judgements), "
               f"{data['annotations']:,} annotations, {data['annotators']:,} annotators; level {level}")
    _table("agreement", ["metric", "value", "ci_low", "ci_high"],
           [[m["metric"], m["value"], m["ci_low"], m["ci_high"]] for m in data["metrics"]])
    if data.get("per_label"):
        cols = list(data["per_label"][0])
        _table("per label", cols, [[r[c] for c in cols] for r in data["per_label"]])
    for w in data["warnings"]:
        click.echo(f"warning: {w}", err=True)


@qc.command("aggregate")
@_answers_options
@_gold_options
@click.option("--method", type=click.Choice(["mv", "wmv", "ds", "onecoin", "glad", "mace"]), default="ds",
              show_default=True)
@click.option("--clamp-gold", is_flag=True, help="Dawid-Skene: fix gold items' labels while fitting.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write item, label, posterior to this CSV.")
@click.pass_context
def qc_aggregate(ctx: click.Context, answers: Path | None, item_col: str, annotator_col: str, label_col: str,
                 as_json: bool, gold_file: Path | None, gold_item_col: str, gold_label_col: str, method: str,
                 clamp_gold: bool, seed: int, output: Path | None) -> None:
    """Most likely true label per item, with annotator reliability; majority vote beside it.

    On a project, the consensus is stored as a run. Example: truthset qc aggregate --method ds
    """
    from truthset.services import qc as svc

    project, df = _frame(ctx, answers, item_col, annotator_col, label_col)
    gold = _gold(project, gold_file, gold_item_col, gold_label_col)
    model, data = svc.aggregate(df, method, gold=gold, clamp_gold=clamp_gold, seed=seed)
    if project is not None:
        data["run"] = svc.store_consensus(project, model, method, df, data, seed=seed)
    if output is not None:
        out = model.labels_.rename("label").to_frame()
        out["posterior"] = model.probas_.max(axis=1)
        out.rename_axis("item").to_csv(output)
        data["output"] = str(output)
    if as_json:
        _echo_json(data)
        return
    click.echo(f"{data['estimator']} on {data['items']:,} items, {data['annotations']:,} annotations, "
               f"{data['annotators']:,} annotators ({data['iterations']} iterations)")
    click.echo(f"agrees with majority vote on {data['agreement_with_majority']:.1%} of items")
    if "accuracy" in data:
        click.echo(f"accuracy on {data['gold_items']:,} gold items: {data['accuracy']:.3f} "
                   f"(majority vote {data['majority_accuracy']:.3f})"
                   + (" — gold was clamped while fitting" if data["gold_used_in_fit"] else ""))
    _table("least reliable annotators", ["annotator", "skill"],
           [[r["annotator"], r["skill"]] for r in data["annotators_least_reliable"]])
    if "run" in data:
        click.echo(f"stored as run {data['run']} (consensus per item)")


@qc.command("gold")
@_answers_options
@_gold_options
@click.option("--threshold", type=float, default=None, help="Required accuracy (default: truthset.yaml, 0.8).")
@click.option("--confidence", type=float, default=0.95, show_default=True)
@click.pass_context
def qc_gold(ctx: click.Context, answers: Path | None, item_col: str, annotator_col: str, label_col: str,
            as_json: bool, gold_file: Path | None, gold_item_col: str, gold_label_col: str,
            threshold: float | None, confidence: float) -> None:
    """Each annotator's accuracy on gold items, with a Wilson interval, pass or fail.

    Example: truthset qc gold --threshold 0.9
    """
    from truthset.services import qc as svc

    project, df = _frame(ctx, answers, item_col, annotator_col, label_col)
    if threshold is None:
        threshold = project.config.quality.gold_threshold if project is not None else 0.8
    data = svc.gold_report(df, _gold(project, gold_file, gold_item_col, gold_label_col),
                           threshold=threshold, confidence=confidence)
    if as_json:
        _echo_json(data)
        return
    cols = list(data["annotators"][0]) if data["annotators"] else ["annotator"]
    _table(f"accuracy on gold (threshold {threshold:.2f})", cols, [[r[c] for c in cols] for r in data["annotators"]])
    click.echo(f"{len(data['failed'])} annotator(s) below the threshold")


@qc.command("sample")
@click.option("--batch-size", type=int, default=None, help="Items in the batch (or use --batch).")
@click.option("--batch", type=int, default=None, help="A project batch: its items are sampled.")
@click.option("--max-error-rate", type=float, required=True, help="Highest acceptable error rate, e.g. 0.02.")
@click.option("--confidence", type=float, default=0.95, show_default=True)
@click.option("--acceptance-number", type=int, default=0, show_default=True, help="Errors allowed in the sample.")
@click.option("--reviewed", type=int, default=None, help="Items reviewed (to get a verdict).")
@click.option("--errors", type=int, default=None, help="Errors found among them.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="Write the drawn item ids here.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def qc_sample(ctx: click.Context, batch_size: int | None, batch: int | None, max_error_rate: float,
              confidence: float, acceptance_number: int, reviewed: int | None, errors: int | None, seed: int,
              output: Path | None, as_json: bool) -> None:
    """Acceptance sampling: how many items to review, then accept or reject the batch.

    Example: truthset qc sample --batch-size 5000 --max-error-rate 0.02
    Then:    truthset qc sample --batch-size 5000 --max-error-rate 0.02 --reviewed 149 --errors 0
    """
    from truthset.quality import acceptance_decision, sample_size
    from truthset.services import qc as svc

    ids: list[int] = []
    if batch is not None:
        ids = svc.batch_item_ids(_open(ctx.find_root()), batch)
        batch_size = len(ids)
    data: dict[str, Any] = {"batch_size": batch_size, "max_error_rate": max_error_rate, "confidence": confidence}
    if reviewed is not None or errors is not None:
        if reviewed is None or errors is None:
            raise click.UsageError("give both --reviewed and --errors for a verdict")
        d = acceptance_decision(reviewed, errors, max_error_rate=max_error_rate, confidence=confidence,
                                batch_size=batch_size)
        data.update(reviewed=reviewed, errors=errors, error_rate=d.error_rate, ci_low=d.ci_low,
                    ci_high=d.ci_high, upper_bound=d.upper_bound, accepted=d.accepted)
        if as_json:
            _echo_json(data)
        else:
            click.echo(str(d))
        return
    n = sample_size(batch_size, max_error_rate=max_error_rate, confidence=confidence,
                    acceptance_number=acceptance_number)
    data.update(sample_size=n, acceptance_number=acceptance_number)
    if ids:
        data["items"] = svc.draw_sample(ids, n, seed=seed)
        if output is not None:
            output.write_text("item_id\n" + "".join(f"{i}\n" for i in data["items"]), encoding="utf-8")
    if as_json:
        _echo_json(data)
        return
    click.echo(f"review {n:,} items{'' if batch_size is None else f' of {batch_size:,}'}: accept the batch if at most "
               f"{acceptance_number} error(s) are found; then the error rate is <= {max_error_rate:.2%} "
               f"with {confidence:.0%} confidence")
    if ids and output is not None:
        click.echo(f"wrote the {len(data['items']):,} drawn item ids (seed {seed}) to {output}")


@main.command()
@click.argument("directory", type=click.Path(path_type=Path), default=Path("truthset-demo"))
@click.option("--json", "as_json", is_flag=True)
@click.option("--serve", is_flag=True, help="Then start the web app with demo users (printed with passwords).")
@click.option("--port", default=8000, show_default=True, type=int)
def demo(directory: Path, as_json: bool, serve: bool, port: int) -> None:
    """Build a demo project from the bundled SMS Spam Collection and show what is in it.

    Example: truthset demo ./spam-demo --serve
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
    if report.batch is None:
        raise TruthsetError("the demo import recorded no batch")
    click.echo(f"demo project in {project.root} — SMS Spam Collection (Almeida et al. 2011, CC BY 4.0)\n")
    _print_import(report)
    click.echo("")
    _print_status(data)
    from truthset.quality import sample_size

    n = sample_size(data["items"], max_error_rate=0.02, confidence=0.95) if data["items"] else 0
    click.echo(f"\nquality check: to claim at most 2% wrong labels among these {data['items']:,} items with 95% "
               f"confidence, review {n:,} of them and find no error (truthset qc sample --batch {report.batch} "
               "--max-error-rate 0.02 -o review.csv draws them).")
    click.echo(f"\nnext: cd {directory} && truthset guide -o guide.html; truthset findings --kind duplicate; "
               "truthset export --format labelstudio -o tasks.json")
    if serve:
        import uvicorn

        from truthset.server.app import create_app
        from truthset.services.demo import demo_users

        click.echo(f"\nweb app: http://127.0.0.1:{port}/login  (API docs: /docs; Ctrl-C stops it)")
        for name, role, password in demo_users(project):
            click.echo(f"  {role:<10} {name:<9} password {password}")
        uvicorn.run(create_app(project), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":  # pragma: no cover
    main()
