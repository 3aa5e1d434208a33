"""Quality control on a project's annotations or on a plain answers file.

The numbers come from :mod:`truthset.quality` (pure); this module gathers the annotation
frame from the store or a file, calls the algorithms, stores consensus labels as a run, and
shapes plainly named results for the CLI and ``--json``.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import insert, select

from truthset.core.errors import InvalidInput
from truthset.services.projects import Project
from truthset.store import repo
from truthset.store.models import Consensus, Gold, Item, Run, utcnow

METHODS: dict[str, str] = {
    "mv": "MajorityVote",
    "wmv": "WeightedMajorityVote",
    "ds": "DawidSkene",
    "onecoin": "OneCoinDawidSkene",
    "glad": "GLAD",
    "mace": "MACE",
}
LEVELS = ("nominal", "ordinal", "interval", "ratio")


# -- inputs ---------------------------------------------------------------------------------

def project_annotations(project: Project) -> pd.DataFrame:
    """Current human and imported judgements of a single-label project: item, annotator, label.

    Model pre-labels are left out: they are not judgements. Items are the store's item ids.
    """
    if project.task in ("multi-label", "ner"):
        raise InvalidInput(
            f"this is a {project.task} project; agreement and aggregation here work on one label per "
            "judgement. For NER use 'truthset qc agreement' (span F1 and token alpha)."
        )
    with project.engine.connect() as conn:
        q = repo.current_annotations_query(project.id)
        rows = conn.execute(q).all()
    data = [(r.item_id, r.annotator, r.label) for r in rows if r.source != "model" and r.label is not None]
    return pd.DataFrame(data, columns=["item", "annotator", "label"])


def project_spans(project: Project) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """NER: current spans (item, annotator, start, end, label), item texts, and coverage.

    Coverage lists every (item, annotator) with an annotation, including those that marked
    no span at all: "no entity here" is a judgement agreement must count.
    """
    with project.engine.connect() as conn:
        rows = conn.execute(repo.current_annotations_query(project.id)).all()
        texts = {
            i: json.loads(p).get(project.config.text_field, "")
            for i, p in conn.execute(select(Item.id, Item.payload).where(Item.project_id == project.id))
        }
    spans = [
        (r.item_id, r.annotator, s["start"], s["end"], s["label"])
        for r in rows if r.source != "model"
        for s in json.loads(r.value)
    ]
    frame = pd.DataFrame(spans, columns=["item", "annotator", "start", "end", "label"])
    coverage = pd.DataFrame([(r.item_id, r.annotator) for r in rows if r.source != "model"],
                            columns=["item", "annotator"]).drop_duplicates()
    return frame, pd.Series(texts, name="text"), coverage


def project_gold(project: Project) -> pd.Series:
    with project.engine.connect() as conn:
        rows = conn.execute(select(Gold.item_id, Gold.label).where(Gold.project_id == project.id)).all()
    return pd.Series({i: lab for i, lab in rows if lab is not None}, name="gold", dtype=object)


def _read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else None
    try:
        return pd.read_csv(path, sep=sep, engine="python" if sep is None else "c", dtype=str,
                           keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise InvalidInput(f"{path}: cannot read it as CSV/TSV: {exc}") from exc


def _need(frame: pd.DataFrame, path: Path, cols: dict[str, str]) -> None:
    missing = {opt: c for opt, c in cols.items() if c not in frame.columns}
    if missing:
        opts = ", ".join(f"--{opt} {c!r}" for opt, c in missing.items())
        raise InvalidInput(f"{path}: no column(s) for {opts}; the columns are {list(frame.columns)}")


def read_answers(path: Path, *, item_col: str, annotator_col: str, label_col: str) -> pd.DataFrame:
    """A plain answers file (one row per judgement) as the long frame."""
    raw = _read_table(path)
    _need(raw, path, {"item-col": item_col, "annotator-col": annotator_col, "label-col": label_col})
    df = raw[[item_col, annotator_col, label_col]].set_axis(["item", "annotator", "label"], axis=1)
    empty = (df == "").any(axis=1).to_numpy()
    if empty.any():
        lines = (np.flatnonzero(empty)[:5] + 2).tolist()
        raise InvalidInput(f"{path}: {int(empty.sum())} row(s) with an empty item, annotator or label "
                           f"(lines {lines}); fill or remove them")
    return df


def read_gold(path: Path, *, item_col: str, label_col: str) -> pd.Series:
    raw = _read_table(path)
    _need(raw, path, {"gold-item-col": item_col, "gold-label-col": label_col})
    return pd.Series(raw[label_col].to_numpy(), index=raw[item_col].to_numpy(), name="gold")


def dataset_hash(df: pd.DataFrame) -> str:
    """Order-independent fingerprint of a judgement frame (which data a run saw)."""
    rows = sorted(zip(df["item"].astype(str), df["annotator"].astype(str), df["label"].astype(str)))
    h = hashlib.sha256()
    for r in rows:
        h.update("\x1f".join(r).encode("utf-8") + b"\x1e")
    return h.hexdigest()


def _summary(df: pd.DataFrame) -> dict[str, int]:
    return {"items": int(df["item"].nunique()), "annotations": int(len(df)),
            "annotators": int(df["annotator"].nunique())}


# -- agreement ------------------------------------------------------------------------------

def agreement_report(df: pd.DataFrame, *, level: str, n_boot: int = 1000, seed: int = 0,
                     confidence: float = 0.95) -> dict[str, Any]:
    """Agreement coefficients with bootstrap confidence intervals over items."""
    from truthset.quality import agreement_ci, pairwise_cohen_kappa, per_label_agreement

    if level not in LEVELS:
        raise InvalidInput(f"--level {level!r}: use one of {', '.join(LEVELS)}")
    if df.empty:
        raise InvalidInput("there are no annotations to compare; import or annotate first")
    out: dict[str, Any] = {**_summary(df), "level": level, "confidence": confidence, "metrics": []}
    per_item = df.groupby("item", sort=False)["annotator"].size()
    out["items_with_2plus"] = int((per_item >= 2).sum())
    wanted = ["percent_agreement", "krippendorff_alpha", "randolph_kappa"]
    if per_item.nunique() == 1:
        wanted.insert(1, "fleiss_kappa")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name in wanted:
            opts = {"level": level} if name == "krippendorff_alpha" else {}
            ci = agreement_ci(name, df, n_boot=n_boot, confidence=confidence, seed=seed, **opts)
            out["metrics"].append({"metric": name, "value": _f(ci.value), "ci_low": _f(ci.ci_low),
                                   "ci_high": _f(ci.ci_high)})
        if level == "nominal":
            per_label = per_label_agreement(df)
            out["per_label"] = [{"label": str(rec.pop("label")), **{c: _plain(v) for c, v in rec.items()}}
                                for rec in per_label.rename_axis("label").reset_index().to_dict("records")]
            pair = pairwise_cohen_kappa(df)
            vals = pair.to_numpy()[~np.eye(len(pair), dtype=bool)]
            vals = vals[~np.isnan(vals)]
            out["pairwise_cohen_kappa"] = {
                "pairs": int(len(vals) // 2), "mean": _f(vals.mean()) if len(vals) else None,
                "min": _f(vals.min()) if len(vals) else None, "max": _f(vals.max()) if len(vals) else None,
            }
    out["warnings"] = sorted({str(w.message) for w in caught})
    return out


def span_agreement_report(spans: pd.DataFrame, texts: pd.Series, coverage: pd.DataFrame | None = None) -> dict[str, Any]:
    from truthset.quality import pairwise_span_f1, token_alpha

    if spans.empty:
        raise InvalidInput("there are no spans to compare; import or annotate first")
    out: dict[str, Any] = {"items": int(spans["item"].nunique()), "spans": int(len(spans)),
                           "annotators": int(spans["annotator"].nunique())}
    for match in ("exact", "overlap"):
        m = pairwise_span_f1(spans, match=match, coverage=coverage)
        vals = m.to_numpy()[~np.eye(len(m), dtype=bool)]
        vals = vals[~np.isnan(vals)]
        out[f"span_f1_{match}"] = _f(vals.mean()) if len(vals) else None
    out["token_alpha"] = _f(token_alpha(spans, texts, coverage=coverage))
    return out


def _plain(v: Any) -> Any:
    """numpy scalars as plain JSON values (NaN as null)."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    return _f(v)


def _f(x: Any) -> float | None:
    x = float(x)
    return None if np.isnan(x) else round(x, 6)


# -- aggregation ----------------------------------------------------------------------------

def make_model(method: str, *, seed: int = 0) -> Any:
    """The estimator for a ``--method`` name, seeded where it draws random numbers."""
    from truthset import quality

    if method not in METHODS:
        raise InvalidInput(f"--method {method!r}: use one of {', '.join(METHODS)}")
    cls = getattr(quality, METHODS[method])
    return cls(random_state=seed) if "random_state" in cls().get_params() else cls()


def aggregate(df: pd.DataFrame, method: str, *, gold: pd.Series | None = None, clamp_gold: bool = False,
              seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """Fit an aggregator; report it beside majority vote (and against gold when given).

    Gold labels are used only to evaluate, unless ``clamp_gold`` (Dawid-Skene models): then
    they are fixed during fitting, and the accuracy on gold says nothing about held-out items.
    """
    from truthset.quality import gold_accuracy

    if df.empty:
        raise InvalidInput("there are no annotations to aggregate; import or annotate first")
    if clamp_gold and method not in ("ds", "onecoin"):
        raise InvalidInput("--clamp-gold works with --method ds or onecoin")
    model = make_model(method, seed=seed)
    fit_gold = gold if clamp_gold and gold is not None and len(gold) else None
    model.fit(df, gold=fit_gold) if fit_gold is not None else model.fit(df)
    labels = model.labels_
    majority = model.majority_labels_ if hasattr(model, "majority_labels_") else labels
    report: dict[str, Any] = {
        **_summary(df), "method": method, "estimator": type(model).__name__,
        "agreement_with_majority": _f((labels == majority.reindex(labels.index)).mean()),
        "iterations": int(getattr(model, "n_iter_", 0) or 0),
        "gold_used_in_fit": fit_gold is not None,
    }
    if gold is not None and len(gold):
        common = labels.index.intersection(gold.index)
        if len(common):
            truth = gold.loc[common].astype(str)
            report["gold_items"] = int(len(common))
            report["accuracy"] = _f((labels.loc[common].astype(str) == truth).mean())
            report["majority_accuracy"] = _f((majority.loc[common].astype(str) == truth).mean())
    skills = model.skills_.sort_values()
    report["annotators_least_reliable"] = [{"annotator": str(a), "skill": _f(s)} for a, s in skills.head(10).items()]
    if gold is not None and len(gold):
        ga = gold_accuracy(df, gold)
        report["annotators_on_gold"] = int(len(ga))
    return model, report


def store_consensus(project: Project, model: Any, method: str, df: pd.DataFrame, report: dict[str, Any],
                    *, seed: int) -> int:
    """Record a QC run and its consensus label per item; returns the run id."""
    probas = model.probas_
    posterior = probas.max(axis=1)
    now = utcnow()
    with project.engine.begin() as conn:
        run_id = conn.execute(insert(Run).returning(Run.id).values(
            project_id=project.id, kind="qc-aggregate",
            config=json.dumps({"method": method, "estimator": type(model).__name__,
                               "params": {k: repr(v) for k, v in getattr(model, "get_params", dict)().items()}}),
            dataset_hash=dataset_hash(df), seed=seed, metrics=json.dumps(report), created_at=now,
        )).scalar_one()
        rows = [{"project_id": project.id, "item_id": int(item), "run_id": run_id, "method": method,
                 "value": json.dumps(str(label), ensure_ascii=False), "posterior": float(posterior.loc[item]),
                 "created_at": now}
                for item, label in model.labels_.items()]
        for start in range(0, len(rows), 5000):
            conn.execute(insert(Consensus), rows[start : start + 5000])
    return int(run_id)


def gold_report(df: pd.DataFrame, gold: pd.Series, *, threshold: float, confidence: float = 0.95) -> dict[str, Any]:
    from truthset.quality import gold_accuracy, gold_confusion

    if gold is None or not len(gold):
        raise InvalidInput("no gold labels: import a Label Studio export with ground truth, or pass --gold FILE")
    table = gold_accuracy(df, gold, threshold=threshold, confidence=confidence)
    rows = [{"annotator": str(rec.pop("annotator")), **{k: _plain(v) for k, v in rec.items()}}
            for rec in table.rename_axis("annotator").reset_index().to_dict("records")]
    confusion = gold_confusion(df, gold)
    return {**_summary(df), "gold_items": int(len(gold)), "threshold": threshold, "confidence": confidence,
            "annotators": rows, "failed": [r["annotator"] for r in rows if not r.get("passed", True)],
            "confusion_labels": [str(c) for c in confusion.columns]}


def batch_item_ids(project: Project, batch: int) -> list[int]:
    with project.engine.connect() as conn:
        ids = conn.execute(select(Item.id).where(Item.project_id == project.id, Item.batch_id == batch)
                           .order_by(Item.id)).scalars().all()
    if not ids:
        raise InvalidInput(f"batch {batch} added no items to this project; see 'truthset status' for batches")
    return [int(i) for i in ids]


def draw_sample(ids: Sequence[int], n: int, *, seed: int) -> list[int]:
    """A seeded simple random sample of ``n`` ids (all of them when ``n`` >= the batch)."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(ids), size=min(n, len(ids)), replace=False)
    return sorted(int(ids[i]) for i in pick)
