"""truthset.data: readers, profiling, duplicates, leakage and drift (pure functions over arrays and
frames).

The public names below are imported on first use (PEP 562), so ``from truthset.data import
readers`` on the import path does not pay for pandas, scipy and the duplicate checks.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "AnnotatorDrift": "label_drift",
    "ColumnDrift": "drift",
    "DriftReport": "drift",
    "DriftThresholds": "drift",
    "LabellingDrift": "label_drift",
    "drift_report": "drift",
    "labelling_drift": "label_drift",
    "prediction_drift": "label_drift",
    "Clusters": "clusters",
    "DuplicateReport": "duplicates",
    "exact_duplicates": "duplicates",
    "near_duplicates": "duplicates",
    "normalize_texts": "duplicates",
    "cosine_knn": "embeddings",
    "embed_texts": "embeddings",
    "embedding_neighbours": "embeddings",
    "load_sentence_model": "embeddings",
    "SplitLeakage": "leakage",
    "identifier_leakage": "leakage",
    "split_leakage": "leakage",
    "estimate_jaccard": "minhash",
    "exact_jaccard": "minhash",
    "lsh_candidates": "minhash",
    "minhash_signatures": "minhash",
    "optimal_bands": "minhash",
    "shingle_hashes": "minhash",
}

__all__ = [
    "AnnotatorDrift",
    "Clusters",
    "ColumnDrift",
    "DriftReport",
    "DriftThresholds",
    "DuplicateReport",
    "LabellingDrift",
    "SplitLeakage",
    "cosine_knn",
    "drift_report",
    "embed_texts",
    "embedding_neighbours",
    "estimate_jaccard",
    "exact_duplicates",
    "exact_jaccard",
    "identifier_leakage",
    "labelling_drift",
    "load_sentence_model",
    "lsh_candidates",
    "minhash_signatures",
    "near_duplicates",
    "normalize_texts",
    "optimal_bands",
    "prediction_drift",
    "shingle_hashes",
    "split_leakage",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'truthset.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"truthset.data.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
