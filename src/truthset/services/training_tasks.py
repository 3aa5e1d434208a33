"""``truthset train`` beyond single-label text: multi-label, NER and image classification.

:mod:`.training` does the steps every task shares (final labels, the split, storing the run);
this module holds what differs per task, each from a pure core in :mod:`truthset.modeling`:

* **multi-label** (a list of labels per item): TF-IDF features, one logistic regression per
  label (one-vs-rest); a label that is always present or always absent in training gets that
  constant probability. Scored with :func:`truthset.modeling.evaluate_multilabel` (subset
  accuracy, Hamming loss, micro and macro P/R/F1, macro ROC-AUC / PR-AUC, with intervals).
* **NER** (a list of ``{start, end, label}`` character spans per text): the text is tokenised
  and tagged BIO, a linear-chain CRF (sklearn-crfsuite, when installed; else logistic
  regression over the same token features, which is also used with ``--weight-by-posterior``
  since the CRF takes no weights) predicts tags, and spans are scored exact and overlap
  (:func:`truthset.modeling.span_scores`). Predictions are stored as character spans, the
  shape of an annotation.
* **images**: each item's recorded image (the bytes the server would serve, checked against
  their recorded sha256) is decoded with Pillow, shrunk to at most 256 pixels a side, and
  fed to the colour-histogram + downscaled-pixel baseline; then the single-label path of
  :mod:`.training` (calibration and costs included). An image that cannot be read (moved,
  changed, or a URL) is left out and counted under ``skipped``.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from typing import Any

import numpy as np
import numpy.typing as npt

from truthset.core.errors import InvalidInput, NotFound
from truthset.services.projects import Project
from truthset.services.training_types import WORD_ONLY_ABOVE, Dataset, Fitted, text_of

IMAGE_TASK = "image-classification"
TASKS = ("text-classification", "multi-label", "ner", IMAGE_TASK)
#: images are shrunk to at most this many pixels a side before features (memory; the
#: features are a 16 x 16 grid and colour shares, which the shrink barely moves)
IMAGE_SIDE = 256


def strata_key(task: str, value: Any) -> str:
    """The label a split stratifies on: the label itself; for multi-label the item's labels
    joined (``a|b``, ``(none)``); for NER its most frequent span label (``O``: no span)."""
    if task == "multi-label":
        return "|".join(sorted(map(str, value))) or "(none)"
    if task == "ner":
        counts = Counter(str(s.get("label")) for s in value or [])
        return min(counts, key=lambda k: (-counts[k], k)) if counts else "O"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def read_image(project: Project, item_id: int) -> tuple[npt.NDArray[np.uint8], str]:
    """An item's recorded image as an RGB array, and the sha256 of its bytes."""
    from PIL import Image

    from truthset.services.media import served_image

    served = served_image(project, item_id)
    if not served.content:
        raise NotFound(f"the image of item {item_id} is a URL; training reads local images only")
    with Image.open(io.BytesIO(served.content)) as im:
        im.thumbnail((IMAGE_SIDE, IMAGE_SIDE))
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return arr, hashlib.sha256(served.content).hexdigest()


def attach_images(project: Project, ds: Dataset) -> Dataset:
    """Read every item's image into ``ds.inputs``; ``ds.x`` becomes its sha256 (so identical
    images share a group in the split). Unreadable images are left out and counted."""
    from PIL import UnidentifiedImageError

    images, digests, keep = [], [], []
    skipped: Counter[str] = Counter()
    for pos, item_id in enumerate(ds.item_ids.tolist()):
        try:
            arr, digest = read_image(project, int(item_id))
        except NotFound:
            skipped["image missing, changed or a URL"] += 1
            continue
        except (UnidentifiedImageError, OSError, ValueError):
            skipped["image cannot be decoded"] += 1
            continue
        images.append(arr)
        digests.append(digest)
        keep.append(pos)
    out = ds.subset(keep)
    out.x, out.inputs, out.skipped = digests, images, dict(skipped)
    return out


def fit_structured(project: Project, ds: Dataset, sp: Any, *, seed: int, n_boot: int, weighted: bool) -> Fitted:
    """Multi-label or NER: fit on the training side, score the test side, keep val predictions."""
    if project.task == "multi-label":
        return _fit_multilabel(ds, sp, seed=seed, n_boot=n_boot, weighted=weighted)
    return _fit_ner(ds, sp, seed=seed, n_boot=n_boot, weighted=weighted)


def _indicators(targets: list[Any], classes: list[str]) -> npt.NDArray[np.int64]:
    where = {c: j for j, c in enumerate(classes)}
    out = np.zeros((len(targets), len(classes)), dtype=np.int64)
    for i, labels in enumerate(targets):
        for label in labels or []:
            if str(label) in where:
                out[i, where[str(label)]] = 1
    return out


def multilabel_proba(
    model: Any, x: list[Any], classes: list[str], fitted: list[str], constant: dict[str, float]
) -> npt.NDArray[np.float64]:
    """``(n, L)`` probability of each label: the model's for ``fitted`` labels, else a constant."""
    from truthset.modeling import predict_proba

    out = np.zeros((len(x), len(classes)))
    for c, v in constant.items():
        out[:, classes.index(c)] = v
    if fitted and x:
        out[:, [classes.index(c) for c in fitted]] = predict_proba(model, x)
    return out


def _fit_multilabel(ds: Dataset, sp: Any, *, seed: int, n_boot: int, weighted: bool) -> Fitted:
    from truthset.modeling import evaluate_multilabel, fit_baseline, multilabel_baseline

    classes = sorted({str(c) for t in ds.targets for c in (t or [])})
    if not classes:
        raise InvalidInput("no item carries a label: multi-label training needs items with at least one label")
    y = _indicators(ds.targets, classes)
    rate = y[sp.train].mean(axis=0)
    fitted = [c for c, r in zip(classes, rate, strict=True) if 0 < r < 1]
    constant = {c: float(r) for c, r in zip(classes, rate, strict=True) if c not in fitted}
    word_only = sp.train.size > WORD_ONLY_ABOVE
    model = multilabel_baseline(seed=seed, char_ngrams=None if word_only else (2, 4), min_df=2 if word_only else 1)
    if fitted:
        cols = [classes.index(c) for c in fitted]
        fit_baseline(
            model,
            ds.model_input(sp.train),
            y[np.ix_(sp.train, cols)],
            sample_weight=ds.confidence[sp.train] if weighted else None,
        )
    p_test = multilabel_proba(model, ds.model_input(sp.test), classes, fitted, constant)
    metrics = _multilabel_dict(evaluate_multilabel(y[sp.test], proba=p_test, labels=classes, n_boot=n_boot, seed=seed))
    p_val = multilabel_proba(model, ds.model_input(sp.val), classes, fitted, constant)
    metrics["calibration"], metrics["costs"] = None, None
    rows: list[tuple[int, str, str, str, str | None]] = [
        (
            int(ds.item_ids[i]),
            side,
            json.dumps(sorted(map(str, ds.targets[i] or [])), ensure_ascii=False),
            json.dumps([c for c, v in zip(classes, p[j], strict=True) if v >= 0.5], ensure_ascii=False),
            json.dumps(p[j].tolist()),
        )
        for side, pos, p in (("test", sp.test, p_test), ("val", sp.val, p_val))
        for j, i in enumerate(pos)
    ]
    name = "tfidf-word-min2-one-vs-rest" if word_only else "tfidf-word-char-one-vs-rest"
    return Fitted(model, name, classes, metrics, rows, {"fitted_labels": fitted, "constant_labels": constant})


def _multilabel_dict(ev: Any) -> dict[str, Any]:
    """A multi-label evaluation as plain JSON: the per-label TP/FP/FN/TN counts as ``label_counts``
    rows (they are not a confusion matrix between classes, so not under ``confusion``)."""
    out: dict[str, Any] = ev.to_dict()
    out.pop("confusion", None)
    out["label_counts"] = [
        {"label": str(label), **{k: int(v) for k, v in row.items()}} for label, row in ev.confusion.iterrows()
    ]
    return out


def _spans_frame(targets: list[Any]) -> Any:
    import pandas as pd

    rows = [(i, int(s["start"]), int(s["end"]), str(s["label"])) for i, t in enumerate(targets) for s in t or []]
    return pd.DataFrame(rows, columns=["item", "start", "end", "label"])


def ner_algorithm(weighted: bool) -> str:
    """``crf`` when sklearn-crfsuite is installed and no weights are asked for, else ``logreg``."""
    import importlib.util

    return "crf" if not weighted and importlib.util.find_spec("sklearn_crfsuite") is not None else "logreg"


def _fit_ner(ds: Dataset, sp: Any, *, seed: int, n_boot: int, weighted: bool) -> Fitted:
    from truthset.modeling import (
        bio_from_spans,
        char_spans,
        fit_ner,
        ner_baseline,
        predict_ner,
        span_scores,
    )

    tokens, tags = bio_from_spans(ds.x, _spans_frame(ds.targets))
    algorithm = ner_algorithm(weighted)
    model = ner_baseline(algorithm=algorithm, seed=seed)
    fit_ner(
        model,
        [tokens[i] for i in sp.train],
        [tags[i] for i in sp.train],
        sample_weight=ds.confidence[sp.train] if weighted else None,
    )
    rows: list[tuple[int, str, str, str, str | None]] = []
    metrics: dict[str, Any] = {}
    for side, pos in (("test", sp.test), ("val", sp.val)):
        pred = predict_ner(model, [tokens[i] for i in pos]) if pos.size else []
        if side == "test":
            metrics = span_scores([tags[i] for i in pos], pred, n_boot=n_boot, seed=seed)
        spans = char_spans([ds.x[i] for i in pos], pred)
        truth = char_spans([ds.x[i] for i in pos], [tags[i] for i in pos])
        rows += [
            (
                int(ds.item_ids[i]),
                side,
                json.dumps(truth[j], ensure_ascii=False),
                json.dumps(spans[j], ensure_ascii=False),
                None,
            )
            for j, i in enumerate(pos)
        ]
    metrics["calibration"], metrics["costs"] = None, None
    classes = sorted({str(s["label"]) for t in ds.targets for s in t or []})
    return Fitted(model, f"ner-{algorithm}", classes, metrics, rows, {"algorithm": algorithm})


def evaluate_structured(project: Project, run: dict[str, Any], preds: Any, *, n_boot: int) -> dict[str, Any]:
    """A multi-label or NER run's test metrics recomputed from its stored predictions."""
    from truthset.modeling import bio_from_spans, evaluate_multilabel, span_scores
    from truthset.services.training_data import final_labels, resolve

    cfg = run["config"]
    if cfg.get("task") == "multi-label":
        classes = cfg["classes"]
        proba = np.asarray(preds["proba"].tolist(), dtype=np.float64)
        return _multilabel_dict(
            evaluate_multilabel(
                _indicators(preds["label"].tolist(), classes),
                proba=proba,
                labels=classes,
                n_boot=n_boot,
                seed=run["seed"],
            )
        )
    ids = preds["item_id"].tolist()
    rows = {r.item_id: r for r in final_labels(project, resolve(project, str(cfg.get("labels", "latest"))), ids)}
    fields = cfg.get("fields") or [project.config.text_field]
    texts = [text_of(rows[i].data, fields) for i in ids]
    _, truth = bio_from_spans(texts, _spans_frame(preds["label"].tolist()))
    _, pred = bio_from_spans(texts, _spans_frame(preds["pred"].tolist()))
    scores: dict[str, Any] = span_scores(truth, pred, n_boot=n_boot, seed=run["seed"])
    return scores


def compare_multilabel_runs(
    a: dict[str, Any], b: dict[str, Any], preds_a: Any, preds_b: Any, *, metric: str, n_boot: int
) -> dict[str, Any]:
    """Two multi-label runs on the same test items: their predicted label sets (probability at
    least 0.5, as ``evaluate`` reads them) against the final labels, over the union of their
    labels (a label one run never saw is one it never predicts)."""
    from truthset.modeling import compare_multilabel

    classes = sorted(set(a["config"]["classes"]) | set(b["config"]["classes"]))

    def predicted(run: dict[str, Any], preds: Any) -> npt.NDArray[np.int64]:
        proba = np.asarray(preds["proba"].tolist(), dtype=np.float64)
        out = np.zeros((len(preds), len(classes)), dtype=np.int64)
        for j, c in enumerate(run["config"]["classes"]):
            out[:, classes.index(c)] = proba[:, j] >= 0.5
        return out

    out: dict[str, Any] = compare_multilabel(
        _indicators(preds_a["label"].tolist(), classes),
        predicted(a, preds_a),
        predicted(b, preds_b),
        metric=metric,
        n_boot=n_boot,
        seed=a["seed"],
    )
    return out


def require_single_label(run: dict[str, Any], what: str) -> None:
    """Refuse ``what`` on a multi-label or NER run (it needs one label and class probabilities per item)."""
    task = run["config"].get("task", "text-classification")
    if task in ("multi-label", "ner"):
        raise InvalidInput(
            f"{what} works on single-label runs (text or image classification); run {run['id']} "
            f"is {task}. Its metrics are in 'truthset evaluate {run['id']}'."
        )
