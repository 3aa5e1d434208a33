"""``truthset train`` + ``truthset evaluate`` on a 100,000-item text project (issue 14).

100,000 texts synthesised from the deduplicated SMS messages by seeded edits
(``baselines.synthesise``: word drops, a swap, a typo, a borrowed word of the same class),
imported into a fresh SQLite project as one annotator's labels, with the source message as a
payload field. ``train`` (final labels read from the store, group split on the source
message joined with MinHash near-duplicate clusters at Jaccard 0.7 so near-duplicates stay on
one side (the clustering alone is timed too, as ``near_duplicates_*``), TF-IDF + logistic regression, every metric with
1,000 bootstrap replicates, temperature scaling, the model saved with skops and 20,000 test
predictions stored) and ``evaluate`` (from the stored predictions) are timed, wall and CPU.
The import is timed too but is not part of the target (it has its own benchmark).

Usage::

    PYTHONPATH=src python3 benchmarks/train_100k.py [--items 100000] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baselines import read_sms, synthesise  # noqa: E402  (a sibling script, not a package)

from truthset.services.imports import ImportOptions, import_file  # noqa: E402
from truthset.services.projects import init_project  # noqa: E402
from truthset.services.runs import evaluate_run  # noqa: E402
from truthset.services.training import train  # noqa: E402


def _timed(fn: Any) -> tuple[Any, float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def run(n: int) -> dict[str, Any]:
    df = read_sms().drop_duplicates("text").reset_index(drop=True)
    x, y, groups = synthesise(df["text"].tolist(), df["label"].to_numpy(), n)
    from truthset.data.duplicates import near_duplicates

    near, nd_w, nd_c = _timed(lambda: near_duplicates(x, threshold=0.7).summary())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "texts.csv"
        pd.DataFrame({"id": range(n), "text": x, "label": y, "source": groups}).to_csv(path, index=False)
        project = init_project(Path(tmp) / "p", task="text-classification", labels=["ham", "spam"], name="train-100k")
        _, imp_w, imp_c = _timed(
            lambda: import_file(
                project, path, ImportOptions(id_col="id", text_col="text", label_col="label", annotator="synthetic")
            )
        )
        out, tr_w, tr_c = _timed(lambda: train(project, seed=0, group_field="source", val_size=0.1))
        ev, ev_w, ev_c = _timed(lambda: evaluate_run(project, out["run"]))
        size = Path(out["model_path"]).stat().st_size
        project.close()
    return {
        "items": n,
        "n_items": out["n_items"],
        "n_train": out["n_train"],
        "n_val": out["n_val"],
        "n_test": out["n_test"],
        "import_wall_seconds": round(imp_w, 1),
        "import_cpu_seconds": round(imp_c, 1),
        "train_wall_seconds": round(tr_w, 1),
        "train_cpu_seconds": round(tr_c, 1),
        "evaluate_wall_seconds": round(ev_w, 1),
        "evaluate_cpu_seconds": round(ev_c, 1),
        "train_and_evaluate_wall_seconds": round(tr_w + ev_w, 1),
        "train_and_evaluate_cpu_seconds": round(tr_c + ev_c, 1),
        "under_60s_wall": tr_w + ev_w < 60,
        "near_duplicates_wall_seconds": round(nd_w, 1),
        "near_duplicates_cpu_seconds": round(nd_c, 1),
        "near_duplicate_clusters": near["clusters"],
        "near_duplicate_items": near["duplicated_items"],
        "dropped_leaking": out.get("dropped_leaking"),
        "groups": out.get("groups"),
        "model_mb": round(size / 2**20, 1),
        **{
            k: round(ev[k], 4)
            for k in (
                "accuracy",
                "accuracy_ci_low",
                "accuracy_ci_high",
                "macro_f1",
                "macro_f1_ci_low",
                "macro_f1_ci_high",
            )
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = run(args.items)
    print(json.dumps(out, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
