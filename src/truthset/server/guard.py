"""Security headers on every response, and a bound on every request body.

One pure ASGI middleware (no per-request objects beyond a closure), the outermost layer of
the app, so it also covers static files, /docs and error pages:

* headers: a Content-Security-Policy that allows scripts, styles, images and connections from
  the app's own origin only (no inline script, no CDN; inline ``style`` attributes are allowed
  for the labels' validated #RRGGBB colours), no framing (``frame-ancestors 'none'`` and
  ``X-Frame-Options: DENY``), ``nosniff``, ``Referrer-Policy: same-origin``; with the ``https``
  setting also ``Strict-Transport-Security``.
* the last resort: an exception no handler of the app took (a bug) is logged with its
  traceback and answered 500 in the app's format, with no traceback to the client.
* body limit: ``max_body_bytes`` for every route, ``max_items_body_bytes`` for
  ``POST /api/items`` (item pushes). A declared ``Content-Length`` over the limit is answered
  413 before anything is read; a body sent without one (chunked) is counted as it streams and
  stopped with the same 413 when it passes the limit. (FastAPI's own ``max_body_size`` exists
  only from 0.16x and answers in its own format; this is a dozen lines.)
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:{img_hosts}; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def csp(image_hosts: tuple[str, ...] = ()) -> str:
    """The policy; ``image_hosts``: the hosts whose images the project allows
    (``media.allowed_url_hosts``: the image route redirects to them)."""
    return CSP.format(img_hosts="".join(f" https://{h} http://{h}" for h in image_hosts))


ITEMS_PUSH = ("POST", "/api/items")
log = logging.getLogger("truthset.server")


class BodyTooLarge(HTTPException):
    """A request body over the limit (raised while it streams in; rendered by the app as 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


def too_large_message(limit: int) -> str:
    return (
        f"the request body is larger than this route accepts ({limit:,} bytes); send less at once "
        "(e.g. split an item push into several), or raise the limit (docs/config.md)"
    )


class Guard:
    """The middleware; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        max_items_body: int,
        https: bool = False,
        image_hosts: tuple[str, ...] = (),
    ) -> None:
        self.app, self.max_body, self.max_items_body = app, max_body, max_items_body
        headers = [
            ("content-security-policy", csp(image_hosts)),
            ("x-frame-options", "DENY"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "same-origin"),
            ("cross-origin-opener-policy", "same-origin"),
        ]
        if https:
            headers.append(("strict-transport-security", "max-age=31536000"))
        self.headers = [(k.encode(), v.encode()) for k, v in headers]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_items_body if (scope["method"], scope["path"]) == ITEMS_PUSH else self.max_body
        declared = _content_length(scope)

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in self.headers if h[0] not in present)]
            await send(message)

        if declared is not None and declared > limit:
            await _answer(413, too_large_message(limit), send_with_headers)
            return
        try:
            await self.app(scope, receive if declared is not None else self._counted(receive, limit), send_with_headers)
        except Exception as exc:
            if started:
                raise  # too late for an answer of our own: the server closes the connection
            # a bug, not bad input: the traceback goes to the server log, never to the client
            log.error("unexpected error on %s %s", scope["method"], scope["path"], exc_info=exc)
            await _answer(500, "internal error; the server log has the details", send_with_headers)

    @staticmethod
    def _counted(receive: Receive, limit: int) -> Receive:
        """``receive`` that stops a body sent without a Content-Length once it passes ``limit``
        (with one, the server itself delivers no more than the declared length)."""
        seen = 0

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return counted_receive


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _answer(status: int, message: str, send: Any) -> None:
    body = json.dumps({"error": message, "status": status}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
