"""Health: is the server's database ready (``/readyz``), and is the project well (``truthset doctor``).

``readiness`` is cheap (one ``SELECT 1`` and the migration revision) and says nothing of where
the data lives or how to reach it: it is answered to anyone. ``doctor`` is the operator's
check list; each check is ``ok``, ``warn`` (worth a look, nothing is broken) or ``fail``
(the command exits non-zero):

* ``database``: the database answers; ``migrations``: its schema is the package's newest;
* ``integrity``: SQLite's ``PRAGMA integrity_check``; on PostgreSQL, every table can be read;
* ``disk``: free space where the project lives (fail under ``DISK_FAIL``, warn under ``DISK_WARN``);
* ``assignments``: leases past their time that the queue has not swept yet, and open
  assignments held by disabled or removed users (warn: the queue frees them when they expire);
* ``wal``: the size of SQLite's write-ahead log (warn over ``WAL_WARN``: checkpoints are not
  keeping up, or a reader holds an old snapshot).
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from truthset.core.config import STATE_DIR
from truthset.core.errors import TruthsetError
from truthset.services.projects import Project, find_root, open_project
from truthset.store import health as store_health
from truthset.store.models import as_utc, utcnow

DISK_FAIL = 100 * 2**20
DISK_WARN = 1024 * 2**20
WAL_WARN = 256 * 2**20


def readiness(project: Project) -> dict[str, Any]:
    """``{"ready": bool, "database": "ok" | "unreachable", "migrations": "current" | "behind" | ...}``."""
    problem = store_health.ping(project.store)
    if problem is not None:
        return {"ready": False, "database": "unreachable", "migrations": "unknown"}
    current, head = store_health.revisions(project.store)
    state = "current" if current == head else "behind"
    return {"ready": state == "current", "database": "ok", "migrations": state}


def _check(name: str, status: str, detail: str, **numbers: Any) -> dict[str, Any]:
    return {"check": name, "status": status, "detail": detail, **numbers}


def doctor(project: Project, *, now: datetime | None = None) -> dict[str, Any]:
    """Every check (see the module docstring); ``ok`` is False when any check failed."""
    now = as_utc(now) if now is not None else utcnow()
    checks = []
    problem = store_health.ping(project.store)
    if problem is not None:
        checks.append(
            _check("database", "fail", f"the database at {project.store.location} does not answer: {problem}")
        )
        return {"ok": False, "checks": checks}
    checks.append(_check("database", "ok", f"{project.store.dialect} at {project.store.location} answers"))
    current, head = store_health.revisions(project.store)
    checks.append(
        _check(
            "migrations",
            "ok" if current == head else "fail",
            f"schema revision {current}"
            + (
                ""
                if current == head
                else f", the package's newest is {head}: open the project with this truthset once "
                "(it migrates on open) or run the upgrade on the server"
            ),
            current=current,
            head=head,
        )
    )
    bad = store_health.integrity_problems(project.store)
    checks.append(
        _check("integrity", "fail" if bad else "ok", "; ".join(bad) if bad else "no problem found", problems=bad)
    )
    free = shutil.disk_usage(project.root).free
    disk = "fail" if free < DISK_FAIL else "warn" if free < DISK_WARN else "ok"
    checks.append(_check("disk", disk, f"{free / 2**30:.2f} GiB free where the project lives", free_bytes=free))
    stuck = store_health.stuck_assignments(project.store, project.id, now)
    checks.append(
        _check(
            "assignments",
            "warn" if any(stuck.values()) else "ok",
            f"{stuck['expired']} lease(s) past their time, {stuck['orphaned']} open assignment(s) of "
            "disabled or removed users or of missing items; the queue frees them as leases expire",
            **stuck,
        )
    )
    wal = store_health.wal_bytes(project.store)
    if wal is not None:
        checks.append(
            _check("wal", "warn" if wal > WAL_WARN else "ok", f"write-ahead log {wal / 2**20:.1f} MiB", wal_bytes=wal)
        )
    return {"ok": all(c["status"] != "fail" for c in checks), "checks": checks}


def doctor_at(path: Path | str | None) -> dict[str, Any]:
    """:func:`doctor` on the project at ``path``; a store that cannot even be opened (a damaged
    SQLite file, an unreachable server) is a failed ``database`` check, with SQLite's own
    integrity check of the file, not an error."""
    root = find_root(Path(path) if path is not None else None)  # no project here: a user error
    try:
        project = open_project(root)
    except TruthsetError as exc:
        if exc.status < 500:
            raise
        return _unopened(root, exc)
    except Exception as exc:  # noqa: BLE001 - whatever the driver raised is the finding
        return _unopened(root, exc)
    try:
        return doctor(project)
    finally:
        project.close()


def _unopened(root: Path, exc: Exception) -> dict[str, Any]:
    message = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
    checks = [_check("database", "fail", f"the project's store cannot be opened: {type(exc).__name__}: {message}")]
    bad = store_health.sqlite_file_problems(str(root / STATE_DIR / "truthset.db"))
    if bad:
        checks.append(_check("integrity", "fail", "; ".join(bad), problems=bad))
    return {"ok": False, "checks": checks}
