"""NER: BIO spans, span-level P/R/F1 (exact and overlap), CRF and logistic regression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from truthset.core.errors import InvalidInput
from truthset.modeling import (
    bio_from_spans,
    fit_ner,
    ner_baseline,
    predict_ner,
    span_scores,
    spans_from_tags,
    token_features,
)
from truthset.quality import span_f1


def test_spans_from_bio_tags() -> None:
    tags = [["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC"], ["I-PER", "B-ORG", "I-PER"], []]
    got = spans_from_tags(tags).values.tolist()
    assert got == [
        [0, 0, 2, "PER"],
        [0, 3, 5, "LOC"],
        [0, 5, 6, "LOC"],
        [1, 0, 1, "PER"],
        [1, 1, 2, "ORG"],
        [1, 2, 3, "PER"],
    ]
    assert spans_from_tags([]).empty and spans_from_tags([["O"]]).empty


def test_span_scores_hand_computed() -> None:
    """True: PER 0-2, LOC 4-5 (s0); ORG 0-1 (s1). Pred: PER 0-1 (overlap only), LOC 4-5
    (exact), ORG 2-3 (wrong, s1). Exact: P 1/3, R 1/3. Overlap: P 2/3, R 2/3."""
    true = [["B-PER", "I-PER", "O", "O", "B-LOC"], ["B-ORG", "O", "O"]]
    pred = [["B-PER", "O", "O", "O", "B-LOC"], ["O", "O", "B-ORG"]]
    r = span_scores(true, pred, n_boot=200)
    assert r["exact_precision"] == pytest.approx(1 / 3) and r["exact_recall"] == pytest.approx(1 / 3)
    assert r["overlap_f1"] == pytest.approx(2 / 3)
    assert r["n_true_spans"] == r["n_pred_spans"] == 3 and r["n_test"] == 2
    assert r["exact_f1_ci_low"] <= r["exact_f1_ci_high"]
    per = {d["label"]: d for d in r["per_label"]}
    assert per["LOC"]["f1"] == 1.0 and per["PER"]["f1"] == 0.0


def test_exact_span_f1_agrees_with_quality_span_f1() -> None:
    rng = np.random.default_rng(0)
    labels = ["O", "B-A", "I-A", "B-B", "I-B"]
    true = [list(rng.choice(labels, rng.integers(1, 12))) for _ in range(80)]
    pred = [[t if rng.random() < 0.7 else str(rng.choice(labels)) for t in s] for s in true]

    def frame(tags: list[list[str]]) -> pd.DataFrame:
        s = spans_from_tags(tags).rename(columns={"sentence": "item"})
        return s.assign(annotator="x")

    ours = span_scores(true, pred, n_boot=0)["exact_f1"]
    assert ours == pytest.approx(span_f1(frame(true), frame(pred), match="exact"))


def _corpus(n: int, seed: int) -> tuple[list[list[str]], list[list[str]]]:
    rng = np.random.default_rng(seed)
    first = ["Anna", "Omar", "Li", "Sara", "Jon", "Eva"]
    last = ["Smith", "Khan", "Wong", "Berg", "Diaz"]
    cities = ["Paris", "Lagos", "Lima", "Oslo", "Hanoi"]
    sents, tags = [], []
    for _ in range(n):
        who = [str(rng.choice(first)), str(rng.choice(last))]
        city = str(rng.choice(cities))
        verb = str(rng.choice(["visited", "left", "loves"]))
        filler = list(rng.choice(["today", "again", "quietly", "with", "friends"], 2))
        sents.append([*who, verb, city, *filler, "."])
        tags.append(["B-PER", "I-PER", "O", "B-LOC", "O", "O", "O"])
    return sents, tags


@pytest.mark.parametrize("algorithm", ["crf", "logreg"])
def test_ner_baselines_learn_spans(algorithm: str) -> None:
    sents, tags = _corpus(200, 0)
    model = fit_ner(ner_baseline(algorithm=algorithm, seed=0), sents[:150], tags[:150])
    pred = predict_ner(model, sents[150:])
    assert [len(p) for p in pred] == [len(s) for s in sents[150:]]
    r = span_scores(tags[150:], pred, n_boot=100)
    assert r["exact_f1"] > 0.95
    again = predict_ner(fit_ner(ner_baseline(algorithm=algorithm, seed=0), sents[:150], tags[:150]), sents[150:])
    assert again == pred


def test_ner_weights_and_errors() -> None:
    sents, tags = _corpus(40, 1)
    model = fit_ner(ner_baseline(algorithm="logreg"), sents, tags, sample_weight=np.ones(40))
    assert len(predict_ner(model, sents[:2])) == 2
    with pytest.raises(InvalidInput, match="one tag per token"):
        fit_ner(ner_baseline(algorithm="logreg"), [["a", "b"]], [["O"]])
    with pytest.raises(InvalidInput, match="algorithm must be"):
        ner_baseline(algorithm="hmm")
    with pytest.raises(InvalidInput, match="cannot weight"):
        fit_ner(ner_baseline(), sents, tags, sample_weight=np.ones(40))


def test_crf_missing_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from truthset.core.errors import MissingDependency

    monkeypatch.setitem(sys.modules, "sklearn_crfsuite", None)  # import now fails
    with pytest.raises(MissingDependency, match=r"pip install 'truthset\[ner\]'"):
        ner_baseline(algorithm="crf")


def test_token_features_carry_context() -> None:
    f = token_features([["Hello", "big", "World"]])[0]
    assert f[0]["w-1"] == "BOS" and f[0]["w+1"] == "big" and f[0]["shape"] == "title"
    assert f[2]["w+1"] == "EOS" and f[2]["w-2"] == "hello"


def test_bio_from_character_spans() -> None:
    texts = ["Anna Smith lives in New York.", "No names here"]
    spans = pd.DataFrame({"item": [0, 0, 0], "start": [0, 20, 22], "end": [10, 28, 24], "label": ["PER", "LOC", "X"]})
    tokens, tags = bio_from_spans(texts, spans)
    assert tokens[0] == ["Anna", "Smith", "lives", "in", "New", "York", "."]
    assert tags[0] == ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O"]  # X overlaps LOC
    assert tags[1] == ["O", "O", "O"]
    with pytest.raises(InvalidInput, match="lacks column"):
        bio_from_spans(texts, spans.drop(columns="label"))


def test_crf_on_real_label_studio_ner(datasets: object) -> None:
    """LEOKA (130 police reports, 10 entity types, 3 annotators): train on annotator 1's spans
    of 100 reports, score on the other 30 against the same annotator and against another one
    (the human ceiling on the same items)."""
    import json

    from tests.conftest import LEOKA

    tasks = json.loads(LEOKA.read_text(encoding="utf-8"))
    texts = [t["data"]["text"] for t in tasks]

    def spans_of(k: int) -> pd.DataFrame:
        rows = [
            {"item": i, "start": r["value"]["start"], "end": r["value"]["end"], "label": r["value"]["labels"][0]}
            for i, t in enumerate(tasks)
            for r in sorted(t["annotations"], key=lambda a: a["id"])[k]["result"]
            if r.get("type") == "labels"
        ]
        return pd.DataFrame(rows)

    tokens, tags = bio_from_spans(texts, spans_of(0))
    _, other = bio_from_spans(texts, spans_of(1))
    model = fit_ner(ner_baseline(seed=0), tokens[:100], tags[:100])
    pred = predict_ner(model, tokens[100:])
    r = span_scores(tags[100:], pred, n_boot=200)
    human = span_scores(tags[100:], other[100:], n_boot=0)
    assert r["n_test"] == 30 and r["n_true_spans"] > 100
    assert r["overlap_f1"] >= r["exact_f1"] > 0.3  # far above the all-"O" model's 0
    assert r["exact_f1_ci_low"] < r["exact_f1"] < r["exact_f1_ci_high"]
    print(
        f"LEOKA exact F1 {r['exact_f1']:.3f} ({r['exact_f1_ci_low']:.3f}-"
        f"{r['exact_f1_ci_high']:.3f}), overlap {r['overlap_f1']:.3f}; "
        f"annotator 2 vs 1: exact {human['exact_f1']:.3f}"
    )


def test_char_spans_invert_bio_from_spans_on_token_boundaries() -> None:
    import pandas as pd

    from truthset.modeling import bio_from_spans, char_spans

    texts = ["Ann Lee met Bob in New York.", "nothing here", "Dr. O'Neil"]
    spans = pd.DataFrame(
        {"item": [0, 0, 0, 2], "start": [0, 12, 19, 4], "end": [7, 15, 27, 10], "label": ["PER", "PER", "LOC", "PER"]}
    )
    _, tags = bio_from_spans(texts, spans)
    out = char_spans(texts, tags)
    assert out[0] == [
        {"start": 0, "end": 7, "label": "PER"},
        {"start": 12, "end": 15, "label": "PER"},
        {"start": 19, "end": 27, "label": "LOC"},
    ]
    assert out[1] == []
    # a span that starts inside a token snaps to the whole tokens it touches ("O'Neil": O ' Neil)
    assert out[2] == [{"start": 4, "end": 10, "label": "PER"}]
    assert [texts[0][s["start"] : s["end"]] for s in out[0]] == ["Ann Lee", "Bob", "New York"]
