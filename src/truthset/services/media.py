"""Images behind items: what an import may record, what the server serves, pushed uploads.

Only image-classification projects have images. An image is recorded (table ``media``) when
an import names it and :mod:`truthset.data.media` has checked it; the server looks it up by
item id and serves exactly the recorded bytes, or nothing. No path is ever computed from an
item's payload or text. Bytes pushed through the API are kept content-addressed in the
project's media store, ``.truthset/media/<2 hex>/<sha256>.<ext>``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from truthset.core.config import PROJECT_FILE, STATE_DIR
from truthset.core.errors import NotFound
from truthset.data.media import (
    EXTENSIONS,
    UPLOAD_NAME,
    MediaInfo,
    MediaPolicy,
    MediaProblem,
    guard,
    inspect_image,
    read_regular,
)
from truthset.services.projects import Project
from truthset.store import media as media_store
from truthset.store.repo import items as repo_items

IMAGE_TASK = "image-classification"
#: what the route says for every image it will not serve (no path, no reason an attacker can use)
GONE = (
    "the image of item {item} is missing or changed since it was imported; an admin can "
    "record it again with 'truthset media rescan'"
)


def store_files(project: Project) -> tuple[str, ...]:
    """Absolute paths that are never media: the project file, its state folder, the store's files."""
    root = Path(os.path.realpath(project.root))
    files = [root / PROJECT_FILE, root / STATE_DIR]
    files += [Path(os.path.realpath(f)) for f in project.store.files()]
    return tuple(str(f) for f in files)


def media_policy(project: Project, root: Path | None, uploads: dict[str, MediaInfo] | None = None) -> MediaPolicy:
    """The checks an import into ``project`` applies; ``root``: the folder paths must stay in."""
    cfg = project.config.media
    return MediaPolicy(
        root=None if root is None else os.path.realpath(root),
        forbidden=store_files(project),
        allowed_hosts=tuple(h.lower() for h in cfg.allowed_url_hosts),
        max_bytes=cfg.max_image_bytes,
        uploads=uploads or {},
    )


def import_policy(project: Project, path: Path) -> MediaPolicy | None:
    """The policy for importing ``path``: paths inside the folder imported, or the file's folder."""
    if project.task != IMAGE_TASK:
        return None
    return media_policy(project, path if path.is_dir() else path.parent)


def upload_dir(project: Project) -> Path:
    return project.root / STATE_DIR / "media"


def store_upload(project: Project, data: bytes) -> MediaInfo:
    """Check pushed image bytes and keep them in the media store (idempotent, atomic)."""
    limit = project.config.media.max_image_bytes
    if len(data) > limit:
        raise MediaProblem(
            f"the image has {len(data):,} bytes, more than the {limit:,} allowed "
            "(media.max_image_bytes in truthset.yaml)"
        )
    if not data:
        raise MediaProblem("the image is empty")
    mime, width, height = inspect_image(data)
    sha = hashlib.sha256(data).hexdigest()
    name = f"{sha}.{EXTENSIONS[mime]}"
    folder = upload_dir(project) / sha[:2]
    target = folder / name
    if not (target.is_file() and target.stat().st_size == len(data)):
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return MediaInfo(kind="upload", location=name, mime=mime, size=len(data), sha256=sha, width=width, height=height)


@dataclass(frozen=True)
class Served:
    """An image to answer with: its bytes and type, or a URL to send the browser to."""

    content: bytes = b""
    mime: str = ""
    filename: str = ""
    redirect: str = ""


def served_image(project: Project, item_id: int) -> Served:
    """The recorded image of an item, re-checked; :class:`NotFound` when there is none to serve.

    A file must still be where it was recorded (no symlink now in its path), none of the
    project's or store's files, a regular file of the recorded size and sha256: anything
    else answers 404, and no store file is ever opened.
    """
    if project.task != IMAGE_TASK:
        raise NotFound(f"this project has no images (its task is {project.task})")
    with project.store.read() as tx:
        row = media_store.media_of(tx, project.id, item_id)
    if row is None:
        raise NotFound(
            f"item {item_id} has no recorded image; images of items imported before this "
            "version are recorded by 'truthset media rescan'"
        )
    if row.kind == "url":
        try:
            url = media_policy(project, None).check_url(row.location)
        except MediaProblem as exc:
            raise NotFound(f"the image URL of item {item_id} is no longer allowed") from exc
        return Served(redirect=url)
    if row.kind == "upload":
        if not UPLOAD_NAME.match(row.location):
            raise NotFound(GONE.format(item=item_id))
        # the one place under .truthset/ that is served: names made of a checked sha256 only
        path = Path(os.path.realpath(upload_dir(project))) / row.location[:2] / row.location
        forbidden = tuple(f for f in store_files(project) if not path.is_relative_to(f))
    else:
        path = Path(row.location)
        forbidden = store_files(project)
    try:
        if not path.is_absolute() or os.path.realpath(path) != str(path):
            raise MediaProblem("moved")
        guard(path, forbidden, state_folder_ok=row.kind == "upload")
        data = read_regular(path, int(row.size or 0))
    except MediaProblem as exc:
        raise NotFound(GONE.format(item=item_id)) from exc
    if len(data) != row.size or hashlib.sha256(data).hexdigest() != row.sha256 or row.mime not in EXTENSIONS:
        raise NotFound(GONE.format(item=item_id))
    return Served(content=data, mime=row.mime, filename=f"item-{item_id}.{EXTENSIONS[row.mime]}")


def was_assigned(project: Project, item_id: int, user_id: int) -> bool:
    """Has this annotator been handed the item (so may see its content)?"""
    with project.store.read() as tx:
        return repo_items.was_assigned(tx, item_id, user_id)


def unrecorded_images(project: Project) -> int:
    """Items of an image project with no recorded image (0 for other projects)."""
    if project.task != IMAGE_TASK:
        return 0
    with project.store.read() as tx:
        return media_store.count_without_media(tx, project.id)
