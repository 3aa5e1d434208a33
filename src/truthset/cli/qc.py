"""The ``qc`` group: agreement, aggregation, gold checks and acceptance sampling.

Each works on the project's annotations, or on a plain file of answers with ``--answers``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from truthset.cli._common import _console, _echo_json, _open, main


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
