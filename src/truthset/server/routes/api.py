"""The JSON API: everything the pages do, for scripts and pipelines too. OpenAPI at /docs."""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from truthset.server.auth import Admin, Annotator, Reviewer
from truthset.server.inputs import AfterId, BodyId, PathId, QueryId, QueryText, StoredText
from truthset.server.routes.dashboard import check_annotator_filter
from truthset.services import active_learning, items, media, pipeline, queue, review
from truthset.services.status import status

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
    items: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=100_000,
        description="Item payloads; a 'label' key imports a label. Image "
        "projects: the image as image_base64 (its bytes) or "
        "image_url (a host in media.allowed_url_hosts), never "
        "a path on the server.",
    )
    annotator: Annotated[StoredText, Field(min_length=1, max_length=200)] = "api"
    id_col: Annotated[
        StoredText | None,
        Field(max_length=200, description="The key holding each item's external id (as truthset import --id-col)."),
    ] = None
    due: Annotated[
        StoredText | None,
        Field(
            max_length=40,
            description="Due date of the batch: 2026-12-01 or 2026-12-01T17:00 (UTC); its items are handed out first.",
        ),
    ] = None
    on_duplicate: str = Field(
        "merge",
        max_length=10,
        description="Content already in the project: merge, reject or error (as truthset import --on-duplicate).",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "items": [
                        {"id": "msg-1", "text": "Free entry in a weekly comp"},
                        {"id": "msg-2", "text": "See you at 6"},
                    ],
                    "id_col": "id",
                    "due": "2026-12-01",
                    "on_duplicate": "merge",
                }
            ]
        }
    }


def _project(request: Request) -> Any:
    return request.app.state.project


def _task_or_none(task: queue.Task | None, response: Response) -> dict[str, Any] | None:
    if task is None:
        response.status_code = 204
        return None
    return task.to_dict()


@router.get("/me")
def me(*, account: Annotator) -> dict[str, Any]:
    return {"id": account.id, "name": account.name, "role": account.role}


@router.get("/schema")
def schema(request: Request, *, account: Annotator) -> dict[str, Any]:
    """The labels and their guide text (what annotators read)."""
    p = _project(request)
    return {"task": p.task, "schema_version": p.schema_version, **p.config.schema.model_dump()}


# The queue routes run on the event loop where the store allows (services.queue.serve_*).


@router.post("/next", responses={204: {"description": "no item left for you"}})
async def next_item(request: Request, response: Response, *, account: Annotator) -> dict[str, Any] | None:
    return _task_or_none(await queue.serve_next_task(_project(request), account.id), response)


@router.post(
    "/assignments/{assignment_id}/submit",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "annotation_id": 41,
                        "next": {"assignment_id": 43, "item_id": 12, "data": {"text": "..."}},
                    }
                }
            }
        }
    },
)
async def submit(
    assignment_id: PathId,
    body: Submission,
    request: Request,
    take_next: bool = Query(
        True, alias="next", description="false: store the answer only, lease nothing (a run's last item)"
    ),
    *,
    account: Annotator,
) -> dict[str, Any]:
    """Store the annotation and hand out the next item in the same round trip (``next=false``:
    store it only, so a run's last answer leaves no lease behind)."""
    p = _project(request)
    if not take_next:
        annotation_id = await p.store.serve(
            queue.submit, p, account.id, assignment_id, body.value, lead_time=body.lead_time
        )
        active_learning.poke(p)  # a retrain, when due, runs in a background thread, not in this request
        return {"annotation_id": annotation_id, "next": None}
    annotation_id, nxt = await queue.serve_submit_and_next(p, account.id, assignment_id, body.value, body.lead_time)
    active_learning.poke(p)
    return {"annotation_id": annotation_id, "next": None if nxt is None else nxt.to_dict()}


@router.post(
    "/tasks/{assignment_id}/release",
    responses={
        200: {"content": {"application/json": {"example": {"released": 43, "item_id": 12}}}},
        404: {"description": "not your assignment"},
        409: {"description": "no longer leased (answered, skipped or expired)"},
    },
)
def release(assignment_id: PathId, request: Request, *, account: Annotator) -> dict[str, Any]:
    """Hand a leased item back without a skip: no reason, no data issue; the item is free for
    anyone (you too) at once instead of staying leased until the lease runs out."""
    return pipeline.release(_project(request), account.id, assignment_id)


@router.post("/assignments/{assignment_id}/skip")
async def skip(assignment_id: PathId, body: Skip, request: Request, *, account: Annotator) -> dict[str, Any]:
    p = _project(request)
    issue = await queue.serve_skip(p, account.id, assignment_id, body.reason, body.note)
    nxt = await queue.serve_next_task(p, account.id)
    return {"data_issue": issue, "next": None if nxt is None else nxt.to_dict()}


@router.post(
    "/items",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "batch": 3,
                        "source": "api",
                        "rows_read": 2,
                        "items_added": 2,
                        "duplicates": 0,
                        "rejected": 0,
                        "due_at": "2026-12-01T00:00:00+00:00",
                    }
                }
            }
        }
    },
)
def push_items(body: ItemsIn, request: Request, *, account: Admin) -> dict[str, Any]:
    """Add items as a batch whose source is ``api`` (idempotent: content already present is not
    added twice), with the import's options: ``id_col``, ``due`` and ``on_duplicate``."""
    return pipeline.push(
        _project(request),
        body.items,
        annotator=body.annotator,
        id_col=body.id_col,
        due=body.due,
        on_duplicate=body.on_duplicate,
    )


ITEMS_EXAMPLE = {
    "items": [
        {
            "item_id": 7,
            "external_id": "msg-7",
            "data": {"text": "Free entry in a weekly comp"},
            "batch": 1,
            "assigned": 2,
        }
    ],
    "total": 1,
    "next_after": None,
}


@router.get("/items", responses={200: {"content": {"application/json": {"example": ITEMS_EXAMPLE}}}})
def list_items(
    request: Request,
    after: AfterId = 0,
    limit: int = Query(50, ge=1, le=1000),
    batch: QueryId = None,
    label: QueryText = None,
    text: QueryText = None,
    annotator: QueryText = None,
    finding: QueryText = None,
    offset: int = Query(0, ge=0, le=10_000_000, description="Skip this many more (a page browser)."),
    *,
    account: Reviewer,
) -> dict[str, Any]:
    """Items in id order (keyset pagination: pass the last id as ``after``) and ``total``, the
    number the filters keep on all pages. ``batch=`` keeps one batch's items, ``label=`` only
    items with a current annotation of that label, ``annotator=`` only items that user
    annotated (refused where reviewers do not see annotator names), ``text=`` only items whose
    content contains it (any case), ``finding=`` only items an open data issue of that kind
    names (e.g. ``skip:ambiguous``)."""
    check_annotator_filter(request, account, annotator)
    return items.list_items(
        _project(request),
        after=after,
        limit=limit,
        batch=batch,
        label=label or None,
        text=text or None,
        annotator=annotator or None,
        offset=offset,
        finding=finding or None,
        with_gold=account.can("admin"),
    )


@router.get("/items/{item_id}")
def get_item(item_id: PathId, request: Request, *, account: Reviewer) -> dict[str, Any]:
    p = _project(request)
    # admins always see who labelled what; reviewers only if the project shows names
    names = account.can("admin") or p.config.review.show_annotator_names
    return review.item_detail(p, item_id, show_names=names, with_gold=account.can("admin"))


#: on an image answer: never sniffed as another type, never a document that runs script
IMAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=300",
}


@router.get(
    "/items/{item_id}/image",
    responses={200: {"content": {"image/png": {}}}, 307: {"description": "an allowed image URL"}},
)
def item_image(item_id: PathId, request: Request, *, account: Annotator) -> Response:
    """The recorded image of an item of an image project: to reviewers, and to annotators who
    were handed the item. Only images an import checked and recorded; 404 for anything else."""
    p = _project(request)
    if not account.can("reviewer") and not media.was_assigned(p, item_id, account.id):
        raise HTTPException(403, "this item was not assigned to you")
    image = media.served_image(p, item_id)
    if image.redirect:
        return RedirectResponse(image.redirect, status_code=307, headers={"Cache-Control": "private, no-store"})
    return Response(
        image.content,
        media_type=image.mime,
        headers={**IMAGE_HEADERS, "Content-Disposition": f'inline; filename="{image.filename}"'},
    )


@router.get("/annotations")
def pull_annotations(
    request: Request, after: AfterId = 0, limit: int = Query(1000, ge=1, le=10000), *, account: Reviewer
) -> dict[str, Any]:
    """Current annotations in id order, for pipelines pulling labels (pass the last id as ``after``).
    Gold answers given as annotations are listed to admins only."""
    return items.pull_annotations(_project(request), after=after, limit=limit, with_gold=account.can("admin"))


@router.get("/gold")
def gold(request: Request, *, account: Admin) -> dict[str, Any]:
    return {"gold": items.gold_answers(_project(request))}


@router.get("/review/queue")
def review_queue(request: Request, limit: int = Query(50, ge=1, le=500), *, account: Reviewer) -> dict[str, Any]:
    return {"items": review.review_candidates(_project(request), limit=limit, with_gold=account.can("admin"))}


@router.post("/review/{item_id}")
def review_item(item_id: PathId, body: Verdict, request: Request, *, account: Reviewer) -> dict[str, Any]:
    rid = review.record_verdict(
        _project(request),
        account.id,
        item_id,
        body.verdict,
        annotation_id=body.annotation_id,
        value=body.value,
        reason=body.reason,
    )
    return {"review_id": rid}


@router.get("/stats")
def stats(request: Request, *, account: Reviewer) -> dict[str, Any]:
    data = status(_project(request))
    for b in data["by_batch"]:  # the file's name: where it sat on the server is no caller's business
        b["source"] = PurePath(b["source"]).name if b["source"] else b["source"]
    return data
