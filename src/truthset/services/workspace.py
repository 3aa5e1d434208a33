"""A workspace: a folder of project folders served by one ``truthset serve --workspace DIR``.

Each sub-folder holding a ``truthset.yaml`` is a project. On SQLite each project keeps its
own store (``.truthset/truthset.db`` in its folder), so its users and their roles are its own;
with ``TRUTHSET_DATABASE_URL`` every project lives in that one PostgreSQL database (as any
project does) and the users are the database's, with one role each across its projects.
"""

from __future__ import annotations

import re
from pathlib import Path

from truthset.core.config import PROJECT_FILE
from truthset.core.errors import InvalidInput
from truthset.services.projects import Project, open_project


def project_folders(folder: Path | str) -> list[Path]:
    """The project folders directly inside ``folder``, by name."""
    root = Path(folder)
    if not root.is_dir():
        raise InvalidInput(f"--workspace {root}: no such folder; make it and 'truthset init' projects in it")
    found = sorted(p for p in root.iterdir() if p.is_dir() and (p / PROJECT_FILE).is_file())
    if not found:
        raise InvalidInput(
            f"--workspace {root}: no project in it (a sub-folder with {PROJECT_FILE}); "
            f"create one with 'truthset init {root}/NAME --task text-classification'"
        )
    return found


def open_workspace(folder: Path | str) -> dict[str, Project]:
    """Every project of the workspace by name; two projects with one name are an error (their
    URLs, /p/NAME/, would clash)."""
    projects: dict[str, Project] = {}
    try:
        for path in project_folders(folder):
            project = open_project(path)
            other = projects.get(project.config.name)
            if other is not None:
                project.close()
                raise InvalidInput(
                    f"projects {other.root} and {path} are both named {project.config.name!r}; "
                    f"rename one (name: in its {PROJECT_FILE})"
                )
            projects[project.config.name] = project
    except BaseException:
        for p in projects.values():
            p.close()
        raise
    return projects


_NAME_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def valid_name(name: str) -> bool:
    """Whether ``name`` may be a workspace project's folder and URL (letters, digits, '.', '_',
    '-', starting with a letter or digit, at most 100): never '..', a path or a NUL."""
    return _NAME_OK.fullmatch(name) is not None


def create_project(
    folder: Path | str, name: str, *, task: str, labels: list[str], creator: str
) -> tuple[Project, str | None]:
    """A new project in the workspace folder (``folder/name``) whose admin is ``creator``.

    On SQLite the project has a store of its own: ``creator`` is added there as an admin
    without a password, and the API token returned is theirs in it. On PostgreSQL the users are
    the database's: ``creator`` keeps their token (None is returned) and is made admin in this
    project (a project role) if they are not an admin already."""
    from truthset.core.errors import Conflict
    from truthset.services import users
    from truthset.services.projects import init_project

    if not _NAME_OK.fullmatch(name):
        raise InvalidInput(
            f"field 'name': {name[:40]!r}; use letters, digits, '.', '_' and '-' (it is the "
            "project's folder and its URL, /p/NAME/)"
        )
    target = Path(folder) / name
    if target.exists():
        raise Conflict(f"field 'name': {name!r} is taken in this workspace; choose another name")
    project = init_project(target, task=task, labels=labels, name=name)
    known = {u["name"]: u for u in users.list_users(project)}
    if creator in known:
        if known[creator]["role"] != "admin":
            users.set_project_role(project, creator, "admin")
        return project, None
    users.add_user(project, creator, role="admin")
    return project, users.new_token(project, creator)
