"""Label-error detection: truthset's confident learning beside cleanlab, same arrays, same run.

1. **20news** (../shared/datasets/label_errors/20news; Northcutt, Athalye & Mueller 2021):
   7,532 real given labels and real out-of-sample probabilities; 93 candidates the authors
   flagged were each judged by 5 workers. *Confirmed* = fewer than 3 of the 5 kept the given
   label (the paper's count: 82); *correctable* = at least 3 chose the guessed label (22).
   Reported: items flagged, confirmed errors among them, AUROC of the label-quality score at
   ranking confirmed errors above rejected candidates, and time (best of ``--repeat``).
   truthset: ``find_label_issues`` (flags and scores in one call); cleanlab:
   ``cleanlab.filter.find_label_issues`` + ``cleanlab.rank.get_label_quality_scores``, both
   with their defaults (prune by noise rate, self-confidence).
2. **Synthetic**: ``--n`` x ``--k`` probabilities (default 200,000 x 10) with known flips:
   precision and recall of the flags, time, and peak traced memory (tracemalloc: numpy
   allocations included; cleanlab runs with ``n_jobs=1`` there so its work stays in-process
   to be measured -- its default multiprocessing is timed on 20news).

cleanlab is AGPL and is imported only here (``pip install 'truthset[bench]'``).

Usage::

    python benchmarks/label_errors.py [--json] [--repeat 5] [--n 200000] [--k 10]
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from truthset.quality import find_label_issues
from truthset.quality.label_issues import FILTERS, SCORES

NEWS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "label_errors" / "20news"


def timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    """Result of ``fn`` and its best wall-clock time over ``repeat`` runs (seconds)."""
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, float(best)


def peak_memory(fn: Callable[[], Any]) -> float:
    """Peak traced allocation of ``fn`` above what was allocated before it, in MB."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 1e6


def load_news() -> dict[str, Any]:
    p = np.load(NEWS / "20news_test_set_pyx.npy")
    y = np.load(NEWS / "20news_test_set_original_labels.npy").astype(np.int64)
    verdicts = json.loads((NEWS / "20news_mturk.json").read_text())
    ids = np.array([v["id"] for v in verdicts])
    confirmed = np.array([v["mturk"]["given"] < 3 for v in verdicts])
    correctable = np.array([v["mturk"]["guessed"] >= 3 for v in verdicts])
    return {"y": y, "p": p, "ids": ids, "confirmed": confirmed, "correctable": correctable}


def news_row(name: str, flags: np.ndarray, scores: np.ndarray, seconds: float, d: dict[str, Any]) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    flagged = np.flatnonzero(flags)
    ids, confirmed = d["ids"], d["confirmed"]
    return {
        "method": name,
        "flagged": int(flagged.size),
        "confirmed_found": int(np.isin(ids[confirmed], flagged).sum()),
        "correctable_found": int(np.isin(ids[d["correctable"]], flagged).sum()),
        "candidates_flagged": int(np.isin(ids, flagged).sum()),
        "auroc": float(roc_auc_score(confirmed, -scores[ids])),
        "seconds": seconds,
    }


def run_news(repeat: int) -> dict[str, Any]:
    from cleanlab.filter import find_label_issues as cl_find
    from cleanlab.rank import get_label_quality_scores as cl_scores

    d = load_news()
    y, p = d["y"], d["p"]
    ours, t_ours = timed(lambda: find_label_issues(y, p), repeat)

    def cleanlab_default() -> tuple[np.ndarray, np.ndarray]:
        return cl_find(y, p), cl_scores(y, p)

    def cleanlab_one_job() -> tuple[np.ndarray, np.ndarray]:
        return cl_find(y, p, n_jobs=1), cl_scores(y, p)

    (cl_flags, cl_q), t_cl = timed(cleanlab_default, repeat)
    _, t_cl1 = timed(cleanlab_one_job, repeat)
    rows = [
        news_row("truthset", ours["is_issue"].to_numpy(), ours["label_quality"].to_numpy(), t_ours, d),
        news_row("cleanlab", cl_flags, cl_q, t_cl, d),
    ]
    rows[1]["seconds_n_jobs_1"] = t_cl1
    # every filter and score of ours, for the record (the default is the first row above)
    variants = []
    for filter_by in FILTERS:
        for score in SCORES:
            r = find_label_issues(y, p, filter_by=filter_by, score=score)
            row = news_row(
                f"{filter_by}/{score}", r["is_issue"].to_numpy(), r["label_quality"].to_numpy(), float("nan"), d
            )
            row.pop("seconds")
            variants.append(row)
    cl_variants = []
    for method in ("self_confidence", "normalized_margin", "confidence_weighted_entropy"):
        cl_variants.append(
            {
                "method": f"cleanlab/{method}",
                "auroc": news_row("", cl_flags, cl_scores(y, p, method=method), 0.0, d)["auroc"],
            }
        )
    return {
        "items": int(y.size),
        "candidates": int(d["ids"].size),
        "confirmed": int(d["confirmed"].sum()),
        "correctable": int(d["correctable"].sum()),
        "rows": rows,
        "time_ratio": t_ours / t_cl,
        "time_ratio_vs_n_jobs_1": t_ours / t_cl1,
        "targets": {
            "confirmed_at_least_cleanlab": rows[0]["confirmed_found"] >= rows[1]["confirmed_found"],
            "flags_at_most_cleanlab_plus_5pct": rows[0]["flagged"] <= 1.05 * rows[1]["flagged"],
            "auroc_at_least_cleanlab": rows[0]["auroc"] >= rows[1]["auroc"],
            "time_at_most_1_2x": t_ours <= 1.2 * t_cl,
        },
        "variants": variants,
        "cleanlab_score_variants": cl_variants,
    }


def synthetic(n: int, k: int, noise: float = 0.2, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Given labels with ``noise`` flipped (class-dependent, towards a few confusable classes),
    and model probabilities: softmax of Gaussian logits plus a per-item signal on the true
    class and a smaller pull towards the given label (a model trained on noisy labels)."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(k, size=n, p=rng.dirichlet(np.full(k, 2.0)))
    confuse = rng.dirichlet(np.full(k, 0.3), size=k)
    np.fill_diagonal(confuse, 0.0)
    confuse /= confuse.sum(axis=1, keepdims=True)
    flip = rng.random(n) < noise
    other = (rng.random(n)[:, None] > confuse[truth].cumsum(axis=1)).sum(axis=1).clip(0, k - 1)
    given = np.where(flip, other, truth)
    signal = rng.gamma(2.0, 1.5, size=n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), truth] += signal
    logits[np.arange(n), given] += 1.0
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    return given, p, given != truth


def run_synthetic(n: int, k: int, repeat: int) -> dict[str, Any]:
    from cleanlab.filter import find_label_issues as cl_find
    from cleanlab.rank import get_label_quality_scores as cl_scores

    y, p, flipped = synthetic(n, k)

    def ours() -> np.ndarray:
        return find_label_issues(y, p)["is_issue"].to_numpy()

    def theirs() -> np.ndarray:
        flags = cl_find(y, p, n_jobs=1)
        cl_scores(y, p)
        return flags

    rows = []
    for name, fn in (("truthset", ours), ("cleanlab", theirs)):
        flags, seconds = timed(fn, repeat)
        tp = int((flags & flipped).sum())
        rows.append(
            {
                "method": name,
                "flagged": int(flags.sum()),
                "flipped": int(flipped.sum()),
                "precision": tp / max(int(flags.sum()), 1),
                "recall": tp / int(flipped.sum()),
                "seconds": seconds,
                "peak_mb": peak_memory(fn),
            }
        )
    return {
        "items": n,
        "classes": k,
        "rows": rows,
        "time_ratio": rows[0]["seconds"] / rows[1]["seconds"],
        "memory_ratio": rows[0]["peak_mb"] / rows[1]["peak_mb"],
        "input_mb": p.nbytes / 1e6,
    }


def markdown(rows: list[dict[str, Any]], keys: list[str]) -> str:
    def cell(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r.get(k, "")) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    out = {"20news": run_news(args.repeat), "synthetic": run_synthetic(args.n, args.k, 3)}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    news, syn = out["20news"], out["synthetic"]
    print(
        f"## 20news: {news['items']} items, {news['candidates']} candidates, "
        f"{news['confirmed']} confirmed ({news['correctable']} correctable)\n"
    )
    print(
        markdown(
            news["rows"],
            ["method", "flagged", "confirmed_found", "correctable_found", "candidates_flagged", "auroc", "seconds"],
        )
    )
    print(
        f"\ntime ratio truthset / cleanlab: {news['time_ratio']:.3f} "
        f"(vs cleanlab n_jobs=1: {news['time_ratio_vs_n_jobs_1']:.3f}); targets: "
        f"{news['targets']}\n"
    )
    print(markdown(news["variants"], ["method", "flagged", "confirmed_found", "auroc"]))
    print()
    print(markdown(news["cleanlab_score_variants"], ["method", "auroc"]))
    print(f"\n## synthetic: {syn['items']} x {syn['classes']} ({syn['input_mb']:.0f} MB input)\n")
    print(markdown(syn["rows"], ["method", "flagged", "flipped", "precision", "recall", "seconds", "peak_mb"]))
    print(f"\ntime ratio {syn['time_ratio']:.3f}, peak memory ratio {syn['memory_ratio']:.3f}")


if __name__ == "__main__":
    main()
