"""Server-rendered pages: login, home, annotate, review, guide, API docs. Jinja2 autoescapes all text."""

from __future__ import annotations

import asyncio
import math
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from truthset.core.guide import render_guide
from truthset.server.auth import Annotator, Reviewer, csrf_token, optional_account, start_session
from truthset.server.inputs import unstorable_problem
from truthset.server.render import html
from truthset.server.throttle import LOGIN_QUEUE_SECONDS, LoginThrottle
from truthset.services import users
from truthset.services.users import Account

router = APIRouter(include_in_schema=False)


def _ctx(request: Request, account: Account | None, **extra: Any) -> dict[str, Any]:
    p = request.app.state.project
    return {
        "account": account,
        "csrf": csrf_token(request),
        "project": p.config.name,
        "task": p.task,
        "text_field": p.config.text_field,
        **extra,
    }


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    return html(request, "login.html", **_ctx(request, None, error=None, name=""))


def _refused(request: Request, name: str, error: str, status: int, retry_after: float | None = None) -> Response:
    """The login form again, with the name as typed and what went wrong."""
    response = html(request, "login.html", **_ctx(request, None, error=error, name=name))
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    for field, value in (("name", name), ("password", password)):
        problem = unstorable_problem(value)
        if problem is not None:
            return _refused(request, "" if field == "name" else name, f"{field.capitalize()}: {problem}.", 422)
    expected = request.session.get("csrf")
    if not expected or csrf != expected:
        return _refused(request, name, "The form expired; please try again.", 403)
    throttle: LoginThrottle = request.app.state.login
    address = request.client.host if request.client else "unknown"
    wait = throttle.retry_after(name, address)
    if wait > 0:
        return _refused(request, name, f"Too many failed logins; try again in {math.ceil(wait)} s.", 429, wait)
    slots = throttle.semaphore()
    try:
        await asyncio.wait_for(slots.acquire(), LOGIN_QUEUE_SECONDS)
    except TimeoutError:
        return _refused(request, name, "The server is checking many logins at once; try again shortly.", 503, 5)
    try:
        # argon2 takes tens of milliseconds of CPU on purpose: keep it off the event loop
        account = await run_in_threadpool(users.authenticate, request.app.state.project, name, password)
    finally:
        slots.release()
    if account is None:
        throttle.failed(name, address)
        return _refused(request, name, "Wrong name or password.", 401)
    throttle.succeeded(name)
    start_session(request, account)
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
async def logout(request: Request, *, account: Annotator) -> Response:
    """Log out: this session and every other session of the user end (a copied cookie too)."""
    await run_in_threadpool(users.end_sessions, request.app.state.project, account.id)
    request.app.state.accounts.drop(("user", account.id))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    account = await optional_account(request)
    if account is None:
        return RedirectResponse("/login", status_code=303)
    return html(request, "home.html", **_ctx(request, account))


@router.get("/annotate", response_class=HTMLResponse)
async def annotate(request: Request, *, account: Annotator) -> Response:
    return html(request, "annotate.html", **_ctx(request, account))


@router.get("/review", response_class=HTMLResponse)
async def review_page(request: Request, *, account: Reviewer) -> Response:
    return html(request, "review.html", **_ctx(request, account))


@router.get("/guide", response_class=HTMLResponse)
async def guide(request: Request, *, account: Annotator) -> Response:
    p = request.app.state.project
    # the fragment is rendered by an autoescaping template (core/templates/guide_body.html)
    body = Markup(
        render_guide(
            p.config.schema,
            project=p.config.name,
            task=p.task,  # noqa: S704
            version=p.schema_version,
            fmt="fragment",
        )
    )
    return html(request, "guide.html", **_ctx(request, account, guide=body))


@router.get("/docs", response_class=HTMLResponse)
async def api_docs(request: Request) -> Response:
    """The OpenAPI explorer (Swagger UI), served from the package: no CDN, no inline script."""
    return html(request, "docs.html", title=request.app.title)
