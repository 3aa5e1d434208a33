"""The model back in the loop: error buckets that go back to review, and pre-labels.

* :func:`errors` sorts a run's test failures into buckets (:func:`truthset.modeling.error_buckets`)
  with the label-quality score of confident learning (:func:`truthset.quality.find_label_issues`
  on the run's out-of-sample test probabilities), annotator agreement, and broken input
  (empty or garbled text); ``send_to_review`` puts a bucket's items in the review queue (as
  findings of the check ``model_errors:<bucket>``) and opens a data issue listing them.
* :func:`prelabel` writes a run's predictions as ``source='model'`` annotations: the
  annotation app shows them as suggestions; quality control and training read judgements
  only (``human``, ``import``), so a pre-label is never counted as a human annotation.
* :func:`prelabel_agreement` measures anchoring: how often annotators who answered after a
  pre-label chose the same label.
"""

from __future__ import annotations

import json
from typing import Any, cast

import numpy as np

from truthset.core.errors import InvalidInput
from truthset.data.mapping import JUDGEMENT_SOURCES
from truthset.services.projects import Project
from truthset.services.run_records import get_run, test_predictions
from truthset.store.models import utcnow
from truthset.store.repo import runs as repo_runs

#: the (password-less) user a run's pre-labels are written under
MODEL_USER = "model"
#: how the queue ranks items by the model's probabilities (truthset.modeling.active)
UNCERTAINTY = ("entropy", "margin", "least_confidence")


def errors(
    project: Project, run_id: int | None = None, *, send_to_review: str | None = None, max_examples: int = 20
) -> dict[str, Any]:
    """Counts and examples per bucket (examples as item ids with text); optionally a review ticket."""
    from truthset.data.profile import has_mojibake
    from truthset.modeling import BUCKETS, error_buckets
    from truthset.quality import find_label_issues
    from truthset.services.training_data import final_labels, resolve
    from truthset.services.training_types import text_of

    if send_to_review is not None and send_to_review not in BUCKETS:
        raise InvalidInput(f"--send-to-review {send_to_review!r}: use one of {', '.join(BUCKETS)}")
    from truthset.services.training_tasks import IMAGE_TASK, require_single_label

    run = get_run(project, run_id)
    require_single_label(run, "errors")
    cfg = run["config"]
    classes = cfg["classes"]
    preds = test_predictions(project, run["id"])
    ids = preds["item_id"].tolist()
    rows = {r.item_id: r for r in final_labels(project, resolve(project, str(cfg.get("labels", "latest"))), ids)}
    fields = cfg.get("fields") or [project.config.text_field]
    texts = [text_of(rows[i].data, fields) for i in ids]
    y = preds["label"].astype(str).to_numpy()
    proba = np.asarray(preds["proba"].tolist(), dtype=np.float64)
    quality = find_label_issues(y, proba, classes=classes)["label_quality"].to_numpy()
    agreement = np.array(
        [rows[i].confidence if rows[i].annotators >= 2 and rows[i].confidence is not None else np.nan for i in ids],
        dtype=np.float64,
    )
    image = cfg.get("task") == IMAGE_TASK  # an image has no text to be empty or garbled
    empty = np.array([not image and not t.replace("[SEP]", "").strip() for t in texts], dtype=bool)
    garbled = np.array([not image and (("\ufffd" in t) or has_mojibake(t)) for t in texts], dtype=bool)
    train_counts = run["split"].get("description", {}).get("train_classes")
    eb = error_buckets(
        y,
        proba=proba,
        classes=classes,
        label_quality=quality,
        agreement=agreement,
        empty=empty,
        garbled=garbled,
        train_class_counts=train_counts,
        max_examples=max_examples,
    )
    out: dict[str, Any] = eb.to_dict()

    def show(pos: list[int]) -> list[dict[str, Any]]:
        return [
            {
                "item_id": ids[p],
                "external_id": rows[ids[p]].external_id,
                "text": texts[p][:300],
                "label": str(y[p]),
                "pred": str(preds["pred"].iloc[p]),
            }
            for p in pos
        ]

    for b in out["buckets"]:
        b["examples"] = show(b["examples"])
    for pair in out["pairs"]:
        pair["examples"] = show(pair["examples"])
    out["run"] = run["id"]
    if send_to_review is not None:
        chosen = eb.items.loc[eb.items["bucket"] == send_to_review, "position"].astype(int).tolist()
        item_ids = sorted(ids[p] for p in chosen)
        out["sent_to_review"] = _send_bucket(project, int(run["id"]), send_to_review, item_ids)
    return out


#: the tracker's kind for the issue a bucket raises
BUCKET_ISSUE_KIND = {
    "likely_label_error": "broken_data",
    "ambiguous": "ambiguous_definition",
    "broken_input": "broken_data",
}


def _send_bucket(project: Project, run_id: int, bucket: str, item_ids: list[int]) -> dict[str, Any]:
    """Send a bucket's items to reviewers: one finding per item (check ``model_errors:<bucket>``),
    marked sent, so the review queue shows them with that reason and a reviewer's verdict
    measures the bucket's precision (``truthset check --precision``); and one data issue in the
    tracker listing them, so the batch of failures has an owner and a state."""
    from truthset.services import data_issues
    from truthset.store.repo import findings as repo_findings
    from truthset.store.repo.findings import NewFinding

    if not item_ids:
        return {"bucket": bucket, "items": [], "issue": None, "findings": 0}
    check = f"model_errors:{bucket}"
    now = utcnow()
    new = [
        NewFinding(
            kind="model_error",
            severity="warning",
            key=f"run{run_id}:item{i}",
            items=[i],
            detail={"run": run_id, "bucket": bucket},
        )
        for i in item_ids
    ]
    with project.store.write() as tx:
        written = repo_findings.replace_findings(tx, project.id, check, "1", new, at=now)
        repo_findings.mark_sent(tx, project.id, [check], at=now)
    issue = data_issues.open_issue(
        project,
        kind=BUCKET_ISSUE_KIND.get(bucket, "other"),
        source="check",
        items=item_ids,
        title=f"run {run_id}: {len(item_ids)} test failure(s) in bucket {bucket}; review their labels",
        body=f"'truthset errors {run_id}' sorted these test failures into '{bucket}'. They are in the review "
        f"queue (reason 'check: {check}'); each reviewer verdict counts toward the bucket's precision.",
    )
    return {"bucket": bucket, "items": item_ids, "issue": issue, "findings": written}


def prelabel(
    project: Project, run_id: int | None = None, *, only_unjudged: bool = True, uncertainty: str = "entropy"
) -> dict[str, Any]:
    """Write the run's model's predictions as pre-labels (``source='model'``); returns counts.

    With ``queue.order: uncertainty`` in truthset.yaml, the pre-labelled items are also put at
    the head of the annotation queue, most uncertain first (``uncertainty``: entropy, margin or
    least_confidence of the predicted probabilities).
    """
    if uncertainty not in UNCERTAINTY:
        raise InvalidInput(f"--uncertainty {uncertainty!r}: use one of {', '.join(UNCERTAINTY)}")
    from truthset.services.training import full_proba, load_model
    from truthset.services.training_data import final_labels, resolve
    from truthset.services.training_tasks import require_single_label

    run = get_run(project, run_id)
    require_single_label(run, "prelabel")
    fields = run["config"].get("fields") or [project.config.text_field]
    with project.store.read() as tx:
        if only_unjudged:
            ids = repo_runs.item_ids_without_judgement(tx, project.id, JUDGEMENT_SOURCES)
        else:
            ids = repo_runs.item_ids_without_judgement(tx, project.id, ())
    if not ids:
        return {"run": run["id"], "prelabelled": 0, "classes": run["config"]["classes"]}
    model = load_model(project, run)
    rows = final_labels(project, resolve(project, "latest"), ids)
    rows, inputs = _model_inputs(project, rows, fields)
    classes = run["config"]["classes"]
    proba = full_proba(model, inputs, classes)
    best = proba.argmax(axis=1)
    out_rows = [
        (
            r.item_id,
            json.dumps(classes[k]),
            classes[k],
            json.dumps({"run": run["id"], "confidence": float(proba[j, k])}),
        )
        for j, (r, k) in enumerate(zip(rows, best.tolist(), strict=True))
    ]
    reorder = project.config.queue.order == "uncertainty"
    if reorder:
        from truthset.modeling import rank_by_uncertainty

        # most uncertain first: keys -n..-1, before every imported item's random key (>= 0)
        ranked = rank_by_uncertainty(proba, cast("Any", uncertainty))
        keys = [(rows[int(j)].item_id, int(r) - len(rows)) for r, j in enumerate(ranked)]
    with project.store.write() as tx:
        n = repo_runs.add_prelabels(
            tx, project.id, model_user=MODEL_USER, schema_version=project.schema_version, rows=out_rows
        )
        if reorder:
            repo_runs.set_queue_keys(tx, project.id, keys)
    return {
        "run": run["id"],
        "prelabelled": n,
        "classes": classes,
        "by_label": {c: int((best == i).sum()) for i, c in enumerate(classes)},
        "queue_order": f"uncertainty ({uncertainty})" if reorder else project.config.queue.order,
    }


def _model_inputs(project: Project, rows: list[Any], fields: list[str]) -> tuple[list[Any], list[Any]]:
    """What the model reads for each row: its text, or its image (rows whose image cannot be read are dropped)."""
    from truthset.core.errors import NotFound
    from truthset.services.training_tasks import IMAGE_TASK, read_image
    from truthset.services.training_types import text_of

    if project.task != IMAGE_TASK:
        return rows, [text_of(r.data, fields) for r in rows]
    kept, images = [], []
    for r in rows:
        try:
            images.append(read_image(project, r.item_id)[0])
        except (NotFound, OSError, ValueError):
            continue
        kept.append(r)
    return kept, images


def prelabel_agreement(project: Project) -> dict[str, Any]:
    """How often human answers given after a pre-label agree with it, per annotator and overall."""
    with project.store.read() as tx:
        rows = repo_runs.prelabelled_annotations(tx, project.id)
    latest_model: dict[int, str | None] = {}
    answers: list[tuple[str, bool]] = []
    for _, item, source, label, annotator in rows:  # in id (time) order
        if source == "model":
            latest_model[item] = label
        elif source in JUDGEMENT_SOURCES and item in latest_model:
            answers.append((str(annotator), label == latest_model[item]))
    per: dict[str, list[bool]] = {}
    for name, same in answers:
        per.setdefault(name, []).append(same)
    agreed = sum(a for _, a in answers)
    return {
        "prelabelled_items": len(latest_model),
        "answers_after_prelabel": len(answers),
        "agreed": agreed,
        "agreement": agreed / len(answers) if answers else None,
        "by_annotator": [
            {"annotator": k, "answers": len(v), "agreement": sum(v) / len(v)} for k, v in sorted(per.items())
        ],
    }
