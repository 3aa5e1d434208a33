"""The data-issue tracker in the web app: list, one issue with its history, and the forms that
comment on, move and assign it (services/data_issues.py keeps the rules).

Reviewers and admins view, comment and move; only admins assign an owner. The forms post
with the session's CSRF token and redirect back (no script needed); ``/api/issues`` gives the
same list as JSON. A refused move (not allowed from the issue's status) is a 409 naming the
moves that are; a bad field a 422 naming it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from truthset.server.auth import Admin, Reviewer, csrf_token
from truthset.server.inputs import PathId, StoredText
from truthset.server.render import html
from truthset.services import data_issues, users
from truthset.services.users import Account

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api")


def _ctx(request: Request, account: Account, **extra: Any) -> dict[str, Any]:
    p = request.app.state.project
    return {"account": account, "csrf": csrf_token(request), "project": p.config.name, "task": p.task, **extra}


def _statuses(status: str | None) -> list[str]:
    if not status:
        return []
    if status not in data_issues.STATUSES:
        raise HTTPException(422, f"query 'status': {status[:40]!r}; use one of {', '.join(data_issues.STATUSES)}")
    return [status]


@router.get("/issues", response_class=HTMLResponse)
async def issue_list(
    request: Request,
    *,
    account: Reviewer,
    status: Annotated[str | None, Query(max_length=20)] = None,
    show: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """The project's issues, newest first: open ones unless ``show=all`` or a ``status``."""
    p = request.app.state.project
    rows = await run_in_threadpool(
        data_issues.list_issues, p, status=_statuses(status), open_only=not status and show != "all"
    )
    return html(
        request,
        "issues.html",
        **_ctx(
            request,
            account,
            issues=rows,
            status=status or "",
            show=show or "",
            statuses=data_issues.STATUSES,
            kinds=data_issues.KINDS,
            severities=data_issues.SEVERITIES,
        ),
    )


@router.post("/issues")
async def issue_new(
    request: Request,
    kind: Annotated[str, Form(max_length=40)],
    title: Annotated[StoredText, Form(max_length=500)],
    *,
    account: Reviewer,
    severity: Annotated[str, Form(max_length=20)] = "medium",
    body: Annotated[StoredText, Form(max_length=10000)] = "",
) -> Response:
    """Open an issue by hand (reviewers and admins); it starts open, with no owner."""
    issue = await run_in_threadpool(
        data_issues.open_issue,
        request.app.state.project,
        kind=kind,
        title=title,
        body=body,
        severity=severity,
        author_id=account.id,
    )
    return _back(issue)


@router.get("/issues/{issue_id}", response_class=HTMLResponse)
async def issue_page(request: Request, issue_id: PathId, *, account: Reviewer) -> Response:
    p = request.app.state.project
    issue = await run_in_threadpool(data_issues.get_issue, p, issue_id)
    people = await run_in_threadpool(users.list_users, p) if account.can("admin") else []
    owners = [u["name"] for u in people if u["status"] == "active"]
    return html(request, "issue.html", **_ctx(request, account, issue=issue, owners=owners))


def _back(issue_id: int) -> Response:
    return RedirectResponse(f"/issues/{issue_id}", status_code=303)


@router.post("/issues/{issue_id}/comment")
async def issue_comment(
    request: Request, issue_id: PathId, text: Annotated[StoredText, Form(max_length=10000)], *, account: Reviewer
) -> Response:
    await run_in_threadpool(data_issues.comment, request.app.state.project, issue_id, text, author_id=account.id)
    return _back(issue_id)


@router.post("/issues/{issue_id}/move")
async def issue_move(
    request: Request,
    issue_id: PathId,
    status: Annotated[StoredText, Form(max_length=20)],
    *,
    account: Reviewer,
    note: Annotated[StoredText, Form(max_length=2000)] = "",
) -> Response:
    await run_in_threadpool(
        data_issues.move, request.app.state.project, issue_id, status, note=note, author_id=account.id
    )
    return _back(issue_id)


@router.post("/issues/{issue_id}/assign")
async def issue_assign(
    request: Request, issue_id: PathId, owner: Annotated[StoredText, Form(max_length=200)], *, account: Admin
) -> Response:
    await run_in_threadpool(
        data_issues.assign, request.app.state.project, issue_id, owner or None, author_id=account.id
    )
    return _back(issue_id)


@api_router.get("/issues")
async def api_issues(
    request: Request, *, account: Reviewer, status: Annotated[str | None, Query(max_length=20)] = None
) -> dict[str, Any]:
    """The project's issues as JSON (``status`` filters)."""
    rows = await run_in_threadpool(data_issues.list_issues, request.app.state.project, status=_statuses(status))
    return {"issues": rows, "count": len(rows)}
