"""Model card content (Mitchell et al. 2019, "Model Cards for Model Reporting", FAT* '19).

:func:`model_card` builds the card's sections as a plain dict from a run's facts; rendering
to HTML or Markdown happens elsewhere (reports). Sections, in the paper's order: model
details, intended use, factors, metrics, evaluation data, training data, quantitative
analyses, ethical considerations, caveats and recommendations. Nothing is invented: a
fact that was not given is listed under ``missing`` so the card says what is unknown.
Caveats are derived from the numbers (small test set, wide intervals, poor calibration,
slices well below the overall score, label noise in the error buckets).
"""

from __future__ import annotations

from typing import Any

__all__ = ["model_card"]

#: Metrics shown in the metrics section, in order, when present.
HEADLINE = (
    "accuracy",
    "subset_accuracy",
    "macro_f1",
    "micro_f1",
    "mcc",
    "roc_auc",
    "pr_auc",
    "ece",
    "f1",
    "precision",
    "recall",
    "exact_f1",
    "overlap_f1",
)


def _metric_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name in HEADLINE:
        if name in metrics and metrics[name] is not None:
            rows.append(
                {
                    "metric": name,
                    "value": metrics[name],
                    "ci_low": metrics.get(f"{name}_ci_low"),
                    "ci_high": metrics.get(f"{name}_ci_high"),
                }
            )
    return rows


def _caveats(
    metrics: dict[str, Any],
    slices: list[dict[str, Any]],
    buckets: dict[str, Any] | None,
    primary: str,
) -> list[str]:
    out = []
    n_test = metrics.get("n_test")
    if isinstance(n_test, (int, float)) and n_test < 200:
        out.append(f"The test set has only {int(n_test)} items; every number here is uncertain.")
    lo, hi = metrics.get(f"{primary}_ci_low"), metrics.get(f"{primary}_ci_high")
    if lo is not None and hi is not None and hi - lo > 0.1:
        out.append(
            f"The 95% interval of {primary} is {hi - lo:.2f} wide; small differences "
            "between models cannot be told apart."
        )
    ece = metrics.get("ece")
    if ece is not None and ece > 0.05:
        out.append(
            f"Probabilities are miscalibrated (ECE {ece:.3f}); apply temperature scaling "
            "before using them as confidences or thresholds."
        )
    overall = metrics.get(primary)
    for s in slices:
        v = s.get(primary)
        if (
            overall is not None
            and v is not None
            and s.get(f"{primary}_ci_high") is not None
            and s[f"{primary}_ci_high"] < overall
        ):
            out.append(
                f"On slice {s.get('slice')!r} ({s.get('n_test')} items) {primary} is "
                f"{v:.3f}, reliably below the overall {overall:.3f}."
            )
    if buckets:
        counts = {b["bucket"]: b["count"] for b in buckets.get("buckets", [])}
        n_err = buckets.get("n_errors") or 0
        noisy = counts.get("likely_label_error", 0) + counts.get("ambiguous", 0)
        if n_err and noisy / n_err >= 0.25:
            out.append(
                f"{noisy} of {n_err} test errors look like label errors or ambiguous "
                "items; the measured score is held down by label quality."
            )
    return out


def model_card(
    *,
    name: str,
    task: str,
    model: str,
    metrics: dict[str, Any],
    version: str | None = None,
    owners: list[str] | None = None,
    description: str | None = None,
    intended_use: str | None = None,
    out_of_scope: str | None = None,
    factors: list[str] | None = None,
    training_data: dict[str, Any] | None = None,
    evaluation_data: dict[str, Any] | None = None,
    slices: list[dict[str, Any]] | None = None,
    error_buckets: dict[str, Any] | None = None,
    calibration: dict[str, Any] | None = None,
    costs: dict[str, Any] | None = None,
    seed: int | None = None,
    library_versions: dict[str, Any] | None = None,
    dataset_hash: str | None = None,
    schema_version: int | str | None = None,
    ethical_considerations: list[str] | None = None,
    caveats: list[str] | None = None,
    primary_metric: str = "macro_f1",
) -> dict[str, Any]:
    """The model card's sections as a dict (see the module docstring).

    ``metrics`` is the flat dict of :func:`~truthset.modeling.evaluate` (``Evaluation.metrics``);
    ``slices`` rows of :func:`~truthset.modeling.evaluate_by_slice`; ``error_buckets`` the
    ``to_dict()`` of :func:`~truthset.modeling.error_buckets`; ``training_data`` /
    ``evaluation_data`` describe the data (e.g. ``n_items``, label source, split
    description). Returns ``{"title", "sections": {...}, "missing": [...]}``.
    """
    given = {
        "version": version,
        "owners": owners,
        "description": description,
        "intended_use": intended_use,
        "out_of_scope": out_of_scope,
        "factors": factors,
        "training_data": training_data,
        "evaluation_data": evaluation_data,
        "ethical_considerations": ethical_considerations,
    }
    missing = sorted(k for k, v in given.items() if not v)
    slices = slices or []
    sections: dict[str, Any] = {
        "model_details": {
            "name": name,
            "version": version,
            "task": task,
            "model": model,
            "owners": owners,
            "description": description,
            "seed": seed,
            "dataset_hash": dataset_hash,
            "schema_version": schema_version,
            "library_versions": library_versions or {},
            "reference": "Mitchell et al. 2019, Model Cards for Model Reporting",
        },
        "intended_use": {"primary_uses": intended_use, "out_of_scope": out_of_scope},
        "factors": {
            "relevant_factors": factors or [],
            "evaluated_slices": sorted({str(s.get("slice")) for s in slices}),
        },
        "metrics": {
            "primary": primary_metric,
            "values": _metric_rows(metrics),
            "intervals": "percentile bootstrap over test items, 95%",
            "decision_threshold": None if not costs else costs.get("threshold"),
            "costs": costs,
        },
        "evaluation_data": {**(evaluation_data or {}), "n_test": metrics.get("n_test")},
        "training_data": training_data or {},
        "quantitative_analyses": {
            "by_slice": slices,
            "calibration": calibration,
            "error_buckets": error_buckets,
        },
        "ethical_considerations": ethical_considerations or [],
        "caveats_and_recommendations": _caveats(metrics, slices, error_buckets, primary_metric) + list(caveats or []),
    }
    return {"title": f"Model card: {name}", "sections": sections, "missing": missing}
