"""``truthset profile``: a first look at a project's raw data (EDA), as numbers and one page.

Per payload field: its type, missing values, distinct values and the most common ones; for
text, the length distribution, empty and whitespace-only texts, mojibake and control
characters (:mod:`truthset.data.profile`) and likely truncation; for numbers, a summary and a
histogram; and the label distribution with its imbalance, overall and per import batch. The
dict is what ``--json`` prints and what :func:`truthset.reports.render_profile` draws.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pandas as pd

from truthset.services.projects import Project
from truthset.store.repo import findings as repo_findings

TOP = 10
EXAMPLES = 5
#: rows sharing one maximal length (a field cut at a fixed size) before they count as truncated
TRUNCATION_MIN_ROWS = 3


#: writing systems told apart by the profile (a language detector is not a dependency): the
#: mix still shows a batch in another script, or texts with no letters at all
SCRIPTS = {
    "Latin": "A-Za-z\u00c0-\u024f",
    "Cyrillic": "\u0400-\u04ff",
    "Greek": "\u0370-\u03ff",
    "Arabic": "\u0600-\u06ff",
    "Hebrew": "\u0590-\u05ff",
    "Devanagari": "\u0900-\u097f",
    "CJK": "\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af",
}


def _scripts(texts: pd.Series) -> dict[str, int]:
    """Texts by their dominant writing system (most letters), ``no letters`` when none."""
    counts = pd.DataFrame({name: texts.str.count(f"[{chars}]") for name, chars in SCRIPTS.items()})
    top = counts.idxmax(axis=1).where(counts.max(axis=1) > 0, "no letters")
    return {str(k): int(v) for k, v in top.value_counts().items()}


def _lengths(values: pd.Series) -> dict[str, Any]:
    from truthset.data.profile import has_control_chars, has_mojibake

    texts = values.astype(str)
    lengths = texts.str.len().to_numpy()
    counts, edges = np.histogram(lengths, bins=min(30, max(1, len(set(lengths.tolist())))))
    stripped = texts.str.strip()
    top_len = int(lengths.max())
    at_max = int((lengths == top_len).sum())
    moj = texts[texts.map(has_mojibake)]
    ctl = texts[texts.map(has_control_chars)]
    return {
        "length": {
            "min": int(lengths.min()),
            "median": float(np.median(lengths)),
            "mean": float(lengths.mean()),
            "p95": float(np.percentile(lengths, 95)),
            "max": top_len,
        },
        "length_histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
        "empty": int((texts == "").sum()),
        "whitespace_only": int(((stripped == "") & (texts != "")).sum()),
        "mojibake": len(moj),
        "control_chars": len(ctl),
        "truncated": at_max if at_max >= TRUNCATION_MIN_ROWS and top_len > 20 else 0,
        "languages": _scripts(texts),
        "examples": {
            "mojibake": [{"id": str(i), "text": t[:200]} for i, t in moj.head(EXAMPLES).items()],
            "control_chars": [
                {"id": str(i), "text": t[:200].encode("unicode_escape").decode()} for i, t in ctl.head(EXAMPLES).items()
            ],
        },
    }


def _column(name: str, values: pd.Series, text_field: str) -> dict[str, Any]:
    present = values.dropna()
    hashable = present.map(lambda v: json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v)
    out: dict[str, Any] = {
        "name": name,
        "missing": int(len(values) - len(present)),
        "distinct": int(hashable.nunique()),
        "top_values": {str(k): int(v) for k, v in Counter(hashable).most_common(TOP)},
    }
    numeric = present.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
    strings = present.map(lambda v: isinstance(v, str))
    if len(present) and numeric.all():
        x = present.astype(float).to_numpy()
        counts, edges = np.histogram(x, bins=30)
        out["type"] = "numeric"
        out["numeric"] = {
            "min": float(x.min()),
            "p25": float(np.percentile(x, 25)),
            "median": float(np.median(x)),
            "mean": float(x.mean()),
            "p75": float(np.percentile(x, 75)),
            "max": float(x.max()),
            "std": float(x.std()),
            "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
        }
    elif len(present) and strings.all() and (name == text_field or present.str.len().mean() > 30):
        out["type"] = "text"
        out["text"] = _lengths(present)
    else:
        out["type"] = "categorical" if strings.all() else "mixed"
    return out


def _imbalance(counts: dict[str, int]) -> float | None:
    vals = [v for v in counts.values() if v]
    return max(vals) / min(vals) if vals else None


def profile_project(project: Project) -> dict[str, Any]:
    """The profile of every payload field and of the labels (overall and per batch)."""
    from truthset.services.check_data import load_check_data

    with project.store.read() as tx:
        rows = repo_findings.item_payload_batches(tx, project.id)
        # the file's name: where it sat on this machine is nobody's business in a shared report
        batches = {int(b): f"#{b} {PurePath(src).name}" for b, src in repo_findings.batch_sources(tx, project.id)}
    frame = pd.DataFrame.from_records(
        [json.loads(p) for _, _, _, p in rows], index=[ext if ext is not None else str(i) for i, ext, _, _ in rows]
    )
    columns = [_column(str(c), frame[c], project.config.text_field) for c in frame.columns]
    data = load_check_data(project)
    labels = pd.Series(data.labels, index=data.item_ids)
    batch_of = pd.Series([b for _, _, b, _ in rows], index=[i for i, _, _, _ in rows])
    labelled = labels.dropna()
    overall = {str(k): int(v) for k, v in labelled.value_counts().items()}
    by_batch = []
    for b, group in labelled.groupby(batch_of.reindex(labelled.index).fillna(-1).astype(int), sort=True):
        c = {str(k): int(v) for k, v in group.value_counts().items()}
        by_batch.append(
            {
                "batch": batches.get(int(b), "pushed through the API") if b >= 0 else "no batch",
                "counts": c,
                "imbalance": _imbalance(c),
            }
        )
    return {
        "dataset": project.config.name,
        "n_rows": len(rows),
        "columns": columns,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "labels": {
            "column": "label (current)",
            "overall": overall,
            "by_batch": by_batch,
            "imbalance": _imbalance(overall),
            "labelled_items": len(labelled),
        }
        if overall
        else None,
    }


def write_profile(profile: dict[str, Any], path: Path | str) -> Path:
    """Render the profile page (HTML with inline SVG plots) to ``path``."""
    from truthset.reports import render_profile

    out = Path(path)
    out.write_text(render_profile(profile), encoding="utf-8")
    return out
