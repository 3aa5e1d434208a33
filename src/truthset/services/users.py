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
from typing import Any

from sqlalchemy import Connection, insert, select, update

from truthset.core.errors import Conflict, InvalidInput, NotFound
from truthset.store.models import User, utcnow

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


def add_user(conn: Connection, name: str, *, role: str, password: str | None = None) -> Account:
    """Create a user, or give an existing password-less one (e.g. from an import) a login."""
    if role not in ROLES:
        raise InvalidInput(f"--role {role!r}: use one of {', '.join(ROLES)}")
    name = name.strip()
    if not name:
        raise InvalidInput("a user needs a name")
    digest = hash_password(password) if password is not None else None
    row = conn.execute(select(User).where(User.name == name)).first()
    if row is not None:
        _refuse_removed(row)
        if row.password_hash:
            raise Conflict(f"user {name!r} already exists; use 'truthset user password {name}' to change it")
        conn.execute(update(User).where(User.id == row.id).values(role=role, password_hash=digest))
        return Account(row.id, name, role, row.session_gen)
    uid = conn.execute(
        insert(User).returning(User.id).values(name=name, role=role, password_hash=digest, created_at=utcnow())
    ).scalar_one()
    return Account(int(uid), name, role)


def _refuse_removed(row: Any) -> None:
    if row.status == "removed":
        raise Conflict(f"user {row.name!r} was removed (their annotations keep the name); choose another name")


def _user(conn: Connection, name: str) -> Any:
    row = conn.execute(select(User).where(User.name == name)).first()
    if row is None:
        raise NotFound(f"no user {name!r}; 'truthset user list' shows who there is")
    return row


def _change(conn: Connection, name: str, **values: Any) -> None:
    """Update ``name``'s row and end their sessions (every change here is one that must)."""
    row = _user(conn, name)
    _refuse_removed(row)
    conn.execute(update(User).where(User.id == row.id).values(session_gen=User.session_gen + 1, **values))


def end_sessions(conn: Connection, user_id: int) -> None:
    """End every browser session of the user (logging out does this): the next request of any
    of them finds a newer generation than the one it carries."""
    conn.execute(update(User).where(User.id == user_id).values(session_gen=User.session_gen + 1))


def set_password(conn: Connection, name: str, password: str) -> None:
    """Set ``name``'s password and end their sessions."""
    if conn.execute(select(User.id).where(User.name == name)).first() is None:
        raise NotFound(f"no user {name!r}; create it with 'truthset user add {name} --role annotator'")
    _change(conn, name, password_hash=hash_password(password))


def set_role(conn: Connection, name: str, role: str) -> None:
    """Give ``name`` another role; their sessions end (their API token keeps working, with the new role)."""
    if role not in ROLES:
        raise InvalidInput(f"role {role!r}: use one of {', '.join(ROLES)}")
    _change(conn, name, role=role)


def disable(conn: Connection, name: str) -> None:
    """Stop ``name`` logging in or using their API token, and end their sessions; ``enable`` undoes it."""
    _change(conn, name, status="disabled")


def enable(conn: Connection, name: str) -> None:
    """Let a disabled user log in (and use their token) again."""
    _change(conn, name, status="active")


def remove(conn: Connection, name: str) -> None:
    """Remove ``name`` for good: no login, password or token any more, sessions ended; their
    annotations and reviews stay, attributed to the name, which no one else can take."""
    _change(conn, name, status="removed", password_hash=None, token_hash=None)


def new_token(conn: Connection, name: str) -> str:
    """Issue a new API token for ``name`` (replacing the old one); returns it once."""
    row = _user(conn, name)
    _refuse_removed(row)
    token = "ts_" + secrets.token_urlsafe(32)
    conn.execute(update(User).where(User.id == row.id).values(token_hash=token_digest(token)))
    return token


def authenticate(conn: Connection, name: str, password: str) -> Account | None:
    """The active account whose name and password these are, or None.

    Unknown names, users without a password and disabled or removed users cost the same
    argon2 verification as a real one (against a dummy hash), so timing tells no one which
    names exist.
    """
    row = conn.execute(select(User).where(User.name == name)).first()
    stored = row.password_hash if row is not None and row.status == "active" else None
    matches = verify_password(stored, password)  # always: the same work whether or not ``row`` exists
    return _account(row) if matches and row is not None else None


def _account(row: Any) -> Account:
    return Account(row.id, row.name, row.role, row.session_gen)


def account_for_token(conn: Connection, token: str) -> Account | None:
    row = conn.execute(select(User).where(User.token_hash == token_digest(token), User.status == "active")).first()
    return None if row is None else _account(row)


def account(conn: Connection, user_id: int) -> Account | None:
    row = conn.execute(select(User).where(User.id == user_id, User.status == "active")).first()
    return None if row is None else _account(row)


def list_users(conn: Connection) -> list[dict[str, Any]]:
    return [
        {"id": r.id, "name": r.name, "role": r.role, "status": r.status,
         "can_log_in": bool(r.password_hash) and r.status == "active", "has_token": bool(r.token_hash)}
        for r in conn.execute(select(User).order_by(User.id))
    ]
