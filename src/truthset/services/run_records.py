"""A stored training run read back: its row (JSON columns parsed) and its test predictions.

Shared by :mod:`.runs` (evaluate, compare, curve, card) and :mod:`.model_loop` (errors,
pre-labels), which both read runs and must not import each other.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from truthset.core.errors import NotFound
from truthset.services.projects import Project
from truthset.store.repo import runs as repo_runs


def get_run(project: Project, run_id: int | None = None) -> dict[str, Any]:
    """A training run with its JSON columns parsed (the latest when ``run_id`` is None)."""
    with project.store.read() as tx:
        row = repo_runs.training_run(tx, project.id, run_id)
        if row is None:
            ids = [r["id"] for r in repo_runs.training_runs(tx, project.id)]
    if row is None:
        if run_id is None:
            raise NotFound("this project has no training run yet; run 'truthset train' first")
        raise NotFound(f"run {run_id} is not a training run of this project; its runs are {ids or 'none'}")
    for key in ("config", "metrics", "library_versions", "split", "artifacts"):
        row[key] = json.loads(row[key] or "{}")
    return row


def test_predictions(project: Project, run_id: int) -> pd.DataFrame:
    """The run's test predictions: ``item_id``, ``label``, ``pred`` and ``proba`` (lists)."""
    with project.store.read() as tx:
        rows = repo_runs.predictions(tx, run_id, "test")
    return pd.DataFrame(
        {
            "item_id": [int(r[0]) for r in rows],
            "label": [json.loads(r[2]) for r in rows],
            "pred": [json.loads(r[3]) for r in rows],
            "proba": [json.loads(r[4]) if r[4] else None for r in rows],
        }
    )
