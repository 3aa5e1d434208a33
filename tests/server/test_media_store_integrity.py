"""Issue 10, finding 1, the corruption: the server must never open the store's own files.

Serving ``truthset.db`` opened and closed the database file inside the server process, which
drops every POSIX lock the process holds on it (SQLite's own connections included). The next
CLI import then believed it was the last user, checkpointed and deleted the live ``-wal``
and ``-shm``, and the server went on writing into the deleted WAL: "database disk image is
malformed". On /work/main this test ends exactly so (the final ``PRAGMA integrity_check``
raises DatabaseError). SQLite only: the files in question are SQLite's.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import truthset
from tests.server.conftest import PASSWORD, login
from tests.support import png
from truthset.server.app import create_app
from truthset.services import users
from truthset.services.imports import import_file
from truthset.services.projects import init_project

STORE = [
    ".truthset/truthset.db",
    ".truthset/truthset.db-wal",
    ".truthset/truthset.db-shm",
    ".truthset/secret_key",
    "truthset.yaml",
]


def cli_import(root: Path, csv: Path) -> None:
    """``truthset import`` in another process, as a person at a terminal would run it."""
    env = {k: v for k, v in os.environ.items() if k != "TRUTHSET_DATABASE_URL"}
    env["PYTHONPATH"] = str(Path(truthset.__file__).resolve().parents[1])
    res = subprocess.run(
        [sys.executable, "-m", "truthset.cli", "-p", str(root), "import", str(csv)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("task", ["text-classification", "image-classification"])
def test_asking_for_store_files_leaves_the_store_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task: str
) -> None:
    monkeypatch.delenv("TRUTHSET_DATABASE_URL", raising=False)
    root = tmp_path / "demo"
    p = init_project(root, task=task, labels=["a", "b"], name="demo")
    images = task == "image-classification"
    (root / "img").mkdir()
    names = []
    for i in range(60):
        (root / "img" / f"{i}.png").write_bytes(png(2, 2, (i, 0, 0)))
        names.append(f"img/{i}.png" if images else f"item {i}")

    def listing(name: str, rows: list[str]) -> Path:
        f = root / name
        f.write_text("text\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
        return f

    import_file(p, listing("first.csv", names[:20] + STORE))
    users.add_user(p, "rev", role="reviewer", password=PASSWORD)
    users.add_user(p, "ann", role="annotator", password=PASSWORD)
    app = create_app(p)
    reviewer, _ = login(app, "rev")
    annotator, _ = login(app, "ann")
    if images:  # recorded images swapped afterwards for a symlink and a hard link to the database
        (root / "img" / "0.png").unlink()
        (root / "img" / "0.png").symlink_to(root / ".truthset" / "truthset.db")
        (root / "img" / "1.png").unlink()
        os.link(root / ".truthset" / "truthset.db", root / "img" / "1.png")
    task_ = annotator.post("/api/next").json()
    served = [
        reviewer.get(f"/api/items/{item['item_id']}/image")
        for item in reviewer.get("/api/items", params={"limit": 100}).json()["items"]
    ]
    submitted = 0

    def annotate(n: int) -> None:
        nonlocal task_, submitted
        for _ in range(n):
            res = annotator.post(f"/api/assignments/{task_['assignment_id']}/submit", json={"value": "a"})
            assert res.status_code == 200, res.text
            submitted += 1
            task_ = res.json()["next"]

    annotate(5)
    cli_import(root, listing("second.csv", names[20:40]))
    annotate(10)
    cli_import(root, listing("third.csv", names[40:60]))
    annotate(10)
    p.close()
    with sqlite3.connect(root / ".truthset" / "truthset.db") as con:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("SELECT COUNT(*) FROM annotations WHERE source = 'human'").fetchone() == (submitted,)
        assert con.execute("SELECT COUNT(*) FROM batches").fetchone() == (3,)
    assert all(res.status_code in (200, 404) for res in served)
    assert not any(res.content.startswith(b"SQLite format 3") for res in served)
