"""Training runs after the fact: list them, evaluate (by slice, against gold), compare two, the
learning curve, and the model card.

Every number comes from :mod:`truthset.modeling` on the predictions a run stored
(``run_predictions``), so evaluating or comparing never retrains; the learning curve trains
afresh on the run's own training items. Result dicts use plain field names (``--json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.services.gold import GoldLabels
from truthset.services.projects import Project
from truthset.services.run_records import get_run, test_predictions
from truthset.store.repo import runs as repo_runs

__all__ = [
    "card",
    "compare_runs",
    "curve",
    "demo_step",
    "evaluate_run",
    "get_run",
    "gold_labels",
    "list_runs",
    "test_predictions",
    "write_model_card",
]

#: headline metrics shown by ``truthset runs`` and ``evaluate`` without --json
HEADLINE = ("accuracy", "macro_f1", "mcc", "roc_auc", "ece", "micro_f1", "subset_accuracy", "exact_f1", "overlap_f1")
#: what each baseline of a run is, in words (the model card's model details)
MODEL_NAMES = {
    "tfidf-word-char": "TF-IDF word + character n-grams + logistic regression",
    "tfidf-word-min2": "TF-IDF word n-grams (min_df 2) + logistic regression",
    "tfidf-word-char-one-vs-rest": "TF-IDF word + character n-grams + one logistic regression per label",
    "tfidf-word-min2-one-vs-rest": "TF-IDF word n-grams (min_df 2) + one logistic regression per label",
    "ner-crf": "linear-chain CRF over token and context features (BIO tags, spans scored exact and overlap)",
    "ner-logreg": "logistic regression per token over token and context features (BIO tags)",
    "image-histogram-pixels": "colour histogram + 16x16 downscaled pixels + logistic regression",
}
#: text-length buckets for ``--slice length`` (characters)
LENGTH_EDGES = (0, 50, 100, 200)


def list_runs(project: Project) -> list[dict[str, Any]]:
    """One line per training run, oldest first: what went in and the headline numbers."""
    with project.store.read() as tx:
        rows = repo_runs.training_runs(tx, project.id)
    out = []
    for r in rows:
        m, c = json.loads(r["metrics"] or "{}"), json.loads(r["config"] or "{}")
        out.append(
            {
                "run": r["id"],
                "created_at": str(r["created_at"]),
                "task": c.get("task"),
                "model": c.get("model"),
                "labels": c.get("labels"),
                "split": c.get("split"),
                "seed": r["seed"],
                "n_test": m.get("n_test"),
                "dataset_hash": r["dataset_hash"][:12],
                "schema_version": r["schema_version"],
                **{k: m.get(k) for k in HEADLINE},
            }
        )
    return out


def gold_labels(
    project: Project, path: Path | None = None, *, item_col: str = "item", label_col: str = "label"
) -> GoldLabels:
    """True labels by item id: from a gold file (ids = the imported file's ids), else stored
    gold; with how many of the source's rows matched an item (``summary()``)."""
    from truthset.services import gold as gsvc

    if path is None:
        found = gsvc.project_gold(project)
        assert found is not None  # required=True raises instead
        return found
    raw = gsvc.read_gold_file(path, item_col=item_col, label_col=label_col)
    return gsvc.match_gold(raw, str(path), project=project, by="external_id")


def _gold_report(gold: GoldLabels | pd.Series | None) -> dict[str, Any]:
    """What a result says about its gold: source, rows, matched and unmatched (a plain
    series of labels, from the Python API, says nothing)."""
    return gold.summary() if isinstance(gold, GoldLabels) else {}


def _truth(project: Project, preds: pd.DataFrame, gold: GoldLabels | pd.Series | None) -> tuple[pd.DataFrame, str]:
    """Test predictions with the truth to score them on: the run's final labels, or gold."""
    if gold is None:
        return preds.assign(truth=preds["label"]), "final labels"
    g = (gold.labels if isinstance(gold, GoldLabels) else gold).copy()
    g.index = g.index.astype(int)
    kept = preds[preds["item_id"].isin(g.index)]
    if kept.empty:
        raise InvalidInput("none of the run's test items has a gold label; check --gold and its id column")
    return kept.assign(truth=g.reindex(kept["item_id"]).astype(str).to_numpy()), "gold"


def _slices(project: Project, run: dict[str, Any], item_ids: list[int], column: str) -> list[Any]:
    """One slice value per test item: text length bucket, agreement level, batch, or a payload field."""
    from truthset.services.training_data import final_labels, resolve
    from truthset.services.training_types import text_of

    choice = resolve(project, str(run["config"].get("labels", "latest")))
    rows = {r.item_id: r for r in final_labels(project, choice, item_ids)}
    if column == "length":
        edges = list(LENGTH_EDGES)
        names = [f"{a}-{b - 1}" for a, b in zip(edges, edges[1:], strict=False)] + [f"{edges[-1]}+"]
        fields = run["config"].get("fields") or [project.config.text_field]
        return [
            names[int(np.searchsorted(edges, len(text_of(rows[i].data, fields)), side="right")) - 1] for i in item_ids
        ]
    if column == "agreement":
        return [
            "one annotator" if rows[i].annotators < 2 else ("unanimous" if (rows[i].confidence or 0) >= 1 else "split")
            for i in item_ids
        ]
    if column == "batch":
        with project.store.read() as tx:
            batches = repo_runs.item_batches(tx, item_ids)
        return [str(batches.get(i)) for i in item_ids]
    if not any(column in rows[i].data for i in item_ids):
        raise InvalidInput(
            f"--slice {column!r}: no test item has that field; use length, agreement, batch or "
            f"one of {sorted({k for i in item_ids[:50] for k in rows[i].data})}"
        )
    return [str(rows[i].data.get(column)) for i in item_ids]


def evaluate_run(
    project: Project,
    run_id: int | None = None,
    *,
    slice_by: str | None = None,
    gold: GoldLabels | pd.Series | None = None,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """The run's metrics with intervals (recomputed against gold when ``gold`` is given), its
    calibration and costs, and with ``slice_by`` the same metrics per slice."""
    from truthset.modeling import evaluate, evaluate_by_slice

    run = get_run(project, run_id)
    if run["config"].get("task") in ("multi-label", "ner"):
        return _evaluate_structured(project, run, slice_by=slice_by, gold=gold, n_boot=n_boot)
    classes = run["config"]["classes"]
    preds, against = _truth(project, test_predictions(project, run["id"]), gold)
    proba = np.asarray(preds["proba"].tolist(), dtype=np.float64)
    truth = preds["truth"].astype(str).to_numpy()
    unknown = sorted(set(truth) - set(classes))
    if unknown:
        raise InvalidInput(f"the truth holds labels the run never saw: {unknown}; its classes are {classes}")
    ev = evaluate(truth, proba=proba, classes=classes, n_boot=n_boot, seed=run["seed"]).to_dict()
    out: dict[str, Any] = {
        "run": run["id"],
        "against": against,
        **_gold_report(gold),
        **ev,
        "calibration": run["metrics"].get("calibration"),
        "costs": run["metrics"].get("costs"),
    }
    if slice_by is not None:
        values = _slices(project, run, preds["item_id"].tolist(), slice_by)
        table = evaluate_by_slice(truth, proba=proba, classes=classes, slices=values, n_boot=n_boot, seed=run["seed"])
        out["slice"] = slice_by
        out["by_slice"] = [
            {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in table.to_dict(orient="records")
        ]
    return out


def _evaluate_structured(
    project: Project, run: dict[str, Any], *, slice_by: str | None, gold: GoldLabels | pd.Series | None, n_boot: int
) -> dict[str, Any]:
    """``evaluate`` of a multi-label or NER run: its metrics from the stored predictions."""
    from truthset.services.training_tasks import evaluate_structured

    if slice_by is not None or gold is not None:
        raise InvalidInput(
            f"run {run['id']} is {run['config']['task']}: --slice and gold scoring are for "
            "single-label runs; evaluate it without them"
        )
    out = evaluate_structured(project, run, test_predictions(project, run["id"]), n_boot=n_boot)
    return {"run": run["id"], "against": "final labels", "task": run["config"]["task"], **out}


def compare_runs(
    project: Project,
    run_a: int,
    run_b: int,
    *,
    gold: GoldLabels | pd.Series | None = None,
    metric: str = "macro_f1",
    n_boot: int = 1000,
) -> dict[str, Any]:
    """Is run B better than run A on the same test items? McNemar on accuracy, the paired
    bootstrap on ``metric``, and a plain verdict. Two multi-label runs are compared on their
    label sets (accuracy is then subset accuracy); NER runs are not compared."""
    from truthset.modeling import compare_predictions
    from truthset.services.training_tasks import compare_multilabel_runs, require_single_label

    a, b = get_run(project, run_a), get_run(project, run_b)
    tasks = {r["config"].get("task", "text-classification") for r in (a, b)}
    if tasks == {"multi-label"}:
        if gold is not None:
            raise InvalidInput("gold scoring is for single-label runs; compare multi-label runs without --gold")
        ma, mb = test_predictions(project, a["id"]), test_predictions(project, b["id"])
        _same_test_items(ma, mb, run_a, run_b)
        if ma["label"].tolist() != mb["label"].tolist():
            raise InvalidInput(
                f"runs {run_a} and {run_b} score their test items against different final labels; "
                "a paired comparison needs the same truth"
            )
        out = compare_multilabel_runs(a, b, ma, mb, metric=metric, n_boot=n_boot)
        return {"run_a": a["id"], "run_b": b["id"], "against": "final labels", "task": "multi-label", **out}
    if "multi-label" in tasks and len(tasks) > 1:
        raise InvalidInput(f"runs {run_a} and {run_b} are of different tasks ({', '.join(sorted(tasks))})")
    for r in (a, b):
        require_single_label(r, "compare")
    pa, against = _truth(project, test_predictions(project, a["id"]), gold)
    pb, _ = _truth(project, test_predictions(project, b["id"]), gold)
    _same_test_items(pa, pb, run_a, run_b)
    if gold is None and pa["truth"].tolist() != pb["truth"].tolist():
        raise InvalidInput(
            f"runs {run_a} and {run_b} score their test items against different final labels; "
            "compare them against gold (--gold FILE, or the project's gold items)"
        )
    classes = sorted(set(a["config"]["classes"]) | set(b["config"]["classes"]))
    out = compare_predictions(
        pa["truth"].astype(str).to_numpy(),
        pa["pred"].astype(str).to_numpy(),
        pb["pred"].astype(str).to_numpy(),
        classes=classes,
        metric=metric,
        n_boot=n_boot,
        seed=a["seed"],
    )
    return {"run_a": a["id"], "run_b": b["id"], "against": against, **_gold_report(gold), **out}


def _same_test_items(pa: pd.DataFrame, pb: pd.DataFrame, run_a: int, run_b: int) -> None:
    if pa["item_id"].tolist() != pb["item_id"].tolist():
        raise InvalidInput(
            f"runs {run_a} and {run_b} were tested on different items ({len(pa)} and {len(pb)}); "
            "a paired comparison needs the same test set (later runs reuse the first run's "
            "unless trained with --new-test-set)"
        )


def curve(
    project: Project,
    run_id: int | None = None,
    *,
    seeds: tuple[int, ...] = (0, 1, 2),
    fractions: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0),
    n_boot: int = 1000,
) -> dict[str, Any]:
    """Learning curve on a run's own training and test items: "would more labels help?"."""
    from truthset.modeling import image_baseline, learning_curve
    from truthset.services.training import baseline_for, load_dataset
    from truthset.services.training_tasks import IMAGE_TASK, require_single_label

    run = get_run(project, run_id)
    require_single_label(run, "curve")
    cfg = run["config"]
    ds = load_dataset(project, cfg.get("labels"), cfg.get("fields") or [project.config.text_field])
    where = {int(i): p for p, i in enumerate(ds.item_ids.tolist())}
    train = [where[i] for i in run["split"]["train"] if i in where]
    test = [where[i] for i in run["split"]["test"] if i in where]
    if len(train) < 8 or not test:
        raise InvalidInput(
            f"run {run['id']}'s items have too few final labels now ({len(train)} train, "
            f"{len(test)} test) for a learning curve"
        )
    w = ds.confidence[train] if cfg.get("weight_by_posterior") else None
    image = cfg.get("task") == IMAGE_TASK
    out = learning_curve(
        lambda s: image_baseline(seed=s) if image else baseline_for(len(train), s),
        ds.model_input(train),
        ds.y[train].astype(str),
        ds.model_input(test),
        ds.y[test].astype(str),
        fractions=fractions,
        seeds=seeds,
        sample_weight=w,
        n_boot=n_boot,
        seed=run["seed"],
    )
    return {"run": run["id"], **out}


def card(project: Project, run_id: int | None = None, *, buckets: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model card's facts for a run (Mitchell et al. 2019 sections)."""
    from truthset.modeling import model_card

    run = get_run(project, run_id)
    m, cfg = run["metrics"], run["config"]
    desc = run["split"].get("description", {})
    facts: dict[str, Any] = model_card(
        name=f"{project.config.name} run {run['id']}",
        task=project.task,
        model=MODEL_NAMES.get(str(cfg.get("model")), str(cfg.get("model"))),
        metrics={k: v for k, v in m.items() if not isinstance(v, (dict, list))},
        version=run["code_version"],
        description=f"Baseline trained by truthset on final labels ({cfg.get('labels')}).",
        training_data={
            "n_items": desc.get("n_train"),
            "labels": cfg.get("labels"),
            "classes": desc.get("train_classes"),
            "weighted_by_posterior": cfg.get("weight_by_posterior"),
        },
        evaluation_data={
            "split": desc.get("method"),
            "test_sha256": desc.get("test_sha256"),
            "classes": desc.get("test_classes"),
        },
        error_buckets=buckets or m.get("error_buckets"),
        calibration=m.get("calibration"),
        costs=m.get("costs"),
        seed=run["seed"],
        library_versions=run["library_versions"],
        dataset_hash=run["dataset_hash"],
        schema_version=run["schema_version"],
    )
    return facts


def write_model_card(project: Project, run_id: int | None, output: Path) -> dict[str, Any]:
    """Render the run's model card to an HTML file; returns where and what is missing."""
    from truthset.reports import render_model_card

    run = get_run(project, run_id)
    facts = card(project, run["id"])
    html = render_model_card(facts, evaluation=run["metrics"])
    output = Path(output)
    tmp = output.with_name(output.name + ".partial")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(output)
    return {"run": run["id"], "output": str(output), "missing": facts["missing"]}


def demo_step(project: Project) -> dict[str, Any]:
    """The demo's last step: labels -> a baseline, its evaluation, the error buckets, a model card.

    Returns the numbers and ``summary``, the lines the demo prints.
    """
    from truthset.services.model_loop import errors
    from truthset.services.training import train

    out = train(project, seed=0)
    buckets = errors(project, out["run"], max_examples=3)
    path = project.root / "model-card.html"
    write_model_card(project, out["run"], path)
    counts = ", ".join(f"{b['count']} {b['bucket'].replace('_', ' ')}" for b in buckets["buckets"] if b["count"])
    summary = (
        f"baseline (run {out['run']}): accuracy {_ci(out, 'accuracy')}, macro-F1 {_ci(out, 'macro_f1')} "
        f"on {out['n_test']:,} test messages; {buckets['n_errors']} errors: {counts or 'none'}.\n"
        f"model card: {path}  (truthset evaluate --slice length; truthset errors; truthset curve)"
    )
    return {"run": out["run"], "metrics": out, "error_buckets": buckets, "model_card": str(path), "summary": summary}


def _ci(d: dict[str, Any], name: str) -> str:
    return f"{d[name]:.3f} (95% CI {d[f'{name}_ci_low']:.3f}-{d[f'{name}_ci_high']:.3f})"
