"""Label quality scores (truthset.quality.label_quality_scores): by hand and on planted flips."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support import noisy
from truthset.core.errors import InvalidInput
from truthset.quality import label_quality_scores
from truthset.quality.label_scores import SCORES, Score


@pytest.mark.parametrize("score", SCORES)
def test_flipped_labels_score_lower(score: Score) -> None:
    from sklearn.metrics import roc_auc_score

    y, p, flipped = noisy(3000, 4, 0.15, 3, sharp=2.5)
    q = label_quality_scores(y, p, method=score)
    assert roc_auc_score(flipped, -q) > 0.9


def test_scores_by_hand() -> None:
    p = np.array([[0.7, 0.2, 0.1], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    y = np.array([1, 0, 0])
    assert label_quality_scores(y, p).tolist() == pytest.approx([0.2, 0.5, 1.0])
    assert label_quality_scores(y, p, method="normalized_margin").tolist() == pytest.approx(
        [(0.2 - 0.7 + 1) / 2, 0.5, 1.0]
    )
    cwe = label_quality_scores(y, p, method="confidence_weighted_entropy")
    h0 = -(0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1)) / np.log(3)
    assert cwe[0] == pytest.approx((0.2 / h0) / (1 + 0.2 / h0))
    assert cwe[2] == 1.0


def test_unknown_method_is_explained() -> None:
    with pytest.raises(InvalidInput, match="method="):
        label_quality_scores([0], [[1.0, 0.0]], method="loss")  # type: ignore[arg-type]  # an invalid value on purpose
