"""Shared by every command: the root ``main`` group, user-error handling, and output helpers.

A user error prints one line saying what is wrong and how to fix it, and exits with status 1 —
never a traceback (``_Group``). ``_open`` finds the project, ``_echo_json`` prints ``--json``
output, ``_console`` and ``_progress`` draw with rich.
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

    with Progress(
        SpinnerColumn(),
        TextColumn(label),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
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


@click.group(cls=_Group)
@click.option(
    "--project",
    "-p",
    "project_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Project folder (default: found from the current folder upwards).",
)
@click.version_option(package_name="truthset")
@click.pass_context
def main(ctx: click.Context, project_dir: Path | None) -> None:
    """truthset: raw, messy data in; reliable training data and an evaluated baseline out."""
    ctx.obj = {"project_dir": project_dir}


def _open(ctx: click.Context) -> Any:
    from truthset.services.projects import open_project

    return open_project(ctx.obj["project_dir"])
