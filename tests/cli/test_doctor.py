"""``truthset doctor`` and ``/healthz`` / ``/readyz`` (issue 15), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.support import NewProject
from truthset.cli import main
from truthset.server.app import create_app
from truthset.services import queue, users
from truthset.services.health import doctor, readiness
from truthset.services.imports import import_file
from truthset.services.projects import Project
from truthset.store.models import Assignment, utcnow


def _project(new_project: NewProject, tmp_path: Path) -> Project:
    p = new_project(labels=["pos", "neg"])
    f = tmp_path / f"items-{p.config.name}.jsonl"
    f.write_text("".join(json.dumps({"text": f"item {i}"}) + "\n" for i in range(5)), encoding="utf-8")
    import_file(p, f)
    return p


def test_doctor_reports_checks_and_stuck_leases(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    res = CliRunner().invoke(main, ["-p", str(p.root), "doctor", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    checks = {c["check"]: c for c in report["checks"]}
    assert report["ok"] is True
    assert checks["migrations"]["status"] == "ok" and checks["migrations"]["current"] == checks["migrations"]["head"]
    assert checks["integrity"]["status"] == "ok" and checks["disk"]["free_bytes"] > 0
    assert ("wal" in checks) == (p.store.dialect == "sqlite")
    # a lease that ran out, and a lease held by a user who was then disabled
    a = users.add_user(p, f"a-{p.config.name}", role="annotator", password="correct horse battery")
    b = users.add_user(p, f"b-{p.config.name}", role="annotator", password="correct horse battery")
    ta, tb = queue.next_task(p, a.id), queue.next_task(p, b.id)
    assert ta is not None and tb is not None
    with p.store.write() as tx:
        tx.execute(
            update(Assignment)
            .where(Assignment.id == ta.assignment_id)
            .values(leased_until=utcnow() - timedelta(minutes=5))
        )
    users.disable(p, b.name)
    stuck = {c["check"]: c for c in doctor(p)["checks"]}["assignments"]
    assert (stuck["status"], stuck["expired"], stuck["orphaned"]) == ("warn", 1, 1)
    human = CliRunner().invoke(main, ["-p", str(p.root), "doctor"])
    assert human.exit_code == 0 and "WARN  assignments" in human.output and "healthy" in human.output


def test_doctor_fails_on_a_corrupt_sqlite_file(tmp_path: Path) -> None:
    from truthset.services.projects import init_project

    p = init_project(tmp_path / "broken", task="text-classification", labels=["a", "b"], name="broken")
    f = tmp_path / "items.jsonl"
    f.write_text("".join(json.dumps({"text": f"some longer text number {i} " * 20}) + "\n" for i in range(400)))
    import_file(p, f)
    db = p.store.files()[0]
    p.close()
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (root_page,) = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'ix_items_content_key'").fetchone()
    (page_size,) = con.execute("PRAGMA page_size").fetchone()
    con.close()
    with open(db, "r+b") as fh:  # scribble over an index's root page: the table is fine, the index is not
        fh.seek((root_page - 1) * page_size + 8)
        fh.write(b"\x00" * 64)
    res = CliRunner().invoke(main, ["-p", str(tmp_path / "broken"), "doctor", "--json"])
    assert res.output, "".join(__import__("traceback").format_exception(res.exception))
    report = json.loads(res.output)
    checks = {c["check"]: c for c in report["checks"]}
    assert res.exit_code == 1 and report["ok"] is False
    assert checks["integrity"]["status"] == "fail" and checks["integrity"]["problems"]
    human = CliRunner().invoke(main, ["-p", str(tmp_path / "broken"), "doctor"])
    assert human.exit_code == 1 and "FAIL  integrity" in human.output and "Traceback" not in human.output


def test_healthz_and_readyz_need_no_login_and_tell_no_secrets(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    client = TestClient(create_app(p))
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "ok", "migrations": "current"}
    assert str(p.root) not in ready.text and "postgres" not in ready.text
    assert client.get("/readyz", headers={"accept": "text/html"}).status_code == 200


def test_readyz_is_503_when_behind_or_unreachable(
    new_project: NewProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from truthset.store import health as store_health
    from truthset.store.engine import make_engine
    from truthset.store.store import Store

    p = _project(new_project, tmp_path)
    client = TestClient(create_app(p))
    monkeypatch.setattr(store_health, "head_revision", lambda: "9999_newer")
    behind = client.get("/readyz")
    assert behind.status_code == 503 and behind.json()["migrations"] == "behind"
    monkeypatch.undo()
    unreachable = SimpleNamespace(store=Store(make_engine("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")))
    # a stand-in with only .store, passed as a Project on purpose (readiness and doctor read nothing else)
    assert readiness(unreachable) == {"ready": False, "database": "unreachable", "migrations": "unknown"}  # type: ignore[arg-type]
    report = doctor(unreachable)  # type: ignore[arg-type]  # the same stand-in
    assert report["ok"] is False and "secret" not in json.dumps(report)
