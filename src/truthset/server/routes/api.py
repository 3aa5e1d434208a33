"""The JSON API: everything the pages do, for scripts and pipelines too. OpenAPI at /docs."""

from __future__ import annotations

import json
import tempfile
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from truthset.server.auth import require
from truthset.server.executor import run_db
from truthset.server.inputs import AfterId, BodyId, PathId, QueryId, QueryText, StoredText
from truthset.services import media, queue, review
from truthset.services.imports import ImportOptions, import_file
from truthset.services.users import Account
from truthset.store import repo
from truthset.store.db import read_connection
from truthset.store.models import Annotation, Gold, Item

router = APIRouter(prefix="/api", tags=["api"])


class Submission(BaseModel):
    value: Any = Field(description="A label name; a list of names (multi-label); or spans (NER).")
    lead_time: float | None = Field(None, ge=0, le=queue.MAX_LEAD_TIME, description="Seconds spent on the item.")


class Skip(BaseModel):
    reason: str = Field(max_length=40, description="ambiguous, broken data, guideline gap or other")
    note: Annotated[StoredText, Field(max_length=2000)] = ""


class Verdict(BaseModel):
    verdict: str = Field(max_length=20, description="accept, reject or correct")
    annotation_id: BodyId | None = Field(None, description="The annotation accepted or rejected (required for those).")
    value: Any = None
    reason: Annotated[StoredText, Field(max_length=2000)] = ""


class ItemsIn(BaseModel):
    items: list[dict[str, Any]] = Field(min_length=1, max_length=100_000,
                                        description="Item payloads; a 'label' key imports a label.")
    annotator: Annotated[StoredText, Field(min_length=1, max_length=200)] = "api"


def _project(request: Request) -> Any:
    return request.app.state.project


def _task_or_none(task: queue.Task | None, response: Response) -> dict[str, Any] | None:
    if task is None:
        response.status_code = 204
        return None
    return task.to_dict()


@router.get("/me")
def me(account: Account = require("annotator")) -> dict[str, Any]:
    return {"id": account.id, "name": account.name, "role": account.role}


@router.get("/schema")
def schema(request: Request, account: Account = require("annotator")) -> dict[str, Any]:
    """The labels and their guide text (what annotators read)."""
    p = _project(request)
    return {"task": p.task, "schema_version": p.schema_version, **p.config.schema.model_dump()}


# The queue routes run through server/executor.run_db: on the event loop when they can.

@router.post("/next", responses={204: {"description": "no item left for you"}})
async def next_item(request: Request, response: Response,
                    account: Account = require("annotator")) -> dict[str, Any] | None:
    return _task_or_none(await run_db(request, queue.next_task, _project(request), account.id), response)


@router.post("/assignments/{assignment_id}/submit")
async def submit(assignment_id: PathId, body: Submission, request: Request,
                 account: Account = require("annotator")) -> dict[str, Any]:
    """Store the annotation and hand out the next item in the same round trip."""
    p = _project(request)
    annotation_id, nxt = await run_db(request, queue.submit_and_next, p, account.id, assignment_id, body.value,
                                      lead_time=body.lead_time)
    return {"annotation_id": annotation_id, "next": None if nxt is None else nxt.to_dict()}


@router.post("/assignments/{assignment_id}/skip")
async def skip(assignment_id: PathId, body: Skip, request: Request,
               account: Account = require("annotator")) -> dict[str, Any]:
    p = _project(request)
    issue = await run_db(request, queue.skip, p, account.id, assignment_id, body.reason, note=body.note)
    nxt = await run_db(request, queue.next_task, p, account.id)
    return {"data_issue": issue, "next": None if nxt is None else nxt.to_dict()}


@router.post("/items")
def push_items(body: ItemsIn, request: Request, account: Account = require("admin")) -> dict[str, Any]:
    """Add items (idempotent: content already present is not added twice)."""
    p = _project(request)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8", delete=True) as fh:
        for it in body.items:
            fh.write(json.dumps(it, ensure_ascii=False) + "\n")
        fh.flush()
        report = import_file(p, fh.name, ImportOptions(format="jsonl", annotator=body.annotator))
    out = report.to_dict()
    out["source"] = "api"
    return out


@router.get("/items")
def list_items(request: Request, after: AfterId = 0, limit: int = Query(50, ge=1, le=1000), batch: QueryId = None,
               label: QueryText = None, account: Account = require("reviewer")) -> dict[str, Any]:
    """Items in id order (keyset pagination: pass the last id as ``after``); ``batch=`` keeps one
    batch's items, ``label=`` only items with a current annotation of that label."""
    p = _project(request)
    q = select(Item.id, Item.external_id, Item.payload, Item.batch_id, Item.n_open).where(
        Item.project_id == p.id, Item.id > after)
    if batch is not None:
        q = q.where(Item.batch_id == batch)
    if label is not None:
        # ``item_id > after`` repeats the correlation as a range PostgreSQL can seek to: without
        # it a merge semi-join reads the label's annotations from the first item on every page.
        q = q.where(select(Annotation.id).where(Annotation.item_id == Item.id, Annotation.item_id > after,
                                                Annotation.label == label).exists())
    with read_connection(p.engine) as conn:
        rows = conn.execute(q.order_by(Item.id).limit(limit)).all()
    items = [{"item_id": r.id, "external_id": r.external_id, "data": json.loads(r.payload), "batch": r.batch_id,
              "assigned": r.n_open} for r in rows]
    return {"items": items, "next_after": items[-1]["item_id"] if len(items) == limit else None}


@router.get("/items/{item_id}")
def get_item(item_id: PathId, request: Request, account: Account = require("reviewer")) -> dict[str, Any]:
    p = _project(request)
    # admins always see who labelled what; reviewers only if the project shows names
    names = account.can("admin") or p.config.review.show_annotator_names
    return review.item_detail(p, item_id, show_names=names, with_gold=account.can("admin"))


@router.get("/items/{item_id}/image", response_class=FileResponse)
def item_image(item_id: PathId, request: Request, account: Account = require("annotator")) -> FileResponse:
    """The image of an item: to reviewers, and to annotators who were handed the item."""
    p = _project(request)
    if not account.can("reviewer") and not media.was_assigned(p, item_id, account.id):
        raise HTTPException(403, "this item was not assigned to you")
    return FileResponse(media.image_path(p, item_id))


@router.get("/annotations")
def pull_annotations(request: Request, after: AfterId = 0, limit: int = Query(1000, ge=1, le=10000),
                     account: Account = require("reviewer")) -> dict[str, Any]:
    """Current annotations in id order, for pipelines pulling labels (pass the last id as ``after``)."""
    p = _project(request)
    with read_connection(p.engine) as conn:
        rows = conn.execute(repo.current_annotations_query(p.id).where(Annotation.id > after)
                            .order_by(Annotation.id).limit(limit)).all()
    out = [{"annotation_id": r.id, "item_id": r.item_id, "annotator": r.annotator, "value": json.loads(r.value),
            "source": r.source, "schema_version": r.schema_version, "lead_time": r.lead_time} for r in rows]
    return {"annotations": out, "next_after": out[-1]["annotation_id"] if len(out) == limit else None}


@router.get("/gold")
def gold(request: Request, account: Account = require("admin")) -> dict[str, Any]:
    p = _project(request)
    with read_connection(p.engine) as conn:
        rows = conn.execute(select(Gold.item_id, Gold.value).where(Gold.project_id == p.id).order_by(Gold.item_id)).all()
    return {"gold": [{"item_id": i, "value": json.loads(v)} for i, v in rows]}


@router.get("/review/queue")
def review_queue(request: Request, limit: int = Query(50, ge=1, le=500),
                 account: Account = require("reviewer")) -> dict[str, Any]:
    return {"items": review.review_candidates(_project(request), limit=limit)}


@router.post("/review/{item_id}")
def review_item(item_id: PathId, body: Verdict, request: Request, account: Account = require("reviewer")) -> dict[str, Any]:
    rid = review.record_verdict(_project(request), account.id, item_id, body.verdict,
                                annotation_id=body.annotation_id, value=body.value, reason=body.reason)
    return {"review_id": rid}


@router.get("/stats")
def stats(request: Request, account: Account = require("reviewer")) -> dict[str, Any]:
    p = _project(request)
    with read_connection(p.engine) as conn:
        data = repo.status_counts(conn, p.id)
        data["items_full"] = conn.execute(select(func.count()).select_from(Item)
                                          .where(Item.project_id == p.id, Item.full.is_(True))).scalar_one()
    for b in data["by_batch"]:  # the file's name: where it sat on the server is no caller's business
        b["source"] = PurePath(b["source"]).name if b["source"] else b["source"]
    return data
