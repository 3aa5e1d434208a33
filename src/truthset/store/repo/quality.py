"""Quality control's reads and writes: judgements, gold, item ids, consensus runs.

The services of quality control (``services.qc``, ``qc_spans``, ``gold``, ``training_data``)
gather what the pure :mod:`truthset.quality` algorithms need through these functions and keep
all the logic (latest judgement per annotator, matching gold, the final-label rule) themselves.
Each function runs one query (one write: a run with its labels) on the caller's transaction
and returns rows (tuples of plain values, typed column by column) or values, never ORM objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, TypeAlias, cast

from sqlalchemy import Connection, Row, insert, select

from truthset.store.models import Annotation, Consensus, Gold, Item, Run, User, utcnow
from truthset.store.repo import current_annotations_query

#: ``runs.kind`` of a consensus (aggregation) run: what ``truthset qc aggregate`` stores
CONSENSUS_RUN = "qc-aggregate"
#: consensus rows per INSERT: bounded statement size on either database
INSERT_CHUNK = 5000

#: (item id, annotator name, label, annotation meta as JSON text)
LabelJudgement: TypeAlias = "Row[int, str, str | None, str | None]"
#: (item id, annotator name, value as JSON text, annotation meta as JSON text)
ValueJudgement: TypeAlias = "Row[int, str, str, str | None]"


def labelled_judgements(
    tx: Connection, project_id: int, sources: Sequence[str], *, with_gold: bool = True
) -> Sequence[LabelJudgement]:
    """Current (not superseded) annotations from ``sources`` that have a single label, in id
    (time) order: what agreement and aggregation of a single-label project work on. Reading
    only four columns keeps a large project's read small. ``with_gold=False`` leaves out gold
    answers given as annotations (``ground_truth``)."""
    q = (
        current_annotations_query(project_id, with_gold=with_gold)
        .where(Annotation.source.in_(sources), Annotation.label.is_not(None))
        .order_by(Annotation.id)
        .with_only_columns(Annotation.item_id, User.name.label("annotator"), Annotation.label, Annotation.meta)
    )
    rows: Sequence[LabelJudgement] = tx.execute(q).all()
    return rows


def valued_judgements(tx: Connection, project_id: int, sources: Sequence[str]) -> Sequence[ValueJudgement]:
    """Current annotations from ``sources`` with their JSON value, in id (time) order: NER
    spans are in the value, and an annotation with no span still counts as a judgement."""
    q = (
        current_annotations_query(project_id)
        .where(Annotation.source.in_(sources))
        .order_by(Annotation.id)
        .with_only_columns(Annotation.item_id, User.name.label("annotator"), Annotation.value, Annotation.meta)
    )
    rows: Sequence[ValueJudgement] = tx.execute(q).all()
    return rows


def external_ids(tx: Connection, project_id: int) -> Sequence[Row[int, str]]:
    """(item id, external id) of the project's items that have an external id (the id column
    of the imported file): messages and gold files name items by it."""
    rows = tx.execute(
        select(Item.id, Item.external_id).where(Item.project_id == project_id, Item.external_id.is_not(None))
    ).all()
    return cast("Sequence[Row[int, str]]", rows)  # the WHERE leaves out the NULLs


def item_ids(tx: Connection, project_id: int) -> list[int]:
    """Every item id of the project (a gold file may name items by truthset's id)."""
    return [int(i) for i in tx.execute(select(Item.id).where(Item.project_id == project_id)).scalars()]


def item_payloads(tx: Connection, project_id: int) -> Sequence[Row[int, str]]:
    """(item id, payload as JSON text) of every item: the texts token-level agreement reads."""
    return tx.execute(select(Item.id, Item.payload).where(Item.project_id == project_id)).all()


def batch_item_ids(tx: Connection, project_id: int, batch_id: int) -> list[int]:
    """The ids of the items an import batch added, in id order (the population an acceptance
    sample is drawn from); empty when the batch added none or is not this project's."""
    return [
        int(i)
        for i in tx.execute(
            select(Item.id).where(Item.project_id == project_id, Item.batch_id == batch_id).order_by(Item.id)
        ).scalars()
    ]


def gold_labels(tx: Connection, project_id: int) -> Sequence[Row[int, str | None]]:
    """(item id, gold label) of every gold item; the label is None where the gold value is not a
    single label (multi-label, NER)."""
    return tx.execute(select(Gold.item_id, Gold.label).where(Gold.project_id == project_id)).all()


def add_consensus_run(
    tx: Connection,
    project_id: int,
    *,
    method: str,
    config: dict[str, Any],
    dataset_hash: str,
    seed: int,
    metrics: dict[str, Any],
    labels: Iterable[tuple[int, str, float]],
) -> int:
    """Record an aggregation run and its consensus per item; returns the run id.

    ``labels``: (item id, label value as JSON text, posterior of that label). The run and its
    labels share one timestamp; the labels go in chunks of ``INSERT_CHUNK`` rows, so a large
    project needs few statements and none is unbounded.
    """
    now = utcnow()
    run_id = int(
        tx.execute(
            insert(Run)
            .returning(Run.id)
            .values(
                project_id=project_id,
                kind=CONSENSUS_RUN,
                config=json.dumps(config),
                dataset_hash=dataset_hash,
                seed=seed,
                metrics=json.dumps(metrics),
                created_at=now,
            )
        ).scalar_one()
    )
    rows = [
        {
            "project_id": project_id,
            "item_id": item,
            "run_id": run_id,
            "method": method,
            "value": value,
            "posterior": posterior,
            "created_at": now,
        }
        for item, value, posterior in labels
    ]
    for start in range(0, len(rows), INSERT_CHUNK):
        tx.execute(insert(Consensus), rows[start : start + INSERT_CHUNK])
    return run_id


def consensus_run(tx: Connection, project_id: int, run_id: int | None = None) -> tuple[int, str] | None:
    """(run id, config as JSON text) of consensus run ``run_id`` of the project, or of its
    latest when ``run_id`` is None; None when there is no such run."""
    q = select(Run.id, Run.config).where(Run.project_id == project_id, Run.kind == CONSENSUS_RUN)
    q = q.where(Run.id == run_id) if run_id is not None else q.order_by(Run.id.desc()).limit(1)
    row = tx.execute(q).first()
    return None if row is None else (int(row[0]), row[1])


def consensus_run_ids(tx: Connection, project_id: int) -> list[int]:
    """The ids of the project's consensus runs, oldest first (to name them in a message)."""
    return [
        int(i)
        for i in tx.execute(
            select(Run.id).where(Run.project_id == project_id, Run.kind == CONSENSUS_RUN).order_by(Run.id)
        ).scalars()
    ]


def consensus_labels(tx: Connection, run_id: int, item_ids: Sequence[int]) -> Sequence[Row[int, str, float | None]]:
    """(item id, consensus value as JSON text, posterior) that run ``run_id`` gave the items
    (those it did not see are absent)."""
    return tx.execute(
        select(Consensus.item_id, Consensus.value, Consensus.posterior).where(
            Consensus.run_id == run_id, Consensus.item_id.in_(item_ids)
        )
    ).all()
