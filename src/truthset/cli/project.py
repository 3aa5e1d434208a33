"""Project commands: ``init`` a project, see its ``status``, render its annotation ``guide``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import click

from truthset.cli._common import _console, _echo_json, _open, main
from truthset.core.schema import TASK_TYPES


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


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Counts by batch, label, annotator and stage.

    Example: truthset status --json
    """
    from truthset.services.status import status

    project = _open(ctx)
    data = status(project)
    if as_json:
        _echo_json(data)
        return
    _print_status(data)


def _print_status(data: dict[str, Any]) -> None:
    from rich.table import Table

    c = _console()
    c.print(
        f"[bold]{data['project']}[/bold] ({data['task']}, schema v{data['schema_version']}): "
        f"{data['items']:,} items, {data['items_annotated']:,} annotated, {data['annotations']:,} annotations, "
        f"{data['gold_items']:,} gold"
    )
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
        cols = (
            "batch",
            "source",
            "rows",
            "items_added",
            "annotations_added",
            "duplicates",
            "rejected",
            "items_open",
            "due_at",
        )
        for col in cols:
            t.add_column(col)
        for b in data["by_batch"]:
            t.add_row(*(f"{b[k]:,}" if isinstance(b[k], int) else str(b[k] or "") for k in cols))
        c.print(t)
    for stage, counts in data["by_stage"].items():
        c.print(f"stage {stage}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))


@main.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="guide.html or guide.md (default: Markdown to stdout).",
)
@click.pass_context
def guide(ctx: click.Context, output: Path | None) -> None:
    """Render the annotation guide from the schema.

    Example: truthset guide -o guide.html
    """
    from truthset.core.guide import render_guide

    project = _open(ctx)
    fmt: Literal["md", "html"] = "html" if output is not None and output.suffix.lower() in (".html", ".htm") else "md"
    text = render_guide(
        project.config.schema, project=project.config.name, task=project.task, version=project.schema_version, fmt=fmt
    )
    if output is None:
        click.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote the guide (schema v{project.schema_version}) to {output}")
