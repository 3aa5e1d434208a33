"""``truthset sql`` against tricks (security review of the watch tools), on SQLite and PostgreSQL.

On PostgreSQL the statement used to run as the project's own database user, guarded by a
regex on the query text and the result's column names: ``row_to_json(u)``, ``u::text``,
``to_jsonb(users)`` and ``query_to_xml('select * from us' || 'ers', ...)`` returned the
password hashes; ``pg_read_file`` read server files (the test user is a superuser); and
``COMMIT; DELETE FROM ...`` deleted rows (the ``COMMIT`` ended the read-only transaction and the
simple query protocol ran the rest). Each test here failed on PostgreSQL before the fix
(store/sql.py: the role ``truthset_analyst``, one prepared statement).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import NewProject
from truthset.core.errors import InvalidInput
from truthset.services import data_issues
from truthset.services import sql as svc
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project
from truthset.services.users import add_user

#: statements that would show a password or token hash, or the database's own secrets
SECRET_TRICKS = [
    "SELECT row_to_json(u) FROM users u",
    "SELECT u::text FROM users u",
    "SELECT to_jsonb(users) FROM users",
    "SELECT * FROM (SELECT * FROM users) t",
    "SELECT x FROM (SELECT * FROM users) AS t(a, b, c, d, x)",
    "SELECT name FROM (SELECT * FROM users) AS t(a, name, c, d, x) WHERE x LIKE '$%'",
    "SELECT query_to_xml('select * from us' || 'ers', true, true, '')",
    "SELECT json_object(*) FROM users",
    "SELECT * FROM pg_catalog.pg_shadow",
    "SELECT rolpassword FROM pg_authid",
    "SELECT pg_read_file('/etc/hostname')",
    # SET ROLE is checked against the session user: set_config takes the owner's rights back
    "SELECT set_config('role', session_user, true) AS r, query_to_xml('select * from us' || 'ers', true, true, '')",
    "SELECT s.r, table_to_xml('users', true, true, '') FROM (SELECT set_config('role', session_user, true) AS r) s",
    "SELECT pg_catalog.SET_CONFIG('role', session_user, true), (SELECT count(*) FROM v_users)",
    "SELECT U&\"set\\005fconfig\"('role', session_user, true)",
]

#: statements that would change the data, each also in a disguise
WRITE_TRICKS = [
    "COMMIT; DELETE FROM data_issue_events; DELETE FROM data_issue_links; DELETE FROM data_issues; SELECT 1",
    "SELECT 1; DELETE FROM data_issues",
    "WITH gone AS (DELETE FROM data_issues RETURNING id) SELECT * FROM gone",
    "ATTACH DATABASE 'x.db' AS x",
    "PRAGMA query_only = 0",
    "SELECT load_extension('/tmp/nothing')",
    "SELECT lo_import('/etc/hostname')",
    "SELECT set_config('transaction_read_only', 'off', true), (SELECT count(*) FROM data_issues)",
    "VACUUM INTO 'copy.db'",
]


def _project(new_project: NewProject, tmp_path: Path) -> Project:
    """Three labelled items, a reviewer with a password (its hash is a secret) and one issue."""
    p = new_project(labels=["ham", "spam"])
    f = tmp_path / "a.csv"
    f.write_text("text,label\nwin a prize now,spam\nsee you at six,ham\nlunch?,ham\n", encoding="utf-8")
    import_file(p, f, ImportOptions(text_col="text", label_col="label"))
    add_user(p, f"ana-{p.config.name}", role="reviewer", password="pw-analyst-1234")
    data_issues.open_issue(p, kind="duplicate", title="lunch twice", items=[1])
    return p


def _hashes(p: Project) -> list[str]:
    from truthset.services.users import new_token

    new_token(p, f"ana-{p.config.name}")
    with p.store.read() as tx:
        rows = tx.exec_driver_sql("SELECT password_hash, token_hash FROM users").all()
    return [v for row in rows for v in row if v]


@pytest.mark.parametrize("statement", SECRET_TRICKS)
def test_no_trick_shows_a_secret(new_project: NewProject, tmp_path: Path, statement: str) -> None:
    p = _project(new_project, tmp_path)
    secrets = _hashes(p)
    assert secrets
    try:
        out = svc.query(p, statement)
    except InvalidInput as exc:
        assert not any(s in str(exc) for s in secrets)
        return
    # SQLite answers only where the trick reads nothing secret (json_object(*) is an empty object)
    assert p.store.dialect == "sqlite", f"PostgreSQL answered {statement!r}: {out['rows']!r}"
    shown = repr(out["rows"])
    assert not any(s in shown for s in secrets) and "$argon2" not in shown, statement


@pytest.mark.parametrize("statement", WRITE_TRICKS)
def test_no_trick_writes(new_project: NewProject, tmp_path: Path, statement: str) -> None:
    p = _project(new_project, tmp_path)
    with pytest.raises(InvalidInput):
        svc.query(p, statement)
    assert svc.query(p, f"SELECT count(*) FROM v_issues WHERE project_id = {p.id}")["rows"] == [[1]]
    assert svc.query(p, f"SELECT count(*) FROM data_issues WHERE project_id = {p.id}")["rows"] == [[1]]


def test_base_tables_stay_readable_but_for_the_secret_columns(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    names = svc.query(p, "SELECT name, role FROM users ORDER BY id")["rows"]
    assert [f"ana-{p.config.name}", "reviewer"] in names
    assert svc.query(p, f"SELECT count(*) FROM items WHERE project_id = {p.id}")["rows"] == [[3]]
    assert svc.query(p, f"SELECT count(*) AS n FROM v_users WHERE name = 'ana-{p.config.name}'")["rows"] == [[1]]
    assert svc.query(p, "SELECT 'a%' LIKE 'a%' AS ok")["rows"] == [[1 if p.store.dialect == "sqlite" else True]]
