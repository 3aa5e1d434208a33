"""NER quality control on a project: spans per annotator, agreement per annotator pair.

The spans come from each annotator's latest annotation of an item (the earlier ones are
set aside and counted, as in :mod:`truthset.services.qc`); the numbers from
:mod:`truthset.quality` (span F1, token alpha, per-pair span F1 with bootstrap intervals).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.data.mapping import JUDGEMENT_SOURCES
from truthset.services.projects import Project
from truthset.services.qc import _f, _is_ground_truth
from truthset.store.repo import quality as repo_quality


@dataclass
class SpanJudgements:
    """NER judgements, the latest per annotator and item: spans, texts and coverage.

    ``coverage`` lists every (item, annotator) with an annotation, including those that
    marked no span: "no entity here" is a judgement agreement must count.
    ``ground_truth`` is the part of ``coverage`` that is the gold answer itself.
    """

    spans: pd.DataFrame
    texts: pd.Series
    coverage: pd.DataFrame
    set_aside: int = 0
    ground_truth: np.ndarray | None = None


SPAN_COLUMNS = ["item", "annotator", "start", "end", "label"]


def span_frame(rows: list[tuple[Any, ...]], columns: list[str] = SPAN_COLUMNS) -> pd.DataFrame:
    """Spans as a frame with integer offsets, also when there are none."""
    df = pd.DataFrame(rows, columns=columns)
    return df.astype({"start": np.int64, "end": np.int64})


def project_spans(project: Project) -> SpanJudgements:
    """NER: the latest annotation per annotator and item, as spans, texts and coverage."""
    with project.store.read() as tx:
        rows = repo_quality.valued_judgements(tx, project.id, JUDGEMENT_SOURCES)
        payloads = repo_quality.item_payloads(tx, project.id)
    texts = {i: json.loads(p).get(project.config.text_field, "") for i, p in payloads}
    cover = pd.DataFrame([(item, annotator) for item, annotator, _, _ in rows], columns=["item", "annotator"])
    latest = ~cover.duplicated(keep="last").to_numpy()
    kept = [r for r, keep in zip(rows, latest) if keep]
    spans = span_frame(
        [
            (item, annotator, s["start"], s["end"], s["label"])
            for item, annotator, value, _ in kept
            for s in json.loads(value)
        ]
    )
    truth = np.fromiter((_is_ground_truth(meta) for *_, meta in kept), dtype=bool, count=len(kept))
    return SpanJudgements(
        spans,
        pd.Series(texts, name="text", dtype=object),
        cover.loc[latest].reset_index(drop=True),
        int((~latest).sum()),
        truth,
    )


def span_agreement_report(
    sj: SpanJudgements, *, n_boot: int = 1000, seed: int = 0, confidence: float = 0.95
) -> dict[str, Any]:
    """NER agreement: mean span F1 (exact, overlap), token alpha, and every annotator pair.

    The pairs (span F1 with a bootstrap interval over the items both annotated, lowest first)
    show an annotator whose boundaries differ from everyone's, which the mean hides.
    """
    from truthset.quality import pairwise_span_f1_ci, token_alpha

    spans, coverage = sj.spans, sj.coverage
    if spans.empty:
        raise InvalidInput("there are no spans to compare; import or annotate first")
    out: dict[str, Any] = {
        "items": int(coverage["item"].nunique()),
        "spans": int(len(spans)),
        "annotators": int(coverage["annotator"].nunique()),
        "set_aside": sj.set_aside,
        "confidence": confidence,
        "pairs": [],
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for match in ("exact", "overlap"):
            table = pairwise_span_f1_ci(
                spans, match=match, coverage=coverage, n_boot=n_boot, confidence=confidence, seed=seed
            )
            vals = table["f1"].dropna()
            out[f"span_f1_{match}"] = _f(vals.mean()) if len(vals) else None
            out["pairs"] += [
                {
                    "match": match,
                    "annotator_a": str(r.annotator_a),
                    "annotator_b": str(r.annotator_b),
                    "items": int(r.items),
                    "spans_a": int(r.spans_a),
                    "spans_b": int(r.spans_b),
                    "f1": _f(r.f1),
                    "ci_low": _f(r.ci_low),
                    "ci_high": _f(r.ci_high),
                }
                for r in table.itertuples()
            ]
        out["token_alpha"] = _f(token_alpha(spans, sj.texts, coverage=coverage))
    out["warnings"] = (
        [f"{sj.set_aside:,} earlier annotation(s) set aside: only each annotator's latest annotation of an item counts"]
        if sj.set_aside
        else []
    ) + sorted({str(w.message) for w in caught})
    return out
