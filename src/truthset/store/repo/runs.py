"""Training runs' reads and writes: the run row, its predictions per item, model pre-labels.

:mod:`truthset.services.runs` trains and evaluates; here only the queries, each on the
caller's transaction, returning rows (tuples of plain values) or values, never ORM objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, TypeAlias

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update

from truthset.store.models import Annotation, Item, Run, RunPrediction, User, utcnow
from truthset.store.repo import current_annotations_query, ensure_users

#: ``runs.kind`` of a training run: what ``truthset train`` stores
TRAINING_RUN = "train"
#: prediction rows per INSERT: bounded statement size on either database
INSERT_CHUNK = 5000

#: (item id, side, label JSON, prediction JSON, probabilities JSON or None)
PredictionRow: TypeAlias = "Row[int, str, str, str, str | None]"


def add_training_run(
    tx: Connection,
    project_id: int,
    *,
    config: dict[str, Any],
    dataset_hash: str,
    seed: int,
    metrics: dict[str, Any],
    schema_version: int,
    code_version: str | None,
    library_versions: dict[str, Any],
    split: dict[str, Any],
    predictions: Iterable[tuple[int, str, str, str, str | None]],
) -> int:
    """Record a training run and its predictions; returns the run id.

    ``predictions``: (item id, side, label JSON, prediction JSON, probabilities JSON).
    """
    run_id = int(
        tx.execute(
            insert(Run)
            .returning(Run.id)
            .values(
                project_id=project_id,
                kind=TRAINING_RUN,
                config=json.dumps(config),
                dataset_hash=dataset_hash,
                seed=seed,
                metrics=json.dumps(metrics),
                schema_version=schema_version,
                code_version=code_version,
                library_versions=json.dumps(library_versions),
                split=json.dumps(split),
                artifacts="{}",
                created_at=utcnow(),
            )
        ).scalar_one()
    )
    rows = [
        {"run_id": run_id, "item_id": i, "side": side, "label": label, "pred": pred, "proba": proba}
        for i, side, label, pred, proba in predictions
    ]
    for start in range(0, len(rows), INSERT_CHUNK):
        tx.execute(insert(RunPrediction), rows[start : start + INSERT_CHUNK])
    return run_id


def set_artifacts(tx: Connection, run_id: int, artifacts: dict[str, Any]) -> None:
    """Record where the run's files are (paths relative to the project folder)."""
    tx.execute(update(Run).where(Run.id == run_id).values(artifacts=json.dumps(artifacts)))


def update_metrics(tx: Connection, run_id: int, metrics: dict[str, Any]) -> None:
    """Replace the run's metrics document (e.g. adding the error buckets once computed)."""
    tx.execute(update(Run).where(Run.id == run_id).values(metrics=json.dumps(metrics)))


_RUN_COLUMNS = (
    Run.id,
    Run.created_at,
    Run.config,
    Run.seed,
    Run.dataset_hash,
    Run.schema_version,
    Run.code_version,
    Run.library_versions,
    Run.metrics,
    Run.split,
    Run.artifacts,
)


def training_run(tx: Connection, project_id: int, run_id: int | None = None) -> dict[str, Any] | None:
    """The training run ``run_id`` of the project (the latest when None) as a dict of its
    columns (JSON columns still text); None when there is no such run."""
    q = select(*_RUN_COLUMNS).where(Run.project_id == project_id, Run.kind == TRAINING_RUN)
    q = q.where(Run.id == run_id) if run_id is not None else q.order_by(Run.id.desc()).limit(1)
    row = tx.execute(q).first()
    return None if row is None else dict(row._mapping)


def training_runs(tx: Connection, project_id: int) -> list[dict[str, Any]]:
    """Every training run of the project, oldest first, as dicts of their columns."""
    q = select(*_RUN_COLUMNS).where(Run.project_id == project_id, Run.kind == TRAINING_RUN).order_by(Run.id)
    return [dict(r._mapping) for r in tx.execute(q)]


def first_training_run_id(tx: Connection, project_id: int) -> int | None:
    """The project's first training run: its test set is the frozen one later runs reuse."""
    return tx.execute(
        select(Run.id).where(Run.project_id == project_id, Run.kind == TRAINING_RUN).order_by(Run.id).limit(1)
    ).scalar()


def predictions(tx: Connection, run_id: int, side: str | None = "test") -> Sequence[PredictionRow]:
    """The run's predictions (one side, or all with ``side=None``), in item id order."""
    q = select(
        RunPrediction.item_id, RunPrediction.side, RunPrediction.label, RunPrediction.pred, RunPrediction.proba
    ).where(RunPrediction.run_id == run_id)
    if side is not None:
        q = q.where(RunPrediction.side == side)
    rows: Sequence[PredictionRow] = tx.execute(q.order_by(RunPrediction.item_id)).all()
    return rows


def item_ids_without_judgement(tx: Connection, project_id: int, sources: Sequence[str]) -> list[int]:
    """Items nobody has judged yet (no current annotation from ``sources``), in id order:
    the items a pre-label helps."""
    judged = (
        current_annotations_query(project_id)
        .where(Annotation.source.in_(sources))
        .where(Annotation.item_id == Item.id)
        .with_only_columns(Annotation.id)
    )
    return [
        int(i)
        for i in tx.execute(
            select(Item.id).where(Item.project_id == project_id, ~judged.exists()).order_by(Item.id)
        ).scalars()
    ]


def add_prelabels(
    tx: Connection,
    project_id: int,
    *,
    model_user: str,
    schema_version: int,
    rows: Iterable[tuple[int, str, str | None, str]],
) -> int:
    """Write model pre-labels (source ``model``) under the user ``model_user`` (created without a
    password, so it cannot log in); rows are (item id, value JSON, label, meta JSON). Returns
    how many were written."""
    user_id = ensure_users(tx, [model_user], role="annotator")[model_user]
    now = utcnow()
    values = [
        {
            "project_id": project_id,
            "item_id": i,
            "user_id": user_id,
            "value": v,
            "label": label,
            "schema_version": schema_version,
            "source": "model",
            "meta": meta,
            "created_at": now,
        }
        for i, v, label, meta in rows
    ]
    for start in range(0, len(values), INSERT_CHUNK):
        tx.execute(insert(Annotation), values[start : start + INSERT_CHUNK])
    return len(values)


def prelabelled_annotations(tx: Connection, project_id: int) -> Sequence[Row[int, int, str, str | None, str]]:
    """(annotation id, item id, source, label, annotator name) of the current annotations of every item that
    has a model pre-label, in id (time) order: what anchoring on pre-labels is measured on."""
    has_prelabel = select(Annotation.item_id).where(Annotation.project_id == project_id, Annotation.source == "model")
    q = (
        current_annotations_query(project_id)
        .where(Annotation.item_id.in_(has_prelabel))
        .order_by(Annotation.id)
        .with_only_columns(Annotation.id, Annotation.item_id, Annotation.source, Annotation.label, User.name)
    )
    rows: Sequence[Row[int, int, str, str | None, str]] = tx.execute(q).all()
    return rows


def item_batches(tx: Connection, item_ids: Sequence[int]) -> dict[int, int | None]:
    """Item id -> the import batch that added it (for ``--slice batch``)."""
    out: dict[int, int | None] = {}
    ids = list(item_ids)
    for start in range(0, len(ids), INSERT_CHUNK):
        out.update(
            {
                int(i): b
                for i, b in tx.execute(
                    select(Item.id, Item.batch_id).where(Item.id.in_(ids[start : start + INSERT_CHUNK]))
                )
            }
        )
    return out


def set_queue_keys(tx: Connection, project_id: int, keys: Sequence[tuple[int, int]]) -> int:
    """Set ``items.queue_key`` of the given (item id, key) pairs: the queue hands out open items
    by ascending key, so negative keys come before every imported (random, non-negative) one."""
    stmt = (
        update(Item)
        .where(Item.project_id == project_id, Item.id == bindparam("b_id"))
        .values(queue_key=bindparam("b_key"))
        .execution_options(synchronize_session=False)
    )
    rows = [{"b_id": i, "b_key": k} for i, k in keys]
    for start in range(0, len(rows), INSERT_CHUNK):
        tx.execute(stmt, rows[start : start + INSERT_CHUNK])
    return len(rows)


def latest_annotation_id(tx: Connection, project_id: int, sources: Sequence[str]) -> int:
    """The highest annotation id from ``sources`` in the project (0 if none): a run records it
    as the last label it could have seen."""
    q = select(func.max(Annotation.id)).where(Annotation.project_id == project_id, Annotation.source.in_(sources))
    return int(tx.execute(q).scalar() or 0)


def annotations_after(tx: Connection, project_id: int, after_id: int, sources: Sequence[str]) -> int:
    """How many annotations from ``sources`` arrived after annotation ``after_id``."""
    q = (
        select(func.count())
        .select_from(Annotation)
        .where(Annotation.project_id == project_id, Annotation.source.in_(sources), Annotation.id > after_id)
    )
    return int(tx.execute(q).scalar() or 0)
