"""The page model of the model card (``truthset report model-card RUN -o card.html``).

Input: exactly the dict of :func:`truthset.modeling.model_card` -- ``{"title", "sections":
{model_details, intended_use, factors, metrics, evaluation_data, training_data,
quantitative_analyses, ethical_considerations, caveats_and_recommendations}, "missing"}``,
the sections of Mitchell et al. 2019 in the paper's order. Optional extras, as keyword
arguments or inside ``sections.quantitative_analyses``:

* ``evaluation``: :class:`truthset.modeling.Evaluation` or its ``to_dict()`` -- the
  per-class table, the confusion matrix (heat map) and the reliability diagram;
* ``learning_curve``: the dict of :func:`truthset.modeling.learning_curve` -- the curve with
  its band and the plain answer to "would more labels help?".

``quantitative_analyses.calibration`` may be the dict of
:func:`truthset.modeling.temperature_scaling`; its two reliability diagrams are drawn on one
chart. Why: a card is read by people deciding whether to use the model, so every metric
carries its interval, and facts that were not given are named ("Not given") rather than
left out, as the paper asks.
"""

from __future__ import annotations

from typing import Any

from truthset.reports import plots
from truthset.reports._common import Figures, items_of
from truthset.reports._format import as_records, plain, require

#: The card's sections in order, with their headings (Mitchell et al. 2019, section 4).
SECTIONS = (
    ("model_details", "Model details"),
    ("intended_use", "Intended use"),
    ("factors", "Factors"),
    ("metrics", "Metrics"),
    ("evaluation_data", "Evaluation data"),
    ("training_data", "Training data"),
    ("quantitative_analyses", "Quantitative analyses"),
    ("ethical_considerations", "Ethical considerations"),
    ("caveats_and_recommendations", "Caveats and recommendations"),
)


def _confusion(ev: dict[str, Any], figs: Figures) -> Any:
    cm = ev.get("confusion")
    if not isinstance(cm, dict) or not cm.get("matrix"):
        return None
    return figs(
        plots.confusion_heatmap,
        cm["matrix"],
        [str(v) for v in cm.get("labels", [])],
        title="Confusion matrix (test set)",
    )


def _calibration(cal: Any, ev: dict[str, Any], figs: Figures) -> dict[str, Any] | None:
    cal = cal if isinstance(cal, dict) else {}
    diagrams = {
        name: cal[f"reliability_{key}"]
        for key, name in (("before", "before scaling"), ("after", "after scaling"))
        if cal.get(f"reliability_{key}")
    }
    if not diagrams and ev.get("reliability"):
        diagrams = {"": ev["reliability"]}
    if not cal and not diagrams:
        return None
    rows = [
        {
            "what": f"ECE {when}",
            "value": cal.get(f"ece_{when}"),
            "ci_low": cal.get(f"ece_{when}_ci_low"),
            "ci_high": cal.get(f"ece_{when}_ci_high"),
        }
        for when in ("before", "after")
        if f"ece_{when}" in cal
    ]
    rows += [
        {"what": f"log loss {when}", "value": cal[f"nll_{when}"]}
        for when in ("before", "after")
        if f"nll_{when}" in cal
    ]
    settings = {k: cal[k] for k in ("temperature", "n_val", "n_test") if k in cal}
    return {
        "rows": rows,
        "settings": settings,
        "chart": figs(plots.reliability_chart, diagrams, title="Reliability diagram (test set)") if diagrams else None,
    }


def _buckets(eb: Any, figs: Figures) -> dict[str, Any] | None:
    if not isinstance(eb, dict) or "buckets" not in eb:
        return None
    rows = as_records(eb.get("buckets"))
    chart = None
    if any(r.get("count") for r in rows):
        chart = figs(
            plots.bar_chart,
            [r["bucket"] for r in rows],
            [r["count"] for r in rows],
            title="Test errors by bucket",
            xlabel="test errors",
        )
    return {
        "n_errors": eb.get("n_errors"),
        "n_test": eb.get("n_test"),
        "rows": rows,
        "pairs": as_records(eb.get("pairs"))[:10],
        "thresholds": eb.get("thresholds") or {},
        "chart": chart,
    }


def _curve(curve: Any, figs: Figures) -> dict[str, Any] | None:
    if not isinstance(curve, dict) or not curve.get("points"):
        return None
    metric = curve.get("metric", "score")
    points = [{**p, "value": p.get(metric)} for p in as_records(curve["points"])]
    return {
        "metric": metric,
        "points": points,
        "answer": curve.get("answer"),
        "verdict": curve.get("more_labels_help"),
        "rule": curve.get("rule"),
        "chart": figs(plots.learning_curve_chart, curve, title=f"Learning curve: {metric} against training labels"),
    }


def model_card_view(card: Any, *, evaluation: Any = None, learning_curve: Any = None) -> dict[str, Any]:
    """The template context of ``model_card.html`` (see the module docstring)."""
    c = plain(card)
    require(c, ("sections",), "the model card")
    sec = c["sections"]
    require(sec, tuple(k for k, _ in SECTIONS), "the model card's sections")
    qa = sec["quantitative_analyses"] or {}
    ev = plain(evaluation if evaluation is not None else qa.get("evaluation")) or {}
    figs = Figures("card")
    details = dict(sec["model_details"])
    libs = details.pop("library_versions", None) or {}
    metrics = sec["metrics"]
    primary = metrics.get("primary")
    values = [{**r, "primary": r.get("metric") == primary} for r in as_records(metrics["values"])]
    slice_cols = [m for m in (primary, "accuracy") if m and any(m in s for s in as_records(qa.get("by_slice")))]
    intended = sec["intended_use"] or {}
    factors = sec["factors"] or {}
    return {
        "kind": "model-card",
        "kind_name": "model card",
        "title": c.get("title") or f"Model card: {details.get('name')}",
        "subtitle": " · ".join(
            str(x) for x in (details.get("task"), details.get("model"), details.get("version")) if x
        ),
        "generated": c.get("generated"),
        "toc": [(k.replace("_", "-"), title) for k, title in SECTIONS],
        "missing": [m.replace("_", " ") for m in c.get("missing") or []],
        "details": details,
        "libraries": libs,
        "intended": {"primary_uses": intended.get("primary_uses"), "out_of_scope": intended.get("out_of_scope")},
        "factors": {
            "relevant": items_of(factors.get("relevant_factors")),
            "slices": items_of(factors.get("evaluated_slices")),
        },
        "metrics": {
            "rows": values,
            "primary": primary,
            "intervals": metrics.get("intervals"),
            "threshold": metrics.get("decision_threshold"),
            "costs": metrics.get("costs") or {},
        },
        "per_class": as_records(ev.get("per_class")),
        "evaluation_data": sec["evaluation_data"] or {},
        "training_data": sec["training_data"] or {},
        "slices": as_records(qa.get("by_slice")),
        "slice_columns": [("slice", "slice", "text"), ("n_test", "test items", "num")]
        + [(m, m, "ci") for m in slice_cols],
        "calibration": _calibration(qa.get("calibration"), ev, figs),
        "confusion": _confusion(ev, figs),
        "buckets": _buckets(qa.get("error_buckets"), figs),
        "curve": _curve(learning_curve if learning_curve is not None else qa.get("learning_curve"), figs),
        "ethics": items_of(sec["ethical_considerations"]),
        "caveats": items_of(sec["caveats_and_recommendations"]),
    }
