"""Per-project roles (issue 15): a user's role in one project, in place of their own role; on
PostgreSQL (one database, several projects) it leaves their role in the others alone."""

from __future__ import annotations

from click.testing import CliRunner
from fastapi.testclient import TestClient

from tests.support import NewProject
from truthset.cli import main
from truthset.server.app import create_app
from truthset.services import users


def test_a_role_in_one_project_only(new_project: NewProject, backend: str) -> None:
    a = new_project(labels=["pos", "neg"])
    b = new_project(labels=["pos", "neg"])
    rita, boss = f"rita-{a.config.name}", f"boss-{a.config.name}"
    users.add_user(a, rita, role="annotator")
    users.add_user(a, boss, role="admin")
    token, admin_token = users.new_token(a, rita), users.new_token(a, boss)
    app_a = create_app(a)
    client = TestClient(app_a, headers={"Authorization": f"Bearer {token}"})
    admin = TestClient(app_a, headers={"Authorization": f"Bearer {admin_token}"})
    assert client.get("/api/dashboard").status_code == 403
    res = admin.put(f"/api/users/{rita}/project-role", json={"role": "reviewer"})
    assert res.status_code == 200 and res.json()["in_project"] == a.config.name
    assert client.get("/api/me").json()["role"] == "reviewer"
    assert client.get("/api/dashboard").status_code == 200
    listed = {u["name"]: u for u in admin.get("/api/users").json()["users"]}
    assert (listed[rita]["role"], listed[rita]["own_role"]) == ("reviewer", "annotator")
    if backend == "postgres":  # one database: rita is a user of b too, with her own role there
        there = TestClient(create_app(b), headers={"Authorization": f"Bearer {token}"})
        assert there.get("/api/me").json()["role"] == "annotator"
        assert there.get("/api/dashboard").status_code == 403
    assert admin.put(f"/api/users/{rita}/project-role", json={"role": "boss"}).status_code == 422
    assert admin.delete(f"/api/users/{rita}/project-role").status_code == 204
    assert client.get("/api/dashboard").status_code == 403
    out = CliRunner().invoke(main, ["-p", str(a.root), "user", "grant", rita, "admin"])
    assert out.exit_code == 0 and "admin" in out.output
    granted = users.account_for_token(a, token)
    assert granted is not None and granted.role == "admin"
    out = CliRunner().invoke(main, ["-p", str(a.root), "user", "grant", rita, "--clear"])
    cleared = users.account_for_token(a, token)
    assert out.exit_code == 0 and cleared is not None and cleared.role == "annotator"
    assert CliRunner().invoke(main, ["-p", str(a.root), "user", "grant", rita]).exit_code == 2
