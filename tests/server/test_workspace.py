"""One server for a folder of projects (issue 15): the list, /p/NAME/ routing, the project
cookie, separate sessions, and users that are per project on SQLite (shared on PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import PASSWORD
from tests.support import NewProject, group1
from truthset.server.workspace import Workspace
from truthset.services import users
from truthset.services.imports import import_file
from truthset.services.projects import Project
from truthset.services.workspace import open_workspace


def _fill(p: Project, tmp_path: Path, n: int) -> None:
    f = tmp_path / f"items-{p.config.name}.jsonl"
    f.write_text("".join(json.dumps({"text": f"{p.config.name} item {i}"}) + "\n" for i in range(n)))
    import_file(p, f)


def test_workspace_routes_each_project_apart(
    new_project: NewProject,
    tmp_path: Path,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # one signing key for every project (as a deployment may set): sessions must still not cross
    monkeypatch.setenv("TRUTHSET_SECRET_KEY", "k" * 48)
    a = new_project(labels=["pos", "neg"], folder="ws/a")
    b = new_project(labels=["x", "y"], folder="ws/b")
    _fill(a, tmp_path, 3)
    _fill(b, tmp_path, 5)
    boss = f"boss-{a.config.name}"
    users.add_user(a, boss, role="admin", password=PASSWORD)
    token = users.new_token(a, boss)
    # on SQLite b's first user has the id of a's: a session of a must not make you b's admin
    bee = users.add_user(b, f"bee-{b.config.name}", role="admin", password=PASSWORD)
    (tmp_path / "ws" / "not-a-project").mkdir()
    projects = open_workspace(tmp_path / "ws")
    assert sorted(projects) == sorted([a.config.name, b.config.name])
    try:
        with TestClient(Workspace(projects)) as c:
            listing = c.get("/projects")
            assert listing.status_code == 200
            assert f'href="/p/{a.config.name}/"' in listing.text and f'href="/p/{b.config.name}/"' in listing.text
            assert c.get("/", follow_redirects=False).headers["location"] == "/projects"
            lost = c.get("/api/me")
            assert lost.status_code == 404 and "/p/NAME" in lost.json()["error"]
            assert c.get("/p/nope/api/me").status_code == 404
            assert c.get("/readyz").json() == {"status": "ready", "projects": 2, "not_ready": 0}

            # a browser: open project a, log in through its own (unprefixed) form
            page = c.get(f"/p/{a.config.name}/login")
            assert c.cookies.get("truthset_project") == a.config.name
            csrf = group1(r'name="csrf" value="([^"]+)"', page.text)
            res = c.post("/login", data={"name": boss, "password": PASSWORD, "csrf": csrf}, follow_redirects=False)
            assert res.status_code == 303
            assert f"<strong>{a.config.name}</strong>" in c.get("/").text
            session_a = next(k for k in c.cookies.keys() if k.startswith("truthset_session_"))  # noqa: SIM118
            # project b: its own session, so not logged in there; the cookie now names b
            assert c.get(f"/p/{b.config.name}/", follow_redirects=False).headers["location"] == "/login"
            assert c.cookies.get("truthset_project") == b.config.name
            session_cookie = c.cookies.get(session_a)
            assert session_cookie is not None
            stolen = {f"truthset_session_{b.config.name}": session_cookie}
            other = TestClient(c.app, cookies=stolen)
            if backend == "sqlite":
                same = users.account_for_token(a, token)
                assert same is not None and bee.id == same.id
            assert other.get(f"/p/{b.config.name}/api/me").status_code == 401  # a's session is not b's

            # a pipeline: the prefix names the project
            api = TestClient(c.app, headers={"Authorization": f"Bearer {token}"})
            assert api.get(f"/p/{a.config.name}/api/me").json()["name"] == boss
            assert api.get(f"/p/{a.config.name}/api/stats").json()["items"] == 3
            elsewhere = api.get(f"/p/{b.config.name}/api/me")
            if backend == "sqlite":
                assert elsewhere.status_code == 401  # b's store has its own users
            else:
                assert elsewhere.status_code == 200  # one PostgreSQL database: one set of users
            assert api.get(f"/p/{a.config.name}/api/items").json()["total"] == 3
    finally:
        for p in projects.values():
            p.close()


def test_two_projects_with_one_name_are_refused(new_project: NewProject, tmp_path: Path) -> None:
    import pytest

    from truthset.core.errors import InvalidInput

    a = new_project(folder="ws2/a")
    b = new_project(folder="ws2/b")
    b.save_config(b.config.model_copy(update={"name": a.config.name}))
    with pytest.raises(InvalidInput, match="both named"):
        open_workspace(tmp_path / "ws2")
    with pytest.raises(InvalidInput, match="no project in it"):
        (tmp_path / "empty").mkdir()
        open_workspace(tmp_path / "empty")


def test_serve_workspace_names_a_bad_folder(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from truthset.cli import main

    res = CliRunner().invoke(main, ["serve", "--workspace", str(tmp_path / "nowhere")])
    assert res.exit_code == 1 and "no such folder" in res.output and "Traceback" not in res.output


def test_an_admin_creates_a_project_over_http(new_project: NewProject, tmp_path: Path, backend: str) -> None:
    from truthset.server.app import create_app

    a = new_project(labels=["pos", "neg"], folder="ws3/a")
    boss, ann = f"boss-{a.config.name}", f"ann-{a.config.name}"
    users.add_user(a, boss, role="admin")
    users.add_user(a, ann, role="annotator")
    token, ann_token = users.new_token(a, boss), users.new_token(a, ann)
    assert (
        TestClient(create_app(a), headers={"Authorization": f"Bearer {token}"})
        .post("/api/projects", json={"name": "x"})
        .status_code
        == 409
    )  # one project, no workspace
    projects = open_workspace(tmp_path / "ws3")
    new_name = f"g-{a.config.name}"
    try:
        with TestClient(Workspace(projects, tmp_path / "ws3"), headers={"Authorization": f"Bearer {token}"}) as c:
            body = {"name": new_name, "task": "text-classification", "labels": ["bug", "question"]}
            assert (
                c.post(
                    f"/p/{a.config.name}/api/projects", json=body, headers={"Authorization": f"Bearer {ann_token}"}
                ).status_code
                == 403
            )
            made = c.post(f"/p/{a.config.name}/api/projects", json=body)
            assert made.status_code == 201, made.text
            assert made.json()["url"] == f"/p/{new_name}/" and (tmp_path / "ws3" / new_name / "truthset.yaml").exists()
            mine = made.json()["token"] or token  # SQLite: a token in the new store; PostgreSQL: the same users
            assert (made.json()["token"] is None) == (backend == "postgres")
            me = c.get(f"/p/{new_name}/api/me", headers={"Authorization": f"Bearer {mine}"})
            assert me.status_code == 200 and me.json()["role"] == "admin"
            assert c.get(f"/p/{new_name}/api/schema", headers={"Authorization": f"Bearer {mine}"}).json()["labels"]
            assert new_name in c.get("/projects").text
            assert c.post(f"/p/{a.config.name}/api/projects", json=body).status_code == 409
            bad = c.post(f"/p/{a.config.name}/api/projects", json={**body, "name": "../escape"})
            assert bad.status_code == 422 and "name" in bad.json()["error"]
            assert not (tmp_path / "escape").exists()
            # another server process (--workers) finds the new project on its first request
            ws3 = Workspace({}, tmp_path / "ws3")
            with TestClient(ws3) as other:
                seen = other.get(f"/p/{new_name}/api/me", headers={"Authorization": f"Bearer {mine}"})
                assert seen.status_code == 200
                for p in list(ws3.projects.values()):
                    p.close()
    finally:
        for p in projects.values():
            p.close()
