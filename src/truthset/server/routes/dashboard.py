"""The lead's pages: the dashboard and the item browser (reviewers and admins), and their JSON.

Charts are SVG drawn on the server (``services.dashboard_charts``) and placed in the page as
markup; every text in them is escaped by matplotlib's SVG writer, every other text by Jinja2.
Gold answers and every gold number are shown to admins only; annotators get 403 on every route
here. Where the project hides annotator names from reviewers (``review.show_annotator_names:
false``), a reviewer may not filter items by annotator either (that would say who labelled what).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from truthset.core.errors import InvalidInput, excerpt
from truthset.server.auth import Reviewer, csrf_token
from truthset.server.inputs import MAX_ID, PathId, QueryText
from truthset.server.render import html
from truthset.services import items
from truthset.services.dashboard import dashboard
from truthset.services.dashboard_charts import dashboard_charts
from truthset.services.users import Account

router = APIRouter()
#: items per page of the browser
PER_PAGE = 25
Page = Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")]


def _ctx(request: Request, account: Account, **extra: Any) -> dict[str, Any]:
    p = request.app.state.project
    return {
        "account": account,
        "csrf": csrf_token(request),
        "project": p.config.name,
        "task": p.task,
        "text_field": p.config.text_field,
        "annotator_filter": shows_names(request, account),
        **extra,
    }


def shows_names(request: Request, account: Account) -> bool:
    """Whether ``account`` may see who labelled what: admins, and reviewers where the project shows names."""
    return account.can("admin") or bool(request.app.state.project.config.review.show_annotator_names)


def check_annotator_filter(request: Request, account: Account, annotator: str | None) -> None:
    """Refuse ``annotator=`` to a caller who may not see who labelled what (403 naming the field)."""
    if annotator and not shows_names(request, account):
        raise HTTPException(
            403,
            "field 'annotator': this project hides annotator names from reviewers "
            "(review.show_annotator_names: false), so items cannot be filtered by annotator",
        )


DASHBOARD_EXAMPLE = {
    "project": "sms-spam-demo",
    "task": "text-classification",
    "overlap": 2,
    "items": 5574,
    "judgements": 11148,
    "annotators": 4,
    "pace": {"days": 1.0, "judgements": 4000, "per_day": 4000.0},
    "batches": [
        {
            "batch": 1,
            "source": "SMSSpamCollection.tsv",
            "items": 5574,
            "needed": 11148,
            "done": 4000,
            "remaining": 7148,
            "due_at": "2026-12-09T00:00:00+00:00",
            "days_left": 6.5,
            "days_needed": 1.79,
            "at_risk": False,
        }
    ],
    "annotator_table": [
        {
            "annotator": "ann",
            "annotations": 2000,
            "median_lead_time": 3.1,
            "agreement": 0.93,
            "agreement_low": 0.92,
            "agreement_high": 0.94,
            "agreement_items": 2000,
            "gold_n": 40,
            "gold_accuracy": 0.95,
            "gold_low": 0.83,
            "gold_high": 0.99,
            "skips": 3,
            "accepted": 10,
            "rejected": 1,
            "corrected": 0,
        }
    ],
}


@router.get(
    "/api/dashboard",
    tags=["dashboard"],
    responses={200: {"content": {"application/json": {"example": DASHBOARD_EXAMPLE}}}},
)
async def dashboard_json(request: Request, *, account: Reviewer) -> dict[str, Any]:
    """Every number of the dashboard: progress by stage and batch (at risk at the current pace),
    throughput per annotator and day, the annotator table, agreement and gold accuracy per batch
    and week with 95% intervals, label counts per week and schema version (docs/dashboard.md)."""
    data: dict[str, Any] = await run_in_threadpool(
        lambda: dashboard(request.app.state.project, with_gold=account.can("admin"))
    )
    return data


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def dashboard_page(request: Request, *, account: Reviewer) -> Response:
    data = await run_in_threadpool(lambda: dashboard(request.app.state.project, with_gold=account.can("admin")))
    charts = await run_in_threadpool(dashboard_charts, data)
    # the SVG comes from reports.plots, which escapes every text it draws
    svg = {k: Markup(v) for k, v in charts.items()}  # noqa: S704
    return html(request, "dashboard.html", **_ctx(request, account, d=data, charts=svg))


@router.get("/items", response_class=HTMLResponse, include_in_schema=False)
async def items_page(
    request: Request,
    page: Page = 1,
    text: QueryText = None,
    label: QueryText = None,
    annotator: QueryText = None,
    batch: Annotated[str | None, Query(max_length=12)] = None,
    finding: QueryText = None,
    *,
    account: Reviewer,
) -> Response:
    p = request.app.state.project
    batch_id = _batch(batch)
    text, label, annotator, finding = text or None, label or None, annotator or None, finding or None
    check_annotator_filter(request, account, annotator)
    found = await run_in_threadpool(
        lambda: items.list_items(
            p,
            limit=PER_PAGE,
            offset=(page - 1) * PER_PAGE,
            with_gold=account.can("admin"),
            text=text,
            label=label,
            annotator=annotator,
            batch=batch_id,
            finding=finding,
        )
    )
    kinds = await run_in_threadpool(items.finding_kinds, p)
    filters = {"text": text, "label": label, "annotator": annotator, "batch": batch_id, "finding": finding}
    pages = max(1, math.ceil(found["total"] / PER_PAGE))
    shown = {k: ("" if v is None else v) for k, v in filters.items()}
    return html(
        request,
        "items.html",
        **_ctx(
            request,
            account,
            found=found,
            page=page,
            pages=pages,
            filters=shown,
            labels=p.config.schema.names,
            findings=kinds,
        ),
    )


def _batch(text: str | None) -> int | None:
    """The form's batch field: empty is no filter (a form sends every field, empty or not)."""
    if text is None or not text.strip():
        return None
    # isdecimal, not isdigit: "²" is a digit that int() refuses (a 500 before)
    if not text.strip().isdecimal() or not 1 <= int(text) <= MAX_ID:
        raise InvalidInput(f"field 'batch': {excerpt(text, 20)} is not a batch number (1, 2, ...)")
    return int(text)


@router.get("/items/{item_id}", response_class=HTMLResponse, include_in_schema=False)
async def item_page(item_id: PathId, request: Request, *, account: Reviewer) -> Response:
    p = request.app.state.project
    names = shows_names(request, account)
    detail = await run_in_threadpool(
        lambda: items.item_history(p, item_id, show_names=names, with_gold=account.can("admin"))
    )
    return html(request, "item.html", **_ctx(request, account, item=detail))
