"""Model card content: the Mitchell et al. sections from a run's facts, caveats derived."""

from __future__ import annotations

from truthset.modeling import evaluate, model_card

SECTIONS = [
    "model_details",
    "intended_use",
    "factors",
    "metrics",
    "evaluation_data",
    "training_data",
    "quantitative_analyses",
    "ethical_considerations",
    "caveats_and_recommendations",
]


def test_card_sections_and_derived_caveats() -> None:
    ev = evaluate([0, 1, 1, 0, 1, 0, 1, 1], [0, 1, 0, 0, 1, 1, 1, 1], n_boot=200)
    slices = [{"slice": "short", "n_test": 50, "macro_f1": 0.4, "macro_f1_ci_high": 0.5}]
    buckets = {
        "n_errors": 4,
        "buckets": [{"bucket": "likely_label_error", "count": 2}, {"bucket": "class_confusion", "count": 2}],
    }
    card = model_card(
        name="spam-baseline",
        task="text-classification",
        model="tfidf+logreg",
        metrics=ev.metrics,
        slices=slices,
        error_buckets=buckets,
        seed=0,
        training_data={"n_items": 100, "labels": "consensus"},
        dataset_hash="abc",
    )
    assert list(card["sections"]) == SECTIONS
    values = {r["metric"]: r for r in card["sections"]["metrics"]["values"]}
    assert values["accuracy"]["value"] == ev.metrics["accuracy"]
    assert values["macro_f1"]["ci_low"] == ev.metrics["macro_f1_ci_low"]
    caveats = " ".join(card["sections"]["caveats_and_recommendations"])
    assert "only 8 items" in caveats
    assert "slice 'short'" in caveats
    assert "label errors or ambiguous" in caveats
    assert "intended_use" in card["missing"] and "training_data" not in card["missing"]
    assert card["sections"]["model_details"]["dataset_hash"] == "abc"
