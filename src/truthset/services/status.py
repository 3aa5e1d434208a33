"""What a project holds: counts by batch, label, annotator, source and stage (``truthset status``,
``/api/stats``)."""

from __future__ import annotations

from typing import Any

from truthset.services.projects import Project
from truthset.store import repo


def status(project: Project) -> dict[str, Any]:
    """The project's name, task and schema version, and its counts (``repo.status_counts``):
    ``items``, ``annotations``, ``by_batch``, ``by_label``, ``by_annotator``, ``by_source``,
    ``stages``, ``items_full`` (items with all the annotations the overlap asks for)."""
    with project.store.read() as tx:
        counts = repo.status_counts(tx, project.id)
        counts["items_full"] = repo.items_full(tx, project.id)
    return {"project": project.config.name, "task": project.task, "schema_version": project.schema_version, **counts}
