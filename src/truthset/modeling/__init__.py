"""Baselines as a decision tool: train, evaluate with intervals, compare, sort errors.

Pure layer: arrays and DataFrames in, numbers and frames out; no database, no files, no
clock. Public names load lazily (scikit-learn and friends are imported on first use), so
``import truthset.modeling`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

# ``evaluate`` is both a submodule and its main function. Importing the function here,
# once, binds the package attribute to the function for good (a later
# ``import truthset.modeling.evaluate`` finds the module in sys.modules and leaves the
# attribute alone). It costs numpy, pandas and scipy, not scikit-learn.
from truthset.modeling.evaluate import evaluate

#: public name -> module (under truthset.modeling) that defines it
_LAZY: dict[str, str] = {
    # baselines
    "text_baseline": "baselines",
    "multilabel_baseline": "baselines",
    "image_baseline": "baselines",
    "embedding_baseline": "baselines",
    "fit_baseline": "baselines",
    "predict_proba": "baselines",
    "library_versions": "baselines",
    "ImageFeatures": "images",
    "image_features": "images",
    "SentenceEmbedder": "embeddings",
    "load_sentence_model": "embeddings",
    "ner_baseline": "ner",
    "bio_from_spans": "ner",
    "char_spans": "ner",
    "fit_ner": "ner",
    "predict_ner": "ner",
    "span_scores": "ner",
    "spans_from_tags": "ner",
    "token_features": "ner",
    # splits
    "Split": "splits",
    "stratified_split": "splits",
    "group_split": "splits",
    "time_split": "splits",
    "frozen_test_split": "splits",
    # metrics
    "Evaluation": "evaluate",
    "evaluate_by_slice": "evaluate",
    "evaluate_multilabel": "multilabel",
    "expected_calibration_error": "calibration",
    "reliability_diagram": "calibration",
    "fit_temperature": "calibration",
    "apply_temperature": "calibration",
    "temperature_scaling": "calibration",
    "UndefinedMetricWarning": "_resample",
    # decisions
    "cost_threshold": "costs",
    "expected_cost": "costs",
    "bayes_decisions": "costs",
    "compare_multilabel": "compare",
    "compare_predictions": "compare",
    "mcnemar": "compare",
    "learning_curve": "curve",
    "nested_subsets": "curve",
    "ErrorBuckets": "errors",
    "error_buckets": "errors",
    "BUCKETS": "errors",
    "least_confidence": "active",
    "margin": "active",
    "entropy": "active",
    "uncertainty": "active",
    "rank_by_uncertainty": "active",
    "model_card": "card",
    # the models behind data checks
    "out_of_fold_probabilities": "oof",
    "text_classifier": "oof",
}

__all__ = [
    "BUCKETS",
    "ErrorBuckets",
    "Evaluation",
    "ImageFeatures",
    "SentenceEmbedder",
    "Split",
    "UndefinedMetricWarning",
    "apply_temperature",
    "bayes_decisions",
    "bio_from_spans",
    "char_spans",
    "compare_multilabel",
    "compare_predictions",
    "cost_threshold",
    "embedding_baseline",
    "entropy",
    "error_buckets",
    "evaluate",
    "evaluate_by_slice",
    "evaluate_multilabel",
    "expected_calibration_error",
    "expected_cost",
    "fit_baseline",
    "fit_ner",
    "fit_temperature",
    "frozen_test_split",
    "group_split",
    "image_baseline",
    "image_features",
    "learning_curve",
    "least_confidence",
    "library_versions",
    "load_sentence_model",
    "margin",
    "mcnemar",
    "model_card",
    "multilabel_baseline",
    "ner_baseline",
    "nested_subsets",
    "out_of_fold_probabilities",
    "predict_ner",
    "predict_proba",
    "rank_by_uncertainty",
    "reliability_diagram",
    "span_scores",
    "spans_from_tags",
    "stratified_split",
    "temperature_scaling",
    "text_baseline",
    "text_classifier",
    "time_split",
    "token_features",
    "uncertainty",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'truthset.modeling' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"truthset.modeling.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
