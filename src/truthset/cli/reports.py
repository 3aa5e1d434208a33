"""The ``report`` group: documents for people outside the tool. ``report model-card`` lives
here; the quality report and the data card sit in ``report_quality``, which imports the group.
"""

from __future__ import annotations

from pathlib import Path

import click

from truthset.cli._common import _echo_json, _open, main


@main.group()
def report() -> None:
    """Reports for people: quality report, data card, a run's model card."""


@report.command("model-card")
@click.argument("run", type=int, required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("model-card.html"),
    show_default=True,
    help="HTML file to write.",
)
@click.option("--json", "as_json", is_flag=True, help="Print where it was written as JSON.")
@click.pass_context
def model_card(ctx: click.Context, run: int | None, output: Path, as_json: bool) -> None:
    """A model card (Mitchell et al. 2019) of a training run (default: the latest).

    Example: truthset report model-card 3 -o card.html
    """
    from truthset.services.runs import write_model_card

    out = write_model_card(_open(ctx), run, output)
    if as_json:
        _echo_json(out)
    else:
        click.echo(f"model card of run {out['run']} written to {out['output']}")
