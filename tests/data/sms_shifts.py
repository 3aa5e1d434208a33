"""Real text for drift tests and benchmarks/drift.py: SMS halves and planted shifts.

The reference and current sets are random halves of the SMS Spam Collection (5,574
messages, label and text). Beyond 5,574 rows the messages are drawn with replacement and
each copy gets one light seeded edit half of the time (a word dropped, repeated, or swapped
with its neighbour), so copies are not all identical; no edit adds a word or changes case.

Planted shifts, applied to the current half only:

* ``label_prior``: spam share doubled (13.4 % to 26.8 %) by keeping every spam message and
  a random part of the ham;
* ``tiny_prior``: spam share up by one point (a harmless change p-value tests still flag);
* ``uppercase``: @handles and URLs stripped, every message upper-cased;
* ``new_topic``: 10 % of the messages replaced by sentences from another real source, the
  RTE-1 sentence pairs of Snow et al. 2008 (news text; ``crowd/snow2008/rte1.tsv``, both
  the text and the hypothesis sentences, edited as above when more are needed than its
  1,600).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
SMS = DATASETS / "text" / "sms_spam_collection" / "SMSSpamCollection.tsv"
RTE = DATASETS / "crowd" / "snow2008" / "rte1.tsv"
SHIFTS = ("label_prior", "tiny_prior", "uppercase", "new_topic")
HANDLES_URLS = r"@\w+|https?://\S+|www\.\S+"


def load_sms() -> pd.DataFrame:
    """The SMS Spam Collection as columns ``label``, ``text`` (quoting off, as SOURCE.md says)."""
    df = pd.read_csv(SMS, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)
    return df.rename(columns={"Label": "label", "SMS": "text"})[["label", "text"]]


def load_rte_sentences() -> np.ndarray:
    """The 1,600 RTE-1 sentences (800 texts and 800 hypotheses)."""
    df = pd.read_csv(RTE, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)
    return np.array(df["text"].tolist() + df["hypothesis"].tolist(), dtype=object)


def light_edits(texts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half the texts get one edit: a word dropped, repeated, or swapped with the next."""
    out = texts.copy()
    kind = rng.integers(0, 6, texts.size)  # 0-2: an edit, 3-5: unchanged
    where = rng.random(texts.size)
    for i in np.flatnonzero(kind < 3):
        words = out[i].split(" ")
        if len(words) < 3:
            continue
        j = int(where[i] * (len(words) - 1))
        if kind[i] == 0:
            del words[j]
        elif kind[i] == 1:
            words.insert(j, words[j])
        else:
            words[j], words[j + 1] = words[j + 1], words[j]
        out[i] = " ".join(words)
    return out


def draw(texts: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` of ``texts``: without replacement when there are enough, else resampled + edited."""
    if n <= texts.size:
        return texts[rng.permutation(texts.size)[:n]]
    return light_edits(texts[rng.integers(0, texts.size, n)], rng)


def halves(sms: pd.DataFrame, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current: random halves of ``n`` SMS rows (resampled + edited past 5,574)."""
    if n <= len(sms):
        pool = sms.iloc[rng.permutation(len(sms))[:n]].reset_index(drop=True)
    else:
        idx = rng.integers(0, len(sms), n)
        pool = pd.DataFrame(
            {"label": sms["label"].to_numpy()[idx], "text": light_edits(sms["text"].to_numpy(dtype=object)[idx], rng)}
        )
    half = n // 2
    return pool.iloc[:half].reset_index(drop=True), pool.iloc[half:].reset_index(drop=True)


def with_spam_share(current: pd.DataFrame, share: float, rng: np.random.Generator) -> pd.DataFrame:
    """``current`` with all its spam and enough of its ham dropped to make spam ``share``."""
    spam = current.index[current["label"] == "spam"].to_numpy()
    ham = current.index[current["label"] != "spam"].to_numpy()
    keep_ham = min(ham.size, int(round(spam.size * (1 - share) / share)))
    rows = np.sort(np.concatenate([spam, rng.choice(ham, keep_ham, replace=False)]))
    return current.loc[rows].reset_index(drop=True)


def plant(shift: str, current: pd.DataFrame, rng: np.random.Generator, rte: np.ndarray | None = None) -> pd.DataFrame:
    """``current`` with one planted shift (see the module docstring)."""
    base = float((current["label"] == "spam").mean())
    if shift == "label_prior":
        return with_spam_share(current, 2 * base, rng)
    if shift == "tiny_prior":
        return with_spam_share(current, base + 0.01, rng)
    if shift == "uppercase":
        text = current["text"].str.replace(HANDLES_URLS, "", regex=True).str.upper()
        return current.assign(text=text)
    if shift == "new_topic":
        sentences = load_rte_sentences() if rte is None else rte
        k = len(current) // 10
        out = current.copy()
        rows = rng.choice(len(current), k, replace=False)
        out.loc[rows, "text"] = draw(sentences, k, rng)
        return out
    raise ValueError(f"unknown shift {shift!r}; choose from {SHIFTS}")
