"""Rendering a page template (shared by the app and its page routes)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse


def html(request: Request, template: str, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context`` (Jinja2, autoescaped) by the app's templates."""
    response: HTMLResponse = request.app.state.templates.TemplateResponse(request, template, context)
    return response
