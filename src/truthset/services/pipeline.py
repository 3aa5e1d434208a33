"""What a pipeline drives over HTTP without a terminal: items pushed with import options, leases
handed back, and whole-project or training-label exports streamed.

The routes (``server/routes/admin.py``) only parse and call these; the CLI has its own
commands for the same work (``truthset import``, ``truthset user token``, ``truthset export``).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from truthset.core.errors import Conflict, InvalidInput
from truthset.services.batches import parse_due, set_due
from truthset.services.exports import EXPORT_FORMATS, export_project
from truthset.services.imports import DUPLICATE_POLICIES
from truthset.services.projects import Project
from truthset.services.pushes import push_items
from truthset.services.queue import policy
from truthset.store.models import utcnow
from truthset.store.queue.release import release as release_lease

#: bytes per chunk of a streamed export
CHUNK = 1 << 16
MEDIA_TYPES = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "labelstudio": "application/json",
    "conll": "text/plain; charset=utf-8",
}


def push(
    project: Project,
    items: list[dict[str, Any]],
    *,
    annotator: str = "api",
    id_col: str | None = None,
    due: str | None = None,
    on_duplicate: str = "merge",
) -> dict[str, Any]:
    """Import pushed items as a batch whose source is ``api``, with the import's options: the
    key naming each item's external id (``id_col``), a due date for the batch, and what to do
    with content already in the project (``on_duplicate``: merge, reject or error)."""
    if on_duplicate not in DUPLICATE_POLICIES:
        raise InvalidInput(f"field 'on_duplicate': {on_duplicate!r}; use one of {', '.join(DUPLICATE_POLICIES)}")
    due_at = parse_due(due) if due else None  # a bad date fails before anything is stored
    if id_col is not None:
        missing = [i for i, it in enumerate(items) if id_col not in it]
        if missing:
            raise InvalidInput(
                f"field 'items[{missing[0]}]': no key {id_col!r} (the id_col); {len(missing)} item(s) lack it"
            )
    report = push_items(project, items, annotator=annotator, id_col=id_col, on_duplicate=on_duplicate)
    if due_at is not None and report.get("batch") is not None:
        set_due(project, int(report["batch"]), due_at)
        report["due_at"] = due_at.isoformat()
    return report


def release(project: Project, user_id: int, assignment_id: int) -> dict[str, Any]:
    """Hand ``user_id``'s lease back without a skip (see ``store/queue/release.py``)."""
    with project.store.write() as tx:
        item = release_lease(tx, policy(project), user_id, assignment_id, utcnow())
    return {"released": assignment_id, "item_id": item}


def create_user(project: Project, name: str, *, role: str, password: str | None, token: bool) -> dict[str, Any]:
    """Create a user for the API: a name already taken by someone who can log in or holds a
    token is a Conflict (a name known only from imported labels gets the account, as with
    ``truthset user add``); ``token``: also issue an API token, returned once."""
    from truthset.services import users
    from truthset.store.repo import users as repo_users

    with project.store.read() as tx:
        row = repo_users.by_name(tx, name.strip())
    if row is not None and (row.password_hash or row.token_hash or row.status != "active"):
        raise Conflict(f"user {name!r} already exists; POST /api/users/{{name}}/token issues them a new token")
    made = users.add_user(project, name, role=role, password=password)
    out: dict[str, Any] = {"id": made.id, "name": made.name, "role": made.role}
    if token:
        out["token"] = users.new_token(project, made.name)
    return out


def export_file(project: Project, fmt: str, labels: str | None) -> tuple[Path, str]:
    """Write the export to a private temporary folder: (file, download name). ``labels`` None:
    the whole project (items, every annotation, gold); else training labels by that rule
    (consensus, adjudicated, latest or run:N), as ``truthset export --labels``."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"query 'format': {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    ext = {"labelstudio": "json", "conll": "conll"}.get(fmt, fmt)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", project.config.name)  # a safe file name in a header
    name = f"{stem}{'-training' if labels else ''}.{ext}"
    folder = Path(tempfile.mkdtemp(prefix="truthset-export-"))
    path = folder / name
    try:
        if labels is None:
            export_project(project, path, fmt=fmt)
        else:
            from truthset.services.training_export import export_training_data

            export_training_data(project, path, fmt=fmt, labels=labels)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path, name


def stream_file(path: Path) -> Iterator[bytes]:
    """The file in chunks; the file and its folder are deleted when the stream ends (or stops)."""
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
