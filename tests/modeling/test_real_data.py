"""Real data end to end: RTE (Snow et al. 2008) trained on crowd labels, scored on gold.

The 800 RTE pairs are cross-fitted (5 folds, the same folds for both label sources): a text
baseline trained on majority-vote labels and one trained on Dawid-Skene labels, each scored
against the expert gold on every item, then compared with McNemar and the paired bootstrap.
"""

from __future__ import annotations

import csv
from typing import TypedDict

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold

from tests.conftest import DATASETS
from truthset.modeling import compare_predictions, evaluate, fit_baseline, text_baseline
from truthset.quality import DawidSkene, MajorityVote

SNOW = DATASETS / "crowd" / "snow2008"


class Rte(TypedDict):
    """The 800 RTE pairs: texts, expert gold, majority-vote and Dawid-Skene labels."""

    x: list[str]
    gold: np.ndarray
    mv: np.ndarray
    ds: np.ndarray


@pytest.fixture(scope="module")
def rte(datasets: object) -> Rte:
    ann = pd.read_csv(SNOW / "rte.standardized.tsv", sep="\t")
    pairs = pd.read_csv(SNOW / "rte1.tsv", sep="\t", quoting=csv.QUOTE_NONE, dtype=str)
    pairs["id"] = pairs["id"].astype(int)
    frame = pd.DataFrame({"item": ann["orig_id"], "annotator": ann["!amt_worker_ids"], "label": ann["response"]})
    gold = ann.groupby("orig_id")["gold"].first()
    items = pairs.set_index("id").loc[gold.index]
    return {
        "x": (items["text"] + " [SEP] " + items["hypothesis"]).tolist(),
        "gold": gold.to_numpy(),
        "mv": MajorityVote(random_state=0).fit(frame).labels_.loc[gold.index].to_numpy(int),
        "ds": DawidSkene().fit(frame).labels_.loc[gold.index].to_numpy(int),
    }


def _cross_fit(x: list[str], y: np.ndarray, strata: np.ndarray) -> np.ndarray:
    pred = np.empty(len(x), dtype=int)
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(x, strata):
        model = fit_baseline(text_baseline(seed=0), [x[i] for i in train], y[train])
        pred[test] = model.predict([x[i] for i in test])
    return pred


def test_rte_majority_vote_vs_dawid_skene(rte: Rte) -> None:
    assert len(rte["x"]) == 800
    # the label sources themselves, against gold (published: MV about 0.90, DS higher)
    assert (rte["mv"] == rte["gold"]).mean() == pytest.approx(0.899, abs=0.01)
    assert (rte["ds"] == rte["gold"]).mean() > (rte["mv"] == rte["gold"]).mean()
    pred_mv = _cross_fit(rte["x"], rte["mv"], rte["mv"])
    pred_ds = _cross_fit(rte["x"], rte["ds"], rte["mv"])
    ev = evaluate(rte["gold"], pred_ds, classes=[0, 1]).metrics
    assert ev["n_test"] == 800 and ev["accuracy_ci_low"] < ev["accuracy"] < ev["accuracy_ci_high"]
    r = compare_predictions(rte["gold"], pred_mv, pred_ds)
    right_mv, right_ds = pred_mv == rte["gold"], pred_ds == rte["gold"]
    assert r["only_a_right"] == int((right_mv & ~right_ds).sum())
    assert r["only_b_right"] == int((~right_mv & right_ds).sum())
    assert r["mcnemar_method"] == "chi2"  # hundreds of discordant pairs
    # a bag-of-words model cannot read entailment: both runs sit near chance, and the
    # paired test must not call the small difference real
    assert ev["accuracy"] < 0.6
    assert r["verdict"].startswith("no evidence of a difference")
