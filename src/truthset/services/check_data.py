"""The data checks over a project's texts and labels: duplicates, conflicts, near duplicates,
leakage across splits, label errors, consensus quality and outliers.

Each check takes the :class:`CheckData` read once by :func:`load_check_data` (only the text
field, the split and the current labels, never whole payloads), calls the pure algorithm in
:mod:`truthset.data` or :mod:`truthset.quality`, and returns its report entry and findings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from truthset.data.mapping import JUDGEMENT_SOURCES
from truthset.services.projects import Project
from truthset.store.repo import findings as repo_findings
from truthset.store.repo import quality as repo_quality
from truthset.store.repo.findings import NewFinding

#: versions of the checks: a change in what a check flags bumps it, so findings (and the
#: verdicts that measure precision) of the old and new versions are kept apart
VERSIONS = {
    "exact_duplicates": "1",
    "label_conflicts": "1",
    "near_duplicates": "1",
    "leakage": "1",
    "identifier_leakage": "1",
    "label_issues": "1",
    "consensus": "1",
    "outliers": "1",
    "semantic_duplicates": "1",
}
#: near-duplicate Jaccard threshold (character 5-gram shingles, punctuation removed)
NEAR_THRESHOLD = 0.8
#: cosine similarity of sentence embeddings at which two texts are paraphrases
SEMANTIC_THRESHOLD = 0.9
#: items above which the paraphrase check is skipped (embedding them on a CPU takes about a
#: millisecond each; the exact cosine kNN is blocked, so memory stays bounded)
MAX_SEMANTIC_ITEMS = 200_000
#: items above which the outlier check (exact kNN, quadratic) is skipped
MAX_OUTLIER_ITEMS = 50_000
#: share of items with several annotations flagged by the consensus check: the least certain
#: consensus labels (CROWDLAB ranks; the ensemble's probabilities are compressed, e.g. all of
#: RTE's lie in [0.50, 0.64], so no fixed probability separates right from wrong consensus)
CONSENSUS_SHARE = 0.1
MAX_EXAMPLES = 10

Result = tuple[dict[str, Any], list[NewFinding]]


@dataclass
class CheckData:
    """What the checks read: per item (in id order) its id, external id, split, text and
    current label; ``judgements`` the current judgements (item, annotator, label)."""

    item_ids: np.ndarray
    names: list[str]
    splits: list[str | None]
    texts: list[str]
    labels: list[str | None]
    judgements: pd.DataFrame
    _oof: pd.DataFrame | None = field(default=None, repr=False)
    _where: dict[str, int] | None = field(default=None, repr=False)

    def position(self, item_id: int) -> int:
        """The position of a store item id (``item_ids`` is in id order)."""
        return int(np.searchsorted(self.item_ids, item_id))

    def positions(self, names: Any) -> np.ndarray:
        """Positions of the items named (external ids, as the pure checks return them)."""
        if self._where is None:
            self._where = {n: i for i, n in enumerate(self.names)}
        return np.array([self._where[n] for n in names], dtype=np.int64)

    def example(self, pos: int, **extra: Any) -> dict[str, Any]:
        text = self.texts[pos]
        return {
            "id": self.names[pos],
            "text": text if len(text) <= 200 else text[:199] + "…",
            "label": self.labels[pos],
            **extra,
        }


def _current_labels(judged: pd.DataFrame, adjudicated: pd.DataFrame) -> dict[int, str]:
    """Each item's label: a reviewer's latest adjudication, else the most common of the
    annotators' latest labels (a tie goes to the label given last)."""
    out: dict[int, str] = {}
    if len(judged):
        last = judged.drop_duplicates(["item", "annotator"], keep="last").reset_index(drop=True)
        last["order"] = np.arange(len(last))
        agg = last.groupby(["item", "label"], sort=False).agg(n=("order", "size"), at=("order", "max")).reset_index()
        agg = agg.sort_values(["item", "n", "at"]).drop_duplicates("item", keep="last")
        out.update(zip(agg["item"].astype(int), agg["label"].astype(str)))
    if len(adjudicated):
        out.update(adjudicated.drop_duplicates("item", keep="last").set_index("item")["label"].astype(str).to_dict())
    return out


def load_check_data(project: Project) -> CheckData:
    """The text field, split and labels of every item, read in one transaction."""
    field_name = project.config.text_field
    with project.store.read() as tx:
        rows = repo_findings.item_fields(tx, project.id, [field_name, "split"])
        # not gold answers given as annotations: findings are listed to reviewers, and a
        # finding's detail (a consensus or suggested label) must not carry a gold answer
        judged = repo_quality.labelled_judgements(tx, project.id, JUDGEMENT_SOURCES, with_gold=False)
        adjudicated = repo_quality.labelled_judgements(tx, project.id, ("review",), with_gold=False)
    cols = ["item", "annotator", "label"]
    jf = pd.DataFrame([(i, a, lab) for i, a, lab, _ in judged], columns=cols)
    af = pd.DataFrame([(i, a, lab) for i, a, lab, _ in adjudicated], columns=cols)
    current = _current_labels(jf, af)
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    return CheckData(
        item_ids=ids,
        names=[r[1] if r[1] is not None else str(r[0]) for r in rows],
        splits=[r[2] if r[2] is not None else r[4] for r in rows],
        texts=[r[3] or "" for r in rows],
        labels=[current.get(int(i)) for i in ids],
        judgements=jf.drop_duplicates(["item", "annotator"], keep="last").reset_index(drop=True),
    )


def _entry(
    check: str,
    severity: str,
    title: str,
    count: int,
    message: str,
    what_to_do: str,
    examples: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    return {
        "check": check,
        "check_version": VERSIONS[check],
        "kind": check,
        "severity": severity,
        "count": count,
        "items": count,
        "title": title,
        "message": message,
        "what_to_do": what_to_do,
        "examples": examples[:MAX_EXAMPLES],
        **extra,
    }


def _skipped(check: str, title: str, why: str) -> Result:
    return _entry(check, "info", title, 0, f"not run: {why}", "", [], skipped=why), []


def _cluster_findings(d: CheckData, frame: pd.DataFrame, kind: str, severity: str) -> list[NewFinding]:
    out = []
    for _, group in frame.groupby("cluster", sort=True):
        pos = d.positions(group["item"])
        items = [int(d.item_ids[p]) for p in pos]
        out.append(
            NewFinding(
                kind=kind,
                severity=severity,
                key=",".join(map(str, sorted(items)))[:200],
                items=items,
                score=float(len(items)),
                detail={"ids": [d.names[p] for p in pos[:50]], "size": len(items)},
            )
        )
    return out


def _cluster_examples(d: CheckData, frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for _, group in list(frame.groupby("cluster", sort=True))[:MAX_EXAMPLES]:
        pos = d.positions(group["item"])
        others = ", ".join(d.names[p] for p in pos[1:6]) + (" …" if len(pos) > 6 else "")
        labels = sorted({str(d.labels[p]) for p in pos if d.labels[p] is not None})
        out.append(d.example(int(pos[0]), score=len(pos), detail=f"also {others}; labels: {', '.join(labels) or '-'}"))
    return out


def exact_duplicates(d: CheckData) -> tuple[Result, Result, Any]:
    """Same normalised text under different ids; and those copies with different labels."""
    from truthset.data.duplicates import exact_duplicates as find

    report = find(d.texts, labels=d.labels, ids=d.names)
    frame = report.frame()
    dup = frame[frame["distinct_ids"] > 1]
    s = report.summary()
    dup_entry = _entry(
        "exact_duplicates",
        "warning",
        "Same text under different ids",
        len(dup),
        f"{s['clusters_with_distinct_ids']:,} texts appear under two or more ids ({s['extra_copies']:,} extra copies)",
        "Keep one copy of each text (the first is the representative); copies inflate counts and leak between splits.",
        _cluster_examples(d, dup),
        clusters=s["clusters_with_distinct_ids"],
        extra_copies=s["extra_copies"],
    )
    conflicts = report.conflicts()
    conf_entry = _entry(
        "label_conflicts",
        "error",
        "Same text, different labels",
        len(conflicts),
        f"{s['conflict_clusters']:,} duplicated texts carry two or more labels",
        "Send them to review: at least one label of each group is wrong, or the guideline leaves the case open.",
        _cluster_examples(d, conflicts),
        clusters=s["conflict_clusters"],
    )
    return (
        (dup_entry, _cluster_findings(d, dup, "duplicate", "warning")),
        (conf_entry, _cluster_findings(d, conflicts, "conflict", "error")),
        report,
    )


def _variant_clusters(
    d: CheckData,
    report: Any,
    exact: Any,
    *,
    check: str,
    kind: str,
    title: str,
    message: str,
    what_to_do: str,
    threshold: float,
) -> Result:
    """The clusters of ``report`` (near or semantic duplicates) that hold at least two distinct
    texts, i.e. are not just exact copies (those are the exact check's), as one report entry
    and one finding per cluster. ``message`` is completed with the number of clusters."""
    from truthset.data.clusters import distinct_per_cluster

    variants = distinct_per_cluster(report.clusters, exact.clusters.cluster)
    frame = report.frame()
    frame = frame[variants[frame["cluster"].to_numpy()] > 1]
    n_clusters = int(frame["cluster"].nunique())
    return (
        _entry(
            check,
            "warning",
            title,
            len(frame),
            f"{n_clusters:,} {message}",
            what_to_do,
            _cluster_examples(d, frame),
            clusters=n_clusters,
            threshold=threshold,
        ),
        _cluster_findings(d, frame, kind, "warning"),
    )


def near_duplicates(d: CheckData, exact: Any) -> Result:
    """Clusters of texts that differ by small edits (MinHash + LSH), other than exact copies."""
    from truthset.data.duplicates import near_duplicates as find

    report = find(d.texts, threshold=NEAR_THRESHOLD, labels=d.labels, ids=d.names)
    return _variant_clusters(
        d,
        report,
        exact,
        check="near_duplicates",
        kind="near_duplicate",
        title="Near-duplicate texts",
        message=f"clusters of texts that differ only by small edits (Jaccard >= {NEAR_THRESHOLD} on character 5-grams)",
        what_to_do="Check whether they are the same datum; keep one per cluster, or split by cluster.",
        threshold=NEAR_THRESHOLD,
    )


def semantic_duplicates(d: CheckData, exact: Any, model: Any = None) -> Result:
    """Paraphrases: clusters of texts whose sentence embeddings are close (cosine kNN), other
    than exact copies. Needs the ``[embeddings]`` extra (the packaged all-MiniLM-L6-v2 model);
    without it the check is reported as not run, naming the install. ``model``: any object with
    sentence-transformers' ``encode`` (the packaged model by default)."""
    from truthset.core.errors import MissingDependency
    from truthset.data.embeddings import embed_texts, embedding_neighbours, load_sentence_model

    title = "Paraphrases (sentence embeddings)"
    if len(d.texts) > MAX_SEMANTIC_ITEMS:
        return _skipped("semantic_duplicates", title, f"more than {MAX_SEMANTIC_ITEMS:,} items")
    try:
        encoder = model if model is not None else load_sentence_model()
    except MissingDependency as exc:
        return _skipped("semantic_duplicates", title, str(exc))
    report = embedding_neighbours(
        embed_texts(d.texts, model=encoder), threshold=SEMANTIC_THRESHOLD, labels=d.labels, ids=d.names
    )
    return _variant_clusters(
        d,
        report,
        exact,
        check="semantic_duplicates",
        kind="semantic_duplicate",
        title=title,
        message=f"clusters of texts that say the same in other words (cosine >= {SEMANTIC_THRESHOLD} between sentence embeddings)",
        what_to_do="Check whether they are the same datum told twice; keep one per cluster, or split by cluster.",
        threshold=SEMANTIC_THRESHOLD,
    )


def leakage(d: CheckData, exact: Any) -> Result:
    """Exact duplicates that sit in two or more splits (a split column or the payload's split)."""
    from truthset.data.leakage import split_leakage

    title = "Duplicates across splits"
    if not any(s is not None for s in d.splits):
        return _skipped("leakage", title, "the items have no split (a split column or a 'split' field)")
    leak = split_leakage(None, d.splits, report=exact, labels=d.labels, ids=d.names)
    frame = leak.frame
    n_clusters = int(frame["cluster"].nunique()) if len(frame) else 0
    return (
        _entry(
            "leakage",
            "error",
            title,
            len(frame),
            f"{n_clusters:,} texts appear in more than one split",
            "Move every copy into one split (or drop the copies) before evaluating a model.",
            _cluster_examples(d, frame),
            clusters=n_clusters,
            matrix={
                str(k): {str(c): int(v) for c, v in row.items()} for k, row in leak.matrix.to_dict("index").items()
            },
        ),
        _cluster_findings(d, frame, "leakage", "error"),
    )


def _oof(d: CheckData) -> tuple[pd.DataFrame | None, str]:
    """Out-of-fold probabilities of the labelled items (TF-IDF + LR), or why there are none."""
    if d._oof is not None:
        return d._oof, ""
    from truthset.modeling.oof import out_of_fold_probabilities

    pos = [i for i, lab in enumerate(d.labels) if lab is not None]
    labels = pd.Series([d.labels[i] for i in pos], index=d.item_ids[pos])
    counts = labels.value_counts()
    if len(counts) < 2 or counts.min() < 2:
        return None, "needs two or more labels with at least two labelled items each"
    d._oof = out_of_fold_probabilities([d.texts[i] for i in pos], labels, cv=int(min(5, counts.min())))
    return d._oof, ""


def label_issues(d: CheckData) -> Result:
    """Items whose label is probably wrong: confident learning on out-of-fold probabilities."""
    from truthset.quality.label_issues import find_label_issues

    title = "Probable label errors"
    probs, why = _oof(d)
    if probs is None:
        return _skipped("label_issues", title, why)
    given = pd.Series([d.labels[i] for i in range(len(d.labels)) if d.labels[i] is not None], index=probs.index)
    res = find_label_issues(given, probs)
    flagged = res[res["is_issue"]].sort_values("label_quality")
    found = [
        NewFinding(
            kind="label_issue",
            severity="warning",
            key=str(int(i)),
            items=[int(i)],
            score=float(r.label_quality),
            detail={"suggested_label": str(r.suggested_label)},
        )
        for i, r in flagged.iterrows()
    ]
    ex = [
        d.example(d.position(int(i)), score=round(float(r.label_quality), 4), detail=f"suggested: {r.suggested_label}")
        for i, r in flagged.head(MAX_EXAMPLES).iterrows()
    ]
    return (
        _entry(
            "label_issues",
            "warning",
            title,
            len(flagged),
            f"{len(flagged):,} of {len(res):,} labelled items look mislabelled (confident learning, "
            "out-of-fold TF-IDF + logistic regression)",
            "Send them to review (truthset check --send-to-review label_issues); the lowest scores first.",
            ex,
        ),
        found,
    )


def consensus(d: CheckData) -> Result:
    """Items whose consensus label is doubtful, from several annotators and the model (CROWDLAB)."""
    from truthset.quality.consensus import consensus_quality

    title = "Doubtful consensus labels"
    j = d.judgements
    if not len(j) or j.groupby("item").size().max() < 2:
        return _skipped("consensus", title, "no item has two or more annotations")
    probs, _ = _oof(d)
    labels = sorted(j["label"].astype(str).unique())
    if probs is not None:
        probs = probs.reindex(columns=labels, fill_value=0.0)
        probs = probs.loc[probs.index.isin(j["item"])]
        j = j[j["item"].isin(probs.index)]
    cq = consensus_quality(j[["item", "annotator", "label"]], probs, labels=labels).items
    multi = cq[cq["num_annotations"] >= 2]
    cut = float(multi["consensus_quality"].quantile(CONSENSUS_SHARE)) if len(multi) else 0.0
    flagged = multi[multi["consensus_quality"] <= cut].sort_values("consensus_quality")
    found = [
        NewFinding(
            kind="consensus",
            severity="warning",
            key=str(int(i)),
            items=[int(i)],
            score=float(r.consensus_quality),
            detail={"consensus_label": str(r.consensus_label)},
        )
        for i, r in flagged.iterrows()
    ]
    ex = [
        d.example(
            d.position(int(i)),
            score=round(float(r.consensus_quality), 4),
            detail=f"consensus {r.consensus_label}, agreement {r.annotator_agreement:.0%}",
        )
        for i, r in flagged.head(MAX_EXAMPLES).iterrows()
    ]
    return (
        _entry(
            "consensus",
            "warning",
            title,
            len(flagged),
            f"{len(flagged):,} of {len(multi):,} items with several annotations have the least certain "
            f"consensus (quality <= {cut:.3f}, the lowest {CONSENSUS_SHARE:.0%}; annotators and model "
            "together, CROWDLAB)",
            "Adjudicate them in review, lowest quality first.",
            ex,
            threshold=cut,
        ),
        found,
    )


def outliers(d: CheckData) -> Result:
    """Items far from all others (mean cosine distance to the 10 nearest, TF-IDF)."""
    from truthset.quality.outliers import outlier_scores

    title = "Outliers"
    if len(d.texts) < 3:
        return _skipped("outliers", title, "needs three or more items")
    if len(d.texts) > MAX_OUTLIER_ITEMS:
        return _skipped("outliers", title, f"more than {MAX_OUTLIER_ITEMS:,} items (exact kNN is quadratic)")
    res = outlier_scores(d.texts)
    res.index = range(len(res))
    flagged = res[res["is_outlier"]].sort_values("knn_distance", ascending=False)
    found = [
        NewFinding(
            kind="outlier",
            severity="info",
            key=str(int(d.item_ids[p])),
            items=[int(d.item_ids[p])],
            score=float(r.outlier_score),
            detail={"knn_distance": float(r.knn_distance)},
        )
        for p, r in flagged.iterrows()
    ]
    ex = [
        d.example(int(p), score=round(float(r.knn_distance), 4), detail="mean cosine distance to 10 nearest")
        for p, r in flagged.head(MAX_EXAMPLES).iterrows()
    ]
    return (
        _entry(
            "outliers",
            "info",
            title,
            len(flagged),
            f"{len(flagged):,} items are far from all others (kNN distance above Q3 + 1.5 IQR)",
            "Look at them: off-topic text, another language or a parsing accident.",
            ex,
        ),
        found,
    )


def item_checks(d: CheckData, wanted: Callable[[str], bool]) -> list[tuple[str, Result]]:
    """Run the wanted checks (by name); returns (check name, result) in report order."""
    out: list[tuple[str, Result]] = []
    exact_res = None
    if any(
        wanted(k) for k in ("exact_duplicates", "label_conflicts", "near_duplicates", "semantic_duplicates", "leakage")
    ):
        dup, conf, exact_res = exact_duplicates(d)
        out += [(k, r) for k, r in (("exact_duplicates", dup), ("label_conflicts", conf)) if wanted(k)]
    if wanted("near_duplicates"):
        out.append(("near_duplicates", near_duplicates(d, exact_res)))
    if wanted("semantic_duplicates"):
        out.append(("semantic_duplicates", semantic_duplicates(d, exact_res)))
    if wanted("leakage"):
        out.append(("leakage", leakage(d, exact_res)))
    for name, fn in (("label_issues", label_issues), ("consensus", consensus), ("outliers", outliers)):
        if wanted(name):
            out.append((name, fn(d)))
    return out


#: payload fields (besides the text and the split) the identifier check reads at most
MAX_ID_FIELDS = 20


def identifier_leakage(project: Project, d: CheckData) -> Result:
    """Identifier-like columns (the external id, id-like payload fields) that predict the label:
    ids assigned in label order, file names such as ``spam_0042.txt``."""
    import json

    from truthset.data.leakage import identifier_leakage as find

    title = "Identifiers that give the label away"
    skip = {project.config.text_field, "split"}
    with project.store.read() as tx:
        keys = list(
            dict.fromkeys(
                k for p in repo_findings.sample_payloads(tx, project.id) for k in json.loads(p) if k not in skip
            )
        )[:MAX_ID_FIELDS]
        rows = repo_findings.item_fields(tx, project.id, keys) if keys else []
    frame = pd.DataFrame({"label": d.labels})
    if any(n != str(i) for n, i in zip(d.names, d.item_ids)):
        frame["external_id"] = d.names
    for k, key in enumerate(keys):
        frame[key] = [r[3 + k] for r in rows]
    if frame["label"].nunique() < 2 or frame.shape[1] < 2:
        return _skipped("identifier_leakage", title, "needs two or more labels and an id column or field")
    res = find(frame, "label")
    leaks = res[res["leaks"]]
    found = [
        NewFinding(
            kind="leakage",
            severity="error",
            key=str(r.column),
            items=[],
            score=float(r.gain_fraction),
            detail={"column": str(r.column), "view": str(r.view), "p_value": float(r.p_value)},
        )
        for r in leaks.itertuples()
    ]
    ex = [
        {
            "id": str(r.column),
            "score": round(float(r.gain_fraction), 3),
            "detail": f"its {r.view} predicts the label (p = {float(r.p_value):.3f})",
        }
        for r in leaks.itertuples()
    ]
    return (
        _entry(
            "identifier_leakage",
            "error",
            title,
            len(leaks),
            f"{len(leaks)} of {len(res)} columns are identifiers that predict the label",
            "Drop the column from the features (and re-assign ids that follow the label) before training.",
            ex,
            columns=res.assign(p_value=res["p_value"].astype(float)).to_dict("records"),
        ),
        found,
    )
