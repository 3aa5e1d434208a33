"""Fixtures for the quality tests: small synthetic annotation frames and the crowd datasets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

CROWD = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "crowd"


def make_annotations(
    n_items: int = 60,
    n_annotators: int = 6,
    n_labels: int = 3,
    per_item: int = 3,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.Series]:
    """Random frame: each item judged by ``per_item`` distinct annotators of varied accuracy."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_labels, n_items)
    acc = rng.uniform(0.45, 0.95, n_annotators)
    ann = np.argsort(rng.random((n_items, n_annotators)), axis=1)[:, :per_item].ravel()
    item = np.repeat(np.arange(n_items), per_item)
    correct = rng.random(item.size) < acc[ann]
    noise = (truth[item] + rng.integers(1, max(n_labels, 2), item.size)) % n_labels
    label = np.where(correct, truth[item], noise)
    df = pd.DataFrame(
        {
            "item": [f"i{i:04d}" for i in item],
            "annotator": [f"w{a:02d}" for a in ann],
            "label": [f"L{v}" for v in label],
        }
    )
    gold = pd.Series([f"L{v}" for v in truth], index=[f"i{i:04d}" for i in range(n_items)])
    return df, gold


@pytest.fixture(name="annotations")  # the module's `from __future__ import annotations` takes the name
def annotations_fixture() -> pd.DataFrame:
    return make_annotations()[0]


@pytest.fixture
def annotation_factory() -> Callable[..., tuple[pd.DataFrame, pd.Series]]:
    return make_annotations


def load_crowd(name: str) -> tuple[pd.DataFrame, pd.Series]:
    """One of the crowd datasets as (annotation frame, truth Series).

    Missing data is a failure, not a skip: a skipped accuracy test would hide that the
    published figures were never checked.
    """
    if name in ("rte", "temp"):
        path = CROWD / "snow2008" / f"{name}.standardized.tsv"
        if not path.exists():
            pytest.fail(f"{path} not found; the tests expect ../shared/datasets beside the repository")
        raw = pd.read_csv(path, sep="\t")
        df = raw.rename(columns={"orig_id": "item", "!amt_worker_ids": "annotator", "response": "label"})[
            ["item", "annotator", "label"]
        ]
        return df, raw.groupby("orig_id")["gold"].first()
    folder = CROWD / name
    if not (folder / "answer.csv").exists():
        pytest.fail(f"{folder} not found; the tests expect ../shared/datasets beside the repository")
    df = pd.read_csv(folder / "answer.csv").rename(
        columns={"question": "item", "worker": "annotator", "answer": "label"}
    )
    truth = pd.read_csv(folder / "truth.csv").set_index("question")["truth"]
    return df, truth


def accuracy(labels: pd.Series, truth: pd.Series) -> float:
    common = labels.index.intersection(truth.index)
    return float((labels.loc[common] == truth.loc[common]).mean())


@pytest.fixture
def crowd_loader() -> Callable[[str], tuple[pd.DataFrame, pd.Series]]:
    return load_crowd


@pytest.fixture
def accuracy_of() -> Callable[[pd.Series, pd.Series], float]:
    return accuracy
