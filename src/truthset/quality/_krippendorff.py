"""Krippendorff's alpha and per-label agreement front doors (private; public names
re-exported by ``agreement``)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.quality._alpha import alpha_stats, alpha_stats_from_counts, check_level
from truthset.quality._bootstrap import SufficientStats, UndefinedAgreementWarning
from truthset.quality._frames import (
    alpha_input_from_frame,
    alpha_input_from_matrix,
    frame_codes,
    label_counts,
)
from truthset.quality._kappa import _item_agreement, _warn_undefined

Level = Literal["nominal", "ordinal", "interval", "ratio"]


# --------------------------------------------------------------------------- Krippendorff
def _alpha_stats(
    data: pd.DataFrame | npt.ArrayLike, level: object = None, labels: Sequence[object] | None = None
) -> SufficientStats:
    if level is None:
        raise InvalidInput(
            "krippendorff_alpha needs level= ('nominal', 'ordinal', 'interval' or 'ratio'); "
            "there is no default because the wrong level silently changes the value."
        )
    lvl = check_level(level)
    if isinstance(data, pd.DataFrame):
        unit, values = alpha_input_from_frame(data, lvl, labels)
    else:
        first, second = alpha_input_from_matrix(data, lvl, labels)
        if first.ndim == 2:  # dense item x value counts of a small integer matrix
            return alpha_stats_from_counts(np.asarray(first, dtype=np.float64), second, lvl)
        unit, values = np.asarray(first, dtype=np.int64), second
    return alpha_stats(unit, values, lvl)


def krippendorff_alpha(
    data: pd.DataFrame | npt.ArrayLike,
    *,
    level: Level,
    labels: Sequence[object] | None = None,
) -> float:
    """Krippendorff's alpha for any number of annotators, missing values and 4 levels.

    .. math:: \\alpha = 1 - \\frac{D_o}{D_e} = 1 - (n - 1)
              \\frac{\\sum_u \\frac{1}{m_u - 1} \\sum_{i \\ne j \\in u} \\delta(v_i, v_j)}
                    {\\sum_{i \\ne j} \\delta(v_i, v_j)}

    over the ``n`` values in units (items) with ``m_u >= 2`` values, with
    ``delta`` = ``[a != b]`` (nominal), ``(a - b)^2`` (interval), ``((a - b)/(a + b))^2``
    (ratio) or the squared distance of mid-ranks (ordinal). Equal to the ``krippendorff``
    package's ``alpha`` but computed from per-item sums, without a V x V coincidence
    matrix, so a million distinct continuous values fit in little memory (ratio is
    O(V^2) time in the number V of distinct values).

    Parameters
    ----------
    data : DataFrame or array-like
        The long annotation frame (``item``, ``annotator``, ``label``), or an
        annotators x items matrix with NaN for missing values.
    level : {'nominal', 'ordinal', 'interval', 'ratio'}
        Level of measurement. Required: the wrong level silently changes the value.
    labels : sequence, optional
        Nominal/ordinal only: the labels, in order for ordinal data. Needed for ordinal data
        that are neither numbers nor an ordered categorical.

    Returns
    -------
    float
        1 is perfect reliability, 0 is chance level, negative systematic disagreement.
        Krippendorff suggests alpha >= 0.8 for firm conclusions, >= 0.667 for tentative
        ones. NaN with an ``UndefinedAgreementWarning`` if all pairable values are equal.

    Raises
    ------
    InvalidInput
        Missing or unknown ``level``; no item with two values (e.g. one annotator);
        non-numeric values at interval/ratio level; negative values at ratio level.

    Examples
    --------
    >>> import numpy as np
    >>> nan = np.nan
    >>> data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    ...         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    ...         [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    ...         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
    >>> round(krippendorff_alpha(data, level="nominal"), 3)
    0.743
    >>> round(krippendorff_alpha(data, level="interval"), 3)
    0.849
    """
    value = _alpha_stats(data, level, labels).point()
    return _warn_undefined(value, "Krippendorff's alpha", "all pairable values are equal")


# --------------------------------------------------------------------------- per label
def per_label_agreement(df: pd.DataFrame, *, labels: Sequence[object] | None = None) -> pd.DataFrame:
    """Agreement on each label, one label against the rest.

    For label ``c``, with ``n_uc`` the annotators giving item ``u`` label ``c`` and
    ``m_u`` its judgements (items with ``m_u >= 2``):

    * ``alpha``: nominal Krippendorff alpha of the binary "``c`` or not" judgements,
      ``1 - (n - 1) sum_u 2 n_uc (m_u - n_uc) / (m_u - 1) / (2 n_c (n - n_c))``;
    * ``specific_agreement``: ``sum_u n_uc (n_uc - 1) / sum_u n_uc (m_u - 1)``, the chance
      that another annotator of the same item also said ``c`` when one did (positive
      specific agreement; for two annotators ``2 a / (2 a + b + c)``);
    * ``n_judgements`` and ``prevalence`` (share of all judgements).

    Parameters
    ----------
    df : DataFrame
        Long annotation frame.
    labels : sequence, optional
        Labels to report, in order (unused ones get NaN scores); default: labels seen.

    Returns
    -------
    DataFrame
        Indexed by label. ``alpha`` is NaN (with an ``UndefinedAgreementWarning``) for a
        label never or always used on pairable items; low values point at labels the
        guide should define better.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3], "annotator": list("ababab"),
    ...                    "label": ["x", "x", "y", "y", "x", "y"]})
    >>> per_label_agreement(df)["specific_agreement"].round(3).tolist()
    [0.667, 0.667]
    """
    codes = frame_codes(df, labels=labels)
    all_counts = label_counts(codes)
    n_judgements = np.asarray(all_counts.sum(axis=0)).ravel()
    _, m, counts = _item_agreement(all_counts)
    coo = counts.tocoo()
    k = codes.n_labels
    n_uc, m_u = coo.data, m[coo.row]
    within = np.bincount(coo.col, weights=2.0 * n_uc * (m_u - n_uc) / (m_u - 1.0), minlength=k)
    n_c = np.bincount(coo.col, weights=n_uc, minlength=k)
    n = float(m.sum())
    expected = 2.0 * n_c * (n - n_c)
    pos_pairs = np.bincount(coo.col, weights=n_uc * (n_uc - 1.0), minlength=k)
    pos_total = np.bincount(coo.col, weights=n_uc * (m_u - 1.0), minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(expected > 0, 1.0 - (n - 1.0) * within / expected, np.nan)
        specific = np.where(pos_total > 0, pos_pairs / pos_total, np.nan)
    undefined = np.isnan(alpha)
    if undefined.any():
        warnings.warn(
            f"alpha is undefined for label(s) {list(codes.labels[undefined])[:5]} "
            "(never or always used on items with two judgements); reported as NaN.",
            UndefinedAgreementWarning,
            stacklevel=2,
        )
    return pd.DataFrame(
        {
            "alpha": alpha,
            "specific_agreement": specific,
            "n_judgements": n_judgements.astype(np.int64),
            "prevalence": n_judgements / n_judgements.sum(),
        },
        index=pd.Index(codes.labels, name="label"),
    )
