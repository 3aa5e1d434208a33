"""Label aggregation with annotator reliability: majority vote, Dawid-Skene, GLAD, MACE.

Every aggregator is a scikit-learn-style estimator over the long annotation frame
(``item, annotator, label``; crowd-kit's ``task, worker, label`` also accepted):
``fit(df)`` returns ``self`` and sets ``labels_``, ``probas_``, ``skills_``, ``errors_``,
``loss_history_`` and, beside every learned result, ``majority_labels_`` and
``majority_agreement_``. See ``docs/quality-aggregation.md``.
"""

from truthset.quality.aggregation._base import BaseAggregator
from truthset.quality.aggregation.dawid_skene import DawidSkene, OneCoinDawidSkene
from truthset.quality.aggregation.glad import GLAD
from truthset.quality.aggregation.mace import MACE
from truthset.quality.aggregation.majority import (
    MajorityVote,
    WeightedMajorityVote,
    compare_with_majority,
)

__all__ = [
    "GLAD",
    "MACE",
    "BaseAggregator",
    "DawidSkene",
    "MajorityVote",
    "OneCoinDawidSkene",
    "WeightedMajorityVote",
    "compare_with_majority",
]
