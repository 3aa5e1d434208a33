"""The web app on a plain ``pip install .``: no extras, so no greenlet (SQLAlchemy 2.1 dropped it).

``truthset serve`` once crashed there with "The SQLAlchemy asyncio module requires ... greenlet"
while CI, which installs the extras, stayed green (issue 11, item 1). These tests run the app in
a subprocess where importing greenlet fails, as it does on a plain install; before the fix the
first one failed at ``create_app`` with that ImportError. ``.ci/run`` also installs the package
into a fresh venv with no extras and serves the README's demo until ``/login`` answers 200.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import sys

class NoGreenlet:
    def find_spec(self, name, path=None, target=None):
        if name == "greenlet" or name.startswith("greenlet."):
            raise ImportError("No module named 'greenlet' (blocked: a plain install has none)")
        return None

sys.meta_path.insert(0, NoGreenlet())
for name in [m for m in sys.modules if m == "greenlet" or m.startswith("greenlet.")]:
    del sys.modules[name]

import json
from pathlib import Path
from fastapi.testclient import TestClient
from truthset.server.app import create_app
from truthset.services import users
from truthset.services.imports import import_file
from truthset.services.projects import init_project

root = Path(sys.argv[1])
p = init_project(root / "p", task="text-classification", labels=["pos", "neg"])
f = root / "items.jsonl"
f.write_text("".join(json.dumps({"text": f"item {i}"}) + "\n" for i in range(3)), encoding="utf-8")
import_file(p, f)
users.add_user(p, "ann", role="annotator", password="correct horse battery")
token = users.new_token(p, "ann")
with TestClient(create_app(p)) as client:
    assert client.get("/login").status_code == 200
    headers = {"Authorization": f"Bearer {token}"}
    task = client.post("/api/next", headers=headers)
    assert task.status_code == 200, task.text
    done = client.post(f"/api/assignments/{task.json()['assignment_id']}/submit", headers=headers,
                       json={"value": "pos"})
    assert done.status_code == 200, done.text
assert "greenlet" not in sys.modules
print("served without greenlet")
"""


def test_app_serves_and_annotates_without_greenlet(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRUTHSET_DATABASE_URL"}  # SQLite, as the demo
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=120, env=env
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "served without greenlet" in run.stdout
