"""truthset.data: readers, profiling and drift of data sets (pure: frames in, results out)."""

from truthset.data.drift import ColumnDrift, DriftReport, DriftThresholds, drift_report
from truthset.data.label_drift import (
    AnnotatorDrift,
    LabellingDrift,
    labelling_drift,
    prediction_drift,
)

__all__ = [
    "AnnotatorDrift",
    "ColumnDrift",
    "DriftReport",
    "DriftThresholds",
    "LabellingDrift",
    "drift_report",
    "labelling_drift",
    "prediction_drift",
]
