"""Drift: false alarms on random halves, detection of planted shifts; distances against p-values.

Run:  python benchmarks/drift.py [--json] [--repeats 20] [--sizes 1000,10000,100000]

Data (tests/data/sms_shifts.py): the SMS Spam Collection (5,574 messages, columns label and
text). At each size n, ``--repeats`` times: n rows are drawn (beyond 5,574 with replacement,
half of the copies lightly edited: a word dropped, repeated or swapped; seeded) and split in
random halves, reference and current. Scenarios applied to the current half:

* ``random_halves``: nothing (every flag is a false alarm);
* ``tiny_prior``: spam share up one point (harmless; a flag here is crying wolf);
* ``label_prior``: spam share doubled (13.4 % to 26.8 %);
* ``uppercase``: @handles and URLs stripped, upper-cased;
* ``new_topic``: 10 % of the messages replaced by RTE-1 news sentences (Snow et al. 2008).

Three verdicts per run, on the same data:

* ``truthset``: ``drift_report`` with its defaults (Evidently's distance thresholds plus the
  noise guard at alpha = 0.001);
* ``distance_only``: the same distances against the same thresholds without the guard
  (what Evidently's defaults would say);
* ``p_value``: scipy's chi-square (label) and ks_2samp (text length) at alpha = 0.05, the
  data set flagged when half the columns are, as Evidently's p-value tests.

Time: the median wall and CPU (process) seconds of ``drift_report`` on the random halves at
the largest n (label and text columns; the domain classifier samples 5,000 rows a side).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.data.sms_shifts import halves, load_rte_sentences, load_sms, plant  # noqa: E402

from truthset.data import DriftReport, drift_report  # noqa: E402

SCENARIOS = ("random_halves", "tiny_prior", "label_prior", "uppercase", "new_topic")
METHODS = ("jensenshannon", "text_length", "oov_rate", "domain_classifier")


def distance_only(report: DriftReport) -> bool:
    """The data-set verdict from the scores and thresholds alone (no noise guard)."""
    drifted: dict[str, bool] = {}
    for c in report.columns:
        hit = c.score > c.threshold if c.method == "domain_classifier" else c.score >= c.threshold
        drifted[c.column] = drifted.get(c.column, False) or bool(hit)
    return sum(drifted.values()) / len(drifted) >= report.drift_share


def p_value_verdict(ref: pd.DataFrame, cur: pd.DataFrame, alpha: float = 0.05) -> dict[str, Any]:
    """chi-square on the label, two-sample KS on the text length, at ``alpha``."""
    from scipy.stats import chi2_contingency, ks_2samp

    labels = sorted(set(ref["label"]) | set(cur["label"]))
    table = np.array([[int((f["label"] == v).sum()) for v in labels] for f in (ref, cur)])
    p_label = float(chi2_contingency(table).pvalue)
    p_length = float(ks_2samp(ref["text"].str.len(), cur["text"].str.len()).pvalue)
    flags = [p_label < alpha, p_length < alpha]
    return {"p_label": p_label, "p_length": p_length, "drift": sum(flags) / 2 >= 0.5}


def run(sizes: list[int], repeats: int, seed: int) -> list[dict[str, Any]]:
    sms, rte = load_sms(), load_rte_sentences()
    runs = []
    for n in sizes:
        for r in range(repeats):
            rng = np.random.default_rng([seed, n, r])
            ref, cur = halves(sms, n, rng)
            for scenario in SCENARIOS:
                current = cur if scenario == "random_halves" else plant(scenario, cur, rng, rte)
                t0, c0 = time.perf_counter(), time.process_time()
                report = drift_report(ref, current, seed=r)
                seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
                tests = {c.method: c for c in report.columns}
                runs.append(
                    {
                        "n": n,
                        "repeat": r,
                        "scenario": scenario,
                        "rows": len(ref) + len(current),
                        "seconds": seconds,
                        "cpu_seconds": cpu,
                        "truthset": report.drift,
                        "distance_only": distance_only(report),
                        "p_value": p_value_verdict(ref, current)["drift"],
                        **{f"{m}_drift": tests[m].drift for m in METHODS},
                        **{f"{m}_score": tests[m].score for m in METHODS},
                    }
                )
            print(f"n={n} repeat {r + 1}/{repeats} done", file=sys.stderr, flush=True)
    return runs


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    df = pd.DataFrame(runs)
    out = []
    for (n, scenario), g in df.groupby(["n", "scenario"], sort=False):
        row: dict[str, Any] = {
            "n": int(n),
            "scenario": scenario,
            "repeats": len(g),
            "flagged_truthset": int(g["truthset"].sum()),
            "flagged_distance_only": int(g["distance_only"].sum()),
            "flagged_p_value": int(g["p_value"].sum()),
        }
        for m in METHODS:
            row[f"{m}_flagged"] = int(g[f"{m}_drift"].sum())
            row[f"{m}_median"] = float(g[f"{m}_score"].median())
        row["median_seconds"] = float(g["seconds"].median())
        row["median_cpu_seconds"] = float(g["cpu_seconds"].median())
        out.append(row)
    return out


def table(summary: list[dict[str, Any]]) -> str:
    head = (
        "| n | scenario | truthset | distances only | p-values (0.05) | label JS | length W "
        "| OOV excess | domain AUC | s per report |"
    )
    lines = [head, "|" + "---|" * 10]
    for s in summary:
        k = s["repeats"]
        cells = [f"{s[f'{m}_flagged']}/{k} ({s[f'{m}_median']:.3f})" for m in METHODS]
        lines.append(
            f"| {s['n']:,} | {s['scenario']} | {s['flagged_truthset']}/{k} | "
            f"{s['flagged_distance_only']}/{k} | {s['flagged_p_value']}/{k} | "
            + " | ".join(cells)
            + f" | {s['median_seconds']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = run(sizes, args.repeats, args.seed)
    summary = summarise(runs)
    largest = [r for r in runs if r["scenario"] == "random_halves" and r["n"] == max(sizes)]
    per_100k = float(np.median([r["seconds"] * 100_000 / r["rows"] for r in largest]))
    cpu_100k = float(np.median([r["cpu_seconds"] * 100_000 / r["rows"] for r in largest]))
    if args.json:
        print(
            json.dumps(
                {
                    "machine": platform.platform(),
                    "python": platform.python_version(),
                    "seconds_per_100k_rows": per_100k,
                    "cpu_seconds_per_100k_rows": cpu_100k,
                    "summary": summary,
                },
                indent=1,
            )
        )
        return
    print(table(summary))
    print(
        f"\ndrift_report per 100,000 rows (n={max(sizes):,} random halves), median: "
        f"{per_100k:.2f} s wall, {cpu_100k:.2f} s CPU"
    )


if __name__ == "__main__":
    main()
