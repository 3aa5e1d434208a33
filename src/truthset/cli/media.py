"""The ``media`` group: the images behind an image project's items."""

from __future__ import annotations

from pathlib import Path

import click

from truthset.cli._common import _echo_json, _open, main


@main.group()
def media() -> None:
    """Images of an image-classification project."""


@media.command("rescan")
@click.option(
    "--from",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder the item paths are relative to (default: each import's own folder).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def media_rescan(ctx: click.Context, folder: Path | None, as_json: bool) -> None:
    """Record, with an import's checks, the images of items that have none (projects made by
    earlier versions). Exits 1 when an item's image could not be recorded.

    Example: truthset media rescan --from ./photos
    """
    from truthset.services.media_rescan import rescan

    report = rescan(_open(ctx.find_root()), folder=folder)
    if as_json:
        _echo_json(report.to_dict())
    else:
        click.echo(
            f"{report.items:,} item(s) without a recorded image: {report.recorded:,} recorded "
            f"({report.rehashed:,} now known by their image's sha256), {report.not_recorded:,} not"
        )
        for p in report.problems[:20]:
            click.echo(f"  item {p['item_id']}: {p['image']}: {p['reason']}")
    if report.not_recorded:
        ctx.exit(1)
