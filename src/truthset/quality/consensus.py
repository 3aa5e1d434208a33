"""Consensus-label quality and annotator quality from several annotations per item (CROWDLAB).

After Goh, Tkachenko & Mueller, "CROWDLAB: Supervised learning to infer consensus labels
and quality scores for data with multiple annotators" (2022), written from the paper
(cleanlab's implementation is AGPL and is used only in our benchmarks). Each item's consensus
distribution is a weighted ensemble of probability vectors:

* each annotator ``j`` who labelled the item, as a smoothed one-hot vector: ``P`` on the
  chosen label and ``(1 - P) / (K - 1)`` elsewhere, ``P`` being the annotators' average
  pairwise agreement on items with at least two annotations;
* optionally a classifier's **out-of-sample** probabilities ``pred_probs`` (the model);
* optionally the posterior of a learned aggregator (e.g. :class:`DawidSkene`), which also
  supplies the initial consensus in place of majority vote.

Weights measure how much better than a trivial predictor each member is: with ``s`` a
member's agreement with the initial consensus on items with at least two annotations and
``A_MLC`` the share of the most common consensus label there,
``w = max(0, 1 - (1 - s) / (1 - A_MLC))``; the model's and the posterior's weights are
multiplied by ``sqrt(mean annotations per item)`` so they count like a typical item's panel.

The consensus label is the argmax of the ensemble and its **consensus quality** is the
ensemble probability of that label (lower = more likely wrong: review those first). An
annotator's quality averages the ensemble probability of the labels they gave with their
agreement with the consensus.

All sums over annotations are ``np.bincount`` over the integer codes of
:mod:`truthset.core.codes`; there is no Python loop over items or annotations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.codes import AnnotationCodes, encode_annotations
from truthset.core.errors import InvalidInput
from truthset.quality.aggregation._arrays import row_argmax, row_max
from truthset.quality.aggregation._base import BaseAggregator
from truthset.quality.aggregation.majority import MajorityVote

__all__ = ["ConsensusQuality", "consensus_quality"]

FloatArray = npt.NDArray[np.float64]


@dataclass
class ConsensusQuality:
    """Result of :func:`consensus_quality`.

    ``items`` (index: item): ``consensus_label``, ``consensus_quality`` (in [0, 1], lower =
    more likely wrong), ``annotator_agreement`` (share of the item's annotations equal to the
    consensus), ``num_annotations``, ``initial_label`` (the aggregator's label, before the
    ensemble) and, when a model is given, ``model_label`` and ``p_model`` (the model's
    probability of the consensus label).
    ``annotators`` (index: annotator): ``quality`` (in [0, 1]), ``agreement`` (share of their
    labels equal to the consensus), ``mean_label_quality`` (mean ensemble probability of the
    labels they gave), ``weight`` (ensemble weight), ``num_annotations``.
    ``probas``: the ensemble distribution (items x labels). ``weights``: the model's and
    posterior's weights, ``P`` and ``A_MLC``.
    """

    items: pd.DataFrame
    annotators: pd.DataFrame
    probas: pd.DataFrame
    weights: dict[str, float] = field(default_factory=dict)


def _codes(annotations: Any, labels: Sequence[object] | None) -> tuple[AnnotationCodes, pd.DataFrame]:
    if isinstance(annotations, tuple) and len(annotations) == 3:
        item, annotator, label = (np.asarray(a) for a in annotations)
        if not (item.shape == annotator.shape == label.shape and item.ndim == 1):
            raise InvalidInput(
                "annotations as arrays must be three 1-D arrays of equal length (item, "
                f"annotator, label); got shapes {item.shape}, {annotator.shape}, {label.shape}."
            )
        annotations = pd.DataFrame({"item": item, "annotator": annotator, "label": label})
    codes = encode_annotations(annotations, labels=labels)
    if codes.n_annotations == 0:
        raise InvalidInput("the annotation frame is empty; nothing to score.")
    key = codes.item.astype(np.int64) * codes.n_annotators + codes.annotator
    if np.unique(key).size != key.size:
        raise InvalidInput(
            "an annotator labelled the same item more than once; keep one judgement per "
            "(item, annotator), e.g. df.drop_duplicates(['item', 'annotator'], keep='last')."
        )
    frame = pd.DataFrame(
        {
            "item": codes.item,
            "annotator": codes.annotator,
            "label": pd.Categorical.from_codes(codes.label, categories=range(codes.n_labels)),
        }
    )
    return codes, frame


def _aligned(values: Any, codes: AnnotationCodes, what: str) -> FloatArray:
    """(n_items, K) probabilities aligned to the coded items and labels."""
    if isinstance(values, pd.DataFrame):
        missing = codes.items.difference(values.index)
        if len(missing):
            raise InvalidInput(
                f"{what} has no row for {len(missing)} annotated item(s), e.g. "
                f"{missing[:5].tolist()}; give a row for every annotated item."
            )
        extra = pd.Index(values.columns).difference(codes.labels)
        if len(extra):
            raise InvalidInput(
                f"{what} has column(s) {extra[:5].tolist()} that are not annotation labels "
                f"{list(codes.labels)[:10]}; pass labels=[...] listing every class."
            )
        values = values.reindex(index=codes.items, columns=codes.labels, fill_value=0.0)
    p = np.asarray(values, dtype=np.float64)
    if p.shape != (codes.n_items, codes.n_labels):
        raise InvalidInput(
            f"{what} must have shape (items, labels) = ({codes.n_items}, {codes.n_labels}) in "
            f"the sorted order of items and labels; got {p.shape}. Pass a DataFrame indexed by "
            "item with the labels as columns to align it by name."
        )
    if not np.isfinite(p).all() or (p < 0).any():
        raise InvalidInput(f"{what} must hold finite, non-negative probabilities.")
    sums = p.sum(axis=1)
    if (np.abs(sums - 1.0) > 1e-3).any():
        raise InvalidInput(
            f"each row of {what} must sum to 1 (row {int(np.argmax(np.abs(sums - 1.0)))} sums "
            f"to {sums[np.argmax(np.abs(sums - 1.0))]:.4f}); normalise it first."
        )
    return p


def _beats_trivial(s: FloatArray, a_mlc: float) -> FloatArray:
    """``max(0, 1 - (1 - s) / (1 - A_MLC))``: 0 for no better than the most common label."""
    out: FloatArray = np.clip(1.0 - (1.0 - s) / max(1.0 - a_mlc, 1e-12), 0.0, None)
    return out


def consensus_quality(
    annotations: pd.DataFrame | tuple[Any, Any, Any],
    pred_probs: Any = None,
    *,
    aggregator: BaseAggregator | None = None,
    labels: Sequence[object] | None = None,
) -> ConsensusQuality:
    """Score each item's consensus label and each annotator (CROWDLAB; see module docstring).

    Parameters
    ----------
    annotations : DataFrame or (item, annotator, label) arrays
        One row per judgement (``item``, ``annotator``, ``label``; crowd-kit's ``task``,
        ``worker`` accepted), at most one per (item, annotator).
    pred_probs : DataFrame (item x label) or array (n_items, K), optional
        Out-of-sample class probabilities from a model trained on the items' features (e.g.
        :func:`truthset.modeling.out_of_fold_probabilities` fitted on majority-vote labels).
        An array must follow the sorted order of items and labels.
    aggregator : fitted-or-not aggregator, optional
        E.g. ``DawidSkene()``; refitted here on ``annotations``. It gives the initial
        consensus (default: majority vote) and its posterior joins the ensemble.
    labels : sequence, optional
        All classes in order (default: the sorted labels seen).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1] * 3 + [2] * 3 + [3] * 3 + [4] * 3,
    ...                    "annotator": list("abc") * 4, "label": list("xxxyyyxxyyyy")})
    >>> r = consensus_quality(df)
    >>> r.items["consensus_label"].tolist()
    ['x', 'y', 'x', 'y']
    >>> r.items["consensus_quality"].round(2).tolist()  # item 3 is split: lowest quality
    [0.83, 0.83, 0.7, 0.83]
    >>> r.annotators["quality"].round(3).tolist()  # c disagreed once
    [0.9, 0.9, 0.725]
    """
    codes, frame = _codes(annotations, labels)
    n, k = codes.n_items, codes.n_labels
    item, ann, lab = codes.item, codes.annotator, codes.label
    per_item = np.bincount(item, minlength=n)
    votes = np.bincount(item.astype(np.int64) * k + lab, minlength=n * k).reshape(n, k)

    model = MajorityVote(tie="random", random_state=0) if aggregator is None else aggregator
    model.fit(frame)
    posterior = np.asarray(model.probas_.reindex(index=range(n), columns=range(k), fill_value=0.0))
    initial = row_argmax(posterior).astype(np.intp)

    multi = per_item >= 2
    on_multi = multi[item]
    # average pairwise agreement: for each annotation, the share of the item's other
    # annotations with the same label, averaged over annotations on items with >= 2
    same = votes[item, lab] - 1
    others = per_item[item] - 1
    if on_multi.any():
        p_agree = float(np.mean(same[on_multi] / others[on_multi]))
        ref = initial[multi]
    else:  # every item has one annotation: no agreement to measure
        p_agree = 1.0 - (1.0 - 1.0 / k) / 2.0
        ref = initial
    p_agree = min(max(p_agree, 1.0 / k), 1.0)
    a_mlc = float(np.bincount(ref, minlength=k).max() / max(ref.size, 1))

    # annotator weights from agreement with the initial consensus on items with >= 2 labels
    hit = (lab == initial[item]).astype(np.float64)
    a_n = np.bincount(ann[on_multi], minlength=codes.n_annotators)
    a_hit = np.bincount(ann[on_multi], weights=hit[on_multi], minlength=codes.n_annotators)
    overall = float(hit[on_multi].mean()) if on_multi.any() else 1.0
    s_ann = np.where(a_n > 0, a_hit / np.maximum(a_n, 1), overall)
    w_ann = _beats_trivial(s_ann, a_mlc)
    if not (w_ann > 0).any():  # nobody beats the trivial predictor: fall back to equal votes
        w_ann = np.ones_like(w_ann)

    # sum over an item's annotators of w_j * smoothed one-hot(label)
    off = (1.0 - p_agree) / (k - 1) if k > 1 else 0.0
    w_a = w_ann[ann]
    total_w: FloatArray = np.bincount(item, weights=w_a, minlength=n).astype(np.float64)
    mix: FloatArray = (
        np.bincount(item.astype(np.int64) * k + lab, weights=w_a * (p_agree - off), minlength=n * k)
        .reshape(n, k)
        .astype(np.float64)
    )
    mix += total_w[:, None] * off

    scale = float(np.sqrt(per_item.mean()))
    weights: dict[str, float] = {"P": p_agree, "A_MLC": a_mlc}
    members: list[tuple[str, FloatArray]] = []
    if aggregator is not None:
        members.append(("posterior", posterior))
    p_model = None
    if pred_probs is not None:
        p_model = _aligned(pred_probs, codes, "pred_probs")
        members.append(("model", p_model))
    for name, probs in members:
        acc = float(np.mean(row_argmax(probs)[multi] == initial[multi])) if multi.any() else 1.0
        w = float(_beats_trivial(np.array([acc]), a_mlc)[0]) * scale
        weights[name] = w
        mix += w * probs
        total_w = total_w + w
    probas = np.where(total_w[:, None] > 0, mix / np.maximum(total_w, 1e-300)[:, None], 1.0 / k)

    consensus = row_argmax(probas).astype(np.intp)
    quality = row_max(probas)
    label_q = probas[item, lab]
    agree = (lab == consensus[item]).astype(np.float64)
    n_ann = np.bincount(ann, minlength=codes.n_annotators)
    mean_lq = np.bincount(ann, weights=label_q, minlength=codes.n_annotators) / n_ann
    agreement = np.bincount(ann, weights=agree, minlength=codes.n_annotators) / n_ann

    items = pd.Index(codes.items, name="item")
    names = codes.labels
    out = pd.DataFrame(
        {
            "consensus_label": np.asarray(names.take(consensus)),
            "consensus_quality": quality,
            "annotator_agreement": np.bincount(item, weights=agree, minlength=n) / per_item,
            "num_annotations": per_item,
            "initial_label": np.asarray(names.take(initial)),
        },
        index=items,
    )
    if p_model is not None:
        out["model_label"] = np.asarray(names.take(row_argmax(p_model)))
        out["p_model"] = np.take_along_axis(p_model, consensus[:, None], axis=1)[:, 0]
    annotators = pd.DataFrame(
        {
            "quality": (mean_lq + agreement) / 2.0,
            "agreement": agreement,
            "mean_label_quality": mean_lq,
            "weight": w_ann,
            "num_annotations": n_ann,
        },
        index=pd.Index(codes.annotators, name="annotator"),
    )
    return ConsensusQuality(
        items=out,
        annotators=annotators,
        probas=pd.DataFrame(probas, index=items, columns=pd.Index(names, name="label")),
        weights=weights,
    )
