"""What every anomaly check shares: the flag, the thresholds, the prepared frame (private)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.codes import normalize_annotations
from truthset.core.errors import InvalidInput

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Metrics an agreement drop can be measured with (names of truthset.quality functions).
AGREEMENT_METRICS = ("krippendorff_alpha", "percent_agreement", "randolph_kappa")


@dataclass(frozen=True)
class AnomalyFlag:
    """One anomaly, explained in a sentence.

    ``kind`` is one of ``fast_annotator``, ``single_label``, ``fixed_pattern``,
    ``gold_failures``, ``agreement_drop``, ``label_shift``, ``stalled_queue``. ``annotator``
    and/or ``batch`` say where (``None`` when not about one); ``score`` is the measured value
    and ``threshold`` the value it passed; ``explanation`` says both in words; ``details``
    holds the numbers behind the sentence.
    """

    kind: str
    score: float
    threshold: float
    explanation: str
    annotator: Any = None
    batch: Any = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain fields for ``--json``."""
        return {
            "kind": self.kind,
            "annotator": self.annotator,
            "batch": self.batch,
            "score": self.score,
            "threshold": self.threshold,
            "explanation": self.explanation,
            "details": self.details,
        }


@dataclass(frozen=True)
class AnomalyThresholds:
    """Thresholds of every anomaly flag, with the defaults used when none are given.

    Attributes
    ----------
    min_annotations : int
        An annotator is judged by the per-annotator flags (speed, single label, pattern)
        only with at least this many annotations (20).
    fast_ratio : float
        ``fast_annotator``: the other annotators' median seconds per item (the median of
        their medians) is at least this many times the annotator's own median (3).
    single_label_share : float
        ``single_label``: the annotator gave one label to at least this share of items (0.9)
    single_label_excess : float
        ... and that share is at least this much above the other annotators' share of the
        same label (0.2), so a project where nearly everything is one label raises nothing
        (and the count is unlikely at the others' rate: binomial tail below ``alpha``).
    pattern_kappa : float
        ``fixed_pattern``: with the annotator's labels in time order, the agreement of each
        label with the one ``lag`` items earlier, corrected for chance like Cohen's kappa
        (1: the sequence repeats exactly; 0: no more than their label mix explains), reaches
        this (0.8) at some lag from 1 to ``pattern_max_lag`` (6). Lag 1 catches long runs of
        one label; lag ``p`` a cycle of period ``p`` (a, b, a, b, ...).
    gold_fail_run : int
        ``gold_failures``: this many consecutive wrong answers on gold items (6). By chance
        an annotator right 85 % of the time starts such a run about once in 100,000 gold
        answers, one right 70 % of the time once in 2,000 (``q**6 * (1 - q)`` per answer
        for an error rate ``q``); the explanation quotes that figure for the annotator.
    agreement_metric : str
        ``agreement_drop``: ``krippendorff_alpha`` (nominal), ``percent_agreement`` or
        ``randolph_kappa``, computed per batch with a bootstrap interval.
    agreement_drop : float
        ... a batch is flagged when its agreement is at least this much (0.2) below the
        previous batch's *and* the two ``confidence`` intervals do not overlap (the drop
        is both large and beyond the noise of the batches' sizes).
    agreement_min_items : int
        ... batches with fewer items judged at least twice (50) are not compared: the
        bootstrap interval of a smaller batch is too rough to trust its tail.
    agreement_n_boot : int
        Bootstrap replicates of each batch's interval (500).
    confidence : float
        Coverage of those intervals (0.99: the later of two healthy batches of equal size
        falls below the earlier with 99 % intervals apart by chance in about 1 comparison in
        7,000, where 95 % intervals part in 1 in 360; normal approximation).
    label_shift_js : float
        ``label_shift``: Jensen–Shannon distance (base 2) between a batch's label
        distribution and the previous batch's, overall or for one annotator (0.1, as
        Evidently's categorical drift)
    label_shift_min_count : int
        ... each side has at least this many annotations (30),
    alpha : float
        Noise guard of ``single_label`` and ``label_shift`` (0.001). For label shifts: the
        difference must be beyond sampling noise: chi-square test of the two
        distributions at this level (0.001). Two samples of 50 annotations over three labels
        are 0.1 apart by chance about half the time; the guard keeps that from raising flags
        and never matters for large batches. For a whole batch the counts are scaled down
        to one per item, since the judgements of one item are not independent.
    stall_seconds : float
        ``stalled_queue``: no annotation for this long while items remain open (86,400: a day).
    """

    min_annotations: int = 20
    fast_ratio: float = 3.0
    single_label_share: float = 0.9
    single_label_excess: float = 0.2
    pattern_kappa: float = 0.8
    pattern_max_lag: int = 6
    gold_fail_run: int = 6
    agreement_metric: str = "krippendorff_alpha"
    agreement_drop: float = 0.2
    agreement_min_items: int = 50
    agreement_n_boot: int = 500
    confidence: float = 0.99
    label_shift_js: float = 0.1
    label_shift_min_count: int = 30
    alpha: float = 0.001
    stall_seconds: float = 86400.0

    def __post_init__(self) -> None:
        if self.agreement_metric not in AGREEMENT_METRICS:
            raise InvalidInput(
                f"agreement_metric must be one of {list(AGREEMENT_METRICS)}; got {self.agreement_metric!r}."
            )
        for name, value in asdict(self).items():
            if name == "agreement_metric":
                continue
            if not np.isfinite(value) or value < 0:
                raise InvalidInput(f"anomaly threshold {name} must be a number >= 0; got {value!r}.")
        for name in (
            "min_annotations",
            "pattern_max_lag",
            "gold_fail_run",
            "agreement_min_items",
            "agreement_n_boot",
            "label_shift_min_count",
        ):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise InvalidInput(f"anomaly threshold {name} must be a whole number >= 1; got {value!r}.")
        if not 0 < self.alpha <= 1:
            raise InvalidInput(f"alpha must lie in (0, 1]; got {self.alpha!r} (1 turns the noise guard off).")
        if not 0 < self.confidence < 1:
            raise InvalidInput(f"confidence must lie in (0, 1); got {self.confidence!r}.")


@dataclass(frozen=True)
class Prepared:
    """The annotation frame sorted by annotator then time, with integer codes.

    ``annotator`` and ``label`` index ``annotators`` and ``labels``; ``time`` is nanoseconds
    since the epoch when the frame has ``created_at`` (else ``None``, and the frame's row
    order stands for time).
    """

    frame: pd.DataFrame
    annotator: IntArray
    label: IntArray
    annotators: pd.Index
    labels: pd.Index
    time: IntArray | None

    @property
    def n_annotators(self) -> int:
        return len(self.annotators)

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    def label_counts(self) -> FloatArray:
        """``(n_annotators, n_labels)``: how often each annotator gave each label."""
        cells = np.bincount(self.annotator * self.n_labels + self.label, minlength=self.n_annotators * self.n_labels)
        return cells.reshape(self.n_annotators, self.n_labels).astype(np.float64)


def prepare(df: pd.DataFrame) -> Prepared:
    """Check the long frame and sort it by annotator, then ``created_at`` (or row order)."""
    norm = normalize_annotations(df)
    if len(norm) == 0:
        raise InvalidInput("the annotation frame is empty; anomaly flags need annotations.")
    time: IntArray | None = None
    if "created_at" in norm.columns:
        stamps = timestamps(norm["created_at"], "created_at")
        time = stamps.astype(np.int64)
    annotator, annotators = pd.factorize(norm["annotator"], sort=True)
    order = np.lexsort((time if time is not None else np.arange(len(norm)), annotator))
    frame = norm.iloc[order].reset_index(drop=True)
    label, labels = pd.factorize(frame["label"], sort=True)
    return Prepared(
        frame,
        annotator[order].astype(np.int64),
        label.astype(np.int64),
        pd.Index(annotators),
        pd.Index(labels),
        None if time is None else time[order],
    )


def timestamps(values: Any, name: str) -> npt.NDArray[np.int64]:
    """Nanoseconds since the epoch (UTC when time-zone aware); an error names bad values."""
    try:
        stamps = pd.to_datetime(pd.Series(values), utc=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must hold dates and times (e.g. ISO 8601); {exc}") from exc
    if stamps.isna().any():
        first = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        raise InvalidInput(
            f"{name} is empty in {int(stamps.isna().sum())} row(s) (first at position {first}); fill or drop them."
        )
    out: npt.NDArray[np.int64] = stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return out


def show(value: Any) -> str:
    """How an annotator, batch or label is written in an explanation."""
    return str(value.item() if isinstance(value, np.generic) else value)


def plain(value: Any) -> Any:
    """A numpy scalar as its Python value (for JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def seconds(value: float) -> str:
    """A duration for people: ``0.8 s``, ``12 s``, ``3.5 min``, ``26 h``."""
    if value < 10:
        return f"{value:.1f} s"
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def percent(share: float) -> str:
    """A share as a whole percentage: ``97%``."""
    return f"{100 * share:.0f}%"


def batch_order(batch: pd.Series, time: IntArray | None) -> tuple[IntArray, pd.Index]:
    """Batch codes in chronological order (first annotation's time), or sorted by name."""
    codes, batches = pd.factorize(batch, sort=True)
    if (codes < 0).any():
        raise InvalidInput("the batch column is empty in some rows; fill or drop them.")
    if time is None:
        return codes.astype(np.int64), pd.Index(batches)
    first = np.full(len(batches), np.iinfo(np.int64).max)
    np.minimum.at(first, codes, time)
    rank = np.empty(len(batches), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(batches))
    return rank[codes], pd.Index(batches[np.argsort(first, kind="stable")])
