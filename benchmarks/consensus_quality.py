"""Consensus quality on real crowd sets with gold: CROWDLAB (truthset) beside majority-vote
agreement, the Dawid-Skene posterior and, where a model exists, cleanlab's CROWDLAB.

For each method: its consensus label per item, the accuracy of those labels against gold,
how many are wrong, and the AUROC of the method's quality score at ranking the wrong
consensus labels first (higher = better; 0.5 = chance). Each method is scored on its *own*
consensus labels, as in the CROWDLAB paper; ``auroc_on_mv`` scores every method's
probability of the *majority-vote* label instead, so all methods face the same errors.

* ``majority_vote``: share of the item's annotators who chose the majority label;
* ``dawid_skene``: the DS posterior of the DS label (truthset's ``DawidSkene``);
* ``crowdlab``: ``truthset.quality.consensus_quality`` (majority vote, annotators, model);
* ``crowdlab+ds``: the same with ``aggregator=DawidSkene()`` (its posterior in the ensemble);
* RTE only: ``+model`` adds out-of-fold TF-IDF + logistic-regression probabilities from the
  text/hypothesis pairs (snow2008/rte1.tsv), trained on the majority-vote labels, and
  ``cleanlab`` runs ``cleanlab.multiannotator.get_label_quality_multiannotator`` on the same
  probabilities (cleanlab is AGPL: benchmark only).

Usage::

    python benchmarks/consensus_quality.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from truthset.modeling import out_of_fold_probabilities
from truthset.quality import DawidSkene, MajorityVote, consensus_quality

CROWD = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "crowd"
SETS = ["d_jn-product", "d_Duck_Identification", "s4_Dog_data", "rte", "temp"]


def load(name: str) -> tuple[pd.DataFrame, pd.Series]:
    if name in ("rte", "temp"):
        raw = pd.read_csv(CROWD / "snow2008" / f"{name}.standardized.tsv", sep="\t")
        df = raw.rename(columns={"orig_id": "item", "!amt_worker_ids": "annotator", "response": "label"})[
            ["item", "annotator", "label"]
        ]
        return df, raw.groupby("orig_id")["gold"].first()
    df = pd.read_csv(CROWD / name / "answer.csv").rename(
        columns={"question": "item", "worker": "annotator", "answer": "label"}
    )
    return df, pd.read_csv(CROWD / name / "truth.csv").set_index("question")["truth"]


def score_row(
    method: str, labels: pd.Series, score: pd.Series, p_mv: pd.Series, mv: pd.Series, truth: pd.Series, seconds: float
) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    common = labels.index.intersection(truth.index)
    wrong = (labels.loc[common] != truth.loc[common]).to_numpy()
    mv_wrong = (mv.loc[common] != truth.loc[common]).to_numpy()
    both = 0 < wrong.sum() < wrong.size
    return {
        "method": method,
        "accuracy": float(1 - wrong.mean()),
        "wrong": int(wrong.sum()),
        "auroc": float(roc_auc_score(wrong, -score.loc[common].to_numpy())) if both else None,
        "auroc_on_mv": float(roc_auc_score(mv_wrong, -p_mv.loc[common].to_numpy())),
        "seconds": seconds,
    }


def prob_of(probas: pd.DataFrame, labels: pd.Series) -> pd.Series:
    """Each item's probability of ``labels`` (item -> label) under ``probas`` (item x label)."""
    cols = probas.columns.get_indexer(labels.loc[probas.index])
    return pd.Series(probas.to_numpy()[np.arange(len(probas)), cols], index=probas.index)


def rte_model(df: pd.DataFrame, mv: pd.Series) -> pd.DataFrame:
    pairs = pd.read_csv(CROWD / "snow2008" / "rte1.tsv", sep="\t").set_index("id")
    pairs = pairs.loc[mv.index]
    texts = (pairs["text"] + " || " + pairs["hypothesis"]).tolist()
    return out_of_fold_probabilities(texts, mv, cv=5, seed=0)


def cleanlab_rows(df: pd.DataFrame, pred: pd.DataFrame, mv: pd.Series, truth: pd.Series) -> dict[str, Any]:
    from cleanlab.multiannotator import get_label_quality_multiannotator

    wide = df.pivot(index="item", columns="annotator", values="label").loc[pred.index]
    t = time.perf_counter()
    res = get_label_quality_multiannotator(wide, pred.to_numpy(), verbose=False)
    seconds = time.perf_counter() - t
    stats = res["label_quality"].set_index(pred.index)
    labels = pred.columns.take(stats["consensus_label"].to_numpy())
    lab = pd.Series(labels, index=pred.index)
    score = stats["consensus_quality_score"]
    # cleanlab does not return its ensemble distribution; its score is for its own label,
    # so auroc_on_mv is only defined where both labels agree -- report its own-label AUROC
    row = score_row("cleanlab (crowdlab)", lab, score, score, lab, truth, seconds)
    row["auroc_on_mv"] = None
    return row


def run_set(name: str) -> dict[str, Any]:
    df, truth = load(name)
    rows = []
    t = time.perf_counter()
    mvm = MajorityVote().fit(df)
    t_mv = time.perf_counter() - t
    mv = mvm.labels_
    agree = df["label"].to_numpy() == mv.loc[df["item"]].to_numpy()
    share = pd.Series(agree).groupby(df["item"].to_numpy()).mean()
    rows.append(score_row("majority_vote", mv, share, share, mv, truth, t_mv))
    t = time.perf_counter()
    ds = DawidSkene().fit(df)
    t_ds = time.perf_counter() - t
    rows.append(score_row("dawid_skene", ds.labels_, ds.probas_.max(axis=1), prob_of(ds.probas_, mv), mv, truth, t_ds))
    variants: list[tuple[str, Any, Any]] = [("crowdlab", None, None), ("crowdlab+ds", None, DawidSkene())]
    if name == "rte":
        pred = rte_model(df, mv)
        model_acc = float((pred.idxmax(axis=1) == truth.loc[pred.index]).mean())
        variants += [("crowdlab+model", pred, None), ("crowdlab+ds+model", pred, DawidSkene())]
    for method, pred_probs, agg in variants:
        t = time.perf_counter()
        r = consensus_quality(df, pred_probs, aggregator=agg)
        seconds = time.perf_counter() - t
        rows.append(
            score_row(
                method,
                r.items["consensus_label"],
                r.items["consensus_quality"],
                prob_of(r.probas, mv),
                mv,
                truth,
                seconds,
            )
        )
    out: dict[str, Any] = {"dataset": name, "items": int(df["item"].nunique()), "annotations": len(df), "rows": rows}
    if name == "rte":
        out["model_accuracy"] = model_acc
        out["rows"].append(cleanlab_rows(df, pred, mv, truth))
    return out


def markdown(res: list[dict[str, Any]]) -> str:
    keys = ["method", "accuracy", "wrong", "auroc", "auroc_on_mv", "seconds"]
    lines = []
    for r in res:
        lines.append(
            f"\n**{r['dataset']}** ({r['items']} items, {r['annotations']} annotations"
            + (f"; text model accuracy {r['model_accuracy']:.3f}" if "model_accuracy" in r else "")
            + ")\n"
        )
        lines.append("| " + " | ".join(keys) + " |")
        lines.append("|" + "---|" * len(keys))
        for row in r["rows"]:
            cells = [
                f"{row[k]:.3f}" if isinstance(row[k], float) else ("-" if row[k] is None else str(row[k])) for k in keys
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--sets", nargs="*", default=SETS)
    args = ap.parse_args()
    res = [run_set(name) for name in args.sets]
    if args.json:
        json.dump(res, sys.stdout, indent=2)
        print()
    else:
        print(markdown(res))


if __name__ == "__main__":
    main()
