"""Watching the data: ``truthset anomalies`` (flags on the annotation process, raised as data
issues) and ``truthset drift`` (a reference against a current data set, files or batches)."""

from __future__ import annotations

from pathlib import Path

import click

from truthset.cli._common import _echo_json, _open, main


@main.command("anomalies")
@click.option("--no-issues", is_flag=True, help="Only report the flags; raise no data issues.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def anomalies(ctx: click.Context, no_issues: bool, as_json: bool) -> None:
    """Flag annotators and batches that went off the rails, each as a data issue.

    Thresholds: 'anomalies:' in truthset.yaml. A flag raised again updates its issue.

    Example: truthset anomalies --json
    """
    from truthset.services import anomalies as svc

    result = svc.run(_open(ctx), raise_issues=not no_issues)
    if as_json:
        _echo_json(result)
        return
    if not result["flags"]:
        click.echo("no anomalies")
    for f in result["flags"]:
        issue = f" -> issue #{f['issue']} ({f['issue_action']})" if f["issue"] is not None else ""
        click.echo(f"{f['kind']}: {f['explanation']}{issue}")


@main.command("drift")
@click.option("--reference", required=True, help="A file (CSV, TSV, JSON lines) or batch id(s), e.g. 1 or 1,2.")
@click.option("--current", required=True, help="A file or batch id(s).")
@click.option("--column", "columns", multiple=True, help="Only these columns (repeatable).")
@click.option("--text-column", "text_columns", multiple=True, help="Treat these columns as text (repeatable).")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="Write an HTML report here.")
@click.option(
    "--model",
    "model",
    metavar="RUN",
    default=None,
    help="Compare a training run's predictions (its id, or 'latest') instead of the data's columns.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def drift(
    ctx: click.Context,
    reference: str,
    current: str,
    columns: tuple[str, ...],
    text_columns: tuple[str, ...],
    output: Path | None,
    model: str | None,
    as_json: bool,
) -> None:
    """Has the data drifted? Distances with thresholds, not p-values (no false alarms at large n).

    Numeric columns: normalised Wasserstein >= 0.1; categorical: Jensen-Shannon >= 0.1; text:
    length, out-of-vocabulary rate, and a domain classifier (ROC-AUC > 0.55). Batch ids need
    a project; two files do not.

    With --model RUN: prediction drift of a trained model, its predicted labels (Jensen-Shannon)
    and class probabilities (Wasserstein) on the reference against the current data.

    Example: truthset drift --reference train.csv --current batch 3 --json
    """
    from truthset.services.drift import compare, is_file, write_html

    project = None
    if model is not None or not (is_file(reference) and is_file(current)):
        project = _open(ctx)
    if model is not None:
        assert project is not None
        if columns or len(text_columns) > 1:
            raise click.UsageError(
                "--model compares the model's predictions: leave out --column; give at most "
                "one --text-column (the files' column with the model's input)"
            )
        from truthset.services.prediction_drift import compare_predictions, parse_run

        result = compare_predictions(
            project, parse_run(model), reference, current, text_column=text_columns[0] if text_columns else None
        )
    else:
        result = compare(project, reference, current, columns=columns or None, text_columns=text_columns or None)
    if output is not None:
        write_html(result, output)
    if as_json:
        _echo_json(result)
        return
    what = f"prediction drift of run {result['run']}" if model is not None else "data set drift"
    click.echo(
        f"{what}: {'YES' if result['drift'] else 'no'} ({result['n_drifted_columns']} of {result['n_columns']} columns)"
    )
    if model is not None:
        click.echo(
            f"  mean confidence {result['mean_confidence_reference']:.3f} -> {result['mean_confidence_current']:.3f}; "
            "predicted "
            + ", ".join(
                f"{k} {v:.1%} -> {result['predicted_share_current'][k]:.1%}"
                for k, v in result["predicted_share_reference"].items()
            )
        )
    for c in result["columns"]:
        score = "n/a" if c["score"] is None else f"{c['score']:.4f}"
        click.echo(
            f"  {c['column']:<20} {c['method']:<18} {score:>8} (threshold {c['threshold']})"
            f"{'  DRIFT' if c['drift'] else ''}"
        )
    if output is not None:
        click.echo(f"wrote {output}")


@main.command("labelling-drift")
@click.option("--from-version", "from_version", type=int, required=True, help="The reference schema version.")
@click.option("--to-version", "to_version", type=int, required=True, help="The current schema version.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def labelling_drift(ctx: click.Context, from_version: int, to_version: int, as_json: bool) -> None:
    """Did the labels move between two schema versions? Overall and per annotator
    (Jensen-Shannon distance >= 0.1, beyond sampling noise).

    Example: truthset labelling-drift --from-version 1 --to-version 2 --json
    """
    from truthset.services.drift import labelling

    result = labelling(_open(ctx), from_version, to_version)
    if as_json:
        _echo_json(result)
        return
    label = result["label"]
    click.echo(
        f"labels, version {from_version} -> {to_version}: Jensen-Shannon {label['score']:.4f} "
        f"(threshold {label['threshold']}){'  DRIFT' if result['drift'] else ''}"
    )
    for a in result["annotators"]:
        click.echo(f"  {a['annotator']:<20} {a['score']:.4f}{'  DRIFT' if a['drift'] else ''}")
