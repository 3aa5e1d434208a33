"""Gold answers: read them from a file or the project, match them to items, check annotators.

A gold file names items the way the user does -- by the id column of the file they imported
(the item's *external id*), or by truthset's item id when asked (``by="item_id"``). Every
row is accounted for: rows that match no item are counted and shown, and a gold file that
matches no item at all is an error, never an empty result.

The pass rule is explicit: ``point`` compares the accuracy (or span F1) itself with the
threshold, ``lower`` / ``upper`` a bound of its confidence interval (Wilson for accuracy,
bootstrap for span F1). Annotators who judged no gold item were not tested.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.services.projects import Project
from truthset.services.qc import Judgements, _need, _plain, _read_table
from truthset.services.qc_spans import SpanJudgements, span_frame
from truthset.store.repo import items as repo_items
from truthset.store.repo import quality as repo_quality

GOLD_KEYS = ("external_id", "item_id")
EXAMPLES = 5


@dataclass
class GoldLabels:
    """True labels matched to the items QC works on.

    ``labels`` is indexed like the judgement frame's ``item`` column. ``rows`` is how many
    distinct items the gold source lists, ``unmatched`` how many of them match no item.
    """

    labels: pd.Series
    source: str
    rows: int
    unmatched: int = 0
    unmatched_examples: list[str] = field(default_factory=list)
    by: str = "external_id"

    def summary(self) -> dict[str, Any]:
        return {
            "gold_source": self.source,
            "gold_rows": self.rows,
            "gold_matched": self.rows - self.unmatched,
            "gold_unmatched": self.unmatched,
        }

    def warnings(self) -> list[str]:
        if not self.unmatched:
            return []
        return [
            f"{self.source}: {self.unmatched:,} of {self.rows:,} gold rows match no item "
            f"(by {self.by}, e.g. {self.unmatched_examples}); they are left out"
        ]

    def judged(self, frame: pd.DataFrame, *, what: str) -> pd.Series:
        """The gold labels of items that have a judgement; an error when there are none."""
        judged = self.labels[self.labels.index.isin(frame["item"].unique())]
        if judged.empty:
            raise InvalidInput(
                f"{self.source}: {self.rows - self.unmatched:,} gold item(s) match, but none of them has a "
                f"judgement, so there is nothing to {what}. Annotate the gold items (or import their "
                "judgements) first."
            )
        return judged


def read_gold_file(path: Path, *, item_col: str, label_col: str) -> pd.Series:
    """A gold CSV/TSV as item id (text) -> true label, one row per item.

    Repeated rows that agree are one (e.g. a per-judgement file with a gold column); rows
    that give one item two labels are an error naming the lines.
    """
    raw = _read_table(path)
    _need(raw, path, {"gold-item-col": item_col, "gold-label-col": label_col})
    df = raw[[item_col, label_col]].set_axis(["item", "label"], axis=1)
    empty = (df == "").any(axis=1).to_numpy()
    if empty.any():
        lines = (np.flatnonzero(empty)[:5] + 2).tolist()
        raise InvalidInput(
            f"{path}: {int(empty.sum())} gold row(s) with an empty item or label (lines {lines}); fill or remove them"
        )
    df = df.drop_duplicates()
    clash = df["item"].duplicated(keep=False).to_numpy()
    if clash.any():
        lines = (df.index[clash][:6] + 2).tolist()
        raise InvalidInput(
            f"{path}: {int(df.loc[clash, 'item'].nunique())} item(s) have two different gold "
            f"labels (lines {lines}); keep one true label per item"
        )
    if df.empty:
        raise InvalidInput(f"{path}: no gold rows; the file has only a header")
    return pd.Series(df["label"].to_numpy(), index=pd.Index(df["item"].to_numpy(), dtype=object), name="gold")


def match_gold(
    raw: pd.Series,
    source: str,
    *,
    project: Project | None,
    judgements: Judgements | None = None,
    by: str = "external_id",
) -> GoldLabels:
    """Match a gold file's ids to the items: a project's (by external id or item id) or a file's.

    Raises ``InvalidInput`` when no row matches, saying how the ids differ and what to do.
    """
    if by not in GOLD_KEYS:
        raise InvalidInput(f"--gold-by {by!r}: use one of {', '.join(GOLD_KEYS)}")
    ids = raw.index.astype(str)
    if project is None:
        if judgements is None:
            raise InvalidInput("match_gold needs a project or the answers' judgements")
        known = pd.Index(judgements.frame["item"].astype(str).unique())
        target = pd.Series(ids, index=ids).where(ids.isin(known))
        where, sample = "of the answers file", known[:3].tolist()
    elif by == "external_id":
        with project.store.read() as tx:
            pairs = repo_quality.external_ids(tx, project.id)
        lookup = pd.Series([i for i, _ in pairs], index=pd.Index([e for _, e in pairs], dtype=object), dtype=object)
        lookup = lookup[~lookup.index.duplicated()]
        target = pd.Series(lookup.reindex(ids).to_numpy(), index=ids)
        where, sample = "of this project by external id", lookup.index[:3].tolist()
        if not pairs:
            where += " (its items have no external id: import them with --id-col)"
    else:
        numeric = pd.to_numeric(pd.Series(ids, index=ids), errors="coerce")
        with project.store.read() as tx:
            known_ids = pd.Index(repo_quality.item_ids(tx, project.id))
        target = numeric.where(numeric.isin(known_ids))
        where, sample = "of this project by item id", known_ids.sort_values()[:3].tolist()
    hit = target.notna().to_numpy()
    missing = ids[~hit]
    if not hit.any():
        raise InvalidInput(
            f"{source}: none of its {len(ids):,} gold rows matches an item {where}: gold ids look like "
            f"{missing[:3].tolist()}, item ids like {sample}. "
            + (
                "Pass --gold-by item_id if the file holds truthset item ids, or import the items with "
                "--id-col naming the column the gold file uses."
                if project is not None and by == "external_id"
                else "Check --gold-item-col and the id column."
            )
        )
    labels = pd.Series(raw.to_numpy()[hit], index=pd.Index(target.to_numpy()[hit], dtype=object), name="gold")
    labels = labels[~labels.index.duplicated()]
    if project is not None:
        labels.index = labels.index.astype(np.int64)
    return GoldLabels(
        labels,
        source,
        rows=len(ids),
        unmatched=int(len(missing)),
        unmatched_examples=missing[:EXAMPLES].tolist(),
        by=by if project is not None else "item",
    )


def project_gold(project: Project, *, required: bool = True) -> GoldLabels | None:
    """The project's stored gold labels (single-label tasks); None if it has none and not ``required``."""
    with project.store.read() as tx:
        rows = repo_quality.gold_labels(tx, project.id)
    labels = pd.Series({i: lab for i, lab in rows if lab is not None}, name="gold", dtype=object)
    if labels.empty and not required:
        return None
    if labels.empty:
        raise InvalidInput(
            "this project has no gold labels: import a Label Studio export with ground truth, or pass --gold FILE"
        )
    return GoldLabels(labels, "the project's gold items", rows=len(labels), by="item_id")


def project_gold_spans(project: Project) -> tuple[pd.DataFrame, list[int]]:
    """NER gold: the true spans and every gold item (some have no span at all)."""
    with project.store.read() as tx:
        rows = repo_items.gold_answers(tx, project.id)
    if not rows:
        raise InvalidInput(
            "this project has no gold spans: import a Label Studio export whose ground-truth annotations hold them"
        )
    spans = span_frame(
        [(i, s["start"], s["end"], s["label"]) for i, v in rows for s in json.loads(v)],
        ["item", "start", "end", "label"],
    )
    return spans, [int(i) for i, _ in rows]


def _verdicts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by = {s: [r["annotator"] for r in rows if r["status"] == s] for s in ("passed", "failed", "not tested")}
    return {
        "tested": len(by["passed"]) + len(by["failed"]),
        "n_passed": len(by["passed"]),
        "n_failed": len(by["failed"]),
        "n_not_tested": len(by["not tested"]),
        "failed": by["failed"],
        "not_tested": by["not tested"],
    }


def _rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {"annotator": str(rec.pop("annotator")), **{k: _plain(v) for k, v in rec.items()}}
        for rec in table.rename_axis("annotator").reset_index().to_dict("records")
    ]


def gold_report(
    j: Judgements, gold: GoldLabels, *, threshold: float, rule: str = "point", confidence: float = 0.95
) -> dict[str, Any]:
    """Each annotator's accuracy on gold with a Wilson interval and passed / failed / not tested."""
    from truthset.quality import gold_accuracy, gold_confusion

    frame = j.frame if j.ground_truth is None else j.frame.loc[~j.ground_truth]
    on_gold = gold.labels.index.isin(frame["item"].unique())
    if not on_gold.any() and gold.labels.index.isin(j.frame["item"].unique()).any():
        raise InvalidInput(
            f"{gold.source}: the gold items' only judgements are the gold answers themselves "
            "(Label Studio ground truth), so no annotator can be checked; have others "
            "annotate the gold items first"
        )
    truth = gold.judged(frame, what="check")
    table = gold_accuracy(frame, truth, threshold=threshold, confidence=confidence, rule=rule)  # type: ignore[arg-type]
    # annotators whose only judgements are the gold answers themselves were not tested either
    table = table.reindex(pd.Index(j.frame["annotator"].unique(), name="annotator").sort_values())
    table[["n_gold", "correct"]] = table[["n_gold", "correct"]].fillna(0).astype(np.int64)
    table["status"] = table["status"].fillna("not tested")
    rows = _rows(table)
    confusion = gold_confusion(frame, truth)
    return {
        **j.summary(),
        **gold.summary(),
        "gold_items": int(len(truth)),
        "threshold": threshold,
        "rule": rule,
        "confidence": confidence,
        **_verdicts(rows),
        "annotators": rows,
        "confusion_labels": [str(c) for c in confusion.columns],
        "warnings": j.set_aside_warning() + gold.warnings(),
    }


def gold_span_report(
    sj: SpanJudgements,
    gold_spans: pd.DataFrame,
    gold_items: list[int],
    *,
    threshold: float,
    rule: str = "point",
    match: Literal["exact", "overlap"] = "exact",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """NER: each annotator's span F1 against gold, with a bootstrap interval over their gold items.

    Annotations that are themselves the gold answer (Label Studio ground truth) are left out.
    """
    from truthset.quality import gold_span_f1
    from truthset.quality.reliability import PASS_RULES

    if rule not in PASS_RULES:
        raise InvalidInput(f"--rule {rule!r}: use one of {', '.join(PASS_RULES)}")
    cov, spans = sj.coverage, sj.spans
    if sj.ground_truth is not None and sj.ground_truth.any():
        truth_pairs = pd.MultiIndex.from_frame(cov.loc[sj.ground_truth])
        spans = spans[~pd.MultiIndex.from_frame(spans[["item", "annotator"]]).isin(truth_pairs)]
        cov = cov.loc[~sj.ground_truth]
    if not cov["item"].isin(gold_items).any():
        raise InvalidInput(
            f"none of the {len(gold_items):,} gold items has an annotation to check "
            "(other than the gold answer itself); annotate them first"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = gold_span_f1(
            spans,
            gold_spans,
            match=match,
            coverage=cov,
            gold_items=gold_items,
            n_boot=n_boot,
            confidence=confidence,
            seed=seed,
        )
    table = table.reindex(pd.Index(sj.coverage["annotator"].unique()).sort_values())
    table[["n_gold", "spans", "gold_spans"]] = table[["n_gold", "spans", "gold_spans"]].fillna(0)
    basis = table[{"point": "f1", "lower": "ci_low", "upper": "ci_high"}[rule]].to_numpy(dtype=float)
    tested = table["n_gold"].to_numpy() > 0
    ok = np.nan_to_num(basis, nan=-1.0) >= threshold
    table["status"] = np.where(tested, np.where(ok, "passed", "failed"), "not tested")
    rows = _rows(table)
    return {
        "items": int(sj.coverage["item"].nunique()),
        "annotators": rows,
        "gold_items": len(gold_items),
        "match": match,
        "threshold": threshold,
        "rule": rule,
        "confidence": confidence,
        "metric": "span_f1",
        **_verdicts(rows),
        "set_aside": sj.set_aside,
        "warnings": sorted({str(w.message) for w in caught}),
    }
