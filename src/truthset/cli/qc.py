"""The ``qc`` group: agreement, aggregation, gold checks and acceptance sampling.

Each works on the project's annotations, or on a plain file of answers with ``--answers``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import click

from truthset.cli._common import _console, _echo_json, _open, main


@main.group()
def qc() -> None:
    """Quality control: agreement, aggregation, gold checks, acceptance sampling.

    Works on the project's annotations, or on a plain file of answers with --answers.
    """


def _answers_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(
        [
            click.option(
                "--answers",
                type=click.Path(path_type=Path),
                default=None,
                help="A CSV/TSV of judgements instead of the project's annotations.",
            ),
            click.option("--item-col", default="item", show_default=True),
            click.option("--annotator-col", default="annotator", show_default=True),
            click.option("--label-col", default="label", show_default=True),
            click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
        ]
    ):
        f = opt(f)
    return f


def _gold_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(
        [
            click.option(
                "--gold",
                "gold_file",
                type=click.Path(path_type=Path),
                default=None,
                help="A CSV/TSV of true labels (default: the project's gold items).",
            ),
            click.option("--gold-item-col", default="item", show_default=True),
            click.option("--gold-label-col", default="label", show_default=True),
            click.option(
                "--gold-by",
                type=click.Choice(["external_id", "item_id"]),
                default="external_id",
                show_default=True,
                help="On a project, what the gold file's ids are: the id column of the imported "
                "file (external_id) or truthset's item ids.",
            ),
        ]
    ):
        f = opt(f)
    return f


def _frame(
    ctx: click.Context, answers: Path | None, item_col: str, annotator_col: str, label_col: str
) -> tuple[Any, Any]:
    from truthset.services import qc as svc

    if answers is not None:
        return None, svc.read_answers(answers, item_col=item_col, annotator_col=annotator_col, label_col=label_col)
    project = _open(ctx.find_root())
    return project, svc.project_annotations(project)


def _gold(
    project: Any,
    judgements: Any,
    gold_file: Path | None,
    item_col: str,
    label_col: str,
    by: str,
    *,
    required: bool = True,
) -> Any:
    """The gold labels matched to the items: a file's rows, else the project's gold items.

    With ``required`` false (aggregation, evaluated when it can be), None when there is no
    gold file and the project's gold items have no judgement.
    """
    from truthset.services import gold as gsvc

    if gold_file is not None:
        raw = gsvc.read_gold_file(gold_file, item_col=item_col, label_col=label_col)
        return gsvc.match_gold(raw, str(gold_file), project=project, judgements=judgements, by=by)
    if project is None:
        return None
    gold = gsvc.project_gold(project, required=required)
    if not required and gold is not None and not gold.labels.index.isin(judgements.frame["item"]).any():
        return None  # gold nobody judged yet: nothing to evaluate, and nobody asked to
    return gold


def _warn(data: dict[str, Any]) -> None:
    for w in data.get("warnings", []):
        click.echo(f"warning: {w}", err=True)


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
@click.option(
    "--level",
    type=click.Choice(["nominal", "ordinal", "interval", "ratio"]),
    default=None,
    help="Krippendorff level (default: from truthset.yaml, else nominal for categorical tasks).",
)
@click.option("--n-boot", type=int, default=1000, show_default=True, help="Bootstrap replicates for the CIs.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_context
def qc_agreement(
    ctx: click.Context,
    answers: Path | None,
    item_col: str,
    annotator_col: str,
    label_col: str,
    as_json: bool,
    level: str | None,
    n_boot: int,
    seed: int,
) -> None:
    """How far annotators agree, with bootstrap confidence intervals over items.

    Example: truthset qc agreement --answers answers.csv --item-col question --annotator-col worker --label-col answer
    """
    from truthset.services import qc as svc

    if answers is None:
        project = _open(ctx.find_root())
        if project.task == "ner":
            from truthset.services.qc_spans import project_spans, span_agreement_report

            data = span_agreement_report(project_spans(project), n_boot=n_boot, seed=seed)
            if as_json:
                _echo_json(data)
                return
            click.echo(
                f"{data['items']:,} items, {data['spans']:,} spans, {data['annotators']:,} annotators; "
                f"mean span F1 exact {data['span_f1_exact']}, overlap {data['span_f1_overlap']}; "
                f"token alpha {data['token_alpha']}"
            )
            _table(
                "span F1 per annotator pair (lowest first)",
                ["match", "annotator_a", "annotator_b", "items", "f1", "ci_low", "ci_high"],
                [
                    [p["match"], p["annotator_a"], p["annotator_b"], p["items"], p["f1"], p["ci_low"], p["ci_high"]]
                    for p in data["pairs"]
                ],
            )
            _warn(data)
            return
        judgements = svc.project_annotations(project)
        level = level or project.config.quality.agreement_level or "nominal"
    else:
        _, judgements = _frame(ctx, answers, item_col, annotator_col, label_col)
        if level is None:
            raise click.UsageError("with --answers, say how labels compare: --level nominal|ordinal|interval|ratio")
    data = svc.agreement_report(judgements, level=level, n_boot=n_boot, seed=seed)
    if as_json:
        _echo_json(data)
        return
    click.echo(
        f"{data['items']:,} items ({data['items_with_2plus']:,} with 2+ judgements), "
        f"{data['annotations']:,} annotations, {data['annotators']:,} annotators; level {level}"
    )
    _table(
        "agreement",
        ["metric", "value", "ci_low", "ci_high"],
        [[m["metric"], m["value"], m["ci_low"], m["ci_high"]] for m in data["metrics"]],
    )
    if data.get("per_label"):
        cols = list(data["per_label"][0])
        _table("per label", cols, [[r[c] for c in cols] for r in data["per_label"]])
    _warn(data)


@qc.command("aggregate")
@_answers_options
@_gold_options
@click.option(
    "--method", type=click.Choice(["mv", "wmv", "ds", "onecoin", "glad", "mace"]), default="ds", show_default=True
)
@click.option("--clamp-gold", is_flag=True, help="Dawid-Skene: fix gold items' labels while fitting.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), default=None, help="Write item, label, posterior to this CSV."
)
@click.pass_context
def qc_aggregate(
    ctx: click.Context,
    answers: Path | None,
    item_col: str,
    annotator_col: str,
    label_col: str,
    as_json: bool,
    gold_file: Path | None,
    gold_item_col: str,
    gold_label_col: str,
    gold_by: str,
    method: str,
    clamp_gold: bool,
    seed: int,
    output: Path | None,
) -> None:
    """Most likely true label per item, with annotator reliability; majority vote beside it.

    On a project, the consensus is stored as a run; 'truthset export --labels run:N' (or
    --labels consensus, the latest run) writes it out as training data.
    Example: truthset qc aggregate --method ds
    """
    from truthset.services import qc as svc

    project, judgements = _frame(ctx, answers, item_col, annotator_col, label_col)
    gold = _gold(project, judgements, gold_file, gold_item_col, gold_label_col, gold_by, required=False)
    model, data = svc.aggregate(judgements, method, gold=gold, clamp_gold=clamp_gold, seed=seed)
    if project is not None:
        data["run"] = svc.store_consensus(project, model, method, judgements.frame, data, seed=seed)
    if output is not None:
        out = model.labels_.rename("label").to_frame()
        out["posterior"] = model.probas_.max(axis=1)
        if project is not None:
            from truthset.services.training_data import item_table

            out = item_table(project, out.index.tolist()).join(out, on="item_id")
            out.to_csv(output, index=False)
        else:
            out.rename_axis("item").to_csv(output)
        data["output"] = str(output)
    if as_json:
        _echo_json(data)
        return
    click.echo(
        f"{data['estimator']} on {data['items']:,} items, {data['annotations']:,} annotations, "
        f"{data['annotators']:,} annotators ({data['iterations']} iterations)"
    )
    click.echo(f"agrees with majority vote on {data['agreement_with_majority']:.1%} of items")
    if "accuracy" in data:
        click.echo(
            f"accuracy on {data['gold_items']:,} gold items: {data['accuracy']:.4f} "
            f"(majority vote {data['majority_accuracy']:.4f})"
            + (" — gold was clamped while fitting" if data["gold_used_in_fit"] else "")
        )
    _table(
        "least reliable annotators",
        ["annotator", "skill"],
        [[r["annotator"], r["skill"]] for r in data["annotators_least_reliable"]],
    )
    if "run" in data:
        click.echo(
            f"stored as run {data['run']} (consensus per item); write it out with "
            f"'truthset export --labels run:{data['run']} -o train.csv --format csv'"
        )
    if output is not None:
        click.echo(f"wrote the consensus per item to {output}")
    _warn(data)


@qc.command("gold")
@_answers_options
@_gold_options
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="Required accuracy (NER: span F1); default: truthset.yaml quality.gold_threshold, 0.8.",
)
@click.option(
    "--rule",
    type=click.Choice(["point", "lower", "upper"]),
    default="point",
    show_default=True,
    help="What the threshold is compared with: point = the accuracy itself; lower / upper = the "
    "bound of its confidence interval (lower: pass only when confidently good).",
)
@click.option("--confidence", type=float, default=0.95, show_default=True)
@click.option(
    "--match",
    type=click.Choice(["exact", "overlap"]),
    default="exact",
    show_default=True,
    help="NER: how a span matches a gold span.",
)
@click.option("--n-boot", type=int, default=1000, show_default=True, help="NER: bootstrap replicates.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_context
def qc_gold(
    ctx: click.Context,
    answers: Path | None,
    item_col: str,
    annotator_col: str,
    label_col: str,
    as_json: bool,
    gold_file: Path | None,
    gold_item_col: str,
    gold_label_col: str,
    gold_by: str,
    threshold: float | None,
    rule: str,
    confidence: float,
    match: Literal["exact", "overlap"],
    n_boot: int,
    seed: int,
) -> None:
    """Each annotator's accuracy on gold items, with a confidence interval: passed, failed or not tested.

    Annotators who judged no gold item are "not tested". NER projects: span F1 against the gold
    spans, with a bootstrap interval. Example: truthset qc gold --threshold 0.9 --rule lower
    """
    from truthset.services import gold as gsvc
    from truthset.services.qc_spans import project_spans

    project = None if answers is not None else _open(ctx.find_root())
    if threshold is None:
        threshold = project.config.quality.gold_threshold if project is not None else 0.8
    if project is not None and project.task == "ner":
        if gold_file is not None:
            raise click.UsageError(
                "NER gold comes from the project (Label Studio ground-truth annotations); drop --gold"
            )
        spans, items = gsvc.project_gold_spans(project)
        data = gsvc.gold_span_report(
            project_spans(project),
            spans,
            items,
            threshold=threshold,
            rule=rule,
            match=match,
            n_boot=n_boot,
            confidence=confidence,
            seed=seed,
        )
        score = "f1"
    else:
        _, judgements = _frame(ctx, answers, item_col, annotator_col, label_col)
        gold = _gold(project, judgements, gold_file, gold_item_col, gold_label_col, gold_by)
        if gold is None:
            raise click.UsageError("with --answers, pass the true labels with --gold FILE")
        data = gsvc.gold_report(judgements, gold, threshold=threshold, rule=rule, confidence=confidence)
        score = "accuracy"
    if as_json:
        _echo_json(data)
        return
    cols = list(data["annotators"][0])
    compared = {"point": score, "lower": "ci_low", "upper": "ci_high"}[rule]
    _table(
        f"{score} on gold: passed when {compared} >= {threshold:.2f}",
        cols,
        [[r[c] for c in cols] for r in data["annotators"]],
    )
    click.echo(
        f"{data['n_passed']} passed, {data['n_failed']} failed, {data['n_not_tested']} not tested "
        f"(no gold item judged) of {len(data['annotators'])} annotators; {data['gold_items']:,} gold items"
    )
    _warn(data)


@qc.command("sample")
@click.option("--batch-size", type=int, default=None, help="Items in the batch (or use --batch).")
@click.option("--batch", type=int, default=None, help="A project batch: its items are sampled.")
@click.option("--max-error-rate", type=float, required=True, help="Highest acceptable error rate, e.g. 0.02.")
@click.option("--confidence", type=float, default=0.95, show_default=True)
@click.option("--acceptance-number", type=int, default=0, show_default=True, help="Errors allowed in the sample.")
@click.option("--reviewed", type=int, default=None, help="Items reviewed (to get a verdict).")
@click.option("--errors", type=int, default=None, help="Errors found among them.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="With --batch: write the drawn items (item_id, external_id, text, label, label_source, "
    "confidence) to this CSV, to review as it is.",
)
@click.option(
    "--labels",
    default=None,
    help="Which label to review: consensus, adjudicated, latest or run:N (default: consensus "
    "when a 'qc aggregate' run exists, else latest).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def qc_sample(
    ctx: click.Context,
    batch_size: int | None,
    batch: int | None,
    max_error_rate: float,
    confidence: float,
    acceptance_number: int,
    reviewed: int | None,
    errors: int | None,
    seed: int,
    output: Path | None,
    labels: str | None,
    as_json: bool,
) -> None:
    """Acceptance sampling: how many items to review, then accept or reject the batch.

    A consumer-risk plan (zero or --acceptance-number errors allowed), not an ISO 2859 AQL plan:
    a batch whose error rate exceeds --max-error-rate passes with probability at most
    1 - confidence; a batch just under it is often rejected.

    Example: truthset qc sample --batch-size 5000 --max-error-rate 0.02
    Then:    truthset qc sample --batch-size 5000 --max-error-rate 0.02 --reviewed 149 --errors 0
    """
    from truthset.quality import acceptance_decision, sample_size
    from truthset.services import qc as svc

    ids: list[int] = []
    project = None
    if batch is not None:
        project = _open(ctx.find_root())
        ids = svc.batch_item_ids(project, batch)
        batch_size = len(ids)
    elif output is not None:
        raise click.UsageError("-o writes the drawn items of a project batch: add --batch N")
    data: dict[str, Any] = {"batch_size": batch_size, "max_error_rate": max_error_rate, "confidence": confidence}
    if reviewed is not None or errors is not None:
        if reviewed is None or errors is None:
            raise click.UsageError("give both --reviewed and --errors for a verdict")
        d = acceptance_decision(
            reviewed, errors, max_error_rate=max_error_rate, confidence=confidence, batch_size=batch_size
        )
        data.update(
            reviewed=reviewed,
            errors=errors,
            error_rate=d.error_rate,
            ci_low=d.ci_low,
            ci_high=d.ci_high,
            upper_bound=d.upper_bound,
            accepted=d.accepted,
        )
        if as_json:
            _echo_json(data)
        else:
            click.echo(str(d))
        return
    n = sample_size(
        batch_size, max_error_rate=max_error_rate, confidence=confidence, acceptance_number=acceptance_number
    )
    data.update(sample_size=n, acceptance_number=acceptance_number)
    if ids:
        data["items"] = svc.draw_sample(ids, n, seed=seed)
        if output is not None and project is not None:
            from truthset.services.training_data import write_sample

            data.update(write_sample(project, data["items"], output, labels=labels))
    if as_json:
        _echo_json(data)
        return
    click.echo(
        f"review {n:,} items{'' if batch_size is None else f' of {batch_size:,}'}: accept the batch if at most "
        f"{acceptance_number} error(s) are found; then the error rate is <= {max_error_rate:.2%} "
        f"with {confidence:.0%} confidence"
    )
    if ids and output is not None:
        click.echo(
            f"wrote the {len(data['items']):,} drawn items (seed {seed}) with their {data['labels']} "
            f"labels to {output}; count the wrong ones, then: --reviewed {len(data['items'])} --errors K"
        )
