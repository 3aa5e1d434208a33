"""Aggregation benchmark: truthset vs crowd-kit on the same synthetic data, same process.

Synthetic data: 100k items x 5 judgements (500k annotations), 4 classes, a pool of 100
annotators with varied confusion matrices (accuracy 0.35-0.95, errors biased towards one
label per annotator, a few adversarial). Each fit is timed as the best wall clock of
``--repeat`` runs and scored against the synthetic truth.

crowd-kit's GLAD is pandas-bound and takes minutes per EM iteration at this size, so it runs
once with an iteration cap (``--ck-glad-iter``); that ratio is per EM iteration and its
accuracy is after the cap. MACE is compared twice: default against default (crowd-kit's
10 restarts x 50 iterations, run once) and per iteration, as the marginal cost of one more
E+M step on both sides (so fixed costs such as encoding cancel).

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


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[Any, float]:
    """Result of ``fn`` and its best wall-clock time over ``repeat`` runs."""
    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def marginal_per_iteration(make: Callable[[int], Callable[[], Any]], n1: int, n2: int, repeat: int) -> float:
    """Seconds per extra EM iteration: (t(n2) - t(n1)) / (n2 - n1), fixed costs cancel."""
    _, t1 = timed(make(n1), repeat)
    _, t2 = timed(make(n2), repeat)
    return (t2 - t1) / (n2 - n1)


def run_speed(ck_glad_iter: int, n_items: int, repeat: int, ck_mace_defaults: bool) -> list[dict[str, Any]]:
    import crowdkit.aggregation as ck

    df, truth = synthetic(n_items=n_items)
    cdf = df.rename(columns={"item": "task", "annotator": "worker"})
    rows: list[dict[str, Any]] = []

    def row(
        name: str, ours: Any, t_ours: float, theirs: Any, t_ck: float, it_ck: Any, speedup: float, basis: str, note: str
    ) -> None:
        rows.append(
            {
                "method": name,
                "ours_s": t_ours,
                "ours_iter": getattr(ours, "n_iter_", "-"),
                "ours_acc": accuracy(ours.labels_, truth) if ours is not None else np.nan,
                "crowdkit_s": t_ck,
                "crowdkit_iter": it_ck,
                "crowdkit_acc": accuracy(theirs.labels_, truth) if theirs is not None else np.nan,
                "speedup": speedup,
                "speedup_basis": basis,
                "note": note,
            }
        )
        print(f"  {name}: ours {t_ours:.4f}s, crowd-kit {t_ck:.4f}s, x{speedup:.1f}", file=sys.stderr)

    whole = [
        (
            "MajorityVote",
            lambda: MajorityVote(tie="first").fit(df),
            lambda: ck.MajorityVote().fit(cdf),
            "same algorithm",
        ),
        (
            "OneCoinDawidSkene",
            lambda: OneCoinDawidSkene().fit(df),
            lambda: ck.OneCoinDawidSkene().fit(cdf),
            "defaults (100 iter max, tol 1e-5)",
        ),
        (
            "DawidSkene",
            lambda: DawidSkene().fit(df),
            lambda: ck.DawidSkene().fit(cdf),
            "defaults (100 iter max, tol 1e-5)",
        ),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, ours_fn, theirs_fn, note in whole:
            ours, t_ours = timed(ours_fn, repeat)
            theirs, t_ck = timed(theirs_fn, repeat)
            it_ck = len(getattr(theirs, "loss_history_", [])) or "-"
            row(name, ours, t_ours, theirs, t_ck, it_ck, t_ck / t_ours, "whole fit", note)

        # GLAD: crowd-kit takes minutes per EM iteration, so it runs once, capped.
        ours, t_ours = timed(lambda: GLAD().fit(df), repeat)
        theirs, t_ck = timed(lambda: ck.GLAD(n_iter=ck_glad_iter, tol=-np.inf).fit(cdf))
        per_ours, per_ck = t_ours / ours.n_iter_, t_ck / ck_glad_iter
        row(
            "GLAD",
            ours,
            t_ours,
            theirs,
            t_ck,
            ck_glad_iter,
            per_ck / per_ours,
            "per EM iteration",
            f"ours: full default fit; crowd-kit capped at {ck_glad_iter} EM iteration(s), run "
            f"once, accuracy after the cap; per iteration = total / iterations on both sides "
            f"(ours {per_ours:.3f} s, crowd-kit {per_ck:.1f} s)",
        )

        # MACE, default against default: crowd-kit runs 10 restarts x 50 iterations.
        ours, t_ours = timed(lambda: MACE().fit(df), repeat)
        if ck_mace_defaults:
            theirs, t_ck = timed(lambda: ck.MACE().fit(cdf))
            row(
                "MACE (defaults)",
                ours,
                t_ours,
                theirs,
                t_ck,
                "10 x 50",
                t_ck / t_ours,
                "whole fit",
                "defaults on both sides: ours 1 deterministic start, stop at tol 1e-6; "
                "crowd-kit 10 restarts x 50 iterations (its restarts are identical), run once",
            )
        # MACE per iteration: the marginal cost of one more E+M step, both sides.
        per_ours = marginal_per_iteration(lambda n: lambda: MACE(max_iter=n, tol=0).fit(df), 5, 45, repeat)
        per_ck = marginal_per_iteration(lambda n: lambda: ck.MACE(n_restarts=1, n_iter=n).fit(cdf), 1, 5, repeat)
        row(
            "MACE (per iteration)",
            None,
            per_ours,
            None,
            per_ck,
            "-",
            per_ck / per_ours,
            "per EM iteration",
            "marginal cost of one more E+M step: ours (t(45) - t(5)) / 40, crowd-kit "
            "(t(5) - t(1)) / 4 with 1 restart; fixed costs cancel",
        )
    return rows


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
    parser.add_argument(
        "--accuracy-table", action="store_true", help="accuracy of every method on every crowd dataset (markdown)"
    )
    parser.add_argument("--ck-glad-iter", type=int, default=1)
    parser.add_argument(
        "--no-ck-mace-defaults",
        action="store_true",
        help="skip crowd-kit's default MACE (10 restarts x 50 iterations, ~1 min)",
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="best of this many runs (crowd-kit GLAD and default MACE: once)"
    )
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    if args.accuracy_table:
        table = accuracy_table()
        print(table.to_json(orient="index", indent=1) if args.json else markdown(table, ".4f"))
        return
    rows = run_speed(args.ck_glad_iter, args.items, args.repeat, not args.no_ck_mace_defaults)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    frame = pd.DataFrame(rows).set_index("method")
    print(f"{args.items:,} items x 5 = {5 * args.items:,} annotations, 4 classes; best of {args.repeat} runs\n")
    print(markdown(frame.drop(columns=["note"])))
    for method, note in frame["note"].items():
        print(f"- {method}: {note}")


if __name__ == "__main__":
    main()
