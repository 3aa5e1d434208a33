"""Quality control on a project's annotations or on a plain answers file.

The numbers come from :mod:`truthset.quality` (pure); this module gathers the judgements
from the store or a file, calls the algorithms, stores consensus labels as a run, and shapes
plainly named results for the CLI and ``--json``. Gold files and gold reports are in
:mod:`truthset.services.gold`, NER (span) agreement in :mod:`truthset.services.qc_spans`.

One judgement per annotator and item: when an annotator judged an item more than once (a
crowd worker answering twice, an annotator correcting themself), their latest judgement is
their current one; the earlier ones are set aside and counted, never silently mixed in.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.data.mapping import JUDGEMENT_SOURCES
from truthset.services.projects import Project
from truthset.store.repo import quality as repo_quality

METHODS: dict[str, str] = {
    "mv": "MajorityVote",
    "wmv": "WeightedMajorityVote",
    "ds": "DawidSkene",
    "onecoin": "OneCoinDawidSkene",
    "glad": "GLAD",
    "mace": "MACE",
}
LEVELS = ("nominal", "ordinal", "interval", "ratio")


@dataclass
class Judgements:
    """The judgements QC works on: one per annotator and item, the latest.

    ``frame`` has columns ``item`` (the store's item id, or the file's item id),
    ``annotator``, ``label``. ``names`` maps a project item id to its external id, so
    messages name items as the user knows them. ``ground_truth`` marks judgements that
    are themselves the gold answer (a Label Studio ground-truth annotation): a gold check
    leaves them out, as comparing gold with itself proves nothing.
    """

    frame: pd.DataFrame
    set_aside: int = 0
    set_aside_examples: list[dict[str, str]] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)
    ground_truth: np.ndarray | None = None

    def name(self, item: Any) -> str:
        """How a message names an item: its external id, else its id."""
        if isinstance(item, np.generic):
            item = item.item()
        return self.names.get(item) or str(item)

    def summary(self) -> dict[str, Any]:
        df = self.frame
        return {
            "items": int(df["item"].nunique()),
            "annotations": int(len(df)),
            "annotators": int(df["annotator"].nunique()),
            "set_aside": self.set_aside,
            "set_aside_examples": self.set_aside_examples,
        }

    def set_aside_warning(self) -> list[str]:
        if not self.set_aside:
            return []
        eg = ", ".join(f"item {e['item']!r} by {e['annotator']!r}" for e in self.set_aside_examples)
        return [
            f"{self.set_aside:,} earlier judgement(s) set aside: where an annotator judged an item "
            f"more than once, only their latest counts (e.g. {eg})"
        ]


def latest_judgements(
    frame: pd.DataFrame, *, names: dict[int, str] | None = None, ground_truth: np.ndarray | None = None
) -> Judgements:
    """Keep each annotator's last row per item (rows in time order); count the others."""
    earlier = frame.duplicated(["item", "annotator"], keep="last").to_numpy()
    names = names or {}
    out = Judgements(frame, names=names, ground_truth=ground_truth)
    if earlier.any():
        out.set_aside = int(earlier.sum())
        out.frame = frame.loc[~earlier].reset_index(drop=True)
        out.ground_truth = None if ground_truth is None else ground_truth[~earlier]
        eg = frame.loc[earlier, ["item", "annotator"]].head(3)
        out.set_aside_examples = [
            {"item": out.name(i), "annotator": str(a)} for i, a in zip(eg["item"], eg["annotator"])
        ]
    return out


def _is_ground_truth(meta: str | None) -> bool:
    """Whether an annotation's meta marks it as the gold answer (Label Studio ground truth)."""
    if not meta or meta == "{}":
        return False
    return bool(json.loads(meta).get("ground_truth"))


def project_annotations(project: Project) -> Judgements:
    """Current judgements of a single-label project, one per annotator and item (the latest).

    Model pre-labels and reviewers' adjudications are left out: they are not independent
    judgements. Items are the store's item ids; ``names`` holds their external ids.
    """
    if project.task in ("multi-label", "ner"):
        raise InvalidInput(
            f"this is a {project.task} project; agreement and aggregation here work on one label per "
            "judgement. For NER use 'truthset qc agreement' (span F1 and token alpha)."
        )
    with project.store.read() as tx:
        rows = repo_quality.labelled_judgements(tx, project.id, JUDGEMENT_SOURCES)
        names = dict(repo_quality.external_ids(tx, project.id))
    frame = pd.DataFrame(
        [(item, annotator, label) for item, annotator, label, _ in rows], columns=["item", "annotator", "label"]
    )
    truth = np.fromiter((_is_ground_truth(meta) for *_, meta in rows), dtype=bool, count=len(rows))
    return latest_judgements(frame, names=names, ground_truth=truth)


def _read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else None
    try:
        return pd.read_csv(path, sep=sep, engine="python" if sep is None else "c", dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise InvalidInput(f"{path}: cannot read it as CSV/TSV: {exc}") from exc


def _need(frame: pd.DataFrame, path: Path, cols: dict[str, str]) -> None:
    missing = {opt: c for opt, c in cols.items() if c not in frame.columns}
    if missing:
        opts = ", ".join(f"--{opt} {c!r}" for opt, c in missing.items())
        raise InvalidInput(f"{path}: no column(s) for {opts}; the columns are {list(frame.columns)}")


def read_answers(path: Path, *, item_col: str, annotator_col: str, label_col: str) -> Judgements:
    """A plain answers file (one row per judgement, in time order) as judgements.

    A later row of the same annotator and item replaces an earlier one.
    """
    raw = _read_table(path)
    _need(raw, path, {"item-col": item_col, "annotator-col": annotator_col, "label-col": label_col})
    df = raw[[item_col, annotator_col, label_col]].set_axis(["item", "annotator", "label"], axis=1)
    empty = (df == "").any(axis=1).to_numpy()
    if empty.any():
        lines = (np.flatnonzero(empty)[:5] + 2).tolist()
        raise InvalidInput(
            f"{path}: {int(empty.sum())} row(s) with an empty item, annotator or label "
            f"(lines {lines}); fill or remove them"
        )
    return latest_judgements(df)


def dataset_hash(df: pd.DataFrame) -> str:
    """Order-independent fingerprint of a judgement frame (which data a run saw)."""
    rows = sorted(zip(df["item"].astype(str), df["annotator"].astype(str), df["label"].astype(str)))
    h = hashlib.sha256()
    for r in rows:
        h.update("\x1f".join(r).encode("utf-8") + b"\x1e")
    return h.hexdigest()


# -- agreement ------------------------------------------------------------------------------


def agreement_report(
    j: Judgements, *, level: str, n_boot: int = 1000, seed: int = 0, confidence: float = 0.95
) -> dict[str, Any]:
    """Agreement coefficients with bootstrap confidence intervals over items.

    A coefficient that does not apply to the data is not silently dropped: ``left_out``
    says which and why (Fleiss' kappa needs the same number of judgements on every item).
    """
    from truthset.quality import agreement_ci, pairwise_cohen_kappa, per_label_agreement

    if level not in LEVELS:
        raise InvalidInput(f"--level {level!r}: use one of {', '.join(LEVELS)}")
    df = j.frame
    if df.empty:
        raise InvalidInput("there are no annotations to compare; import or annotate first")
    out: dict[str, Any] = {**j.summary(), "level": level, "confidence": confidence, "metrics": [], "left_out": []}
    per_item = df.groupby("item", sort=False)["annotator"].size()
    out["items_with_2plus"] = int((per_item >= 2).sum())
    wanted = ["percent_agreement", "krippendorff_alpha", "randolph_kappa"]
    if per_item.nunique() == 1:
        wanted.insert(1, "fleiss_kappa")
    else:
        out["left_out"].append(
            {
                "metric": "fleiss_kappa",
                "reason": f"items have unequal numbers of judgements ({int(per_item.min())} to "
                f"{int(per_item.max())}); Fleiss' kappa needs the same number on every item. "
                "Krippendorff's alpha and Randolph's kappa allow it.",
            }
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name in wanted:
            opts = {"level": level} if name == "krippendorff_alpha" else {}
            ci = agreement_ci(name, df, n_boot=n_boot, confidence=confidence, seed=seed, **opts)
            out["metrics"].append(
                {"metric": name, "value": _f(ci.value), "ci_low": _f(ci.ci_low), "ci_high": _f(ci.ci_high)}
            )
        if level == "nominal":
            per_label = per_label_agreement(df)
            out["per_label"] = [
                {"label": str(rec.pop("label")), **{c: _plain(v) for c, v in rec.items()}}
                for rec in per_label.rename_axis("label").reset_index().to_dict("records")
            ]
            pair = pairwise_cohen_kappa(df)
            vals = pair.to_numpy()[~np.eye(len(pair), dtype=bool)]
            vals = vals[~np.isnan(vals)]
            out["pairwise_cohen_kappa"] = {
                "pairs": int(len(vals) // 2),
                "mean": _f(vals.mean()) if len(vals) else None,
                "min": _f(vals.min()) if len(vals) else None,
                "max": _f(vals.max()) if len(vals) else None,
            }
    out["warnings"] = (
        j.set_aside_warning()
        + [f"{x['metric']} left out: {x['reason']}" for x in out["left_out"]]
        + sorted({str(w.message) for w in caught})
    )
    return out


def _plain(v: Any) -> Any:
    """numpy scalars as plain JSON values (NaN as null)."""
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, str):
        return v
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


def aggregate(
    j: Judgements, method: str, *, gold: Any = None, clamp_gold: bool = False, seed: int = 0
) -> tuple[Any, dict[str, Any]]:
    """Fit an aggregator; report it beside majority vote (and against gold when given).

    ``gold`` is a :class:`truthset.services.gold.GoldLabels` (or None). Gold labels are used
    only to evaluate, unless ``clamp_gold`` (Dawid-Skene models): then they are fixed
    during fitting, and the accuracy on gold says nothing about held-out items.
    """
    from truthset.quality import gold_accuracy

    df = j.frame
    if df.empty:
        raise InvalidInput("there are no annotations to aggregate; import or annotate first")
    if clamp_gold and method not in ("ds", "onecoin"):
        raise InvalidInput("--clamp-gold works with --method ds or onecoin")
    truth = None
    if gold is not None:
        truth = gold.judged(df, what="compare the consensus with")
    model = make_model(method, seed=seed)
    fit_gold = truth if clamp_gold and truth is not None else None
    model.fit(df, gold=fit_gold) if fit_gold is not None else model.fit(df)
    labels = model.labels_
    majority = model.majority_labels_ if hasattr(model, "majority_labels_") else labels
    per_item = df.groupby("item", sort=False)["annotator"].size()
    single = int((per_item == 1).sum())
    report: dict[str, Any] = {
        **j.summary(),
        "method": method,
        "estimator": type(model).__name__,
        "agreement_with_majority": _f((labels == majority.reindex(labels.index)).mean()),
        "iterations": int(getattr(model, "n_iter_", 0) or 0),
        "gold_used_in_fit": fit_gold is not None,
        "items_single_judgement": single,
    }
    warn = j.set_aside_warning()
    if single == len(per_item):
        warn.append(
            "every item has a single judgement: the consensus only copies it, and annotator "
            "reliability cannot be estimated without overlap. Have items judged by 2+ annotators "
            "(queue.overlap in truthset.yaml) before aggregating."
        )
    elif single:
        warn.append(f"{single:,} of {len(per_item):,} items have a single judgement: their consensus is that judgement")
    if gold is not None and truth is not None:
        report.update(gold.summary())
        common = labels.index.intersection(truth.index)
        true = truth.loc[common].astype(str)
        report["gold_items"] = int(len(common))
        report["accuracy"] = _f((labels.loc[common].astype(str) == true).mean())
        report["majority_accuracy"] = _f((majority.loc[common].astype(str) == true).mean())
        report["annotators_on_gold"] = int((gold_accuracy(df, truth)["n_gold"] > 0).sum())
        warn += gold.warnings()
    skills = model.skills_.sort_values()
    report["annotators_least_reliable"] = [{"annotator": str(a), "skill": _f(s)} for a, s in skills.head(10).items()]
    report["warnings"] = warn
    return model, report


def store_consensus(
    project: Project, model: Any, method: str, df: pd.DataFrame, report: dict[str, Any], *, seed: int
) -> int:
    """Record a QC run and its consensus label per item; returns the run id."""
    posterior = model.probas_.max(axis=1)
    config = {
        "method": method,
        "estimator": type(model).__name__,
        "params": {k: repr(v) for k, v in getattr(model, "get_params", dict)().items()},
    }
    labels = [
        (int(item), json.dumps(str(label), ensure_ascii=False), float(posterior.loc[item]))
        for item, label in model.labels_.items()
    ]
    with project.store.write() as tx:
        return repo_quality.add_consensus_run(
            tx,
            project.id,
            method=method,
            config=config,
            dataset_hash=dataset_hash(df),
            seed=seed,
            metrics=report,
            labels=labels,
        )


# -- acceptance sampling --------------------------------------------------------------------


def batch_item_ids(project: Project, batch: int) -> list[int]:
    """The ids of the items import batch ``batch`` added, in id order; an error if none."""
    with project.store.read() as tx:
        ids = repo_quality.batch_item_ids(tx, project.id, batch)
    if not ids:
        raise InvalidInput(f"batch {batch} added no items to this project; see 'truthset status' for batches")
    return ids


def draw_sample(ids: Sequence[int], n: int, *, seed: int) -> list[int]:
    """A seeded simple random sample of ``n`` ids (all of them when ``n`` >= the batch)."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(ids), size=min(n, len(ids)), replace=False)
    return sorted(int(ids[i]) for i in pick)
