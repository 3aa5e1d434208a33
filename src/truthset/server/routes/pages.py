"""Server-rendered pages: login, home, annotate, review, guide. Jinja2 autoescapes all text."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from truthset.core.guide import render_guide
from truthset.server.app import html
from truthset.server.auth import csrf_token, optional_account, require
from truthset.services import users
from truthset.services.users import Account
from truthset.store.db import read_connection

router = APIRouter(include_in_schema=False)


def _ctx(request: Request, account: Account | None, **extra: Any) -> dict[str, Any]:
    p = request.app.state.project
    return {"account": account, "csrf": csrf_token(request), "project": p.config.name, "task": p.task,
            "text_field": p.config.text_field, **extra}


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    return html(request, "login.html", **_ctx(request, None, error=None))


def _authenticate(engine: Any, name: str, password: str) -> Account | None:
    # argon2 takes tens of milliseconds of CPU on purpose: keep it off the event loop
    with read_connection(engine) as conn:
        return users.authenticate(conn, name, password)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, name: str = Form(...), password: str = Form(...), csrf: str = Form("")) -> Response:
    expected = request.session.get("csrf")
    if not expected or csrf != expected:
        return html(request, "login.html", **_ctx(request, None, error="The form expired; please try again."))
    account = await run_in_threadpool(_authenticate, request.app.state.project.engine, name, password)
    if account is None:
        return html(request, "login.html", **_ctx(request, None, error="Wrong name or password."))
    request.session.clear()
    request.session["uid"] = account.id
    csrf_token(request)
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
async def logout(request: Request, account: Account = require("annotator")) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    account = await optional_account(request)
    if account is None:
        return RedirectResponse("/login", status_code=303)
    return html(request, "home.html", **_ctx(request, account))


@router.get("/annotate", response_class=HTMLResponse)
async def annotate(request: Request, account: Account = require("annotator")) -> Response:
    return html(request, "annotate.html", **_ctx(request, account))


@router.get("/review", response_class=HTMLResponse)
async def review_page(request: Request, account: Account = require("reviewer")) -> Response:
    return html(request, "review.html", **_ctx(request, account))


@router.get("/guide", response_class=HTMLResponse)
async def guide(request: Request, account: Account = require("annotator")) -> Response:
    p = request.app.state.project
    return HTMLResponse(render_guide(p.config.schema, project=p.config.name, task=p.task,
                                     version=p.schema_version, fmt="html"))
