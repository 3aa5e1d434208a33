"""Users: rows of the ``users`` table, looked up and changed for services.users."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from truthset.store.models import ProjectMember, User, utcnow


def by_name(conn: Connection, name: str) -> Any:
    return conn.execute(select(User).where(User.name == name)).first()


def active_by_token(conn: Connection, digest: str) -> Any:
    """The active user whose API token has this sha256 digest."""
    return conn.execute(select(User).where(User.token_hash == digest, User.status == "active")).first()


def active_by_id(conn: Connection, user_id: int) -> Any:
    return conn.execute(select(User).where(User.id == user_id, User.status == "active")).first()


def create(conn: Connection, name: str, role: str, password_hash: str | None) -> int:
    return int(
        conn.execute(
            insert(User)
            .returning(User.id)
            .values(name=name, role=role, password_hash=password_hash, created_at=utcnow())
        ).scalar_one()
    )


def update_user(conn: Connection, user_id: int, *, new_session: bool = False, **values: Any) -> None:
    """Change a user's columns; ``new_session`` also adds one to their session generation."""
    if new_session:
        values["session_gen"] = User.session_gen + 1
    conn.execute(update(User).where(User.id == user_id).values(**values))


def all_users(conn: Connection) -> list[Any]:
    return list(conn.execute(select(User).order_by(User.id)))


def _in_project(project_id: int) -> Any:
    """Users with their role in the project: the project's own (``project_members``) if any."""
    return select(
        User.id, User.name, func.coalesce(ProjectMember.role, User.role).label("role"), User.session_gen, User.status
    ).outerjoin(ProjectMember, and_(ProjectMember.user_id == User.id, ProjectMember.project_id == project_id))


def active_in_project_by_token(conn: Connection, key: tuple[int, str]) -> Any:
    """(project id, token digest) -> the active user with that token, with their role in the project."""
    project_id, digest = key
    return conn.execute(_in_project(project_id).where(User.token_hash == digest, User.status == "active")).first()


def active_in_project_by_id(conn: Connection, key: tuple[int, int]) -> Any:
    """(project id, user id) -> the active user, with their role in the project."""
    project_id, user_id = key
    return conn.execute(_in_project(project_id).where(User.id == user_id, User.status == "active")).first()


def set_member_role(conn: Connection, project_id: int, user_id: int, role: str | None) -> None:
    """Give the user ``role`` in the project (None: their own role again)."""
    conn.execute(delete(ProjectMember).where(ProjectMember.project_id == project_id, ProjectMember.user_id == user_id))
    if role is not None:
        conn.execute(
            insert(ProjectMember).values(project_id=project_id, user_id=user_id, role=role, created_at=utcnow())
        )


def member_roles(conn: Connection, project_id: int) -> dict[int, str]:
    """user id -> role in the project, for the users who have one."""
    rows = conn.execute(
        select(ProjectMember.user_id, ProjectMember.role).where(ProjectMember.project_id == project_id)
    ).all()
    return {int(u): str(r) for u, r in rows}
