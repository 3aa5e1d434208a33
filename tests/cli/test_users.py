"""``truthset user disable|enable|role|remove`` through click's CliRunner, on SQLite and PostgreSQL.

Failed on main, which had no such commands (issue 10, finding 3).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import NewProject
from truthset.cli import main
from truthset.services import users
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import open_project

PASSWORD = "correct horse battery"


@pytest.fixture
def project_dir(new_project: NewProject, tmp_path: Path) -> Path:
    """A project with one annotation by ``alice`` (an annotator who can log in)."""
    p = new_project()
    users.add_user(p, "alice", role="annotator", password=PASSWORD)
    users.new_token(p, "alice")
    f = tmp_path / "labelled.jsonl"
    f.write_text(json.dumps({"text": "a labelled item", "label": "pos", "annotator": "alice"}) + "\n")
    import_file(p, f, ImportOptions(label_col="label", annotator_col="annotator"))
    return p.root


def _cli(root: Path, *args: str, code: int = 0) -> str:
    res = CliRunner().invoke(main, ["-p", str(root), *args], catch_exceptions=False)
    assert res.exit_code == code, res.output
    return res.output


def _row(root: Path) -> dict[str, object]:
    return next(r for r in json.loads(_cli(root, "user", "list", "--json")) if r["name"] == "alice")


def test_disable_enable_role_remove(project_dir: Path) -> None:
    root = project_dir
    assert "disabled" in _cli(root, "user", "disable", "alice")
    assert _row(root)["status"] == "disabled" and _row(root)["can_log_in"] is False
    assert "alice\tannotator\tdisabled" in _cli(root, "user", "list")
    _cli(root, "user", "enable", "alice")
    assert _row(root)["can_log_in"] is True
    assert "now reviewer" in _cli(root, "user", "role", "alice", "reviewer")
    assert _row(root)["role"] == "reviewer"
    _cli(root, "user", "remove", "alice", code=1)  # asks first; no answer aborts
    assert _row(root)["status"] == "active"
    assert "annotations stay" in _cli(root, "user", "remove", "alice", "--yes")
    row = _row(root)
    assert row["status"] == "removed" and row["can_log_in"] is False and row["has_token"] is False
    # the annotation is still there, attributed to alice, and the name cannot be taken again
    status = json.loads(_cli(root, "status", "--json"))
    assert status["by_annotator"] == {"alice": 1}
    out = _cli(root, "user", "add", "alice", "--role", "admin", "--password", PASSWORD, code=1)
    assert "was removed" in out
    # users belong to the store, and the tests' PostgreSQL database is shared: a name no other test uses
    assert "no user 'nobody-here-x9'" in _cli(root, "user", "disable", "nobody-here-x9", code=1)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_serve_on_a_project_nobody_can_log_in_to_prints_the_command(
    new_project: NewProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11, item 13: ``truthset serve`` said nothing when no user could log in.

    SQLite only: users belong to the store, and the tests' PostgreSQL database is shared by
    every test of the session, so "nobody can log in" cannot be set up there."""
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)  # the start-up message is what is tested
    p = new_project()
    res = CliRunner().invoke(main, ["-p", str(p.root), "serve"], catch_exceptions=False)
    assert res.exit_code == 0 and "user add NAME --role admin" in res.output
    users.add_user(open_project(p.root), "root", role="admin", password=PASSWORD)
    res = CliRunner().invoke(main, ["-p", str(p.root), "serve"], catch_exceptions=False)
    assert "user add" not in res.output
