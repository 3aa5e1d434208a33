"""One server for several projects (``truthset serve --workspace DIR``).

Each project keeps its own app (``create_app(project, workspace=True)``: its own session
cookie and signing key). This ASGI app in front of them picks the project of a request:

* ``/p/NAME/...`` goes to project NAME with the prefix taken off, and remembers NAME in the
  ``truthset_project`` cookie. Pipelines use this form: ``/p/NAME/api/items``.
* any other path (the pages' own links: ``/annotate``, ``/api/next``, ``/static/...``) goes to
  the project in that cookie, so the pages work unchanged; without one, a page is redirected
  to the project list and an API call gets 404 naming ``/p/NAME/``.
* ``/projects`` lists the projects (names and tasks only; each project asks for its own login),
  ``/healthz`` and ``/readyz`` answer for the whole server (ready when every project is).

The cookie is per browser, not per tab: two tabs on two projects follow the one opened last
(the project's name is in every page's header).
"""

from __future__ import annotations

import asyncio
import re
from contextlib import AsyncExitStack
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from truthset.services.health import readiness
from truthset.services.projects import Project

HERE = Path(__file__).parent
COOKIE = "truthset_project"
_PREFIX = re.compile(r"^/p/([^/]+)(/.*)?$")


def _list_app(projects: dict[str, Project]) -> FastAPI:
    """The workspace's own pages: the project list and the server-wide health checks."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(HERE / "templates"))

    @app.get("/projects", response_class=HTMLResponse)
    async def project_list(request: Request) -> Response:
        rows = [{"name": name, "task": p.task} for name, p in sorted(projects.items())]
        return templates.TemplateResponse(
            request,
            "projects.html",
            {
                "projects": rows,
                "project": "workspace",
                "account": None,
                "csrf": "",
                "current": request.cookies.get(COOKIE),
            },
        )

    @app.get("/api/projects")
    async def project_names() -> dict[str, Any]:
        return {
            "projects": [{"name": n, "task": p.task, "url": f"/p/{quote(n)}/"} for n, p in sorted(projects.items())]
        }

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        states = [await run_in_threadpool(readiness, p) for p in projects.values()]
        ready = all(s["ready"] for s in states)
        return JSONResponse(
            {
                "status": "ready" if ready else "not ready",
                "projects": len(states),
                "not_ready": sum(not s["ready"] for s in states),
            },
            status_code=200 if ready else 503,
        )

    return app


class Workspace:
    """The ASGI app in front of the projects' apps (see the module docstring)."""

    def __init__(self, projects: dict[str, Project], folder: Path | str | None = None) -> None:
        self.projects = projects
        self.folder = None if folder is None else Path(folder)
        self.apps: dict[str, FastAPI] = {}
        for project in projects.values():
            self._app_for(project)
        self.own = _list_app(projects)
        self.own_paths = {"/projects", "/api/projects", "/healthz", "/readyz"}
        self.stack: AsyncExitStack | None = None
        self.lock = asyncio.Lock()

    def _app_for(self, project: Project) -> FastAPI:
        from truthset.server.app import create_app

        app = create_app(project, workspace=True)
        if self.folder is not None:
            app.state.create_project = self.create_project  # POST /api/projects (routes/admin.py)
        self.apps[project.config.name] = app
        return app

    async def _add(self, project: Project) -> None:
        """Serve a project opened or made while the server runs (its lifespan starts now)."""
        app = self._app_for(project)
        self.projects[project.config.name] = project
        if self.stack is not None:
            await self.stack.enter_async_context(app.router.lifespan_context(app))

    async def create_project(self, name: str, task: str, labels: list[str], creator: str) -> dict[str, Any]:
        """Make a project in the workspace folder and serve it at once (see services.workspace)."""
        from truthset.services.workspace import create_project

        assert self.folder is not None  # the hook is set only with a folder
        async with self.lock:
            project, token = await run_in_threadpool(
                create_project, self.folder, name, task=task, labels=labels, creator=creator
            )
            await self._add(project)
        return {"name": name, "task": task, "url": f"/p/{quote(name)}/", "admin": creator, "token": token}

    async def _discover(self, name: str) -> FastAPI | None:
        """A project another server process made since this one started (``--workers``).

        ``name`` comes from the URL: only a valid project name reaches the file system (a
        double-encoded ``..%252F..`` was a path out of the folder, a 5,000-character name a 500)."""
        from truthset.services.projects import open_project
        from truthset.services.workspace import valid_name

        if self.folder is None or not valid_name(name) or not (self.folder / name).is_dir():
            return None

        async with self.lock:
            if name not in self.apps:
                known = {p.root.resolve() for p in self.projects.values()}
                if (self.folder / name).resolve() in known or not (self.folder / name / "truthset.yaml").is_file():
                    return None
                project = await run_in_threadpool(open_project, self.folder / name)
                if project.config.name != name or name in self.projects:
                    project.close()
                    return None
                await self._add(project)
        return self.apps.get(name)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path = scope.get("path", "/")
        match = _PREFIX.match(path)
        if match:
            name = unquote(match.group(1))
            app = self.apps.get(name) or await self._discover(name)
            if app is None:
                await self._unknown(scope, receive, send, name)
                return
            rest = match.group(2) or "/"
            inner = {**scope, "path": rest, "raw_path": rest.encode("utf-8")}
            await app(inner, receive, self._remembering(send, name))
            return
        if path in self.own_paths:
            await self.own(scope, receive, send)
            return
        chosen = self._cookie(scope)
        if chosen is not None and chosen in self.apps:
            await self.apps[chosen](scope, receive, send)
        elif path.startswith("/static/") and self.apps:
            await next(iter(self.apps.values()))(scope, receive, send)
        else:
            await self._unknown(scope, receive, send, None)

    @staticmethod
    def _cookie(scope: Scope) -> str | None:
        for key, value in scope.get("headers", []):
            if key == b"cookie":
                jar: SimpleCookie = SimpleCookie()
                try:
                    jar.load(value.decode("latin-1"))
                except Exception:  # noqa: BLE001 - a malformed cookie header names no project
                    return None
                morsel = jar.get(COOKIE)
                return unquote(morsel.value) if morsel is not None else None
        return None

    @staticmethod
    def _remembering(send: Any, name: str) -> Any:
        cookie = f"{COOKIE}={quote(name)}; Path=/; HttpOnly; SameSite=Strict".encode("latin-1")

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)

        return wrapped

    async def _unknown(self, scope: Scope, receive: Any, send: Any, name: str | None) -> None:
        path = scope.get("path", "/")
        response: Response
        if not path.startswith("/api/") and name is None:
            response = RedirectResponse("/projects", status_code=303)
        else:
            what = f"there is no project {name!r}" if name is not None else "no project chosen"
            response = JSONResponse(
                {
                    "error": f"{what}; address a project as /p/NAME{path if name is None else '/'} "
                    "(the names: GET /api/projects)",
                    "status": 404,
                },
                status_code=404,
            )
        await response(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        """Start and stop every project's app (its store's serving threads, checkpoints)."""
        stack = self.stack = AsyncExitStack()
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for app in list(self.apps.values()):
                        await stack.enter_async_context(app.router.lifespan_context(app))
                except Exception as exc:  # noqa: BLE001 - reported to the server, which stops
                    await stack.aclose()
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await stack.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def workspace_from_env() -> Workspace:
    """The workspace in ``TRUTHSET_WORKSPACE`` (a folder): a factory for uvicorn workers."""
    import os

    from truthset.core.errors import TruthsetError
    from truthset.services.workspace import open_workspace

    folder = os.environ.get("TRUTHSET_WORKSPACE")
    if not folder:
        raise TruthsetError("set TRUTHSET_WORKSPACE to the folder of projects to serve")
    return Workspace(open_workspace(folder), folder)
