"""Users, roles, passwords (argon2) and API tokens.

Passwords are stored as argon2id hashes; API tokens are random 32-byte values shown once and
stored as their sha256 (a token is long and random, so a fast hash is enough and lets a
request be authorised with one indexed look-up).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from truthset.core.errors import Conflict, InvalidInput, NotFound
from truthset.store.models import User, utcnow

ROLES = ("admin", "reviewer", "annotator")
#: what each role may do, cumulatively: an admin can review, a reviewer can annotate
RANK = {"annotator": 0, "reviewer": 1, "admin": 2}


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str

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


def verify_password(stored: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    if not stored:
        return False
    try:
        return bool(_hasher().verify(stored, password))
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
        if row.password_hash:
            raise Conflict(f"user {name!r} already exists; use 'truthset user password {name}' to change it")
        conn.execute(update(User).where(User.id == row.id).values(role=role, password_hash=digest))
        return Account(row.id, name, role)
    uid = conn.execute(
        insert(User).returning(User.id).values(name=name, role=role, password_hash=digest, created_at=utcnow())
    ).scalar_one()
    return Account(int(uid), name, role)


def set_password(conn: Connection, name: str, password: str) -> None:
    res = conn.execute(update(User).where(User.name == name).values(password_hash=hash_password(password)))
    if res.rowcount == 0:
        raise NotFound(f"no user {name!r}; create it with 'truthset user add {name} --role annotator'")


def new_token(conn: Connection, name: str) -> str:
    """Issue a new API token for ``name`` (replacing the old one); returns it once."""
    token = "ts_" + secrets.token_urlsafe(32)
    res = conn.execute(update(User).where(User.name == name).values(token_hash=token_digest(token)))
    if res.rowcount == 0:
        raise NotFound(f"no user {name!r}")
    return token


def authenticate(conn: Connection, name: str, password: str) -> Account | None:
    row = conn.execute(select(User).where(User.name == name)).first()
    if row is None or not verify_password(row.password_hash, password):
        return None
    return Account(row.id, row.name, row.role)


def account_for_token(conn: Connection, token: str) -> Account | None:
    row = conn.execute(select(User).where(User.token_hash == token_digest(token))).first()
    return None if row is None else Account(row.id, row.name, row.role)


def account(conn: Connection, user_id: int) -> Account | None:
    row = conn.execute(select(User).where(User.id == user_id)).first()
    return None if row is None else Account(row.id, row.name, row.role)


def list_users(conn: Connection) -> list[dict[str, Any]]:
    return [
        {"id": r.id, "name": r.name, "role": r.role, "can_log_in": bool(r.password_hash), "has_token": bool(r.token_hash)}
        for r in conn.execute(select(User).order_by(User.id))
    ]
