"""``truthset report quality`` and ``truthset report data-card``: the facts come from
services/reporting.py, the pages from truthset.reports."""

from __future__ import annotations

from pathlib import Path

import click

from truthset.cli._common import _echo_json, _open
from truthset.cli.reports import report


@report.command("quality")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="The HTML file to write.")
@click.option(
    "--pdf", "pdf", type=click.Path(path_type=Path), default=None, help="Also print it to this PDF (headless chromium)."
)
@click.option(
    "--max-error-rate",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.05,
    show_default=True,
    help="A reviewed batch is accepted when its error rate is at most this (95% confidence).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
@click.pass_context
def report_quality(ctx: click.Context, output: Path, pdf: Path | None, max_error_rate: float, as_json: bool) -> None:
    """The stakeholder quality report: what was labelled, agreement and gold per batch with
    intervals, risks and bottlenecks, open data issues, changes since the last report.

    Example: truthset report quality -o report.html --pdf report.pdf
    """
    from truthset.services.reporting import write_quality_report

    facts = write_quality_report(_open(ctx), output, pdf_path=pdf, max_error_rate=max_error_rate)
    if as_json:
        _echo_json({"html": str(output), "pdf": None if pdf is None else str(pdf), **facts})
        return
    click.echo(f"wrote {output}" + (f" and {pdf}" if pdf else ""))


@report.command("data-card")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="The HTML file to write.")
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
@click.pass_context
def report_data_card(ctx: click.Context, output: Path, as_json: bool) -> None:
    """The data card: sources, collection, schema and its versions, splits, duplicates,
    known limitations.

    Example: truthset report data-card -o card.html
    """
    from truthset.services.reporting import write_data_card

    facts = write_data_card(_open(ctx), output)
    if as_json:
        _echo_json({"html": str(output), **facts})
        return
    click.echo(f"wrote {output}")
