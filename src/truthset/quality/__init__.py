"""Quality control: agreement, aggregation with annotator reliability, gold checks, sampling,
label errors (confident learning), consensus quality (CROWDLAB), outliers and anomaly
flags.

Pure functions and scikit-learn-style estimators over the long annotation frame
(``item``, ``annotator``, ``label``; crowd-kit's ``task``, ``worker`` accepted); no I/O,
no database.
"""

from truthset.quality.aggregation import (
    GLAD,
    MACE,
    BaseAggregator,
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    WeightedMajorityVote,
    compare_with_majority,
)
from truthset.quality.agreement import (
    AgreementCI,
    UndefinedAgreementWarning,
    agreement_ci,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_cohen_kappa,
    per_label_agreement,
    percent_agreement,
    randolph_kappa,
)
from truthset.quality.anomalies import (
    AnomalyFlag,
    AnomalyThresholds,
    detect_anomalies,
    stalled_queue,
)
from truthset.quality.consensus import ConsensusQuality, consensus_quality
from truthset.quality.label_issues import estimate_joint, find_label_issues
from truthset.quality.label_scores import label_quality_scores
from truthset.quality.outliers import outlier_scores
from truthset.quality.reliability import gold_accuracy, gold_confusion, wilson_interval
from truthset.quality.sampling import AcceptanceDecision, acceptance_decision, sample_size
from truthset.quality.span_pairs import gold_span_f1, pairwise_span_f1_ci
from truthset.quality.spans import pairwise_span_f1, span_f1, token_alpha

__all__ = [
    "GLAD",
    "MACE",
    "AcceptanceDecision",
    "AgreementCI",
    "AnomalyFlag",
    "AnomalyThresholds",
    "BaseAggregator",
    "ConsensusQuality",
    "DawidSkene",
    "MajorityVote",
    "OneCoinDawidSkene",
    "UndefinedAgreementWarning",
    "WeightedMajorityVote",
    "acceptance_decision",
    "agreement_ci",
    "cohen_kappa",
    "compare_with_majority",
    "consensus_quality",
    "detect_anomalies",
    "estimate_joint",
    "find_label_issues",
    "fleiss_kappa",
    "gold_accuracy",
    "gold_confusion",
    "gold_span_f1",
    "krippendorff_alpha",
    "label_quality_scores",
    "outlier_scores",
    "pairwise_cohen_kappa",
    "pairwise_span_f1",
    "pairwise_span_f1_ci",
    "per_label_agreement",
    "percent_agreement",
    "randolph_kappa",
    "sample_size",
    "span_f1",
    "stalled_queue",
    "token_alpha",
    "wilson_interval",
]
