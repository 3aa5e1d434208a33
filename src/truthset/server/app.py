"""The web application: annotation, review and administration over the project's store.

``create_app`` builds the FastAPI app for an open project; ``truthset serve`` hands it to
uvicorn. Pages are rendered on the server (Jinja2, autoescaped) with small ES modules; there
is no build step and nothing is loaded from a CDN (the API docs' Swagger UI is vendored under
static/swagger), so the app works offline. Every error, whatever raised it, is answered in
one format (JSON ``{"error", "status"}``, or an HTML page for a browser) without a traceback;
docs/security.md lists the checks and the tests that cover them.
"""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from truthset.core.config import load_settings
from truthset.core.errors import TruthsetError, excerpt
from truthset.services.projects import Project, session_key

HERE = Path(__file__).parent
log = logging.getLogger("truthset.server")
#: the longest error message a response carries (a message quoting input is cut to this)
MAX_MESSAGE = 500
#: where a validation error's location starts with one of these, the rest names the field
LOCATIONS = {"body", "query", "path", "header", "cookie"}


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc or ()]
    if parts and parts[0] in LOCATIONS:
        parts = parts[1:]
    return ".".join(parts)


def _validation_message(error: dict[str, Any]) -> str:
    """One validation error as "field 'x': what is wrong", never quoting the input at length."""
    if error.get("type") == "json_invalid":  # loc holds a character offset, not a field
        where = error.get("loc", ("body", "?"))[-1]
        return f"the body is not valid JSON (at character {where}: {(error.get('ctx') or {}).get('error', '')})"
    msg = excerpt(str(error.get("msg", "invalid")).removeprefix("Value error, "), 200, quote=False)
    field = _field(error.get("loc"))
    return f"field '{field}': {msg}" if field else f"the request body: {msg}"


def create_app(project: Project, *, workspace: bool = False) -> FastAPI:
    """The app for one open project. ``workspace``: one of several projects behind one server
    (server/workspace.py): its session cookie has a name and a signing key of its own, so a
    session of one project is never one of another (on SQLite their user ids overlap; with
    ``TRUTHSET_SECRET_KEY`` set, every project would otherwise sign with the same key)."""
    from truthset.server.auth import AccountCache, csrf_token, optional_account
    from truthset.server.guard import Guard
    from truthset.server.routes import admin, api, dashboard, findings, health, issues, pages
    from truthset.server.throttle import LoginThrottle

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        project.store.start_checkpoints()  # SQLite's WAL, on a thread of its own while serving
        # What exists once the server has started (modules, the app, SQLAlchemy's metadata and
        # caches) lives as long as the process, and every full garbage collection walked all of
        # it: pauses of 84-117 ms every ~12 s under 50 annotators, which were the queue's p99
        # (107 ms at 250/s offered on PostgreSQL). Frozen, a full collection takes 2-4 ms.
        gc.freeze()
        yield
        gc.unfreeze()
        await project.store.stop_serving()

    settings = project.settings
    # /docs is served from the package (routes/pages.py), /redoc not at all: both loaded
    # Swagger and ReDoc from a CDN, with the project name unescaped in the page title
    app = FastAPI(
        title=f"truthset: {project.config.name}",
        version="0.1.0",
        lifespan=lifespan,
        description="Annotation, review and quality control. Every route checks the caller's role.",
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.project = project
    # the store's hot path for this server: the queue on the event loop where it can (Store.serve)
    project.store.start_serving(settings.server_db_threads)
    app.state.accounts = AccountCache(settings.account_cache_seconds)
    app.state.login = LoginThrottle(
        free_per_name=settings.login_free_failures,
        free_per_address=settings.login_free_failures_per_address,
        max_delay=settings.login_backoff_max_seconds,
        concurrency=settings.login_concurrency,
    )
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    https = settings.https
    cookie, key = "truthset_session", session_key(project)
    if workspace:
        cookie = "truthset_session_" + re.sub(r"[^A-Za-z0-9_-]", "_", project.config.name)
        key = f"{key}:{project.config.name}"
    app.add_middleware(
        SessionMiddleware,
        secret_key=key,
        session_cookie=cookie,
        same_site="strict",
        https_only=https,
        max_age=14 * 24 * 3600,
    )
    # outermost, so every response gets the security headers and every body is bounded
    app.add_middleware(
        Guard,
        max_body=settings.max_body_bytes,
        max_items_body=settings.max_items_body_bytes,
        https=https,
        image_hosts=tuple(project.config.media.allowed_url_hosts),
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(dashboard.router)
    app.include_router(health.router)
    app.include_router(admin.router)
    app.include_router(issues.router)
    app.include_router(issues.api_router)
    app.include_router(findings.router)

    @app.exception_handler(TruthsetError)
    async def truthset_error(request: Request, exc: TruthsetError) -> Response:
        if exc.status >= 500:
            log.error("%s: %s", type(exc).__name__, exc)
        return await _error(request, exc.status, str(exc))

    @app.exception_handler(OverflowError)
    async def unstorable(request: Request, exc: Exception) -> Response:
        # a value the store cannot hold (an id past its integer range, a NUL in text): the
        # routes validate these at the boundary, naming the field; this is the safety net
        log.warning("a request reached the store with a value it cannot hold: %s", excerpt(str(exc), 300))
        return await _error(
            request,
            422,
            "a value in the request cannot be stored (an id out of range, or a "
            "character such as NUL in a text); check the ids and texts sent",
        )

    @app.exception_handler(HTTPException)  # Starlette's: FastAPI's, routing's 404 and body errors too
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 401 and _wants_html(request):
            return Response(status_code=303, headers={"location": "/login"})
        message = str(exc.detail)
        if exc.status_code == 400 and message == "There was an error parsing the body":
            message = (
                "the request body could not be read: send JSON encoded as UTF-8 with "
                "'Content-Type: application/json' (forms: URL-encoded or multipart)"
            )
        elif exc.status_code == 404 and message == "Not Found":
            message = f"there is no page or API route at {excerpt(request.url.path, 100)}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {excerpt(request.url.path, 100)}"
        return await _error(request, exc.status_code, message, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        return await _error(
            request,
            422,
            _validation_message(errors[0]) if errors else "invalid request",
            extra={"errors": [{"field": _field(e.get("loc")), "message": _validation_message(e)} for e in errors[:20]]},
        )

    async def _error(
        request: Request,
        status: int,
        message: str,
        extra: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        message = excerpt(message, MAX_MESSAGE, quote=False)
        if _wants_html(request):
            try:
                account = await optional_account(request)
            except HTTPException:
                account = None
            page: Response = app.state.templates.TemplateResponse(
                request,
                "error.html",
                {
                    "status": status,
                    "message": message,
                    "account": account,
                    "project": project.config.name,
                    "csrf": csrf_token(request),
                },
                status_code=status,
                headers=headers,
            )
            return page
        return JSONResponse({"error": message, "status": status, **(extra or {})}, status_code=status, headers=headers)

    return app


def app_from_env() -> FastAPI:
    """The app for the project in ``TRUTHSET_PROJECT`` (a folder): a factory for uvicorn workers.

    Example: TRUTHSET_PROJECT=spam uvicorn --factory truthset.server.app:app_from_env --workers 2
    """
    from truthset.services.projects import open_project

    root = load_settings().project
    if not root:
        raise TruthsetError("set TRUTHSET_PROJECT to the project folder to serve (e.g. TRUTHSET_PROJECT=spam)")
    return create_app(open_project(root))
