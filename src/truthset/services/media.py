"""Files behind items (images), served only from inside the folder they were imported from."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from truthset.core.errors import NotFound
from truthset.services.projects import Project
from truthset.store.models import Assignment, Batch, Item


def image_path(project: Project, item_id: int) -> Path:
    """The image file of an item, resolved inside its import folder (never outside it)."""
    with project.engine.connect() as conn:
        row = conn.execute(select(Item.payload, Batch.source).join(Batch, Batch.id == Item.batch_id)
                           .where(Item.id == item_id, Item.project_id == project.id)).first()
    if row is None:
        raise NotFound(f"item {item_id} is not in this project")
    payload = json.loads(row.payload)
    name = payload.get("image") or payload.get(project.config.text_field)
    if not isinstance(name, str) or not name:
        raise NotFound(f"item {item_id} has no image")
    source = Path(row.source)
    base = (source if source.is_dir() else source.parent).resolve()
    path = (base / name).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise NotFound(f"the image of item {item_id} is not inside its import folder {base}")
    return path


def was_assigned(project: Project, item_id: int, user_id: int) -> bool:
    """Has this annotator been handed the item (so may see its content)?"""
    with project.engine.connect() as conn:
        return conn.execute(select(Assignment.id).where(Assignment.item_id == item_id, Assignment.user_id == user_id)
                            .limit(1)).first() is not None
