"""``truthset media rescan``: record the images of items imported before images were recorded.

Projects made before the ``media`` table (migration 0010) have image items with no recorded
image; the server answers 404 for them. A rescan finds each such item's file the way the old
server did (the payload's ``image`` or text field, relative to the folder of the batch's
source, or to ``--from FOLDER``) and applies exactly the checks of an import
(:class:`truthset.data.media.MediaPolicy`): inside that folder, no hidden or project file,
none of the store's files, a whole image by Pillow. It also gives each recorded item the
content hash an import now gives an image (its bytes' sha256), so re-importing the folder
finds the items instead of adding copies. Files are read and decoded outside any
transaction; the results are written in one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from truthset.core.errors import InvalidInput
from truthset.data.media import MediaInfo, MediaPolicy, MediaProblem
from truthset.services.media import IMAGE_TASK, media_policy
from truthset.services.projects import Project
from truthset.store import media as media_store

MAX_LISTED = 100


@dataclass
class RescanReport:
    """What a rescan did. Field names are the ``--json`` keys."""

    items: int = 0
    recorded: int = 0
    rehashed: int = 0
    not_recorded: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _root(source: str | None, folder: Path | None) -> Path:
    if folder is not None:
        return folder
    if not source or source == "api":
        raise MediaProblem(
            "pushed through the API before images were recorded: push it again with its bytes as image_base64"
        )
    src = Path(source)
    if not src.exists():
        raise MediaProblem("its import's source is no longer there; give the folder of its images with --from")
    return src if src.is_dir() else src.parent


def rescan(project: Project, *, folder: Path | str | None = None) -> RescanReport:
    """Record, with an import's checks, the image of every item that has none."""
    if project.task != IMAGE_TASK:
        raise InvalidInput(f"this project has no images (its task is {project.task}); nothing to rescan")
    base = None if folder is None else Path(folder)
    if base is not None and not base.is_dir():
        raise InvalidInput(f"--from {base}: not a folder")
    report = RescanReport()
    policies: dict[Path, MediaPolicy] = {}
    found: list[tuple[int, str, MediaInfo]] = []
    with project.store.read() as tx:
        for page in media_store.items_without_media(tx, project.id):
            for item_id, payload, content_hash, source, fmt in page:
                report.items += 1
                value = payload.get("image") if fmt == "images" else None
                value = value or payload.get("image") or payload.get(project.config.text_field)
                try:
                    root = _root(source, base)
                    policy = policies.get(root)
                    if policy is None:
                        policy = policies[root] = media_policy(project, root)
                    found.append((item_id, content_hash, policy.check(value)))
                except MediaProblem as exc:
                    report.not_recorded += 1
                    if len(report.problems) < MAX_LISTED:
                        report.problems.append({"item_id": item_id, "image": str(value)[:200], "reason": str(exc)})
    with project.store.write() as tx:
        taken: set[str] = set()
        for item_id, content_hash, info in found:
            new_hash = info.sha256
            # another item with the same bytes keeps its hash: the two stay apart, as imported
            if (
                new_hash
                and new_hash != content_hash
                and new_hash not in taken
                and media_store.item_with_hash(tx, project.id, new_hash) is None
            ):
                media_store.set_content_hash(tx, item_id, new_hash)
                taken.add(new_hash)
                report.rehashed += 1
        report.recorded = media_store.record_media(tx, project.id, [(i, info.to_row()) for i, _h, info in found])
    return report
