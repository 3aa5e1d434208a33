"""Anomalies between batches (agreement drop, label shift) and of the queue (stalled) (private).

Batches are compared with the previous batch in time (the time of a batch's first
annotation when the frame has ``created_at``, else the batches sorted by name); a batch too
small to judge is skipped and the next one is compared with the last batch that was judged.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from truthset.core.divergence import chi2_p_values, js_distances
from truthset.core.errors import InvalidInput
from truthset.quality._anomaly_base import (
    AnomalyFlag,
    AnomalyThresholds,
    FloatArray,
    IntArray,
    Prepared,
    batch_order,
    percent,
    plain,
    seconds,
    show,
    timestamps,
)
from truthset.quality._bootstrap import AgreementCI, UndefinedAgreementWarning

_METRIC_NAMES = {
    "krippendorff_alpha": "Krippendorff's alpha",
    "percent_agreement": "percent agreement",
    "randolph_kappa": "Randolph's kappa",
}


def batch_agreement(p: Prepared, th: AnomalyThresholds, seed: int = 0) -> list[AgreementCI | None]:
    """Each batch's agreement with its bootstrap interval (``None``: too few items to judge).

    An annotator's repeated judgement of an item within a batch counts once (the latest).
    """
    from truthset.quality.agreement import agreement_ci

    codes, batches = batch_order(p.frame["batch"], p.time)
    frame = p.frame[["item", "annotator", "label"]].assign(_batch=codes)
    frame = frame[~frame.duplicated(["_batch", "item", "annotator"], keep="last")]
    judged = frame.groupby(["_batch", "item"], sort=False).size()
    multi = np.bincount(judged.index.get_level_values(0)[judged.to_numpy() >= 2], minlength=len(batches))
    options: dict[str, Any] = {"level": "nominal"} if th.agreement_metric == "krippendorff_alpha" else {}
    out: list[AgreementCI | None] = []
    for b in range(len(batches)):  # one bootstrap per batch; each is vectorised inside
        if multi[b] < th.agreement_min_items:
            out.append(None)
            continue
        sub = frame.loc[frame["_batch"].to_numpy() == b, ["item", "annotator", "label"]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedAgreementWarning)
            try:
                ci = agreement_ci(
                    th.agreement_metric, sub, n_boot=th.agreement_n_boot, confidence=th.confidence, seed=seed, **options
                )
            except InvalidInput:
                ci = None
        out.append(ci if ci is not None and np.isfinite([ci.value, ci.ci_low, ci.ci_high]).all() else None)
    return out


def agreement_drops(p: Prepared, th: AnomalyThresholds, seed: int = 0) -> list[AnomalyFlag]:
    """Batches whose agreement fell from the previous batch's: by at least ``agreement_drop``
    *and* with non-overlapping ``confidence`` intervals.

    Both are needed. Separate intervals alone would flag a harmless 0.02 drop between two
    batches of 10,000 items; a drop past the threshold alone fires on the noise of small
    batches (between 40-item batches of a healthy project a 0.32 drop of alpha was seen, with
    95 % intervals just touching).
    """
    if "batch" not in p.frame.columns:
        return []
    _, batches = batch_order(p.frame["batch"], p.time)
    cis = batch_agreement(p, th, seed)
    judged = [(b, ci) for b, ci in enumerate(cis) if ci is not None]
    metric = _METRIC_NAMES[th.agreement_metric]
    conf = f"{100 * th.confidence:.0f}%"
    flags = []
    for (prev_b, prev), (cur_b, cur) in zip(judged[:-1], judged[1:]):
        drop = prev.value - cur.value
        apart = cur.ci_high < prev.ci_low
        if not (apart and drop >= th.agreement_drop):
            continue
        flags.append(
            AnomalyFlag(
                "agreement_drop",
                float(drop),
                th.agreement_drop,
                f"agreement ({metric}) fell from {prev.value:.2f} [{prev.ci_low:.2f}, "
                f"{prev.ci_high:.2f}] in batch {show(batches[prev_b])} to {cur.value:.2f} "
                f"[{cur.ci_low:.2f}, {cur.ci_high:.2f}] in batch {show(batches[cur_b])}: a drop of "
                f"{drop:.2f}, and the {conf} intervals do not overlap; threshold: a drop of "
                f"{th.agreement_drop:.2f} with separate {conf} intervals",
                batch=plain(batches[cur_b]),
                details={
                    "metric": th.agreement_metric,
                    "previous_batch": plain(batches[prev_b]),
                    "value": cur.value,
                    "ci_low": cur.ci_low,
                    "ci_high": cur.ci_high,
                    "previous_value": prev.value,
                    "previous_ci_low": prev.ci_low,
                    "previous_ci_high": prev.ci_high,
                },
            )
        )
    return flags


def _largest_change(p: Prepared, before: FloatArray, after: FloatArray) -> tuple[Any, float, float]:
    pb, pa = before / before.sum(), after / after.sum()
    j = int(np.argmax(np.abs(pa - pb)))
    return p.labels[j], float(pb[j]), float(pa[j])


def label_shifts(p: Prepared, th: AnomalyThresholds) -> list[AnomalyFlag]:
    """Batches (and annotators within them) whose label distribution moved from the previous.

    A shift is a Jensen–Shannon distance of at least ``label_shift_js`` that the chi-square
    noise guard (``alpha``) confirms. Overall: each batch against the previous batch with at
    least ``label_shift_min_count`` annotations. Per annotator: the annotator's labels in a
    batch against their labels in the previous batch they worked in (both with that many
    annotations); flagged only when the other annotators' labels over the same two batches
    moved less than the threshold, since a move everyone makes is about the data (raised
    once, at batch level), not about one annotator.
    """
    if "batch" not in p.frame.columns:
        return []
    codes, batches = batch_order(p.frame["batch"], p.time)
    n_b, n_l = len(batches), p.n_labels
    by_batch = np.bincount(codes * n_l + p.label, minlength=n_b * n_l).reshape(n_b, n_l)
    by_batch = by_batch.astype(np.float64)
    enough = np.flatnonzero(by_batch.sum(axis=1) >= th.label_shift_min_count)
    thr, flags = th.label_shift_js, []
    # the guard counts each item once: its judgements agree with each other, so they are
    # not independent draws (scaled by items / annotations in the batch)
    item = pd.factorize(p.frame["item"])[0].astype(np.int64)
    items = np.bincount(np.unique(codes * (int(item.max()) + 1) + item) // (int(item.max()) + 1), minlength=n_b)
    per_item = by_batch * (items / np.maximum(by_batch.sum(axis=1), 1))[:, None]
    js = js_distances(by_batch[enough[:-1]], by_batch[enough[1:]])
    p_batch = chi2_p_values(per_item[enough[:-1]], per_item[enough[1:]])
    for i in np.flatnonzero((js >= thr) & (p_batch < th.alpha)):
        b0, b1 = enough[i], enough[i + 1]
        label, s0, s1 = _largest_change(p, by_batch[b0], by_batch[b1])
        flags.append(
            AnomalyFlag(
                "label_shift",
                float(js[i]),
                thr,
                f"the label distribution of batch {show(batches[b1])} moved from batch "
                f"{show(batches[b0])}'s by a Jensen–Shannon distance of {js[i]:.2f} (threshold "
                f"{thr:g}); largest change: '{show(label)}' {percent(s0)} → {percent(s1)}",
                batch=plain(batches[b1]),
                details={
                    "previous_batch": plain(batches[b0]),
                    "label": plain(label),
                    "share_before": s0,
                    "share_after": s1,
                    "p_value": float(p_batch[i]),
                    "annotations": int(by_batch[b1].sum()),
                },
            )
        )
    # per annotator: cells (annotator, batch) that exist, in annotator-then-time order
    cell, inverse = np.unique(p.annotator * n_b + codes, return_inverse=True)
    counts = np.bincount(inverse * n_l + p.label, minlength=cell.size * n_l)
    counts = counts.reshape(cell.size, n_l).astype(np.float64)
    keep = np.flatnonzero(counts.sum(axis=1) >= th.label_shift_min_count)
    who, when = cell[keep] // n_b, cell[keep] % n_b
    pair = np.flatnonzero(who[1:] == who[:-1])
    before, after = counts[keep[pair]], counts[keep[pair + 1]]
    mine = js_distances(before, after)
    p_mine = chi2_p_values(before, after)
    # the other annotators over the same two batches: the batch without this annotator
    peers = js_distances(by_batch[when[pair]] - before, by_batch[when[pair + 1]] - after)
    peers = np.nan_to_num(peers, nan=0.0)
    for i in np.flatnonzero((mine >= thr) & (p_mine < th.alpha) & (peers < thr)):
        a, b0, b1 = who[pair[i]], when[pair[i]], when[pair[i] + 1]
        label, s0, s1 = _largest_change(p, counts[keep[pair[i]]], counts[keep[pair[i] + 1]])
        flags.append(
            AnomalyFlag(
                "label_shift",
                float(mine[i]),
                thr,
                f"annotator {show(p.annotators[a])}'s label distribution moved between batch "
                f"{show(batches[b0])} and batch {show(batches[b1])} by a Jensen–Shannon distance "
                f"of {mine[i]:.2f} (threshold {thr:g}) while the other annotators' moved "
                f"{peers[i]:.2f}; largest change: '{show(label)}' {percent(s0)} → {percent(s1)}",
                annotator=plain(p.annotators[a]),
                batch=plain(batches[b1]),
                details={
                    "previous_batch": plain(batches[b0]),
                    "label": plain(label),
                    "share_before": s0,
                    "share_after": s1,
                    "others_distance": float(peers[i]),
                    "p_value": float(p_mine[i]),
                    "annotations": int(counts[keep[pair[i] + 1]].sum()),
                },
            )
        )
    return flags


def stalled_queue(
    created_at: Any,
    *,
    open_items: int,
    now: Any,
    thresholds: AnomalyThresholds | None = None,
    opened_at: Any = None,
) -> list[AnomalyFlag]:
    """A flag when nobody has annotated for ``stall_seconds`` while items remain open.

    Parameters
    ----------
    created_at : array-like of datetimes
        When each annotation of the queue was made (any order).
    open_items : int
        Items still waiting for an annotation.
    now : datetime
        The time to measure against (passed in: this module reads no clock).
    thresholds : AnomalyThresholds, optional
        ``stall_seconds``.
    opened_at : datetime, optional
        When the queue opened; the idle time of a queue with no annotation yet counts from it.
    """
    th = thresholds or AnomalyThresholds()
    if int(open_items) != open_items or open_items < 0:
        raise InvalidInput(f"open_items must be a whole number >= 0; got {open_items!r}.")
    if open_items == 0:
        return []
    stamps: IntArray = timestamps(pd.Series(created_at, dtype=object), "created_at")
    if stamps.size:
        last = int(stamps.max())
    elif opened_at is not None:
        last = int(timestamps([opened_at], "opened_at")[0])
    else:
        raise InvalidInput(
            "stalled_queue: no annotation yet and no opened_at; pass opened_at= "
            "(when the queue opened) to measure how long it has waited."
        )
    idle = (int(timestamps([now], "now")[0]) - last) / 1e9
    if idle < th.stall_seconds:
        return []
    since = pd.Timestamp(last, tz="UTC")
    what = "the last annotation" if stamps.size else "the queue opened"
    return [
        AnomalyFlag(
            "stalled_queue",
            float(idle),
            th.stall_seconds,
            f"no annotation for {seconds(idle)} (since {what}, {since:%Y-%m-%d %H:%M} UTC) while "
            f"{int(open_items)} items remain open; threshold {seconds(th.stall_seconds)}",
            details={
                "idle_seconds": float(idle),
                "open_items": int(open_items),
                "last_annotation": since.isoformat() if stamps.size else None,
            },
        )
    ]
