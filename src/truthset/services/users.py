"""Users, roles, passwords (argon2), API tokens, and the sessions they may hold.

Passwords are stored as argon2id hashes; API tokens are random 32-byte values shown once and
stored as their sha256 (a token is long and random, so a fast hash is enough and lets a
request be authorised with one indexed look-up).

A user is ``active``, ``disabled`` or ``removed``; only an active one can log in or use a
token. Each user has a session generation: a browser session records the one it was made
in, and logging out, a new password, a new role, disabling or removing the user add one to
it, which ends every session made before (the server compares the two on each request).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from truthset.core.errors import Conflict, InvalidInput, NotFound
from truthset.store.repo import users as repo

if TYPE_CHECKING:
    from truthset.services.projects import Project

ROLES = ("admin", "reviewer", "annotator")
STATUSES = ("active", "disabled", "removed")
#: what each role may do, cumulatively: an admin can review, a reviewer can annotate
RANK = {"annotator": 0, "reviewer": 1, "admin": 2}


@dataclass(frozen=True)
class Account:
    """An active user as a request sees it; ``generation`` is their current session generation."""

    id: int
    name: str
    role: str
    generation: int = 0

    def can(self, role: str) -> bool:
        """True when this account's role includes ``role``'s rights."""
        return RANK[self.role] >= RANK[role]


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise InvalidInput("a password needs at least 8 characters")
    return str(_hasher().hash(password))


@cache
def _dummy_hash() -> str:
    """A hash no password matches, with the same parameters as real ones (made once per process)."""
    return str(_hasher().hash(secrets.token_urlsafe(24)))


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; with no hash it still does the same argon2 work,
    so the time taken does not tell whether a user (with a password) exists."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(stored or _dummy_hash(), password)) and bool(stored)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(project: Project, name: str, *, role: str, password: str | None = None) -> Account:
    """Create a user, or give an existing password-less one (e.g. from an import) a login."""
    if role not in ROLES:
        raise InvalidInput(f"--role {role!r}: use one of {', '.join(ROLES)}")
    name = name.strip()
    if not name:
        raise InvalidInput("a user needs a name")
    digest = hash_password(password) if password is not None else None
    with project.store.write() as tx:
        row = repo.by_name(tx, name)
        if row is not None:
            _refuse_removed(row)
            if row.password_hash:
                raise Conflict(f"user {name!r} already exists; use 'truthset user password {name}' to change it")
            repo.update_user(tx, row.id, role=role, password_hash=digest)
            return Account(row.id, name, role, row.session_gen)
        return Account(repo.create(tx, name, role, digest), name, role)


def _refuse_removed(row: Any) -> None:
    if row.status == "removed":
        raise Conflict(f"user {row.name!r} was removed (their annotations keep the name); choose another name")


def _user(tx: Any, name: str) -> Any:
    row = repo.by_name(tx, name)
    if row is None:
        raise NotFound(f"no user {name!r}; 'truthset user list' shows who there is")
    return row


def _change(project: Project, name: str, **values: Any) -> None:
    """Update ``name``'s row and end their sessions (every change here is one that must)."""
    with project.store.write() as tx:
        row = _user(tx, name)
        _refuse_removed(row)
        repo.update_user(tx, row.id, new_session=True, **values)


def end_sessions(project: Project, user_id: int) -> None:
    """End every browser session of the user (logging out does this): the next request of any
    of them finds a newer generation than the one it carries."""
    with project.store.write() as tx:
        repo.update_user(tx, user_id, new_session=True)


def set_password(project: Project, name: str, password: str) -> None:
    """Set ``name``'s password and end their sessions."""
    with project.store.read() as tx:
        if repo.by_name(tx, name) is None:
            raise NotFound(f"no user {name!r}; create it with 'truthset user add {name} --role annotator'")
    _change(project, name, password_hash=hash_password(password))


def set_role(project: Project, name: str, role: str) -> None:
    """Give ``name`` another role; their sessions end (their API token keeps working, with the new role)."""
    if role not in ROLES:
        raise InvalidInput(f"role {role!r}: use one of {', '.join(ROLES)}")
    _change(project, name, role=role)


def disable(project: Project, name: str) -> None:
    """Stop ``name`` logging in or using their API token, and end their sessions; ``enable`` undoes it."""
    _change(project, name, status="disabled")


def enable(project: Project, name: str) -> None:
    """Let a disabled user log in (and use their token) again."""
    _change(project, name, status="active")


def remove(project: Project, name: str) -> None:
    """Remove ``name`` for good: no login, password or token any more, sessions ended; their
    annotations and reviews stay, attributed to the name, which no one else can take."""
    _change(project, name, status="removed", password_hash=None, token_hash=None)


def new_token(project: Project, name: str) -> str:
    """Issue a new API token for ``name`` (replacing the old one); returns it once."""
    token = "ts_" + secrets.token_urlsafe(32)
    with project.store.write() as tx:
        row = _user(tx, name)
        _refuse_removed(row)
        repo.update_user(tx, row.id, token_hash=token_digest(token))
    return token


def revoke_token(project: Project, name: str) -> None:
    """Make ``name``'s API token stop working (a running server forgets it within
    ``account_cache_seconds``); :func:`new_token` issues another."""
    with project.store.write() as tx:
        row = _user(tx, name)
        _refuse_removed(row)
        repo.update_user(tx, row.id, token_hash=None)


def authenticate(project: Project, name: str, password: str) -> Account | None:
    """The active account whose name and password these are, or None.

    Unknown names, users without a password and disabled or removed users cost the same
    argon2 verification as a real one (against a dummy hash), so timing tells no one which
    names exist. Slow on purpose (argon2): the server runs it on a thread.
    """
    with project.store.read() as tx:
        row = repo.by_name(tx, name)
    stored = row.password_hash if row is not None and row.status == "active" else None
    matches = verify_password(stored, password)  # always: the same work whether or not ``row`` exists
    return _account(row) if matches and row is not None else None


def _account(row: Any) -> Account:
    return Account(row.id, row.name, row.role, row.session_gen)


def _maybe(row: Any) -> Account | None:
    return None if row is None else _account(row)


def account_for_token(project: Project, token: str) -> Account | None:
    """The active account of an API token, or None; its role is the one it has in the project."""
    with project.store.read() as tx:
        return _maybe(repo.active_in_project_by_token(tx, (project.id, token_digest(token))))


def account(project: Project, user_id: int) -> Account | None:
    """The active account with this id, or None; its role is the one it has in the project."""
    with project.store.read() as tx:
        return _maybe(repo.active_in_project_by_id(tx, (project.id, user_id)))


async def served_account_for_token(project: Project, token: str) -> Account | None:
    """:func:`account_for_token` for a server request (on the event loop where it can)."""
    return _maybe(await project.store.read_served(repo.active_in_project_by_token, (project.id, token_digest(token))))


async def served_account(project: Project, user_id: int) -> Account | None:
    """:func:`account` for a server request (on the event loop where it can)."""
    return _maybe(await project.store.read_served(repo.active_in_project_by_id, (project.id, user_id)))


def set_project_role(project: Project, name: str, role: str | None) -> None:
    """Give ``name`` a role in this project only, in place of their own role (None: their own
    role again); their sessions end. For a database holding several projects (PostgreSQL, a
    workspace): a user may review one project and annotate another."""
    if role is not None and role not in ROLES:
        raise InvalidInput(f"role {role!r}: use one of {', '.join(ROLES)}")
    with project.store.write() as tx:
        row = _user(tx, name)
        _refuse_removed(row)
        repo.set_member_role(tx, project.id, row.id, role)
        repo.update_user(tx, row.id, new_session=True)


def list_users(project: Project) -> list[dict[str, Any]]:
    """Every user, with ``role`` their role in this project (``own_role`` the user's own)."""
    with project.store.read() as tx:
        rows = repo.all_users(tx)
        members = repo.member_roles(tx, project.id)
    return [
        {
            "id": r.id,
            "name": r.name,
            "role": members.get(r.id, r.role),
            "own_role": r.role,
            "status": r.status,
            "can_log_in": bool(r.password_hash) and r.status == "active",
            "has_token": bool(r.token_hash),
        }
        for r in rows
    ]
