"""Who is calling, and may they? Sessions, API tokens, CSRF, role checks.

A browser logs in with a form and gets a signed session cookie (HttpOnly, SameSite=Strict)
holding the user id and the user's session generation at login (services/users.py). Each
request compares that generation with the user's current one, on the account it looks up
anyway (from the AccountCache), so logging out, a new password or role, disabling or removing
the user end the session: at once in the server process that handled the logout, and within
``account_cache_seconds`` (default 2 s) in other processes and for changes made with the CLI.
Every state-changing request from a page must carry the session's CSRF token (form field
``csrf`` or header ``X-CSRF-Token``). Scripts send ``Authorization: Bearer <token>`` and need
no CSRF token, since no cookie is involved. Every route declares the role it needs.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from truthset.services import users
from truthset.services.users import Account

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class AccountCache:
    """Accounts looked up in the last ``seconds``, keyed by token digest or session user id.

    Saying who a request comes from would otherwise cost a thread hop and a query on every
    request (about a tenth of an annotation's CPU). Only found accounts are kept, so a new
    token works at once; a changed role, a revoked token or a removed user (``truthset user``,
    possibly in another process) takes effect within ``seconds``. 0 turns the cache off.
    """

    def __init__(self, seconds: float, max_entries: int = 10_000) -> None:
        self.seconds, self.max_entries = seconds, max_entries
        self._entries: dict[tuple[str, Any], tuple[float, Account]] = {}

    def get(self, key: tuple[str, Any]) -> Account | None:
        hit = self._entries.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def drop(self, key: tuple[str, Any]) -> None:
        """Forget ``key`` (e.g. a user who just logged out), so the next request looks it up."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget every account (an admin disabled a user or revoked a token over the API)."""
        self._entries.clear()

    def put(self, key: tuple[str, Any], account: Account | None) -> None:
        if account is None or self.seconds <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        # a little jitter, so the entries of clients that started together do not all expire
        # (and go to the database) in the same instant
        self._entries[key] = (time.monotonic() + self.seconds * random.uniform(0.75, 1.0), account)


def start_session(request: Request, account: Account) -> None:
    """Log ``account`` in on this browser: a fresh session (new CSRF token) of its generation."""
    request.session.clear()
    request.session.update({"uid": account.id, "gen": account.generation})
    csrf_token(request)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return str(token)


async def _account(request: Request) -> Account | None:
    if hasattr(request.state, "account"):  # looked up once per request
        cached: Account | None = request.state.account
        return cached
    header = request.headers.get("authorization", "")
    found: Account | None = None
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
        found = await _find(request, ("token", users.token_digest(token)), users.served_account_for_token, token)
        if found is None:
            raise HTTPException(401, "invalid API token; create one with 'truthset user token NAME'")
        request.state.via_token = True
    elif "uid" in request.session:
        uid, generation = int(request.session["uid"]), request.session.get("gen")
        found = await _find(request, ("user", uid), users.served_account, uid)
        if found is not None and isinstance(generation, int) and generation > found.generation:
            # a session newer than the cached account (logged out and in again through another
            # server process): the cache is stale, not the session
            request.app.state.accounts.drop(("user", uid))
            found = await _find(request, ("user", uid), users.served_account, uid)
        if found is not None and found.generation != generation:
            found = None  # the session was ended: logout, new password or role, user disabled
            request.session.clear()
        request.state.via_token = False
        if found is not None and request.method not in SAFE_METHODS:
            await _check_csrf(request)
    request.state.account = found
    return found


async def _find(
    request: Request, cache_key: tuple[str, Any], find: Callable[[Any, Any], Awaitable[Account | None]], key: Any
) -> Account | None:
    """The account ``await find(project, key)`` gives, from the app's AccountCache when it has it.

    (The look-up itself runs on the event loop where the store allows: an await on PostgreSQL,
    an indexed WAL read on SQLite; ``Store.read_served``.)
    """
    cache: AccountCache = request.app.state.accounts
    found = cache.get(cache_key)
    if found is not None:
        return found
    found = await find(request.app.state.project, key)
    cache.put(cache_key, found)
    return found


async def _check_csrf(request: Request) -> None:
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    expected = request.session.get("csrf")
    if not expected or not sent or not secrets.compare_digest(str(expected), sent):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")


def role_check(role: str) -> Callable[[Request], Awaitable[Account]]:
    """A dependency that returns the caller's account if their role includes ``role``."""

    async def dependency(request: Request) -> Account:
        account = await _account(request)
        if account is None:
            raise HTTPException(401, "log in first (or send an API token)")
        if not account.can(role):
            raise HTTPException(403, f"this needs the {role} role; you are {account.role}")
        return account

    return dependency


def require(role: str) -> Any:
    """``Depends`` on :func:`role_check` (for a parameter default); routes declare the typed
    aliases below instead: ``account: Reviewer``."""
    return Depends(role_check(role))


#: the caller's account, if they are at least an annotator / reviewer / admin (else 401 or 403)
Annotator = Annotated[Account, Depends(role_check("annotator"))]
Reviewer = Annotated[Account, Depends(role_check("reviewer"))]
Admin = Annotated[Account, Depends(role_check("admin"))]


async def optional_account(request: Request) -> Account | None:
    return await _account(request)
