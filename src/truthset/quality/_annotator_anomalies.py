"""Anomalies of one annotator: too fast, one label, a fixed pattern, gold failures in a row.

Each check is a few reductions over the prepared frame (sorted by annotator, then time):
``np.bincount`` per annotator, pandas' grouped median (compiled, no Python per row), and run
lengths from ``np.diff``/``np.cumsum``. (private; the public front is
:mod:`truthset.quality.anomalies`)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from truthset.quality._anomaly_base import (
    AnomalyFlag,
    AnomalyThresholds,
    FloatArray,
    Prepared,
    percent,
    plain,
    seconds,
    show,
)

#: Medians below this many seconds are taken as this, so a ratio stays finite.
MIN_SECONDS = 0.01


def leave_one_out_median(values: FloatArray) -> FloatArray:
    """For each element, the median of all the *other* elements (``values`` has >= 2)."""
    order = np.argsort(values, kind="stable")
    s = values[order]
    n = s.size
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)

    def at(k: int) -> FloatArray:  # element k of the sorted values once each rank is removed
        picked: FloatArray = np.where(k < rank, s[min(k, n - 1)], s[min(k + 1, n - 1)])
        return picked

    m = n - 1
    out: FloatArray = at(m // 2) if m % 2 else (at(m // 2 - 1) + at(m // 2)) / 2
    return out


def fast_annotators(p: Prepared, th: AnomalyThresholds) -> list[AnomalyFlag]:
    """Annotators whose median seconds per item is ``fast_ratio`` times below the others'.

    Needs a ``lead_time`` column (seconds); missing or negative values are left out. The
    comparison is with the median of the *other* annotators' medians, so with two annotators
    the faster one can still be flagged, and one fast annotator does not pull the yardstick.
    """
    if "lead_time" not in p.frame.columns:
        return []
    lead = pd.to_numeric(p.frame["lead_time"], errors="coerce").to_numpy(dtype=np.float64)
    ok = np.isfinite(lead) & (lead >= 0)
    counts = np.bincount(p.annotator[ok], minlength=p.n_annotators)
    medians = pd.Series(lead[ok]).groupby(p.annotator[ok]).median()
    who = medians.index.to_numpy()[counts[medians.index.to_numpy()] >= th.min_annotations]
    if who.size < 2:
        return []
    own = np.maximum(medians.loc[who].to_numpy(dtype=np.float64), MIN_SECONDS)
    rest = leave_one_out_median(own)
    ratio = rest / own
    flags = []
    for i in np.flatnonzero(ratio >= th.fast_ratio):
        a = p.annotators[who[i]]
        flags.append(
            AnomalyFlag(
                "fast_annotator",
                float(ratio[i]),
                th.fast_ratio,
                f"annotator {show(a)} took a median {seconds(own[i])} per item, "
                f"{ratio[i]:.1f}× faster than the median of the other annotators "
                f"({seconds(rest[i])}); threshold {th.fast_ratio:g}×",
                annotator=plain(a),
                details={
                    "median_seconds": float(own[i]),
                    "others_median_seconds": float(rest[i]),
                    "annotations": int(counts[who[i]]),
                },
            )
        )
    return flags


def single_label_annotators(p: Prepared, th: AnomalyThresholds) -> list[AnomalyFlag]:
    """Annotators who give one label to nearly everything, unlike the others.

    Noise guard: at the other annotators' rate for that label, the annotator's count of it
    must be unlikely (binomial tail below ``alpha``): 18 of 20 where others give it 57 % of
    the time happens by chance (p = 0.005), 20 of 20 does not.
    """
    counts = p.label_counts()
    n = counts.sum(axis=1)
    total = counts.sum(axis=0)
    top = counts.argmax(axis=1)
    idx = np.arange(p.n_annotators)
    mine = counts[idx, top]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = mine / n
        others = (total[top] - mine) / (n.sum() - n)
    hit = (
        (n >= th.min_annotations)
        & (n.sum() > n)
        & (share >= th.single_label_share)
        & (share - others >= th.single_label_excess)
    )
    if hit.any():  # noise guard: that many of one label is unlikely at the others' rate
        from scipy.stats import binom

        chance = np.ones(p.n_annotators)
        chance[hit] = binom.sf(mine[hit] - 1, n[hit], others[hit])
        hit &= chance < th.alpha
    flags = []
    for a in np.flatnonzero(hit):
        label = p.labels[top[a]]
        flags.append(
            AnomalyFlag(
                "single_label",
                float(share[a]),
                th.single_label_share,
                f"annotator {show(p.annotators[a])} gave '{show(label)}' to {percent(share[a])} of "
                f"their {int(n[a])} annotations; the other annotators gave it to "
                f"{percent(others[a])}; thresholds {percent(th.single_label_share)} and "
                f"{100 * th.single_label_excess:.0f} points above the others",
                annotator=plain(p.annotators[a]),
                details={
                    "label": plain(label),
                    "share": float(share[a]),
                    "others_share": float(others[a]),
                    "annotations": int(n[a]),
                    "p_value": float(chance[a]),
                },
            )
        )
    return flags


def self_agreement(p: Prepared, max_lag: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Chance-corrected agreement of each annotator's label with the one ``lag`` items back.

    Returns ``kappa`` and ``observed`` (both ``(n_annotators, max_lag)``, NaN where
    undefined) and ``expected`` (``(n_annotators,)``: the agreement their label mix gives
    by chance, the sum of squared label shares).
    """
    counts = p.label_counts()
    n = counts.sum(axis=1)
    expected = np.square(counts / n[:, None]).sum(axis=1)
    kappa = np.full((p.n_annotators, max_lag), np.nan)
    observed = np.full((p.n_annotators, max_lag), np.nan)
    for lag in range(1, max_lag + 1):  # a loop over lags, each a vectorised pass
        if lag >= p.annotator.size:
            break
        same = p.annotator[lag:] == p.annotator[:-lag]
        who = p.annotator[lag:][same]
        equal = (p.label[lag:] == p.label[:-lag])[same].astype(np.float64)
        pairs = np.bincount(who, minlength=p.n_annotators)
        matches = np.bincount(who, weights=equal, minlength=p.n_annotators)
        with np.errstate(invalid="ignore", divide="ignore"):
            obs = np.where(pairs > 0, matches / pairs, np.nan)
            observed[:, lag - 1] = obs
            kappa[:, lag - 1] = np.where(expected < 1, (obs - expected) / (1 - expected), np.nan)
    return kappa, observed, expected


def patterned_annotators(p: Prepared, th: AnomalyThresholds) -> list[AnomalyFlag]:
    """Annotators whose labels, in time order, repeat in long runs or a fixed cycle.

    Assumes items reach an annotator in an order unrelated to their labels (truthset's
    queue serves items in random order); items served sorted by class would make everyone
    look patterned, which the explanation shows by quoting the median annotator.
    """
    kappa, observed, expected = self_agreement(p, th.pattern_max_lag)
    n = np.bincount(p.annotator, minlength=p.n_annotators)
    filled = np.where(np.isnan(kappa), -np.inf, kappa)
    lag = filled.argmax(axis=1)
    best = filled[np.arange(p.n_annotators), lag]
    eligible = n >= th.min_annotations
    flags = []
    for a in np.flatnonzero(eligible & (best >= th.pattern_kappa)):
        k = int(lag[a])
        peers = kappa[eligible, k]
        typical = float(np.nanmedian(peers)) if np.isfinite(peers).any() else float("nan")
        shape = "come in long runs: " if k == 0 else f"repeat every {k + 1} items: "
        flags.append(
            AnomalyFlag(
                "fixed_pattern",
                float(best[a]),
                th.pattern_kappa,
                f"annotator {show(p.annotators[a])}'s labels {shape}{percent(observed[a, k])} equal "
                f"the label {k + 1} item{'s' if k else ''} earlier, against {percent(expected[a])} "
                f"expected from their label mix (chance-corrected {best[a]:.2f}, median annotator "
                f"{typical:.2f}); threshold {th.pattern_kappa:g}",
                annotator=plain(p.annotators[a]),
                details={
                    "lag": k + 1,
                    "kappa": float(best[a]),
                    "observed": float(observed[a, k]),
                    "expected": float(expected[a]),
                    "median_annotator_kappa": typical,
                    "annotations": int(n[a]),
                },
            )
        )
    return flags


def gold_outcomes(p: Prepared) -> tuple[np.ndarray, np.ndarray] | None:
    """Which rows answer a gold item (``known``) and which of those are wrong.

    From a ``correct`` column (True/False, empty where the item has no gold) or else a
    ``gold`` column (the true label, empty where none).
    """
    f = p.frame
    if "correct" in f.columns:
        known = f["correct"].notna().to_numpy()
        right = np.zeros(len(f), dtype=bool)
        right[known] = f["correct"][known].astype(bool).to_numpy()
    elif "gold" in f.columns:
        known = f["gold"].notna().to_numpy()
        right = (f["label"] == f["gold"]).to_numpy() & known
    else:
        return None
    return known, known & ~right


def gold_failure_runs(p: Prepared, th: AnomalyThresholds) -> list[AnomalyFlag]:
    """Annotators who answered ``gold_fail_run`` or more gold items wrong in a row."""
    outcome = gold_outcomes(p)
    if outcome is None or not outcome[0].any():
        return []
    known, wrong_all = outcome
    rows = np.flatnonzero(known)
    a, wrong = p.annotator[rows], wrong_all[rows]
    start = np.r_[True, (a[1:] != a[:-1]) | (wrong[1:] != wrong[:-1])]
    lengths = np.bincount(np.cumsum(start) - 1)
    first = np.flatnonzero(start)
    bad = np.flatnonzero(wrong[first] & (lengths >= th.gold_fail_run))
    if bad.size == 0:
        return []
    # the longest run of each annotator: sort by annotator, then length descending
    bad = bad[np.lexsort((-lengths[bad], a[first[bad]]))]
    bad = bad[np.r_[True, a[first[bad]][1:] != a[first[bad]][:-1]]]
    answered = np.bincount(a, minlength=p.n_annotators)
    right = np.bincount(a, weights=~wrong, minlength=p.n_annotators)
    flags = []
    for r in bad:
        who, length, row = a[first[r]], int(lengths[r]), rows[first[r]]
        q = 1 - right[who] / answered[who]
        per_answer = q**length * (1 - q)
        chance = (
            f"at their error rate of {percent(q)} a run this long starts by chance about "
            f"once in {1 / per_answer:,.0f} gold answers"
            if per_answer > 0
            else "they got no gold item right"
        )
        when = ""
        if p.time is not None:
            when = f" (from {pd.Timestamp(int(p.time[row]), tz='UTC'):%Y-%m-%d %H:%M} UTC)"
        flags.append(
            AnomalyFlag(
                "gold_failures",
                float(length),
                float(th.gold_fail_run),
                f"annotator {show(p.annotators[who])} answered {length} gold items wrong in a "
                f"row{when}; threshold {th.gold_fail_run}; overall {int(right[who])} of "
                f"{int(answered[who])} gold items right ({percent(right[who] / answered[who])}); "
                f"{chance}",
                annotator=plain(p.annotators[who]),
                details={
                    "run": length,
                    "first_item": plain(p.frame["item"].iat[row]),
                    "gold_answered": int(answered[who]),
                    "gold_right": int(right[who]),
                    "chance_per_answer": float(per_answer),
                },
            )
        )
    return flags
