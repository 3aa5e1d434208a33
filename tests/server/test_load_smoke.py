"""The load benchmark's core at tiny scale: annotators over HTTP against a real server in a
subprocess, killed with SIGKILL half-way and restarted on the same store.

Checks the invariants, not the timings: every acknowledged annotation is stored, no (item,
annotator) pair twice, no item above the overlap, and "database is locked" reaches no one.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "load_annotators.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("load_annotators", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_acknowledged_annotations_survive_sigkill(backend: str, tmp_path: Path) -> None:
    la = _bench()
    root = tmp_path / "p"
    # user names are global to a store, and the PostgreSQL test database is shared
    made = la.setup_project(root, items=200, overlap=3, clients=5, user_prefix=f"u{uuid.uuid4().hex[:6]}-")
    server = la.Server(root, env=dict(os.environ))
    try:
        server.start(made["admin_token"])
        res = la.run_phase(server, made["tokens"], made["admin_token"], seconds=4.0, rate=15.0, kill_at=2.0)
    finally:
        server.stop()
    check = la.verify(root, res["acks"], 3)
    assert res["acks"], res["statuses"]
    assert res["restart_seconds"] is not None
    assert check["ok"], check
    assert check["acknowledged"] == len(res["acks"]) and check["acked_twice"] == 0
    assert res["locked_responses"] == 0 and server.log_mentions("database is locked") == 0
    assert not [k for k in res["statuses"] if k.endswith((" 500", " 503"))], res["statuses"]
