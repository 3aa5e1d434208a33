"""Items pushed through the API (``POST /api/items``): validated, then imported like a file.

A pushed item of an image project carries its image as bytes (``image_base64``, checked by
Pillow and kept in the project's media store) or as an http(s) URL of a host the admin
allowed (``image_url``); never as a path on the server. Items of other projects carry no
image at all. The items go through the same import (one transaction, idempotent) from a
file in a private temporary folder; that folder is never a place images are read from, and
the batch's source is ``api``.
"""

from __future__ import annotations

import base64
import binascii
import json
import tempfile
from pathlib import Path
from typing import Any

from truthset.core.errors import InvalidInput
from truthset.data.media import MediaInfo, MediaProblem
from truthset.services.imports import ImportOptions, import_file
from truthset.services.media import IMAGE_TASK, media_policy, store_upload
from truthset.services.projects import Project

IMAGE_KEYS = ("image_base64", "image_url")
#: the payload key of a pushed item's image (what the import reads it from)
IMAGE_FIELD = "image"


def _image_of(project: Project, index: int, item: dict[str, Any], uploads: dict[str, MediaInfo]) -> str:
    """Check one image item's image; return what its payload names it by."""
    where = f"items[{index}]"
    for key in (IMAGE_FIELD, project.config.text_field):
        if key in item:
            raise InvalidInput(
                f"field '{where}.{key}': a pushed item cannot name a file on the server; "
                "send the image's bytes as image_base64 or an allowed URL as image_url"
            )
    given = [k for k in IMAGE_KEYS if item.get(k) is not None]
    if len(given) != 1:
        raise InvalidInput(
            f"field '{where}': give the image as exactly one of image_base64 (the bytes, "
            "base64) or image_url (an http(s) URL of a host in media.allowed_url_hosts)"
        )
    key = given[0]
    value = item[key]
    if not isinstance(value, str):
        raise InvalidInput(f"field '{where}.{key}': expected a string, found {type(value).__name__}")
    try:
        if key == "image_url":
            return media_policy(project, None).check_url(value)
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MediaProblem(f"not valid base64 ({exc})") from exc
        info = store_upload(project, data)
    except MediaProblem as exc:
        raise InvalidInput(f"field '{where}.{key}': {exc}") from exc
    uploads[info.location] = info
    return info.location


def push_items(
    project: Project,
    items: list[dict[str, Any]],
    *,
    annotator: str = "api",
    id_col: str | None = None,
    on_duplicate: str = "merge",
) -> dict[str, Any]:
    """Import pushed items (idempotent: content already present is not added twice); the report.
    ``id_col`` and ``on_duplicate`` are the import's options of the same names."""
    is_image = project.task == IMAGE_TASK
    uploads: dict[str, MediaInfo] = {}
    rows = []
    for index, item in enumerate(items):
        if is_image:
            image = _image_of(project, index, item, uploads)
            rows.append({**{k: v for k, v in item.items() if k not in IMAGE_KEYS}, IMAGE_FIELD: image})
            continue
        extra = [k for k in IMAGE_KEYS if k in item]
        if extra:
            raise InvalidInput(
                f"field 'items[{index}].{extra[0]}': this project has no images (its task is {project.task})"
            )
        rows.append(item)
    options = ImportOptions(
        format="jsonl",
        annotator=annotator,
        text_col=IMAGE_FIELD if is_image else None,
        id_col=id_col,
        on_duplicate=on_duplicate,
    )
    policy = media_policy(project, None, uploads) if is_image else None
    with tempfile.TemporaryDirectory(prefix="truthset-push-") as folder:
        path = Path(folder) / "items.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        report = import_file(project, path, options, media=policy, source_name="api")
    out = report.to_dict()
    out["source"] = "api"
    return out
