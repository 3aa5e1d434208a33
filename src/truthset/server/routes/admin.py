"""Admin routes for pipelines: users, API tokens and whole-project exports, over HTTP.

What ``truthset user ...`` and ``truthset export`` do, for a script with an admin's token
(creating 50 users took 49-85 s through the CLI, one process per user). Every route needs the
admin role; tokens are shown once, in the answer that issues them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from truthset.core.errors import Conflict
from truthset.server.auth import Admin
from truthset.server.inputs import PathName, QueryText, StoredText
from truthset.services import pipeline, users

router = APIRouter(prefix="/api", tags=["admin"])
#: the user's name in the path (a NUL in it is a 422 naming the field, as in every other text)
UserName = PathName


class UserIn(BaseModel):
    name: Annotated[StoredText, Field(min_length=1, max_length=200)]
    role: str = Field("annotator", max_length=20, description="admin, reviewer or annotator")
    password: Annotated[
        StoredText | None,
        Field(min_length=8, max_length=1024, description="Leave out for a script-only user (it uses an API token)."),
    ] = None
    token: bool = Field(False, description="Also issue an API token (returned once).")

    model_config = {"json_schema_extra": {"examples": [{"name": "bot-1", "role": "annotator", "token": True}]}}


USER_EXAMPLE = {"id": 7, "name": "bot-1", "role": "annotator", "token": "ts_9fK...(shown once)"}


@router.get(
    "/users",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "users": [
                            {
                                "id": 7,
                                "name": "bot-1",
                                "role": "annotator",
                                "status": "active",
                                "can_log_in": False,
                                "has_token": True,
                            }
                        ]
                    }
                }
            }
        }
    },
)
def list_users(request: Request, *, account: Admin) -> dict[str, Any]:
    """Every user with role, status and whether they can log in or hold a token (never the token)."""
    return {"users": users.list_users(request.app.state.project)}


@router.post(
    "/users",
    status_code=201,
    responses={
        201: {"content": {"application/json": {"example": USER_EXAMPLE}}},
        409: {"description": "the name is taken"},
    },
)
def add_user(body: UserIn, request: Request, *, account: Admin) -> dict[str, Any]:
    """Create a user (with a password to log in, and/or an API token for scripts)."""
    return pipeline.create_user(
        request.app.state.project, body.name, role=body.role, password=body.password, token=body.token
    )


@router.post(
    "/users/{name}/disable",
    responses={
        200: {"content": {"application/json": {"example": {"name": "bot-1", "status": "disabled"}}}},
        404: {"description": "no such user"},
    },
)
def disable_user(name: UserName, request: Request, *, account: Admin) -> dict[str, Any]:
    """Stop the user logging in or using their token; their sessions end (enable undoes it)."""
    if name == account.name:
        raise Conflict("you cannot disable yourself; another admin can")
    users.disable(request.app.state.project, name)
    request.app.state.accounts.clear()  # at once here; other processes within account_cache_seconds
    return {"name": name, "status": "disabled"}


@router.post(
    "/users/{name}/enable",
    responses={
        200: {"content": {"application/json": {"example": {"name": "bot-1", "status": "active"}}}},
        404: {"description": "no such user"},
    },
)
def enable_user(name: UserName, request: Request, *, account: Admin) -> dict[str, Any]:
    """Let a disabled user log in and use their token again."""
    users.enable(request.app.state.project, name)
    return {"name": name, "status": "active"}


class ProjectIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="Letters, digits, '.', '_', '-': its folder and URL.")
    task: str = Field("text-classification", max_length=40)
    labels: list[Annotated[StoredText, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=1000
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"name": "support-tickets", "task": "text-classification", "labels": ["bug", "question", "praise"]}
            ]
        }
    }


@router.post(
    "/projects",
    status_code=201,
    responses={
        201: {
            "content": {
                "application/json": {
                    "example": {
                        "name": "support-tickets",
                        "task": "text-classification",
                        "url": "/p/support-tickets/",
                        "admin": "lead",
                        "token": "ts_...(SQLite: your token in the new project, shown once; PostgreSQL: null, yours works)",
                    }
                }
            }
        },
        409: {"description": "the name is taken, or this server serves one project"},
    },
)
async def create_project(body: ProjectIn, request: Request, *, account: Admin) -> dict[str, Any]:
    """Create a project beside this one in the workspace (``truthset serve --workspace``); you
    are its admin. It is served at ``/p/NAME/`` at once."""
    hook = getattr(request.app.state, "create_project", None)
    if hook is None:
        raise Conflict(
            "this server serves one project; create projects with 'truthset init', or serve a "
            "folder of them with 'truthset serve --workspace DIR'"
        )
    result: dict[str, Any] = await hook(body.name, body.task, list(body.labels), account.name)
    return result


class ProjectRoleIn(BaseModel):
    role: str = Field(max_length=20, description="admin, reviewer or annotator, in this project only")

    model_config = {"json_schema_extra": {"examples": [{"role": "reviewer"}]}}


@router.put(
    "/users/{name}/project-role",
    responses={
        200: {
            "content": {
                "application/json": {"example": {"name": "rita", "role": "reviewer", "in_project": "support-tickets"}}
            }
        }
    },
)
def set_project_role(name: UserName, body: ProjectRoleIn, request: Request, *, account: Admin) -> dict[str, Any]:
    """Give the user a role in this project only, in place of their own role (where one
    database holds several projects); their sessions end."""
    p = request.app.state.project
    users.set_project_role(p, name, body.role)
    request.app.state.accounts.clear()
    return {"name": name, "role": body.role, "in_project": p.config.name}


@router.delete("/users/{name}/project-role", status_code=204, responses={204: {"description": "own role again"}})
def clear_project_role(name: UserName, request: Request, *, account: Admin) -> Response:
    """The user's own role applies in this project again."""
    users.set_project_role(request.app.state.project, name, None)
    request.app.state.accounts.clear()
    return Response(status_code=204)


@router.post(
    "/users/{name}/token",
    responses={
        200: {"content": {"application/json": {"example": {"name": "bot-1", "token": "ts_9fK...(shown once)"}}}}
    },
)
def issue_token(name: UserName, request: Request, *, account: Admin) -> dict[str, Any]:
    """Issue a new API token for the user (replacing the old one); shown only in this answer."""
    return {"name": name, "token": users.new_token(request.app.state.project, name)}


@router.delete("/users/{name}/token", status_code=204, responses={204: {"description": "revoked"}})
def revoke_token(name: UserName, request: Request, *, account: Admin) -> Response:
    """Revoke the user's API token: it stops working at once in this server process (in others
    within ``account_cache_seconds``)."""
    users.revoke_token(request.app.state.project, name)
    request.app.state.accounts.clear()
    return Response(status_code=204)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The export file, streamed as an attachment.",
            "content": {
                "application/x-ndjson": {"example": '{"item_id": 1, "data": {"text": "..."}, "annotations": []}\n'},
                "text/csv": {},
                "application/json": {},
                "application/vnd.apache.parquet": {},
            },
        }
    },
)
async def export(
    request: Request,
    fmt: str = Query(
        "jsonl", alias="format", max_length=20, description="jsonl, csv, parquet, labelstudio or conll (NER)"
    ),
    labels: QueryText = None,
    *,
    account: Admin,
) -> StreamingResponse:
    """The whole project (items, every annotation, gold; re-imports into an equal project), or
    with ``labels=`` the training data: one row per item with its final label by that rule
    (consensus, adjudicated, latest or run:N), as ``truthset export [--labels]``. Written to a
    private temporary file, then streamed (any size, bounded memory) and deleted."""
    p = request.app.state.project
    path, name = await run_in_threadpool(pipeline.export_file, p, fmt, labels or None)
    return StreamingResponse(
        pipeline.stream_file(path),
        media_type=pipeline.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"},
    )
