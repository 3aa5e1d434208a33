"""Gold checks: how often each annotator matches known answers, with a confidence interval.

Gold items are items whose true label is known (hidden from annotators). Every judgement
an annotator gives on a gold item counts once (repeated judgements of the same item count
separately). Accuracy is ``correct / n_gold`` with a Wilson score interval, which behaves
well for small counts and for accuracies near 0 or 1, unlike the normal approximation.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.codes import normalize_annotations
from truthset.core.errors import InvalidInput

__all__ = ["PASS_RULES", "gold_accuracy", "gold_confusion", "wilson_interval"]

FloatArray = npt.NDArray[np.float64]


def wilson_interval(
    successes: npt.ArrayLike, n: npt.ArrayLike, *, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    r"""Two-sided Wilson score interval for a binomial proportion (vectorised).

    .. math::
        \frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n},
        \qquad z = \Phi^{-1}\!\left(1 - \tfrac{1 - \text{confidence}}{2}\right)

    ``n == 0`` gives NaN. Same values as statsmodels' ``proportion_confint(method="wilson")``.

    Examples
    --------
    >>> lo, hi = wilson_interval(8, 10)
    >>> round(float(lo), 3), round(float(hi), 3)
    (0.49, 0.943)
    """
    _check_confidence(confidence)
    x = np.asarray(successes, dtype=np.float64)
    nn = np.asarray(n, dtype=np.float64)
    from scipy.special import ndtri  # here: scipy loads in ~0.1 s, not at import

    z = float(ndtri(1 - (1 - confidence) / 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / nn
        denom = 1 + z**2 / nn
        center = (p + z**2 / (2 * nn)) / denom
        half = z * np.sqrt(p * (1 - p) / nn + z**2 / (4 * nn**2)) / denom
    return center - half, center + half


def _check_confidence(confidence: float) -> None:
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise InvalidInput(f"confidence must be a number strictly between 0 and 1 (e.g. 0.95); got {confidence!r}.")


def _join_gold(df: pd.DataFrame, gold: pd.Series) -> pd.DataFrame:
    if not isinstance(gold, pd.Series):
        raise InvalidInput(
            f"gold must be a pandas Series indexed by item with the true label as value; got "
            f"{type(gold).__name__}. Build it with gold_df.set_index('item')['label']."
        )
    if gold.index.has_duplicates:
        dup = gold.index[gold.index.duplicated()].unique()[:5].tolist()
        raise InvalidInput(f"gold has several labels for item(s) {dup}; keep one true label per item.")
    norm_df = normalize_annotations(df)[["item", "annotator", "label"]]
    true = gold.dropna().reindex(norm_df["item"].to_numpy()).to_numpy()
    out = norm_df.assign(true_label=true)
    return out[pd.notna(out["true_label"])]


#: How ``passed`` is decided from an annotator's accuracy on gold (see :func:`gold_accuracy`).
PASS_RULES = ("point", "lower", "upper")


def gold_accuracy(
    df: pd.DataFrame,
    gold: pd.Series,
    *,
    threshold: float = 0.8,
    confidence: float = 0.95,
    rule: Literal["point", "lower", "upper"] = "point",
) -> pd.DataFrame:
    """Per-annotator accuracy on gold items with a Wilson interval and a pass/fail verdict.

    Parameters
    ----------
    df : DataFrame
        Annotations (``item, annotator, label``; or ``task, worker, label``).
    gold : Series
        Item -> true label. Items not in ``df`` are ignored.
    threshold : float, default 0.8
        Required accuracy.
    confidence : float, default 0.95
        Two-sided confidence of the interval.
    rule : {"point", "lower", "upper"}, default "point"
        What the threshold is compared with: ``"point"`` -- the point estimate,
        ``accuracy >= threshold`` (3 of 4 correct passes at 0.7 although the interval is
        0.30-0.95); ``"lower"`` -- the interval's lower bound, ``ci_low >= threshold``
        (pass only when confidently good: strict with few gold items); ``"upper"`` -- the
        upper bound, ``ci_high >= threshold`` (fail only when confidently bad).

    Returns
    -------
    DataFrame indexed by annotator (every annotator in ``df``) with columns ``n_gold``,
    ``correct``, ``accuracy``, ``ci_low``, ``ci_high``, ``passed`` (nullable boolean) and
    ``status`` (``"passed"``, ``"failed"`` or ``"not tested"``). Annotators with no gold
    judgement were not tested: ``n_gold = 0``, NaN accuracy and interval, ``passed`` NA --
    no evidence is neither a pass nor a fail.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1, 2, 3, 1, 2, 3, 4], "annotator": list("xxxyyyz"),
    ...                    "label": ["a", "b", "a", "a", "a", "a", "b"]})
    >>> res = gold_accuracy(df, pd.Series({1: "a", 2: "b", 3: "a"}))
    >>> res[["n_gold", "correct", "status"]].to_dict("index")  # doctest: +NORMALIZE_WHITESPACE
    {'x': {'n_gold': 3, 'correct': 3, 'status': 'passed'},
     'y': {'n_gold': 3, 'correct': 2, 'status': 'failed'},
     'z': {'n_gold': 0, 'correct': 0, 'status': 'not tested'}}
    """
    _check_confidence(confidence)
    if not (isinstance(threshold, (int, float)) and 0 <= threshold <= 1):
        raise InvalidInput(f"threshold must be an accuracy in [0, 1]; got {threshold!r}.")
    if rule not in PASS_RULES:
        raise InvalidInput(
            f"rule must be 'point' (the accuracy), 'lower' or 'upper' (a bound of its interval); got {rule!r}."
        )
    annotators = pd.Index(pd.unique(normalize_annotations(df)["annotator"]), name="annotator")
    joined = _join_gold(df, gold)
    hit = (joined["label"].to_numpy() == joined["true_label"].to_numpy()).astype(np.int64)
    grouped = pd.DataFrame({"annotator": joined["annotator"].to_numpy(), "hit": hit}).groupby("annotator")["hit"]
    n_gold = grouped.size().reindex(annotators, fill_value=0).astype(np.int64)
    correct = grouped.sum().reindex(annotators, fill_value=0).astype(np.int64)
    n = n_gold.to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(n > 0, correct.to_numpy() / np.maximum(n, 1), np.nan)
    lo, hi = wilson_interval(correct.to_numpy(), n, confidence=confidence)
    basis = {"point": acc, "lower": lo, "upper": hi}[rule]
    tested = n > 0
    passed = np.nan_to_num(basis, nan=-1.0) >= threshold
    return pd.DataFrame(
        {
            "n_gold": n_gold.to_numpy(),
            "correct": correct.to_numpy(),
            "accuracy": acc,
            "ci_low": lo,
            "ci_high": hi,
            "passed": pd.arrays.BooleanArray(passed & tested, ~tested),
            "status": np.where(tested, np.where(passed, "passed", "failed"), "not tested"),
        },
        index=annotators,
    ).sort_index()


def gold_confusion(df: pd.DataFrame, gold: pd.Series, *, normalize: bool = False) -> pd.DataFrame:
    """Per-annotator confusion against gold: counts of (true label, given label).

    Returns a DataFrame with index (annotator, true_label) and columns observed_label --
    the same layout as the aggregators' ``errors_``. Only annotators with gold judgements
    and true labels they met appear. ``normalize=True`` divides each row by its total.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1, 2, 1, 2], "annotator": list("xxyy"),
    ...                    "label": ["a", "b", "a", "a"]})
    >>> gold_confusion(df, pd.Series({1: "a", 2: "b"})).loc["y"].to_dict("index")
    {'a': {'a': 1, 'b': 0}, 'b': {'a': 1, 'b': 0}}
    """
    joined = _join_gold(df, gold)
    labels = pd.Index(sorted(set(joined["label"]).union(joined["true_label"]), key=lambda v: (str(type(v)), v)))
    table = pd.crosstab([joined["annotator"], joined["true_label"]], joined["label"]).reindex(
        columns=labels, fill_value=0
    )
    table.index.names = ["annotator", "true_label"]
    table.columns.name = "observed_label"
    if normalize:
        return table.div(table.sum(axis=1), axis=0)
    return table
