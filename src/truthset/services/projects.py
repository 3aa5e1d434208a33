"""Projects: create a project folder, find and open it, keep its schema versions in step.

A project is a folder holding ``truthset.yaml`` and ``.truthset/`` (the SQLite store, unless
``TRUTHSET_DATABASE_URL`` points elsewhere). Opening a project applies pending migrations
and, when the schema in ``truthset.yaml`` was edited, records a new immutable schema
version, so every annotation made afterwards records the definitions it was made under.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from truthset.core.config import (
    PROJECT_FILE,
    STATE_DIR,
    ProjectConfig,
    Settings,
    load_settings,
    read_project_config,
    write_project_config,
)
from truthset.core.errors import ConfigError, Conflict, InvalidInput, ProjectNotFound
from truthset.core.schema import LabelSchema, name_key, require_unique_names, schema_hash
from truthset.store import repo
from truthset.store.engine import sqlite_url
from truthset.store.queue.state import QueueState
from truthset.store.store import Store, Transaction


@dataclass
class Project:
    """An open project: its folder, its validated config and its store."""

    root: Path
    config: ProjectConfig
    store: Store
    id: int
    schema_version: int
    settings: Settings = field(default_factory=Settings)
    #: this process's memory of the project's annotation queue (when leases were last swept...)
    queue_state: QueueState = field(default_factory=QueueState, repr=False, compare=False)

    @property
    def config_path(self) -> Path:
        return self.root / PROJECT_FILE

    @property
    def task(self) -> str:
        return self.config.task

    def save_config(self, config: ProjectConfig) -> None:
        write_project_config(self.config_path, config)
        self.config = config

    def close(self) -> None:
        self.store.close()


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the current one) with truthset.yaml."""
    here = (start or Path.cwd()).resolve()
    if start is not None:
        if (here / PROJECT_FILE).is_file():
            return here
        raise ProjectNotFound(
            f"{here} is not a truthset project (no {PROJECT_FILE}); create one with "
            f"'truthset init {start}' or pass the right --project"
        )
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise ProjectNotFound(
        f"no {PROJECT_FILE} in {here} or any folder above it; run 'truthset init DIR' or pass --project DIR"
    )


def _store(root: Path, settings: Settings) -> Store:
    url = settings.database_url or sqlite_url(root / STATE_DIR / "truthset.db")
    return Store.open(url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)


def _sync(store: Store, config: ProjectConfig) -> tuple[int, int]:
    """Create the project row if needed and record a schema version if the schema changed."""
    digest = schema_hash(config.schema)
    with store.write() as conn:
        row = repo.get_project(conn, config.name)
        if row is None:
            pid = repo.create_project(conn, name=config.name, task=config.task, config={})
        else:
            pid = row.id
            if row.task != config.task:
                raise InvalidInput(
                    f"{PROJECT_FILE}: key 'task': found {config.task!r} but the store holds a "
                    f"{row.task!r} project named {config.name!r}; the task cannot change after "
                    "creation — restore it or create a new project"
                )
        latest = repo.latest_schema(conn, pid)
        if latest is None or latest.hash != digest:
            note = {"op": "create"} if latest is None else {"op": "edit", "from": latest.version}
            version = repo.add_schema_version(
                conn, project_id=pid, schema_json=config.schema.model_dump_json(), hash_=digest, note=note
            )
        else:
            version = int(latest.version)
    return pid, version


def open_project(path: Path | str | None = None) -> Project:
    """Open the project at ``path`` (or found from the current folder)."""
    root = find_root(Path(path) if path is not None else None)
    config = read_project_config(root / PROJECT_FILE)
    settings = load_settings()
    store = _store(root, settings)
    pid, version = _sync(store, config)
    return Project(root=root, config=config, store=store, id=pid, schema_version=version, settings=settings)


_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def init_project(
    path: Path | str,
    *,
    task: str,
    labels: list[str] | None = None,
    name: str | None = None,
) -> Project:
    """Create a project folder with ``truthset.yaml`` and an empty store, and open it."""
    root = Path(path)
    if (root / PROJECT_FILE).exists():
        raise Conflict(f"{root / PROJECT_FILE} already exists; open it instead, or pick another folder")
    labels = [x.strip() for x in labels or [] if x.strip()]
    seen: dict[str, str] = {}
    for label in labels:
        first = seen.get(name_key(label))
        if first is not None:
            same = (
                "twice"
                if first == label
                else (f"twice, as {first!r} and {label!r} (names are compared ignoring case, Unicode form and spacing)")
            )
            raise InvalidInput(f"--labels lists a label {same}: {labels}; give each label once")
        seen[name_key(label)] = label
    project_name = name or _NAME.sub("-", root.resolve().name).strip("-") or "project"
    from truthset.core.config import parse_project_config

    config = parse_project_config(
        {"name": project_name, "task": task, "schema": LabelSchema.from_names(labels).model_dump()},
        source="truthset init",
    )
    root.mkdir(parents=True, exist_ok=True)
    (root / STATE_DIR).mkdir(exist_ok=True)
    (root / STATE_DIR / ".gitignore").write_text("*\n", encoding="utf-8")
    write_project_config(root / PROJECT_FILE, config)
    return open_project(root)


def record_schema(project: Project, schema: LabelSchema, note: dict[str, Any], tx: Transaction) -> int:
    """Inside the caller's write transaction ``tx``, record ``schema`` as the project's next version.

    A schema with two labels of the same name is refused (:class:`SchemaError`) before
    anything is written, so the transaction rolls back whole.
    """
    require_unique_names(schema)
    version = repo.add_schema_version(
        tx, project_id=project.id, schema_json=schema.model_dump_json(), hash_=schema_hash(schema), note=note
    )
    project.schema_version = version
    return version


def schema_history(project: Project) -> list[dict[str, Any]]:
    """Every schema version with its note (what changed) and label names."""
    with project.store.read() as conn:
        rows = repo.schema_versions(conn, project.id)
    return [
        {
            "version": r.version,
            "labels": [lab["name"] for lab in json.loads(r.schema)["labels"]],
            "note": json.loads(r.note or "{}"),
            "hash": r.hash,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]


def session_key(project: Project) -> str:
    """The session-signing key: TRUTHSET_SECRET_KEY, or one kept in the project's state folder.

    Created atomically (written to a temporary file, then linked into place), so server
    workers starting together agree on one key and none can read a half-written (empty) one.
    """
    if project.settings.secret_key:
        return project.settings.secret_key
    path = project.root / STATE_DIR / "secret_key"
    if not path.exists():
        tmp = path.with_name(f"secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # fails if another process got there first: theirs is the key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        raise ConfigError(f"{path} holds no usable session key; delete it and start the server again")
    return key
