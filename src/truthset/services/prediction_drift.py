"""Prediction drift of a trained model: ``truthset drift --model RUN --reference A --current B``.

A training run's model (``truthset train``, loaded with its version check) predicts on the
reference and on the current data (each a file or a project's batches, as ``truthset drift``
reads them); :func:`truthset.data.label_drift.prediction_drift` (pure) compares the predicted
label distributions by Jensen–Shannon distance and the class probabilities by normalised
Wasserstein distance, with the thresholds of ``drift:`` in truthset.yaml. The mean confidence
(the top class's probability) and the share of each predicted label on either side explain
the verdict: a model that sees a new kind of data often predicts another mix of labels, or
the same mix with less confidence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.services import drift as drift_svc
from truthset.services.projects import Project
from truthset.services.run_records import get_run
from truthset.services.training import full_proba, load_model, text_of


def parse_run(spec: str) -> int | None:
    """``--model`` as a run id (``latest``: None, the latest training run)."""
    text = spec.strip().lower()
    if text == "latest":
        return None
    if not text.isdigit():
        raise InvalidInput(f"--model {spec!r}: give a training run id (see 'truthset runs') or 'latest'")
    return int(text)


def _inputs(frame: pd.DataFrame, fields: list[str], option: str, text_column: str | None) -> list[str]:
    """The model's input for each row. A file names its columns as the user's export does: a
    single text field is read, as ``truthset import`` reads it, from ``text_column`` or the
    first text-like column (``text``, ``SMS``, ``sentence``, ...)."""
    from truthset.data.mapping import TEXT_COLUMNS

    if len(fields) == 1 and (text_column is not None or fields[0] not in frame.columns):
        if text_column is not None and text_column not in frame.columns:
            raise InvalidInput(
                f"--text-column {text_column!r} is not a column of {option}; its columns are {list(frame.columns)[:20]}"
            )
        lower = {str(c).lower(): c for c in frame.columns}
        found = text_column or next((lower[c.lower()] for c in (fields[0], *TEXT_COLUMNS) if c.lower() in lower), None)
        if found is not None:
            frame = frame.rename(columns={found: fields[0]})
    missing = [f for f in fields if f not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{option}: the model reads the field(s) {missing}, which the data lacks; its columns "
            f"are {list(frame.columns)[:20]} (name the text column with --text-column)"
        )
    records = frame[fields].to_dict("records")
    return [text_of({k: (None if pd.isna(v) else v) for k, v in r.items()}, fields) for r in records]


def _explain(proba: npt.NDArray[np.float64], classes: list[str]) -> dict[str, Any]:
    top = proba.argmax(axis=1)
    return {
        "n": int(len(proba)),
        "mean_confidence": float(proba.max(axis=1).mean()),
        "predicted_share": {c: float(np.mean(top == j)) for j, c in enumerate(classes)},
    }


def compare_predictions(
    project: Project, run_id: int | None, reference: str, current: str, *, text_column: str | None = None
) -> dict[str, Any]:
    """Drift of the run's predictions between ``reference`` and ``current`` (files or batch ids);
    ``text_column``: the files' column holding the model's input (default: as the import finds it;
    a batch's items hold the model's fields already).

    JSON fields: ``run``, ``reference``, ``current``, ``n_reference``, ``n_current``, ``drift``,
    ``columns`` (``predicted_label`` by Jensen–Shannon, ``score`` or ``proba[<label>]`` by
    Wasserstein: ``column``, ``method``, ``score``, ``threshold``, ``drift``), and
    ``mean_confidence_reference`` / ``_current`` and ``predicted_share_reference`` / ``_current``.
    """
    from truthset.data.label_drift import prediction_drift

    run = get_run(project, run_id)
    model = load_model(project, run)
    classes = [str(c) for c in run["config"]["classes"]]
    fields = list(run["config"].get("fields") or [project.config.text_field])
    sides = {}
    for option, spec in (("--reference", reference), ("--current", current)):
        frame, name = drift_svc.side(project, spec, option)
        if frame.empty:
            raise InvalidInput(f"{option} {spec!r}: no rows to predict on")
        sides[option] = (
            full_proba(
                model, _inputs(frame, fields, option, text_column if drift_svc.is_file(spec) else None), classes
            ),
            name,
        )
    (ref, ref_name), (cur, cur_name) = sides["--reference"], sides["--current"]
    report = prediction_drift(ref, cur, labels=classes, thresholds=drift_svc.thresholds(project))
    a, b = _explain(ref, classes), _explain(cur, classes)
    return {
        "run": int(run["id"]),
        "reference": ref_name,
        "current": cur_name,
        "n_reference": a["n"],
        "n_current": b["n"],
        **report.to_dict(),
        "mean_confidence_reference": a["mean_confidence"],
        "mean_confidence_current": b["mean_confidence"],
        "predicted_share_reference": a["predicted_share"],
        "predicted_share_current": b["predicted_share"],
    }
