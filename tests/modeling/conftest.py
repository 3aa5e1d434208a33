"""Fixtures for the modeling tests: synthetic predictions with known structure, and SMS."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SMS


def make_predictions(
    n: int = 400, k: int = 3, seed: int = 0, signal: float = 1.2, decimals: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Labels 0..k-1 and probabilities from noisy logits (rounded, so scores tie)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += signal
    logits = np.round(logits, decimals)
    p = np.exp(logits)
    return y, p / p.sum(axis=1, keepdims=True)


@pytest.fixture(scope="session")
def sms_frame(datasets: object) -> pd.DataFrame:
    """The SMS Spam Collection with exact-duplicate texts dropped (first copy kept)."""
    df = pd.read_csv(SMS, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)
    return df.rename(columns={"Label": "label", "SMS": "text"}).drop_duplicates("text").reset_index(drop=True)
