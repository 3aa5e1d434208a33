"""Anomaly flags: each with data that must raise it and data that must not."""

from __future__ import annotations

import doctest
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import truthset.quality.anomalies as anomalies_module
from truthset.core.errors import InvalidInput
from truthset.quality import AnomalyFlag, AnomalyThresholds, detect_anomalies, stalled_queue
from truthset.quality._annotator_anomalies import leave_one_out_median, self_agreement
from truthset.quality._anomaly_base import prepare

LABELS = np.array(["pos", "neg", "neu"], dtype=object)
ANNOTATORS = np.array(["ann", "bob", "cy", "dee", "eve", "fay"], dtype=object)
START = pd.Timestamp("2026-03-02 09:00", tz="UTC")


def healthy(
    n_items: int = 600, per_item: int = 3, n_batches: int = 3, accuracy: float = 0.85, seed: int = 0
) -> pd.DataFrame:
    """A project working as it should: random assignment and order, honest annotators.

    Items are judged by ``per_item`` distinct annotators (each right with ``accuracy``),
    annotated in random order within a batch (a batch a day); lead times are log-normal
    around 5 s with a personal speed between 0.7 and 1.4; 15 % of the items are gold.
    """
    rng = np.random.default_rng(seed)
    truth = rng.choice(3, n_items, p=[0.5, 0.3, 0.2])
    who = np.argsort(rng.random((n_items, ANNOTATORS.size)), axis=1)[:, :per_item].ravel()
    item = np.repeat(np.arange(n_items), per_item)
    right = rng.random(item.size) < accuracy
    label = np.where(right, truth[item], (truth[item] + rng.integers(1, 3, item.size)) % 3)
    batch = item * n_batches // n_items
    seconds = batch * 86400 + rng.uniform(0, 8 * 3600, item.size)
    speed = rng.uniform(0.7, 1.4, ANNOTATORS.size)
    gold = rng.random(n_items) < 0.15
    return pd.DataFrame(
        {
            "item": [f"i{i:04d}" for i in item],
            "annotator": ANNOTATORS[who],
            "label": LABELS[label],
            "lead_time": rng.lognormal(np.log(5.0 * speed[who]), 0.5),
            "created_at": START + pd.to_timedelta(seconds, unit="s"),
            "batch": [f"b{b + 1}" for b in batch],
            # numpy's stubs leave out None, which np.where takes as an object
            "gold": np.where(gold[item], LABELS[truth[item]], None),  # type: ignore[call-overload]
        }
    )


def kinds(flags: list[AnomalyFlag]) -> set[tuple[str, object, object]]:
    return {(f.kind, f.annotator, f.batch) for f in flags}


# --------------------------------------------------------------------------- plants
def too_fast(df: pd.DataFrame, factor: float) -> pd.DataFrame:
    bob = df["annotator"] == "bob"
    return df.assign(lead_time=np.where(bob, df["lead_time"] * factor, df["lead_time"]))


def one_label(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(label=np.where(df["annotator"] == "bob", "pos", df["label"]))


def bob_in_time_order(df: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    df = df.sort_values("created_at", kind="stable").reset_index(drop=True)
    return df, np.flatnonzero(df["annotator"].to_numpy() == "bob")


def cycle(df: pd.DataFrame) -> pd.DataFrame:
    df, rows = bob_in_time_order(df)
    df.loc[rows, "label"] = LABELS[np.arange(rows.size) % 3]
    return df


def runs(df: pd.DataFrame) -> pd.DataFrame:
    df, rows = bob_in_time_order(df)
    df.loc[rows, "label"] = LABELS[(np.arange(rows.size) // 15) % 3]
    return df


def gold_misses(df: pd.DataFrame, run: int) -> pd.DataFrame:
    """Bob answers ``run`` consecutive gold items wrong (and his other gold items right)."""
    df, rows = bob_in_time_order(df)
    gold_rows = rows[df.loc[rows, "gold"].notna().to_numpy()]
    df.loc[gold_rows, "label"] = df.loc[gold_rows, "gold"]
    wrong = gold_rows[5 : 5 + run]
    df.loc[wrong, "label"] = np.where(df.loc[wrong, "gold"] == "pos", "neg", "pos")
    return df


def careless_batch(df: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(99)
    b3 = (df["batch"] == "b3").to_numpy()
    return df.assign(label=np.where(b3, LABELS[rng.integers(0, 3, len(df))], df["label"]))


def new_mix_batch(df: pd.DataFrame) -> pd.DataFrame:
    """Batch b3's items are mostly 'neu' (the data changed): every annotator sees it."""
    rng = np.random.default_rng(98)
    b3 = (df["batch"] == "b3").to_numpy()
    moved = b3 & (rng.random(len(df)) < 0.5)
    return df.assign(label=np.where(moved, "neu", df["label"]))


def bob_drifts(df: pd.DataFrame) -> pd.DataFrame:
    """In batch b3 bob alone starts answering 'neu' for most items."""
    rng = np.random.default_rng(97)
    hit = ((df["batch"] == "b3") & (df["annotator"] == "bob")).to_numpy()
    return df.assign(label=np.where(hit & (rng.random(len(df)) < 0.6), "neu", df["label"]))


RAISES: list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame], tuple[str, object, object]]] = [
    ("fast 6x", lambda d: too_fast(d, 1 / 6), ("fast_annotator", "bob", None)),
    ("single label", one_label, ("single_label", "bob", None)),
    ("cycle of 3", cycle, ("fixed_pattern", "bob", None)),
    ("runs of 15", runs, ("fixed_pattern", "bob", None)),
    ("6 gold misses in a row", lambda d: gold_misses(d, 6), ("gold_failures", "bob", None)),
    ("careless batch", careless_batch, ("agreement_drop", None, "b3")),
    ("new label mix", new_mix_batch, ("label_shift", None, "b3")),
    ("one annotator shifts", bob_drifts, ("label_shift", "bob", "b3")),
]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("plant", "expected"), [(p, e) for _, p, e in RAISES], ids=[name for name, _, _ in RAISES])
def test_planted_anomaly_is_raised(
    plant: Callable[[pd.DataFrame], pd.DataFrame], expected: tuple[str, object, object], seed: int
) -> None:
    flags = detect_anomalies(plant(healthy(seed=seed)))
    assert expected in kinds(flags)
    flag = next(f for f in flags if (f.kind, f.annotator, f.batch) == expected)
    assert flag.score >= flag.threshold
    assert flag.explanation.startswith(("annotator bob", "agreement", "the label distribution"))
    assert "threshold" in flag.explanation
    json.dumps(flag.to_dict(), allow_nan=False)


@pytest.mark.parametrize("n_items", [180, 600, 3000])
@pytest.mark.parametrize("seed", range(5))
def test_healthy_project_raises_nothing(seed: int, n_items: int) -> None:
    assert detect_anomalies(healthy(n_items=n_items, seed=seed)) == []


NOT_RAISED: list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame], str]] = [
    ("twice as fast is within 3x", lambda d: too_fast(d, 0.5), "fast_annotator"),
    ("5 gold misses in a row is below 6", lambda d: gold_misses(d, 5), "gold_failures"),
    (
        "everyone answers 'pos': not one annotator's habit",
        lambda d: d.assign(label=np.where(np.random.default_rng(1).random(len(d)) < 0.93, "pos", d["label"])),
        "single_label",
    ),
    ("everyone's shift is the batch's, not an annotator's", new_mix_batch, "label_shift"),
]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    ("change", "kind"), [(c, k) for _, c, k in NOT_RAISED], ids=[name for name, _, _ in NOT_RAISED]
)
def test_near_miss_is_not_raised(change: Callable[[pd.DataFrame], pd.DataFrame], kind: str, seed: int) -> None:
    flags = detect_anomalies(change(healthy(seed=seed)))
    if kind == "label_shift":  # the batch is flagged once, no annotator on top
        assert ("label_shift", None, "b3") in kinds(flags)
        assert not any(f.kind == kind and f.annotator is not None for f in flags)
    else:
        assert not any(f.kind == kind for f in flags)


def test_fast_annotator_explanation_reads_as_documented() -> None:
    flags = detect_anomalies(too_fast(healthy(), 1 / 6), kinds=("fast_annotator",))
    (flag,) = flags
    assert flag.explanation.startswith("annotator bob took a median ")
    assert "faster than the median of the other annotators" in flag.explanation
    assert flag.explanation.endswith("threshold 3×")
    assert flag.details["median_seconds"] * flag.score == pytest.approx(flag.details["others_median_seconds"])


@pytest.mark.parametrize("seed", range(10))
def test_small_batches_noise_is_not_an_agreement_drop(seed: int) -> None:
    # 60 items a batch, just over agreement_min_items: wide intervals, nothing to flag
    assert detect_anomalies(healthy(n_items=180, seed=seed), kinds=("agreement_drop",)) == []


def test_batches_below_the_minimum_are_not_compared() -> None:
    df = careless_batch(healthy())  # 200 items a batch
    assert detect_anomalies(df, kinds=("agreement_drop",))
    th = AnomalyThresholds(agreement_min_items=201)
    assert detect_anomalies(df, thresholds=th, kinds=("agreement_drop",)) == []


def test_label_shift_needs_enough_annotations() -> None:
    th = AnomalyThresholds(label_shift_min_count=10_000)
    assert detect_anomalies(new_mix_batch(healthy()), thresholds=th, kinds=("label_shift",)) == []


def test_gold_column_may_be_correctness() -> None:
    df = gold_misses(healthy(), 6)
    df["correct"] = (df["label"] == df["gold"]).where(df["gold"].notna())
    flags = detect_anomalies(df.drop(columns="gold"), kinds=("gold_failures",))
    assert kinds(flags) == {("gold_failures", "bob", None)}
    assert flags[0].score == 6 and "6 gold items wrong in a row" in flags[0].explanation


def test_checks_without_their_columns_are_skipped() -> None:
    bare = one_label(healthy())[["item", "annotator", "label"]]
    assert kinds(detect_anomalies(bare)) == {("single_label", "bob", None)}


# --------------------------------------------------------------------------- stalled queue
NOW = pd.Timestamp("2026-03-10 12:00", tz="UTC")


@pytest.mark.parametrize(
    ("stamps", "open_items", "raised"),
    [
        ([NOW - pd.Timedelta(hours=50), NOW - pd.Timedelta(hours=30)], 12, True),
        ([NOW - pd.Timedelta(hours=50), NOW - pd.Timedelta(hours=1)], 12, False),
        ([NOW - pd.Timedelta(hours=50)], 0, False),  # nothing left to do: not stalled
    ],
)
def test_stalled_queue(stamps: list[pd.Timestamp], open_items: int, raised: bool) -> None:
    flags = stalled_queue(stamps, open_items=open_items, now=NOW)
    assert bool(flags) == raised
    if raised:
        assert flags[0].score == pytest.approx(30 * 3600)
        assert "12 items remain open" in flags[0].explanation


def test_stalled_queue_without_annotations_counts_from_opening() -> None:
    flags = stalled_queue([], open_items=5, now=NOW, opened_at=NOW - pd.Timedelta(days=3))
    assert flags and "since the queue opened" in flags[0].explanation
    with pytest.raises(InvalidInput, match="opened_at"):
        stalled_queue([], open_items=5, now=NOW)


def test_detect_anomalies_runs_the_stall_check_with_now() -> None:
    df = healthy()
    now = df["created_at"].max() + pd.Timedelta(days=2)
    assert kinds(detect_anomalies(df, open_items=3, now=now)) == {("stalled_queue", None, None)}


# --------------------------------------------------------------------------- input and properties
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.assign(created_at=d["created_at"].where(d.index != 3)), "created_at is empty"),
        (lambda d: d.iloc[:0], "empty"),
        (lambda d: d.drop(columns="label"), "lacks column"),
    ],
)
def test_bad_frames_are_named(change: Callable[[pd.DataFrame], pd.DataFrame], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        detect_anomalies(change(healthy(n_items=30)))


@pytest.mark.parametrize("field", ["fast_ratio", "alpha", "gold_fail_run"])
def test_thresholds_are_validated(field: str) -> None:
    with pytest.raises(InvalidInput, match=field):
        kwargs: dict[str, Any] = {field: -1}
        AnomalyThresholds(**kwargs)


def test_unknown_kind_is_named() -> None:
    with pytest.raises(InvalidInput, match="typo"):
        detect_anomalies(healthy(n_items=30), kinds=("typo",))


def test_docstring_example() -> None:
    result = doctest.testmod(anomalies_module)
    assert result.attempted > 0 and result.failed == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=2, max_size=30))
def test_leave_one_out_median_matches_brute_force(values: list[float]) -> None:
    v = np.asarray(values)
    expected = [np.median(np.delete(v, i)) for i in range(v.size)]
    assert leave_one_out_median(v) == pytest.approx(expected)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ab"), st.sampled_from("xyz")), min_size=2, max_size=60))
def test_self_agreement_matches_brute_force(rows: list[tuple[str, str]]) -> None:
    df = pd.DataFrame({"item": range(len(rows)), "annotator": [a for a, _ in rows], "label": [lab for _, lab in rows]})
    p = prepare(df)
    _, observed, _ = self_agreement(p, 3)
    for a, name in enumerate(p.annotators):
        seq = df.loc[df["annotator"] == name, "label"].tolist()
        for lag in (1, 2, 3):
            pairs = [seq[i] == seq[i - lag] for i in range(lag, len(seq))]
            if pairs:
                assert observed[a, lag - 1] == pytest.approx(np.mean(pairs))
            else:
                assert np.isnan(observed[a, lag - 1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ab"), st.booleans()), min_size=1, max_size=80), st.integers(1, 6))
def test_gold_runs_match_brute_force(rows: list[tuple[str, bool]], run: int) -> None:
    df = pd.DataFrame(
        {
            "item": range(len(rows)),
            "annotator": [a for a, _ in rows],
            "label": ["x"] * len(rows),
            "correct": [not wrong for _, wrong in rows],
        }
    )
    th = AnomalyThresholds(gold_fail_run=run)
    got = {f.annotator: f.score for f in detect_anomalies(df, thresholds=th, kinds=("gold_failures",))}
    expected = {}
    for name in "ab":
        longest = current = 0
        for a, wrong in rows:
            if a == name:
                current = current + 1 if wrong else 0
                longest = max(longest, current)
        if longest >= run:
            expected[name] = float(longest)
    assert got == expected


@settings(max_examples=30, deadline=None)
@given(st.permutations(list(ANNOTATORS)))
def test_flags_do_not_depend_on_annotator_names(names: list[str]) -> None:
    df = one_label(too_fast(healthy(n_items=240), 1 / 6))
    rename = dict(zip(ANNOTATORS, names))
    flags = detect_anomalies(df.assign(annotator=df["annotator"].map(rename)), kinds=("fast_annotator", "single_label"))
    base = detect_anomalies(df, kinds=("fast_annotator", "single_label"))
    assert sorted((f.kind, f.annotator, round(f.score, 9)) for f in flags) == sorted(
        (f.kind, rename[f.annotator], round(f.score, 9)) for f in base
    )


# --------------------------------------------------------------------------- real crowd data
def test_rte_crowd_flags_random_clickers_and_spares_good_workers() -> None:
    """Snow et al. 2008 RTE answers (164 Mechanical Turk workers, binary, gold for all).

    Workers at chance level (about 50 % right on a binary task) answer long runs of gold
    items wrong; the workers who did well on many items must raise nothing.
    """
    from .conftest import CROWD

    df = pd.read_csv(CROWD / "snow2008" / "rte.standardized.tsv", sep="\t")
    df.columns = ["annotation", "annotator", "item", "label", "gold"]
    flags = detect_anomalies(df)
    accuracy = (df["label"] == df["gold"]).groupby(df["annotator"]).agg(["mean", "size"])
    failing = {f.annotator for f in flags if f.kind == "gold_failures"}
    assert failing and all(accuracy.loc[a, "mean"] < 0.6 for a in failing)
    good = accuracy[(accuracy["size"] >= 100) & (accuracy["mean"] >= 0.85)].index
    assert len(good) >= 3
    assert not {f.annotator for f in flags} & set(good)
    for f in flags:
        assert f.explanation.startswith(f"annotator {f.annotator}")
