"""Baselines as a decision tool: ``train``, ``evaluate``, ``compare``, ``curve``, ``errors``,
``runs`` and ``prelabel``. Each calls one service and prints, with ``--json`` for scripting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from truthset.cli._common import _console, _echo_json, _open, main


def _fmt(v: Any) -> str:
    return "" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))


def _with_ci(d: dict[str, Any], name: str) -> str:
    v = d.get(name)
    if v is None:
        return "-"
    lo, hi = d.get(f"{name}_ci_low"), d.get(f"{name}_ci_high")
    return f"{v:.4f}" + (f" ({lo:.4f} - {hi:.4f})" if lo is not None and hi is not None else "")


def _headline(d: dict[str, Any]) -> None:
    for name in (
        "accuracy",
        "subset_accuracy",
        "micro_f1",
        "macro_f1",
        "exact_f1",
        "overlap_f1",
        "mcc",
        "roc_auc",
        "pr_auc",
        "ece",
    ):
        if d.get(name) is not None:
            click.echo(f"  {name:<9} {_with_ci(d, name)}")


def _gold_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(
        [
            click.option(
                "--gold",
                "gold_file",
                type=click.Path(path_type=Path),
                default=None,
                help="Score against a CSV/TSV of true labels (ids = the imported file's ids).",
            ),
            click.option("--gold-item-col", default="item", show_default=True),
            click.option("--gold-label-col", default="label", show_default=True),
            click.option("--project-gold", is_flag=True, help="Score against the project's stored gold items."),
        ]
    ):
        f = opt(f)
    return f


def _gold(project: Any, gold_file: Path | None, item_col: str, label_col: str, project_gold: bool) -> Any:
    from truthset.services.runs import gold_labels

    if gold_file is None and not project_gold:
        return None
    return gold_labels(project, gold_file, item_col=item_col, label_col=label_col)


def _gold_note(out: dict[str, Any]) -> None:
    """Say how much of a gold source matched no item (those rows score nothing)."""
    if out.get("gold_unmatched"):
        click.echo(
            f"  gold: {out['gold_matched']:,} of {out['gold_rows']:,} rows of {out['gold_source']} match an item; "
            f"{out['gold_unmatched']:,} match none (check --gold-item-col and the ids the items were imported with)"
        )


@main.command("train")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the split, the model and the intervals.")
@click.option(
    "--labels",
    default=None,
    help="Final labels: consensus, adjudicated, latest or run:N "
    "(default: the latest consensus run, else the latest judgement).",
)
@click.option(
    "--split",
    "split",
    type=click.Choice(["group", "stratified", "time"]),
    default="group",
    show_default=True,
    help="group: duplicates (and --group-field) on one side.",
)
@click.option("--test-size", type=float, default=0.2, show_default=True)
@click.option("--val-size", type=float, default=0.1, show_default=True)
@click.option("--weight-by-posterior", is_flag=True, help="Weight each training item by its label's confidence.")
@click.option("--field", "fields", multiple=True, help="Payload field(s) the model reads (default: the text field).")
@click.option("--group-field", default=None, help="Payload field whose values must stay on one side.")
@click.option("--time-field", default=None, help="Payload field with a timestamp (for --split time).")
@click.option("--new-test-set", is_flag=True, help="Draw a new test set instead of the frozen one.")
@click.option("--n-boot", type=int, default=1000, show_default=True, help="Bootstrap replicates for the intervals.")
@click.option(
    "--mlflow",
    "mlflow_uri",
    default=None,
    help="Also log the run to MLflow at this tracking URI (e.g. file:///tmp/mlruns; needs truthset[mlflow]).",
)
@click.option(
    "--near-threshold",
    default="0.7",
    show_default=True,
    help="Near-duplicates (character 5-gram Jaccard at least this, MinHash) stay on one side of the "
    "split; 'none': exact duplicates only.",
)
@click.option(
    "--if-due",
    is_flag=True,
    help="Active learning: retrain (project defaults, --seed) only when "
    "active.retrain_every new labels arrived since the last run, then refresh pre-labels and the queue.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def train(
    ctx: click.Context,
    seed: int,
    labels: str | None,
    split: str,
    test_size: float,
    val_size: float,
    weight_by_posterior: bool,
    fields: tuple[str, ...],
    group_field: str | None,
    time_field: str | None,
    new_test_set: bool,
    n_boot: int,
    mlflow_uri: str | None,
    near_threshold: str,
    if_due: bool,
    as_json: bool,
) -> None:
    """Train the baseline on the final labels, evaluate it with intervals, store the run.

    Example: truthset train --seed 0 --json
    """
    from truthset.services.training import train as svc_train

    project = _open(ctx)
    if if_due:
        _train_if_due(project, seed, as_json)
        return
    out = svc_train(
        project,
        seed=seed,
        labels=labels,
        split=split,
        test_size=test_size,
        val_size=val_size,
        weight_by_posterior=weight_by_posterior,
        fields=list(fields) or None,
        group_field=group_field,
        time_field=time_field,
        new_test_set=new_test_set,
        n_boot=n_boot,
        near_threshold=_threshold(near_threshold),
    )
    if mlflow_uri is not None:
        from truthset.services.mlflow_log import log_run

        out["mlflow"] = log_run(project, out["run"], mlflow_uri)
    if as_json:
        _echo_json(out)
        return
    click.echo(
        f"run {out['run']}: {out['n_train']} train / {out['n_val']} validation / {out['n_test']} test "
        f"items ({out['split']} split, labels {out['labels']}, seed {seed})"
    )
    _headline(out)
    click.echo(f"model: {out['model_path']}")
    if "mlflow" in out:
        click.echo(f"MLflow: run {out['mlflow']['mlflow_run_id']} in {out['mlflow']['experiment']}")


def _threshold(text: str) -> float | None:
    from truthset.core.errors import InvalidInput

    if text.strip().lower() in ("none", "off", ""):
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(
            f"--near-threshold {text!r}: give a similarity between 0 and 1 (e.g. 0.7) or 'none'"
        ) from None


def _train_if_due(project: Any, seed: int, as_json: bool) -> None:
    from truthset.core.errors import InvalidInput
    from truthset.services.active_learning import retrain_if_due

    if project.config.active.retrain_every is None:
        raise InvalidInput("--if-due: set active.retrain_every in truthset.yaml (e.g. 'active: {retrain_every: 50}')")
    out = retrain_if_due(project, seed=seed)
    if as_json:
        _echo_json(out)
        return
    if not out["retrained"]:
        why = "another process is retraining" if out.get("busy") else "not due"
        click.echo(
            f"{why}: {out['new_labels']} new label(s) since run {out['last_run']} "
            f"(retrain every {out['retrain_every']})"
        )
        return
    click.echo(f"retrained after {out['new_labels']} new label(s): run {out['run']}")
    _headline(out["metrics"])
    pre = out.get("prelabel")
    if pre:
        click.echo(f"pre-labelled {pre['prelabelled']} item(s); queue order: {pre['queue_order']}")


@main.command("evaluate")
@click.argument("run", type=int, required=False)
@click.option(
    "--slice", "slice_by", default=None, help="Metrics per slice: length, agreement, batch, or a payload field."
)
@_gold_options
@click.option("--n-boot", type=int, default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def evaluate(
    ctx: click.Context,
    run: int | None,
    slice_by: str | None,
    gold_file: Path | None,
    gold_item_col: str,
    gold_label_col: str,
    project_gold: bool,
    n_boot: int,
    as_json: bool,
) -> None:
    """Metrics of a run (default: the latest) with 95% intervals, optionally by slice or against gold.

    Example: truthset evaluate 3 --slice length --json
    """
    from truthset.services.runs import evaluate_run

    project = _open(ctx)
    gold = _gold(project, gold_file, gold_item_col, gold_label_col, project_gold)
    out = evaluate_run(project, run, slice_by=slice_by, gold=gold, n_boot=n_boot)
    if as_json:
        _echo_json(out)
        return
    click.echo(f"run {out['run']} on {out['n_test']} test items, against {out['against']}:")
    _gold_note(out)
    _headline(out)
    cal = out.get("calibration")
    if cal:
        click.echo(f"  temperature {cal['temperature']:.3f}: ECE {cal['ece_before']:.4f} -> {cal['ece_after']:.4f}")
    costs = out.get("costs")
    if costs:
        click.echo(
            f"  cost threshold {costs['threshold']:.3f}: test cost {costs['test_cost']:.4f} per item "
            f"(default 0.5: {costs['test_cost_default']:.4f})"
        )
    for row in out.get("by_slice", []):
        click.echo(f"  [{out['slice']}={row['slice']}] n={row['n_test']} macro_f1 {_with_ci(row, 'macro_f1')}")


@main.command("compare")
@click.argument("run_a", type=int)
@click.argument("run_b", type=int)
@click.option("--metric", default="macro_f1", show_default=True, help="Metric of the paired bootstrap.")
@_gold_options
@click.option("--n-boot", type=int, default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def compare(
    ctx: click.Context,
    run_a: int,
    run_b: int,
    metric: str,
    gold_file: Path | None,
    gold_item_col: str,
    gold_label_col: str,
    project_gold: bool,
    n_boot: int,
    as_json: bool,
) -> None:
    """Is RUN_B better than RUN_A on the same test items? McNemar and the paired bootstrap.

    Example: truthset compare 1 2 --json
    """
    from truthset.services.runs import compare_runs

    project = _open(ctx)
    gold = _gold(project, gold_file, gold_item_col, gold_label_col, project_gold)
    out = compare_runs(project, run_a, run_b, gold=gold, metric=metric, n_boot=n_boot)
    if as_json:
        _echo_json(out)
        return
    click.echo(f"run {run_a} (A) vs run {run_b} (B), {out['n_test']} test items against {out['against']}")
    _gold_note(out)
    accuracy = "subset accuracy" if out.get("task") == "multi-label" else "accuracy"
    click.echo(
        f"  {accuracy} {out['accuracy_a']:.4f} vs {out['accuracy_b']:.4f}; McNemar p = "
        f"{out['mcnemar_p_value']:.3g} ({out['only_a_right']} only A right, {out['only_b_right']} only B)"
    )
    click.echo(out["verdict"])


@main.command("curve")
@click.argument("run", type=int, required=False)
@click.option("--seeds", default="0,1,2", show_default=True, help="Seeds to repeat each fraction over.")
@click.option("--n-boot", type=int, default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def curve(ctx: click.Context, run: int | None, seeds: str, n_boot: int, as_json: bool) -> None:
    """Learning curve at 25/50/75/100% of a run's training labels: would more labels help?

    Example: truthset curve --seeds 0,1,2
    """
    from truthset.services.runs import curve as svc_curve

    try:
        seed_list = tuple(int(s) for s in seeds.split(",") if s.strip())
    except ValueError as exc:
        raise click.BadParameter(
            f"{seeds!r}: give integers separated by commas, e.g. 0,1,2", param_hint="--seeds"
        ) from exc
    out = svc_curve(_open(ctx), run, seeds=seed_list, n_boot=n_boot)
    if as_json:
        _echo_json(out)
        return
    for p in out["points"]:
        click.echo(
            f"  {p['fraction']:>4.0%} ({p['n_train']} labels): {out['metric']} {p[out['metric']]:.1f} "
            f"({p['ci_low']:.1f} - {p['ci_high']:.1f})"
        )
    click.echo(out["answer"])


@main.command("errors")
@click.argument("run", type=int, required=False)
@click.option(
    "--send-to-review",
    "bucket",
    default=None,
    help="Open a review ticket with every failure in this bucket (e.g. likely_label_error).",
)
@click.option("--examples", type=int, default=5, show_default=True, help="Examples shown per bucket.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def errors(ctx: click.Context, run: int | None, bucket: str | None, examples: int, as_json: bool) -> None:
    """Sort a run's test failures into buckets: label error, ambiguous, confusion, rare, broken.

    Example: truthset errors --send-to-review likely_label_error
    """
    from truthset.services.model_loop import errors as svc_errors

    out = svc_errors(_open(ctx), run, send_to_review=bucket, max_examples=max(examples, 1) if as_json else examples)
    if as_json:
        _echo_json(out)
        return
    click.echo(f"run {out['run']}: {out['n_errors']} of {out['n_test']} test items wrong")
    for b in out["buckets"]:
        click.echo(f"  {b['bucket']:<19} {b['count']:>5}")
        for e in b["examples"][:examples]:
            click.echo(f"      #{e['item_id']} {e['label']} -> {e['pred']}: {e['text'][:80]!r}")
    sent = out.get("sent_to_review")
    if sent:
        click.echo(
            f"sent {len(sent['items'])} item(s) of {sent['bucket']} to review"
            + (f" (data issue {sent['issue']})" if sent["issue"] else "")
        )


@main.command("runs")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def runs(ctx: click.Context, as_json: bool) -> None:
    """List the project's training runs with their headline metrics.

    Example: truthset runs --json
    """
    from rich.table import Table

    from truthset.services.runs import list_runs

    rows = list_runs(_open(ctx))
    if as_json:
        _echo_json(rows)
        return
    t = Table(title="training runs", title_justify="left")
    cols = ["run", "labels", "split", "seed", "n_test", "accuracy", "macro_f1", "mcc"]
    cols += [c for c in ("subset_accuracy", "exact_f1", "overlap_f1") if any(r.get(c) is not None for r in rows)]
    for c in cols:
        t.add_column(c)
    for r in rows:
        t.add_row(*(_fmt(r[c]) for c in cols))
    _console().print(t)


@main.command("prelabel")
@click.argument("run", type=int, required=False)
@click.option("--all", "all_items", is_flag=True, help="Pre-label every item, not only those nobody judged.")
@click.option("--agreement", is_flag=True, help="Only report how often annotators agreed with pre-labels.")
@click.option(
    "--uncertainty",
    type=click.Choice(["entropy", "margin", "least_confidence"]),
    default="entropy",
    show_default=True,
    help="With queue.order: uncertainty, how the queue ranks the pre-labelled items.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def prelabel(
    ctx: click.Context, run: int | None, all_items: bool, agreement: bool, uncertainty: str, as_json: bool
) -> None:
    """Write a run's predictions as pre-labels (suggestions, never counted as annotations).

    Example: truthset prelabel 2 && truthset prelabel --agreement --json
    """
    from truthset.services.model_loop import prelabel as svc_prelabel
    from truthset.services.model_loop import prelabel_agreement

    project = _open(ctx)
    out = (
        prelabel_agreement(project)
        if agreement
        else svc_prelabel(project, run, only_unjudged=not all_items, uncertainty=uncertainty)
    )
    if as_json:
        _echo_json(out)
    elif agreement:
        share = "-" if out["agreement"] is None else f"{out['agreement']:.1%}"
        click.echo(f"{out['answers_after_prelabel']} answer(s) after a pre-label, {share} agreed with it")
    else:
        click.echo(f"run {out['run']}: {out['prelabelled']} item(s) pre-labelled; queue order {out['queue_order']}")
