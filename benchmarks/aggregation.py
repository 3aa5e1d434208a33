"""Aggregation benchmark: truthset vs crowd-kit on the same synthetic data, same process.

Synthetic data: 100k items x 5 judgements (500k annotations), 4 classes, a pool of 100
annotators with varied confusion matrices (accuracy 0.35-0.95, errors biased towards one
label per annotator, a few adversarial). Each method is timed once (wall clock) and scored
against the synthetic truth.

crowd-kit's GLAD and MACE are pandas-bound and take minutes per EM iteration at this size,
so they run with an iteration cap (``--ck-glad-iter``, ``--ck-mace-iter``); the speed ratio
for those is per EM iteration and their accuracy is after the cap (stated in the output).

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/aggregation.py [--json]
    python benchmarks/aggregation.py --accuracy-table   # real crowd datasets, markdown
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from truthset.quality.aggregation import (
    GLAD,
    MACE,
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    WeightedMajorityVote,
)

CROWD = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "crowd"
DATASETS = {
    "D_Product": "d_jn-product",
    "Duck": "d_Duck_Identification",
    "Dog": "s4_Dog_data",
    "RTE": "rte",
    "TEMP": "temp",
}


def synthetic(
    n_items: int = 100_000, per_item: int = 5, n_annotators: int = 100, k: int = 4, seed: int = 0
) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    truth = rng.choice(k, size=n_items, p=[0.4, 0.3, 0.2, 0.1])
    acc = rng.uniform(0.35, 0.95, n_annotators)
    acc[:5] = 0.15  # a few adversarial / confused annotators
    # row c of annotator a: acc on the diagonal, the rest spread with a personal bias
    conf = rng.dirichlet(np.ones(k) * 0.7, size=(n_annotators, k))
    eye = np.eye(k)[None]
    conf = conf * (1 - eye)
    conf = conf / conf.sum(axis=2, keepdims=True) * (1 - acc)[:, None, None] + eye * acc[:, None, None]
    ann = np.argsort(rng.random((n_items, n_annotators)), axis=1)[:, :per_item].ravel()
    item = np.repeat(np.arange(n_items), per_item)
    cdf = conf[ann, truth[item]].cumsum(axis=1)
    label = (rng.random(item.size)[:, None] > cdf).sum(axis=1).clip(0, k - 1)
    df = pd.DataFrame({"item": item, "annotator": ann, "label": label})
    return df, pd.Series(truth, name="truth")


def accuracy(labels: pd.Series, truth: pd.Series) -> float:
    common = labels.index.intersection(truth.index)
    return float((labels.loc[common] == truth.loc[common]).mean())


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run_speed(ck_glad_iter: int, ck_mace_iter: int, n_items: int) -> list[dict[str, Any]]:
    import crowdkit.aggregation as ck

    df, truth = synthetic(n_items=n_items)
    cdf = df.rename(columns={"item": "task", "annotator": "worker"})
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any], str]] = [
        ("MajorityVote", lambda: MajorityVote(tie="first").fit(df),
         lambda: ck.MajorityVote().fit(cdf), "same algorithm"),
        ("OneCoinDawidSkene", lambda: OneCoinDawidSkene().fit(df),
         lambda: ck.OneCoinDawidSkene().fit(cdf), "defaults (100 iter max, tol 1e-5)"),
        ("DawidSkene", lambda: DawidSkene().fit(df),
         lambda: ck.DawidSkene().fit(cdf), "defaults (100 iter max, tol 1e-5)"),
        ("GLAD", lambda: GLAD().fit(df),
         lambda: ck.GLAD(n_iter=ck_glad_iter, tol=-np.inf).fit(cdf),
         f"crowd-kit capped at {ck_glad_iter} EM iteration(s); ratio per iteration"),
        ("MACE", lambda: MACE().fit(df),
         lambda: ck.MACE(n_restarts=1, n_iter=ck_mace_iter).fit(cdf),
         f"crowd-kit 1 restart, capped at {ck_mace_iter} iteration(s); ratio per iteration"),
    ]
    rows: list[dict[str, Any]] = []
    for name, ours_fn, theirs_fn, note in cases:
        ours, t_ours = timed(ours_fn)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs, t_ck = timed(theirs_fn)
        it_ours = max(ours.n_iter_, 1)
        if name == "GLAD":
            it_ck = ck_glad_iter
        elif name == "MACE":
            it_ck = ck_mace_iter + 1  # crowd-kit runs one extra E-step before the loop
            it_ours = it_ours + 1
        else:
            it_ck = max(len(getattr(theirs, "loss_history_", [])), 1)
        per_iter = name in ("GLAD", "MACE")
        ratio = (t_ck / it_ck) / (t_ours / it_ours) if per_iter else t_ck / t_ours
        rows.append({
            "method": name, "ours_s": t_ours, "ours_iter": ours.n_iter_,
            "ours_acc": accuracy(ours.labels_, truth), "crowdkit_s": t_ck, "crowdkit_iter": it_ck,
            "crowdkit_acc": accuracy(theirs.labels_, truth), "speedup": ratio,
            "speedup_basis": "per EM iteration" if per_iter else "whole fit", "note": note,
        })
        print(f"  {name}: ours {t_ours:.2f}s, crowd-kit {t_ck:.2f}s", file=sys.stderr)
    return rows


def load(name: str) -> tuple[pd.DataFrame, pd.Series]:
    if name in ("rte", "temp"):
        raw = pd.read_csv(CROWD / "snow2008" / f"{name}.standardized.tsv", sep="\t")
        df = raw.rename(
            columns={"orig_id": "item", "!amt_worker_ids": "annotator", "response": "label"}
        )[["item", "annotator", "label"]]
        return df, raw.groupby("orig_id")["gold"].first()
    df = pd.read_csv(CROWD / name / "answer.csv").rename(
        columns={"question": "item", "worker": "annotator", "answer": "label"}
    )
    return df, pd.read_csv(CROWD / name / "truth.csv").set_index("question")["truth"]


def accuracy_table() -> pd.DataFrame:
    models = {
        "MV (random ties)": lambda: MajorityVote(),
        "MV (first)": lambda: MajorityVote(tie="first"),
        "Weighted MV (Wawa)": lambda: WeightedMajorityVote(),
        "OneCoin DS": lambda: OneCoinDawidSkene(),
        "Dawid-Skene": lambda: DawidSkene(),
        "GLAD": lambda: GLAD(),
        "MACE": lambda: MACE(),
    }
    table = {}
    for short, folder in DATASETS.items():
        df, truth = load(folder)
        table[short] = {name: accuracy(make().fit_predict(df), truth) for name, make in models.items()}
    return pd.DataFrame(table)


def markdown(frame: pd.DataFrame, fmt: str = ".3f") -> str:
    """A pipe table without the optional ``tabulate`` dependency."""
    def cell(v: Any) -> str:
        return format(v, fmt) if isinstance(v, (float, np.floating)) else str(v)

    head = [str(frame.index.name or "")] + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for idx, row in frame.iterrows():
        lines.append("| " + " | ".join([str(idx)] + [cell(v) for v in row]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--accuracy-table", action="store_true",
                        help="accuracy of every method on every crowd dataset (markdown)")
    parser.add_argument("--ck-glad-iter", type=int, default=1)
    parser.add_argument("--ck-mace-iter", type=int, default=2)
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    if args.accuracy_table:
        table = accuracy_table()
        print(table.to_json(orient="index", indent=1) if args.json else markdown(table, ".4f"))
        return
    rows = run_speed(args.ck_glad_iter, args.ck_mace_iter, args.items)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    frame = pd.DataFrame(rows).set_index("method")
    print(f"{args.items:,} items x 5 = {5 * args.items:,} annotations, 4 classes\n")
    print(markdown(frame.drop(columns=["note"])))
    for method, note in frame["note"].items():
        print(f"- {method}: {note}")


if __name__ == "__main__":
    main()
