"""The web application: annotation, review and administration over the project's store.

``create_app`` builds the FastAPI app for an open project; ``truthset serve`` hands it to
uvicorn. Pages are rendered on the server (Jinja2, autoescaped) with small ES modules; there
is no build step and nothing is loaded from a CDN, so the app works offline.
"""

from __future__ import annotations

import gc
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import OperationalError
from starlette.middleware.sessions import SessionMiddleware

from truthset.core.config import STATE_DIR
from truthset.core.errors import TruthsetError
from truthset.services.projects import Project
from truthset.store.db import Checkpointer

HERE = Path(__file__).parent


def session_key(project: Project) -> str:
    """The session-signing key: TRUTHSET_SECRET_KEY, or one kept in the project's state folder.

    Created atomically (written to a temporary file, then linked into place), so server
    workers starting together agree on one key and none can read a half-written (empty) one.
    """
    env = os.environ.get("TRUTHSET_SECRET_KEY")
    if env:
        return env
    path = project.root / STATE_DIR / "secret_key"
    if not path.exists():
        tmp = path.with_name(f"secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # fails if another process got there first: theirs is the key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        raise TruthsetError(f"{path} holds no usable session key; delete it and start the server again")
    return key


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def create_app(project: Project) -> FastAPI:
    """The app for one open project."""
    from truthset.server.auth import AccountCache
    from truthset.server.executor import make_async, make_executor, runs_inline
    from truthset.server.routes import api, pages

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        checkpointer = Checkpointer(project.engine)
        checkpointer.start()
        app.state.checkpointer = checkpointer
        # What exists once the server has started (modules, the app, SQLAlchemy's metadata and
        # caches) lives as long as the process, and every full garbage collection walked all of
        # it: pauses of 84-117 ms every ~12 s under 50 annotators, which were the queue's p99
        # (107 ms at 250/s offered on PostgreSQL). Frozen, a full collection takes 2-4 ms.
        gc.freeze()
        yield
        gc.unfreeze()
        app.state.db_executor.shutdown(wait=True)
        if app.state.db_async is not None:
            await app.state.db_async.dispose()
        checkpointer.stop()

    app = FastAPI(title=f"truthset: {project.config.name}", version="0.1.0", lifespan=lifespan,
                  description="Annotation, review and quality control. Every route checks the caller's role.")
    app.state.project = project
    app.state.db_executor = make_executor(project)
    app.state.db_inline = runs_inline(project)
    app.state.db_async = make_async(project)
    app.state.accounts = AccountCache(float(project.settings.get("account_cache_seconds", 2)))
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.add_middleware(SessionMiddleware, secret_key=session_key(project), session_cookie="truthset_session",
                       same_site="strict", https_only=False, max_age=14 * 24 * 3600)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)

    @app.exception_handler(TruthsetError)
    async def truthset_error(request: Request, exc: TruthsetError) -> Response:
        return _error(request, exc.status, str(exc))

    @app.exception_handler(OperationalError)
    async def store_error(request: Request, exc: OperationalError) -> Response:
        # SQLite's "database is locked" (another process held the write lock for the whole
        # busy timeout) is a retryable 503 for the user, not a 500 with a driver message.
        if "database is locked" in str(exc.orig):
            return _error(request, 503, "the store is busy with another writer (an import?); try again shortly")
        raise exc

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 401 and _wants_html(request):
            return Response(status_code=303, headers={"location": "/login"})
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(request, 422, f"field '{where}': {first.get('msg', 'invalid')}",
                      extra={"errors": [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                                         "message": e.get("msg")} for e in exc.errors()]})

    def _error(request: Request, status: int, message: str, extra: dict[str, Any] | None = None) -> Response:
        if _wants_html(request):
            return app.state.templates.TemplateResponse(
                request, "error.html", {"status": status, "message": message, "account": None}, status_code=status)
        return JSONResponse({"error": message, "status": status, **(extra or {})}, status_code=status)

    return app


def app_from_env() -> FastAPI:
    """The app for the project in ``TRUTHSET_PROJECT`` (a folder): a factory for uvicorn workers.

    Example: TRUTHSET_PROJECT=spam uvicorn --factory truthset.server.app:app_from_env --workers 2
    """
    from truthset.services.projects import open_project

    root = os.environ.get("TRUTHSET_PROJECT")
    if not root:
        raise TruthsetError("set TRUTHSET_PROJECT to the project folder to serve (e.g. TRUTHSET_PROJECT=spam)")
    return create_app(open_project(root))


def html(request: Request, template: str, **context: Any) -> HTMLResponse:
    response: HTMLResponse = request.app.state.templates.TemplateResponse(request, template, context)
    return response
