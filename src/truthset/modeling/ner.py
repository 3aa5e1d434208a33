"""NER baseline: a token classifier over token and context features, scored on spans.

Sentences are lists of tokens, tags are BIO (IOB2) strings (``B-PER``, ``I-PER``, ``O``).
Each token becomes a dict of features: the token lower-cased, its 2- and 3-letter prefix
and suffix, its shape (upper, title, digit, punctuation), length, and the lower-cased
tokens and shapes at offsets -2..+2 (``BOS`` / ``EOS`` at the edges).

Two models over the same features:

* ``"crf"`` (default): a linear-chain CRF (sklearn-crfsuite, the ``[ner]`` extra), which also
  learns which tag may follow which;
* ``"logreg"``: ``DictVectorizer`` + logistic regression, one token at a time (no extra
  needed, takes per-token sample weights).

Scoring is on spans, not tokens (a two-token name half found is a miss): ``exact`` counts a
predicted span as right when a true span has the same sentence, start, end and label;
``overlap`` when it shares at least one token with a true span of the same label (recall
likewise from the true spans' side). Intervals come from a bootstrap over sentences.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from truthset.core.errors import InvalidInput, missing_extra
from truthset.modeling._resample import (
    bootstrap,
    check_bootstrap_args,
    draw_counts,
    percentile_interval,
)

__all__ = [
    "bio_from_spans",
    "char_spans",
    "fit_ner",
    "ner_baseline",
    "predict_ner",
    "span_scores",
    "spans_from_tags",
    "token_features",
]

Sentences = list[list[str]]


#: A token is a run of word characters or one other non-space character.
_TOKEN = re.compile(r"\w+|[^\w\s]")


def bio_from_spans(texts: Sequence[str], spans: pd.DataFrame | None = None) -> tuple[Sentences, Sentences]:
    """Tokenise texts and tag each token BIO from character-offset spans.

    ``spans`` has one row per span: ``item`` (position in ``texts``), ``start``, ``end``
    (character offsets, ``end`` exclusive) and ``label`` - the shape of span annotations in
    the store. A token belongs to a span when their characters overlap; where spans overlap,
    the earlier-starting one keeps the token. Returns ``(tokens, tags)``, one list per text.
    """
    tokens: Sentences = []
    tags: Sentences = []
    by_item: dict[int, pd.DataFrame] = {}
    if spans is not None and not spans.empty:
        missing = [c for c in ("item", "start", "end", "label") if c not in spans.columns]
        if missing:
            raise InvalidInput(
                f"spans lacks column(s) {missing}; give item (text position), start, end "
                "(character offsets, end exclusive) and label."
            )
        ordered = spans.sort_values(["item", "start", "end"], kind="mergesort")
        by_item = {int(k): g for k, g in ordered.groupby("item", sort=False)}
    for i, text in enumerate(texts):
        found = list(_TOKEN.finditer(str(text)))
        tokens.append([m.group() for m in found])
        starts = np.fromiter((m.start() for m in found), dtype=np.int64, count=len(found))
        ends = starts + np.fromiter((len(m.group()) for m in found), dtype=np.int64, count=len(found))
        tag = np.full(len(found), "O", dtype=object)
        owner = np.full(len(found), -1, dtype=np.int64)
        group = by_item.get(i)
        for j, (s0, e0, label) in enumerate(
            [] if group is None else group[["start", "end", "label"]].itertuples(index=False)
        ):
            inside = np.flatnonzero((starts < e0) & (ends > s0) & (owner < 0))
            if inside.size:
                owner[inside] = j
                tag[inside] = f"I-{label}"
                tag[inside[0]] = f"B-{label}"
        tags.append(tag.tolist())
    return tokens, tags


def char_spans(texts: Sequence[str], tags: Sentences) -> list[list[dict[str, Any]]]:
    """Character-offset spans ``{start, end, label}`` per text from BIO tags of its tokens.

    The inverse of :func:`bio_from_spans` for the same tokenisation: a span runs from its
    first token's first character to its last token's end (``end`` exclusive), the shape of
    span annotations in the store, so predicted tags can be stored or shown as annotations.
    """
    spans = spans_from_tags(tags)
    offsets = [[(m.start(), m.end()) for m in _TOKEN.finditer(str(t))] for t in texts]
    out: list[list[dict[str, Any]]] = [[] for _ in texts]
    for sent, start, end, label in spans.itertuples(index=False):
        tok = offsets[int(sent)]
        out[int(sent)].append({"start": tok[int(start)][0], "end": tok[int(end) - 1][1], "label": str(label)})
    return out


def _shape(tok: str) -> str:
    if tok.isdigit():
        return "digit"
    if tok.isupper():
        return "upper"
    if tok.istitle():
        return "title"
    if tok.islower():
        return "lower"
    if not any(ch.isalnum() for ch in tok):
        return "punct"
    return "mixed"


def token_features(sentences: Sentences) -> list[list[dict[str, Any]]]:
    """Feature dicts for every token of every sentence (see the module docstring)."""
    out = []
    for sent in sentences:
        low = [str(t).lower() for t in sent]
        shapes = [_shape(str(t)) for t in sent]
        n = len(sent)
        feats = []
        for i, tok in enumerate(sent):
            w = low[i]
            f: dict[str, Any] = {
                "bias": 1.0,
                "w": w,
                "p2": w[:2],
                "p3": w[:3],
                "s2": w[-2:],
                "s3": w[-3:],
                "shape": shapes[i],
                "len": min(len(str(tok)), 12),
            }
            for off in (-2, -1, 1, 2):
                j = i + off
                if 0 <= j < n:
                    f[f"w{off:+d}"], f[f"shape{off:+d}"] = low[j], shapes[j]
                else:
                    f[f"w{off:+d}"] = "BOS" if j < 0 else "EOS"
            feats.append(f)
        out.append(feats)
    return out


def ner_baseline(
    *, algorithm: str = "crf", c: float = 1.0, max_iterations: int = 100, seed: int | None = 0
) -> Pipeline:
    """An unfitted NER pipeline; fit with :func:`fit_ner`, predict with :func:`predict_ner`.

    ``algorithm="crf"`` needs ``pip install 'truthset[ner]'`` (sklearn-crfsuite);
    ``"logreg"`` needs nothing extra. ``c`` is the inverse regularisation strength (the
    CRF's L2 coefficient is ``1 / c``; the CRF's L-BFGS fit is deterministic).
    """
    if algorithm == "logreg":
        return Pipeline(
            [
                ("features", DictVectorizer()),
                ("clf", LogisticRegression(C=c, max_iter=2000, random_state=seed)),
            ]
        )
    if algorithm != "crf":
        raise InvalidInput(f"algorithm must be 'crf' or 'logreg'; got {algorithm!r}.")
    try:
        crfsuite = importlib.import_module("sklearn_crfsuite")
    except ImportError as exc:
        raise missing_extra("sklearn-crfsuite", "ner") from exc
    return Pipeline(
        [
            (
                "clf",
                crfsuite.CRF(
                    algorithm="lbfgs",
                    c1=0.0,
                    c2=1.0 / c,
                    max_iterations=max_iterations,
                    all_possible_transitions=True,
                ),
            )
        ]
    )


def _is_crf(pipeline: Pipeline) -> bool:
    return "features" not in pipeline.named_steps


def _check_tags(sentences: Sentences, tags: Sentences) -> None:
    if len(sentences) != len(tags):
        raise InvalidInput(f"{len(sentences)} sentences but {len(tags)} tag lists.")
    for i, (s, t) in enumerate(zip(sentences, tags, strict=True)):
        if len(s) != len(t):
            raise InvalidInput(f"sentence {i} has {len(s)} tokens but {len(t)} tags; give one tag per token.")


def fit_ner(pipeline: Pipeline, sentences: Sentences, tags: Sentences, *, sample_weight: Any = None) -> Pipeline:
    """Fit an NER pipeline on tokenised sentences and their BIO tags.

    ``sample_weight`` has one weight per sentence (e.g. consensus posterior) and is only
    supported by ``"logreg"`` (CRFsuite has no instance weights).
    """
    _check_tags(sentences, tags)
    feats = token_features(sentences)
    if _is_crf(pipeline):
        if sample_weight is not None:
            raise InvalidInput(
                "the CRF cannot weight sentences; use ner_baseline(algorithm='logreg') for "
                "sample_weight, or drop low-confidence sentences instead."
            )
        return pipeline.fit(feats, [list(t) for t in tags])
    flat_x = [f for sent in feats for f in sent]
    flat_y = [t for sent in tags for t in sent]
    params: dict[str, Any] = {}
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != (len(sentences),) or not np.isfinite(w).all() or (w < 0).any():
            raise InvalidInput(f"sample_weight needs {len(sentences)} finite non-negative numbers, one per sentence.")
        params["clf__sample_weight"] = np.repeat(w, [len(s) for s in sentences])
    return pipeline.fit(flat_x, flat_y, **params)


def predict_ner(pipeline: Pipeline, sentences: Sentences) -> Sentences:
    """Predicted BIO tags, one list per sentence."""
    feats = token_features(sentences)
    if _is_crf(pipeline):
        return [list(t) for t in pipeline.predict(feats)]
    flat = [f for sent in feats for f in sent]
    pred = pipeline.predict(flat) if flat else np.zeros(0, dtype=object)
    bounds = np.cumsum([0] + [len(s) for s in sentences])
    return [list(pred[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def spans_from_tags(tags: Sentences) -> pd.DataFrame:
    """Spans ``(sentence, start, end, label)`` (token offsets, ``end`` exclusive) from BIO tags.

    An ``I-X`` that does not continue an ``X`` span starts a new one (the conlleval rule).
    Vectorised over all tokens: a span starts at a ``B-`` tag, or at an ``I-`` tag whose
    previous token is outside, in another sentence, or of another label.
    """
    lengths = np.fromiter((len(t) for t in tags), dtype=np.int64, count=len(tags))
    flat = pd.Series([str(x) for sent in tags for x in sent], dtype=object)
    cols = ["sentence", "start", "end", "label"]
    if flat.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "label" else np.int64) for c in cols})
    parts = flat.str.partition("-")
    prefix, label = parts[0].to_numpy(), parts[2].to_numpy()
    sentence = np.repeat(np.arange(lengths.size), lengths)
    position = np.arange(flat.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    inside = (prefix == "B") | (prefix == "I")
    same_prev = np.r_[False, (label[1:] == label[:-1]) & inside[:-1]] & (position > 0)
    starts = inside & ((prefix == "B") | ~same_prev)
    span = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    size = np.bincount(span[inside], minlength=first.size)
    return pd.DataFrame(
        {
            "sentence": sentence[first],
            "start": position[first],
            "end": position[first] + size,
            "label": label[first],
        }
    )


def _matched(a: pd.DataFrame, b: pd.DataFrame, match: str) -> npt.NDArray[np.bool_]:
    """For each span of ``a``: does some span of ``b`` match it?"""
    if a.empty or b.empty:
        return np.zeros(len(a), dtype=bool)
    left = a.reset_index(drop=True).assign(_row=np.arange(len(a)))
    if match == "exact":
        hit = left.merge(b, on=["sentence", "start", "end", "label"])["_row"]
    else:
        m = left.merge(b, on=["sentence", "label"], suffixes=("", "_b"))
        hit = m.loc[(m["start"] < m["end_b"]) & (m["start_b"] < m["end"]), "_row"]
    out = np.zeros(len(a), dtype=bool)
    out[hit.to_numpy()] = True
    return out


def span_scores(
    true_tags: Sentences,
    pred_tags: Sentences,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> dict[str, Any]:
    """Span-level precision, recall and F1, exact and overlap, with bootstrap intervals.

    Fields: ``exact_precision``, ``exact_recall``, ``exact_f1``, ``overlap_precision``,
    ``overlap_recall``, ``overlap_f1`` (each with ``_ci_low`` / ``_ci_high``), ``n_true_spans``,
    ``n_pred_spans``, ``n_test`` (sentences), and ``per_label`` (exact P/R/F1 per label).
    """
    check_bootstrap_args(n_boot, confidence)
    _check_tags(true_tags, pred_tags)
    n = len(true_tags)
    if n == 0:
        raise InvalidInput("no sentences given; span scores need at least one sentence.")
    t, p = spans_from_tags(true_tags), spans_from_tags(pred_tags)
    cols = []  # per-sentence counts: pred, true, then matched pred / matched true per match
    for frame in (p, t):
        cols.append(np.bincount(frame["sentence"], minlength=n))
    for match in ("exact", "overlap"):
        cols.append(np.bincount(p["sentence"], weights=_matched(p, t, match), minlength=n))
        cols.append(np.bincount(t["sentence"], weights=_matched(t, p, match), minlength=n))
    counts = np.column_stack(cols).astype(np.float64)  # (n, 6)

    def scores(w: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        c = w @ counts
        out = []
        for j in (2, 4):
            with np.errstate(divide="ignore", invalid="ignore"):
                prec = np.where(c[:, 0] > 0, c[:, j] / c[:, 0], 0.0)
                rec = np.where(c[:, 1] > 0, c[:, j + 1] / c[:, 1], 0.0)
                f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
            out += [prec, rec, f1]
        return np.column_stack(out)

    names = [f"{m}_{s}" for m in ("exact", "overlap") for s in ("precision", "recall", "f1")]
    point = scores(np.ones((1, n)))[0]
    result: dict[str, Any] = {k: float(v) for k, v in zip(names, point, strict=True)}
    if n_boot:
        reps = bootstrap(n, lambda idx: scores(draw_counts(idx, n)), n_boot=n_boot, seed=seed)
        lows, highs = percentile_interval(reps, confidence, what="span F1")
        for k, lo, hi in zip(names, lows, highs, strict=True):
            result[f"{k}_ci_low"], result[f"{k}_ci_high"] = float(lo), float(hi)
    result.update({"n_true_spans": len(t), "n_pred_spans": len(p), "n_test": n})
    hit_p, hit_t = _matched(p, t, "exact"), _matched(t, p, "exact")
    per = pd.DataFrame(
        {
            "n_true": t.groupby("label").size(),
            "n_pred": p.groupby("label").size(),
            "tp_pred": pd.Series(hit_p, index=p["label"]).groupby(level=0).sum(),
            "tp_true": pd.Series(hit_t, index=t["label"]).groupby(level=0).sum(),
        }
    ).fillna(0)
    per["precision"] = np.where(per["n_pred"] > 0, per["tp_pred"] / per["n_pred"].clip(1), 0.0)
    per["recall"] = np.where(per["n_true"] > 0, per["tp_true"] / per["n_true"].clip(1), 0.0)
    den = (per["precision"] + per["recall"]).to_numpy()
    per["f1"] = np.where(den > 0, 2 * per["precision"] * per["recall"] / np.where(den > 0, den, 1), 0.0)
    result["per_label"] = [
        {
            "label": str(lbl),
            "n_true": int(r.n_true),
            "n_pred": int(r.n_pred),
            "precision": float(r.precision),
            "recall": float(r.recall),
            "f1": float(r.f1),
        }
        for lbl, r in per.iterrows()
    ]
    return result
