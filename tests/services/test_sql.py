"""``truthset sql`` and the analysts' views on SQLite and PostgreSQL: reads work, writes and
secrets are refused with a clear error, and nothing changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import NewProject
from truthset.cli import main
from truthset.core.errors import InvalidInput
from truthset.services import data_issues
from truthset.services import sql as svc
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project
from truthset.services.users import add_user
from truthset.store.views import VIEWS


def _project(new_project: NewProject, tmp_path: Path) -> Project:
    p = new_project(labels=["ham", "spam"])
    f = tmp_path / "a.csv"
    f.write_text("text,label\nwin a prize now,spam\nsee you at six,ham\nlunch?,ham\n", encoding="utf-8")
    import_file(p, f, ImportOptions(text_col="text", label_col="label"))
    add_user(p, f"ana-{p.config.name}", role="reviewer", password="pw-analyst-1234")
    data_issues.open_issue(p, kind="duplicate", title="lunch twice", items=[1])
    return p


def test_views_answer_analysts_questions(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    out = svc.query(
        p, f"SELECT label, count(*) AS n FROM v_current_labels WHERE project_id = {p.id} GROUP BY label ORDER BY label"
    )
    assert out["columns"] == ["label", "n"] and out["rows"] == [["ham", 2], ["spam", 1]]
    issues = svc.query(p, f"SELECT kind, status, title FROM v_issues WHERE project_id = {p.id}")
    assert issues["rows"] == [["duplicate", "open", "lunch twice"]]
    for view in VIEWS:
        got = svc.query(p, f"SELECT * FROM {view}", limit=1)
        assert got["columns"], view
    users = svc.query(p, "SELECT * FROM v_users", limit=1)["columns"]
    assert users == ["id", "name", "role", "status", "created_at"]
    limited = svc.query(p, "SELECT * FROM v_items", limit=2)
    assert limited["row_count"] == 2 and limited["truncated"] is True


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM items",
        "UPDATE data_issues SET status = 'resolved'",
        "INSERT INTO users (name, role, status, created_at) VALUES ('x', 'admin', 'active', CURRENT_TIMESTAMP)",
        "DROP VIEW v_items",
        "CREATE TABLE t (x int)",
    ],
)
def test_writes_are_refused_and_change_nothing(new_project: NewProject, tmp_path: Path, statement: str) -> None:
    p = _project(new_project, tmp_path)
    with pytest.raises(InvalidInput, match="read-only|returns no rows"):
        svc.query(p, statement)
    assert svc.query(p, f"SELECT count(*) FROM v_items WHERE project_id = {p.id}")["rows"] == [[3]]
    assert svc.query(p, f"SELECT status FROM v_issues WHERE project_id = {p.id}")["rows"] == [["open"]]


@pytest.mark.parametrize(
    "statement", ["SELECT password_hash FROM users", "SELECT * FROM users", "SELECT name, token_hash AS t FROM users"]
)
def test_secrets_are_never_shown(new_project: NewProject, tmp_path: Path, statement: str) -> None:
    p = _project(new_project, tmp_path)
    with pytest.raises(InvalidInput, match="never shown"):
        svc.query(p, statement)


def test_cli_csv_json_and_errors(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    run = CliRunner().invoke
    q = f"SELECT label, count(*) AS n FROM v_current_labels WHERE project_id = {p.id} GROUP BY label ORDER BY label"
    r = run(main, ["--project", str(p.root), "sql", q, "--csv"])
    assert r.exit_code == 0 and r.output.splitlines() == ["label,n", "ham,2", "spam,1"]
    r = run(main, ["--project", str(p.root), "sql", q, "--json"])
    assert json.loads(r.output)["rows"] == [["ham", 2], ["spam", 1]]
    r = run(main, ["--project", str(p.root), "sql", "DELETE FROM items"])
    assert r.exit_code == 1 and r.output.startswith("error: truthset sql is read-only") and "Traceback" not in r.output
    r = run(main, ["--project", str(p.root), "sql", "SELEC nonsense"])
    assert r.exit_code == 1 and "the query failed" in r.output
