"""Realistic report inputs, computed from real data with the pure APIs.

* a model run on 1,200 deduplicated SMS Spam Collection messages (modeling.evaluate,
  temperature_scaling, evaluate_by_slice, error_buckets, learning_curve, model_card);
* a quality report from the RTE crowd set (Snow et al. 2008: 800 items, 10 judgements each,
  gold): agreement per batch with bootstrap intervals, gold accuracy with Wilson intervals,
  and an acceptance verdict from reviewing each batch's majority labels against gold;
* a profile, a check summary and a data card of the full SMS file, counted with pandas.

A hostile message (``<script>``) is planted in the SMS texts so every report shows item text
that must come out escaped.
"""

from __future__ import annotations

import csv
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import DATASETS, SMS

HOSTILE = '<script>alert("pwned")</script> & <img src=x onerror=alert(1)>'
#: UTF-8 read as Latin-1 ("café" -> "cafÃ©"): the file itself has none, so one is planted
MOJIBAKE = "See you at the cafÃ© at 5"


@pytest.fixture(scope="session")
def sms_raw(datasets: object) -> pd.DataFrame:
    """The whole SMS Spam Collection (duplicates kept), with a hostile message and a garbled
    one appended."""
    df = pd.read_csv(SMS, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)
    df = df.rename(columns={"Label": "label", "SMS": "text"})
    extra = pd.DataFrame({"label": ["spam", "ham"], "text": [HOSTILE, MOJIBAKE]})
    out = pd.concat([df, extra], ignore_index=True)
    out["id"] = [f"sms-{i}" for i in range(len(out))]
    out["batch"] = [f"b{1 + i * 3 // len(out)}" for i in range(len(out))]
    return out


@pytest.fixture(scope="session")
def model_run(sms_raw: pd.DataFrame) -> dict[str, Any]:
    """A real baseline on 1,200 deduplicated messages, evaluated every way the card shows."""
    from truthset import modeling as m

    df = sms_raw.drop_duplicates("text").sample(1200, random_state=0).reset_index(drop=True)
    x, y = df["text"].to_numpy(), df["label"].to_numpy()
    sp = m.stratified_split(y, test_size=0.3, val_size=0.2, seed=0)
    model = m.fit_baseline(m.text_baseline(seed=0, char_ngrams=None), x[sp.train], y[sp.train])
    classes = model.classes_
    proba = m.predict_proba(model, x[sp.test])
    ev = m.evaluate(y[sp.test], proba=proba, classes=classes, n_boot=200)
    cal = m.temperature_scaling(
        y[sp.val], m.predict_proba(model, x[sp.val]), y[sp.test], proba, classes=classes, n_boot=200
    )
    lengths = np.array([len(t) for t in x[sp.test]])
    slices = m.evaluate_by_slice(
        y[sp.test],
        proba=proba,
        classes=classes,
        n_boot=200,
        slices=np.where(lengths < 100, "under 100 chars", "100+ chars"),
    )
    buckets = m.error_buckets(y[sp.test], proba=proba, classes=classes)
    curve = m.learning_curve(
        lambda s: m.text_baseline(seed=s, char_ngrams=None),
        x[sp.train],
        y[sp.train],
        x[sp.test],
        y[sp.test],
        seeds=(0, 1),
        n_boot=200,
    )
    card = m.model_card(
        name=f"sms-spam {HOSTILE}",
        task="text-classification",
        model="tfidf+logreg",
        metrics=ev.metrics,
        slices=slices.to_dict("records"),
        error_buckets=buckets.to_dict(),
        calibration=cal,
        seed=0,
        dataset_hash="3f2a9c",
        schema_version=1,
        training_data={"n_items": int(sp.train.size), "labels": "given labels"},
        library_versions={"python": "3.11", "scikit-learn": "1.x"},
    )
    return {"card": card, "evaluation": ev, "curve": curve, "calibration": cal}


def _wilson(correct: int, n: int) -> tuple[float, float]:
    from truthset.quality import wilson_interval

    lo, hi = wilson_interval(np.array([correct]), np.array([n]))
    return float(lo[0]), float(hi[0])


@pytest.fixture(scope="session")
def crowd_report() -> dict[str, Any]:
    """A quality report of the RTE crowd set split into four batches of 200 items."""
    from truthset.quality import MajorityVote, acceptance_decision, agreement_ci, gold_accuracy

    raw = pd.read_csv(DATASETS / "crowd" / "snow2008" / "rte.standardized.tsv", sep="\t")
    df = raw.rename(columns={"!amt_worker_ids": "annotator", "orig_id": "item", "response": "label"})
    items = sorted(df["item"].unique())
    batch_of = {it: f"batch-{1 + i * 4 // len(items)}" for i, it in enumerate(items)}
    df["batch"] = df["item"].map(batch_of)
    gold = df.groupby("item")["gold"].first()
    long = df[["item", "annotator", "label"]]
    majority = MajorityVote().fit(long).labels_
    batches = []
    for name, g in df.groupby("batch"):
        frame = g[["item", "annotator", "label"]]
        acc = gold_accuracy(frame, gold)
        n, correct = int(acc["n_gold"].sum()), int(acc["correct"].sum())
        lo, hi = _wilson(correct, n)
        reviewed = sorted(g["item"].unique())[:60]
        errors = int((majority.loc[reviewed] != gold.loc[reviewed]).sum())
        batches.append(
            {
                "batch": name,
                "items": int(g["item"].nunique()),
                "done": int(g["item"].nunique()),
                "annotations": len(g),
                "agreement": agreement_ci("fleiss_kappa", frame, n_boot=200, seed=0),
                "gold": {"accuracy": correct / n, "ci_low": lo, "ci_high": hi, "n_gold": n},
                "acceptance": acceptance_decision(60, errors, max_error_rate=0.15, batch_size=int(g["item"].nunique())),
            }
        )
    per_day = df.groupby(df.index // 1000).size()
    return {
        "project": "rte",
        "period": "week 10",
        "previous_period": "week 9",
        "generated": "2025-03-07 09:00",
        "summary": ["Majority labels were checked against gold on 60 items per batch."],
        "labelled": {
            "items": len(items),
            "items_done": len(items),
            "annotations": len(df),
            "annotators": int(df["annotator"].nunique()),
            "by_label": df["label"].map({0: "no entailment", 1: "entailment"}).value_counts().to_dict(),
        },
        "agreement_metric": "fleiss_kappa",
        "gold_threshold": 0.8,
        "batches": batches,
        "throughput": [{"day": f"2025-03-0{d + 1}", "annotations": int(v)} for d, v in per_day.items()],
        "risks": [
            {
                "title": "Gold accuracy below the pass mark",
                "severity": "high",
                "detail": "every batch is under 0.8; the task is hard for crowd workers",
            }
        ],
        "bottlenecks": ["Review covers 60 items per batch"],
        "issues": [
            {"id": 1, "kind": "guideline gap", "severity": "high", "status": "open", "owner": "lee", "title": HOSTILE},
            {
                "id": 2,
                "kind": "duplicate",
                "severity": "low",
                "status": "resolved",
                "owner": "kim",
                "title": "closed issue title",
            },
        ],
        "changes": [
            {"what": "fleiss_kappa, all items", "before": 0.31, "after": 0.25, "note": "lower agreement this week"}
        ],
    }


@pytest.fixture(scope="session")
def profile_input(sms_raw: pd.DataFrame) -> dict[str, Any]:
    """A profile of the SMS file: counts computed with pandas and truthset.data.profile."""
    from truthset.data.profile import count_control_rows, count_mojibake_rows

    texts = sms_raw["text"].tolist()
    lengths = sms_raw["text"].str.len()
    overall = sms_raw["label"].value_counts()
    by_batch = [{"batch": b, "counts": g["label"].value_counts().to_dict()} for b, g in sms_raw.groupby("batch")]
    moj = [{"id": i, "text": t} for i, t in zip(sms_raw["id"], texts, strict=True) if "Ã" in t or "\ufffd" in t][:3]
    return {
        "dataset": "SMS Spam Collection",
        "n_rows": len(sms_raw),
        "generated": "2025-03-07",
        "columns": [
            {
                "name": "text",
                "type": "text",
                "missing": 0,
                "distinct": int(sms_raw["text"].nunique()),
                "top_values": sms_raw["text"].value_counts().head(5).to_dict(),
                "text": {
                    "lengths": lengths.tolist(),
                    "length": {
                        "min": int(lengths.min()),
                        "median": float(lengths.median()),
                        "mean": float(lengths.mean()),
                        "max": int(lengths.max()),
                    },
                    "empty": int((sms_raw["text"] == "").sum()),
                    "whitespace_only": int(sms_raw["text"].str.isspace().sum()),
                    "mojibake": count_mojibake_rows(texts),
                    "control_chars": count_control_rows(texts),
                    "truncated": 0,
                    "languages": {"en": len(texts) - 1, "unknown": 1},
                    "examples": {"mojibake": moj, "truncated": [{"id": "sms-5574", "text": HOSTILE}]},
                },
            },
            {
                "name": "label",
                "type": "categorical",
                "missing": 0,
                "distinct": 2,
                "top_values": [{"value": k, "count": int(v)} for k, v in overall.items()],
            },
            {
                "name": "length",
                "type": "numeric",
                "missing": 0,
                "distinct": int(lengths.nunique()),
                "numeric": {
                    "min": int(lengths.min()),
                    "median": float(lengths.median()),
                    "mean": float(lengths.mean()),
                    "std": float(lengths.std()),
                    "max": int(lengths.max()),
                    "histogram": dict(zip(("counts", "edges"), np.histogram(lengths, bins=20), strict=True)),
                },
            },
        ],
        "labels": {"column": "label", "overall": overall.to_dict(), "by_batch": by_batch},
    }


@pytest.fixture(scope="session")
def check_summary(sms_raw: pd.DataFrame) -> dict[str, Any]:
    """Findings of three checks on the SMS file: exact duplicates (403 extra copies in the
    original file), a blocking max-length rule, and a label-conflict check that finds none."""
    dup = sms_raw[sms_raw.duplicated("text", keep="first")]
    long = sms_raw[sms_raw["text"].str.len() > 400]
    conflicts = sms_raw.groupby("text")["label"].nunique()
    return {
        "project": "sms",
        "n_items": len(sms_raw),
        "generated": "2025-03-07",
        "findings": [
            {
                "check": "exact_duplicates",
                "severity": "warning",
                "count": len(dup),
                "kind": "duplicate",
                "title": "Same text under two ids",
                "check_version": "1",
                "what_to_do": "Keep one copy, or group the copies so they land in one split.",
                "examples": [
                    {"id": i, "text": t, "label": lab}
                    for i, t, lab in dup[["id", "text", "label"]].head(12).itertuples(index=False)
                ],
            },
            {
                "check": "max_length",
                "severity": "blocking",
                "count": len(long),
                "kind": "rule",
                "message": "Texts over 400 characters.",
                "examples": [{"id": "sms-5574", "text": HOSTILE, "detail": "planted"}]
                + [{"id": i, "text": t} for i, t in long[["id", "text"]].head(3).itertuples(index=False)],
            },
            {
                "check": "label_conflicts",
                "severity": "warning",
                "count": int((conflicts > 1).sum()),
                "kind": "duplicate",
            },
        ],
    }


@pytest.fixture(scope="session")
def data_card_input(sms_raw: pd.DataFrame) -> dict[str, Any]:
    from truthset import modeling as m

    sp = m.stratified_split(sms_raw["label"], test_size=0.2, seed=0)
    labels = sms_raw["label"].to_numpy()
    return {
        "name": "sms",
        "generated": "2025-03-07",
        "description": "Short messages labelled ham or spam (Almeida et al. 2011).",
        "summary": {"items": len(sms_raw), "labels": 2},
        "sources": [
            {"source": "SMSSpamCollection.tsv", "rows": len(sms_raw) - 1, "license": "CC BY 4.0"},
            {"source": "planted test row", "rows": 1, "notes": HOSTILE},
        ],
        "collection": {"method": "collected from public SMS corpora; one label per message"},
        "schema": {
            "version": 2,
            "labels": [
                {"name": "ham", "description": "ordinary message"},
                {"name": "spam", "description": "unsolicited"},
            ],
            "versions": [{"version": 1, "change": "first labels"}, {"version": 2, "change": "spam defined"}],
        },
        "splits": [
            {"split": side, "items": int(pos.size), "labels": pd.Series(labels[pos]).value_counts().to_dict()}
            for side, pos in (("train", sp.train), ("test", sp.test))
        ],
        "label_distribution": sms_raw["label"].value_counts().to_dict(),
        "duplicates": {"exact": int(sms_raw.duplicated("text").sum()), "conflicting_labels": 0},
        "limitations": ["English only", "A few messages are known to be mislabelled."],
    }
