"""Group-aware split with near-duplicates (issue 14, second pass): edited copies of a message
land on the same side of the split as the message, not only exact copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.support import NewProject
from truthset.core.errors import InvalidInput
from truthset.data.duplicates import near_duplicates
from truthset.services import runs
from truthset.services.demo import demo_file
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project
from truthset.services.training import load_dataset, split_groups, train


def _near_copy_file(tmp_path: Path) -> tuple[Path, list[tuple[str, str]]]:
    """500 real SMS messages of 60+ characters, and for 150 of them a copy with one word
    changed (a near-duplicate, not an exact one). Returns the file and the (original, copy) pairs."""
    rows = [line.split("\t", 1) for line in demo_file().read_text(encoding="utf-8").splitlines()[1:]]
    seen: set[str] = set()
    long = []
    for label, text in rows:
        if len(text) >= 60 and text.lower() not in seen:
            seen.add(text.lower())
            long.append((label, text))
    long = long[:500]
    pairs = []
    out = list(long)
    for label, text in long[:150]:
        words = text.split()
        words[len(words) // 2] = "zzqx"
        copy = " ".join(words)
        pairs.append((text, copy))
        out.append((label, copy))
    path = tmp_path / "near.csv"
    pd.DataFrame({"label": [a for a, _ in out], "text": [b for _, b in out]}).to_csv(path, index=False)
    return path, pairs


def _sides(p: Project, run_id: int) -> dict[str, str]:
    run = runs.get_run(p, run_id)
    ds = load_dataset(p, run["config"]["labels"], ["text"])
    text_of = dict(zip(ds.item_ids.tolist(), ds.x, strict=True))
    side = {text_of[i]: s for s in ("train", "val", "test") for i in run["split"][s]}
    return {t: side.get(t, "left out") for t in ds.x}


def test_near_duplicates_stay_on_one_side(new_project: NewProject, tmp_path: Path) -> None:
    path, pairs = _near_copy_file(tmp_path)
    # the copies are near-duplicates by the same clustering the split uses
    # (a copy of a short message can fall below 0.7 Jaccard: those pairs are left out below)
    cluster = near_duplicates([t for pair in pairs for t in pair], threshold=0.7).clusters.cluster
    pairs = [pair for i, pair in enumerate(pairs) if cluster[2 * i] == cluster[2 * i + 1]]
    assert len(pairs) >= 135
    p = new_project(labels=["ham", "spam"])
    import_file(p, path, ImportOptions(annotator="uci-original", text_col="text", label_col="label"))
    out = train(p, seed=0, n_boot=0)
    assert out["items_in_shared_groups"] >= 280
    side = _sides(p, out["run"])
    test = {"test"}
    # an original and its copy: both tested, or neither
    assert all((side[a] in test) == (side[b] in test) for a, b in pairs)
    assert sum(side[a] == "test" for a, _ in pairs) >= 10
    # exact duplicates only (the first pass): a fresh test set splits some pairs across sides
    q = new_project(labels=["ham", "spam"])
    import_file(q, path, ImportOptions(annotator="uci-original", text_col="text", label_col="label"))
    exact = train(q, seed=0, n_boot=0, near_threshold=None)
    side = _sides(q, exact["run"])
    assert sum((side[a] == "test") != (side[b] == "test") for a, b in pairs) >= 5
    assert runs.get_run(q, exact["run"])["config"]["near_threshold"] is None


def test_group_field_and_near_duplicates_join(new_project: NewProject, tmp_path: Path) -> None:
    f = tmp_path / "g.csv"
    base = "the quick brown fox jumps over the lazy dog near the river bank today"
    pd.DataFrame(
        {
            "text": [
                base,
                base.replace("today", "again"),
                "a completely different message here",
                "another one",
                "unrelated words only",
                "something else entirely",
            ],
            "label": ["a", "a", "b", "b", "a", "b"],
            "source": ["s1", "s2", "s2", "s3", "", ""],
        }
    ).to_csv(f, index=False)
    p = new_project(labels=["a", "b"])
    import_file(p, f, ImportOptions(annotator="x", text_col="text", label_col="label"))
    ds = load_dataset(p, "latest", ["text"])
    codes, info = split_groups(ds, group_field="source", near_threshold=0.7)
    # items 0-1 are near-duplicates, 1-2 share a source: one group of three; the rest alone
    assert codes[0] == codes[1] == codes[2] and len(set(codes[3:].tolist())) == 3 and codes[3] != codes[0]
    assert info == {"near_duplicate_threshold": 0.7, "groups": 4, "items_in_shared_groups": 3}
    exact, info = split_groups(ds, group_field=None, near_threshold=None)
    assert np.unique(exact).size == 6 and info["near_duplicate_threshold"] is None
    with pytest.raises(InvalidInput, match="--near-threshold"):
        split_groups(ds, group_field=None, near_threshold=1.5)
    with pytest.raises(InvalidInput, match="--group-field 'nope'"):
        split_groups(ds, group_field="nope", near_threshold=0.7)
