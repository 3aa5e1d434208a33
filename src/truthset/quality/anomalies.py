"""Anomaly flags over the annotation process, each explained in a sentence.

Someone has to notice when an annotator goes off the rails or a batch goes wrong. These
checks run over the long annotation frame and return :class:`AnomalyFlag` objects (kind,
annotator and/or batch, score, threshold, explanation) that the services turn into data
issues:

===================  ==================================================================
``fast_annotator``   median seconds per item ``fast_ratio`` (3×) below the other
                     annotators' median (robust: medians, compared leave-one-out)
``single_label``     one label for >= 90 % of items, 20 points above the others' share
``fixed_pattern``    labels in time order repeat in runs or a cycle (chance-corrected
                     self-agreement at some lag >= 0.8)
``gold_failures``    5 gold items wrong in a row
``agreement_drop``   a batch's agreement (bootstrap interval, :func:`agreement_ci`)
                     0.2 below the previous batch's, with separate 99 % intervals
``label_shift``      a batch's label distribution (overall or one annotator's) at
                     Jensen–Shannon distance >= 0.1 from the previous batch's, beyond
                     sampling noise (chi-square, p < 0.001)
``stalled_queue``    no annotation for a day while items remain open
===================  ==================================================================

Thresholds live in one :class:`AnomalyThresholds` (documented defaults). Columns used, all
optional beside ``item``, ``annotator``, ``label``: ``lead_time`` (seconds), ``created_at``
(time order; else the frame's row order), ``batch``, ``correct`` (True/False on gold items)
or ``gold`` (the true label on gold items). A check whose columns are absent is skipped.

Pure: no clock (the stalled-queue check takes ``now``), no database.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.quality._annotator_anomalies import (
    fast_annotators,
    gold_failure_runs,
    patterned_annotators,
    single_label_annotators,
)
from truthset.quality._anomaly_base import AnomalyFlag, AnomalyThresholds, Prepared, prepare
from truthset.quality._batch_anomalies import agreement_drops, label_shifts, stalled_queue

__all__ = [
    "AnomalyFlag",
    "AnomalyThresholds",
    "detect_anomalies",
    "stalled_queue",
]

#: Every check on the annotation frame, in the order their flags are listed.
CHECKS = ("fast_annotator", "single_label", "fixed_pattern", "gold_failures", "agreement_drop", "label_shift")


def detect_anomalies(
    annotations: pd.DataFrame,
    *,
    thresholds: AnomalyThresholds | None = None,
    kinds: tuple[str, ...] | None = None,
    open_items: int | None = None,
    now: Any = None,
    seed: int = 0,
) -> list[AnomalyFlag]:
    """Run the anomaly checks over the long annotation frame.

    Parameters
    ----------
    annotations : DataFrame
        One row per judgement: ``item``, ``annotator``, ``label`` (crowd-kit's ``task``,
        ``worker`` accepted), and any of ``lead_time``, ``created_at``, ``batch``,
        ``correct`` / ``gold`` (see the module docstring).
    thresholds : AnomalyThresholds, optional
        Every threshold (defaults documented on the class).
    kinds : tuple of str, optional
        Which checks to run (default: all whose columns are present), names as in
        :data:`CHECKS` plus ``stalled_queue``.
    open_items, now : optional
        Items still open and the current time: with both (and ``created_at``), the
        stalled-queue check runs too.
    seed : int
        Seed of the agreement bootstrap; the same seed gives the same flags.

    Returns
    -------
    list of AnomalyFlag
        Grouped by kind in the order of :data:`CHECKS`, then by annotator or batch.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": list(range(40)) * 3,
    ...                    "annotator": ["ann"] * 40 + ["bob"] * 40 + ["cy"] * 40,
    ...                    "label": ["x", "y"] * 60,
    ...                    "lead_time": [5.0] * 40 + [0.8] * 40 + [4.0] * 40})
    >>> [f.explanation for f in detect_anomalies(df, kinds=("fast_annotator",))]
    ['annotator bob took a median 0.8 s per item, 5.6× faster than the median of the other annotators (4.5 s); threshold 3×']
    """
    th = thresholds or AnomalyThresholds()
    unknown = set(kinds or ()) - set(CHECKS) - {"stalled_queue"}
    if unknown:
        raise InvalidInput(f"unknown anomaly kind(s) {sorted(unknown)}; choose from {[*CHECKS, 'stalled_queue']}.")
    wanted = set(kinds or (*CHECKS, "stalled_queue"))
    p: Prepared = prepare(annotations)
    runs = {
        "fast_annotator": lambda: fast_annotators(p, th),
        "single_label": lambda: single_label_annotators(p, th),
        "fixed_pattern": lambda: patterned_annotators(p, th),
        "gold_failures": lambda: gold_failure_runs(p, th),
        "agreement_drop": lambda: agreement_drops(p, th, seed),
        "label_shift": lambda: label_shifts(p, th),
    }
    flags = [f for kind in CHECKS if kind in wanted for f in runs[kind]()]
    if "stalled_queue" in wanted and open_items is not None and now is not None and "created_at" in p.frame.columns:
        flags += stalled_queue(p.frame["created_at"], open_items=open_items, now=now, thresholds=th)
    return flags
