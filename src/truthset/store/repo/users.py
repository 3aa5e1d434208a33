"""Users: rows of the ``users`` table, looked up and changed for services.users."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from truthset.store.models import User, utcnow


def by_name(conn: Connection, name: str) -> Any:
    return conn.execute(select(User).where(User.name == name)).first()


def active_by_token(conn: Connection, digest: str) -> Any:
    """The active user whose API token has this sha256 digest."""
    return conn.execute(select(User).where(User.token_hash == digest, User.status == "active")).first()


def active_by_id(conn: Connection, user_id: int) -> Any:
    return conn.execute(select(User).where(User.id == user_id, User.status == "active")).first()


def create(conn: Connection, name: str, role: str, password_hash: str | None) -> int:
    return int(conn.execute(insert(User).returning(User.id).values(
        name=name, role=role, password_hash=password_hash, created_at=utcnow())).scalar_one())


def update_user(conn: Connection, user_id: int, *, new_session: bool = False, **values: Any) -> None:
    """Change a user's columns; ``new_session`` also adds one to their session generation."""
    if new_session:
        values["session_gen"] = User.session_gen + 1
    conn.execute(update(User).where(User.id == user_id).values(**values))


def all_users(conn: Connection) -> list[Any]:
    return list(conn.execute(select(User).order_by(User.id)))
