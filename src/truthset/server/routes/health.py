"""``/healthz`` (the process answers) and ``/readyz`` (its database answers, with the newest
schema): unauthenticated, for load balancers and orchestrators, and saying nothing of where
the data lives."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from truthset.services.health import readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
async def healthz() -> dict[str, Any]:
    """The server process is up and answering (no database access)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        200: {
            "content": {"application/json": {"example": {"status": "ready", "database": "ok", "migrations": "current"}}}
        },
        503: {
            "description": "not ready",
            "content": {
                "application/json": {
                    "example": {"status": "not ready", "database": "unreachable", "migrations": "unknown"}
                }
            },
        },
    },
)
async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database answers and its schema is the newest migration (503 if not)."""
    state = await run_in_threadpool(readiness, request.app.state.project)
    body = {
        "status": "ready" if state["ready"] else "not ready",
        "database": state["database"],
        "migrations": state["migrations"],
    }
    return JSONResponse(body, status_code=200 if state["ready"] else 503)
