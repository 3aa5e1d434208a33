"""Security review of the web surface added by issues 13, 15 and 16 (dashboard, item browser,
admin API, health, findings API, issue tracker), on SQLite and PostgreSQL.

Each route is probed as anonymous, annotator, reviewer and admin, without the CSRF token, and
with hostile input. The holes this review found, each with the test that failed before its fix:

* reviewers saw every gold number on the dashboard (an annotator's gold count and accuracy,
  which move with each answer, say which items are gold and their label):
  ``test_the_dashboard_shows_gold_numbers_to_admins_only``;
* an anomaly issue for gold failures named the first failed gold item and the time of the run
  in its body, which reviewers read in the tracker: ``test_a_gold_failure_issue_names_no_gold_item``;
* data-check findings counted gold answers given as annotations as labels, so a reviewer saw a
  "same text, different labels" finding about a gold item: ``test_findings_carry_no_gold_answer``;
* with ``review.show_annotator_names: false`` a reviewer could still filter items by annotator
  (who labelled what): ``test_the_annotator_filter_follows_show_annotator_names``;
* ``/items?batch=²`` and ``/api/export?labels=run:²`` were 500s; ids past 2^31 - 1 and NUL in the
  issue routes, ``/api/findings?check=`` and user names in the admin API were stored (SQLite) or
  a 422 naming no field: ``test_hostile_input_is_a_4xx_naming_the_field``.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from tests.server.conftest import EVIL, PASSWORD, Served, login
from tests.support import NewProject
from truthset.server.app import create_app
from truthset.services import anomalies, checks, data_issues, users
from truthset.services.imports import import_file
from truthset.store.models import Gold, utcnow

ROLES = ("anonymous", "annotator", "reviewer", "admin")
RANK = {r: i for i, r in enumerate(ROLES)}
NOBODY = "nobody-at-all"


def _clients(app: Any, names: dict[str, str]) -> dict[str, TestClient]:
    out = {"anonymous": TestClient(app)}
    for role in ("annotator", "reviewer", "admin"):
        out[role], _ = login(app, names[role])
    return out


def _routes(issue: int, finding: int, new_user: str) -> list[tuple[str, str, dict[str, Any], str]]:
    """(method, path, request kwargs, the least role that may call it)."""
    return [
        ("get", "/healthz", {}, "anonymous"),
        ("get", "/readyz", {}, "anonymous"),
        ("get", "/dashboard", {}, "reviewer"),
        ("get", "/api/dashboard", {}, "reviewer"),
        ("get", "/items", {}, "reviewer"),
        ("get", "/items/1", {}, "reviewer"),
        ("get", "/api/findings", {}, "reviewer"),
        ("post", f"/api/findings/{finding}/verdict", {"json": {"verdict": "ambiguous"}}, "reviewer"),
        ("get", "/issues", {}, "reviewer"),
        ("get", f"/issues/{issue}", {}, "reviewer"),
        ("get", "/api/issues", {}, "reviewer"),
        ("post", f"/issues/{issue}/comment", {"data": {"text": "seen"}}, "reviewer"),
        ("post", f"/issues/{issue}/move", {"data": {"status": "wont_fix"}}, "reviewer"),
        ("post", f"/issues/{issue}/assign", {"data": {"owner": ""}}, "admin"),
        ("post", "/issues", {"data": {"kind": "other", "title": "by hand"}}, "reviewer"),
        ("put", f"/api/users/{NOBODY}/project-role", {"json": {"role": "reviewer"}}, "admin"),
        ("delete", f"/api/users/{NOBODY}/project-role", {}, "admin"),
        ("post", "/api/projects", {"json": {"name": "another"}}, "admin"),
        ("get", "/api/users", {}, "admin"),
        ("post", "/api/users", {"json": {"name": new_user, "role": "annotator"}}, "admin"),
        ("post", f"/api/users/{NOBODY}/disable", {}, "admin"),
        ("post", f"/api/users/{NOBODY}/enable", {}, "admin"),
        ("post", f"/api/users/{NOBODY}/token", {}, "admin"),
        ("delete", f"/api/users/{NOBODY}/token", {}, "admin"),
        ("get", "/api/export", {}, "admin"),
        ("get", "/api/export?format=csv&labels=latest", {}, "admin"),
    ]


def _site(served: Any, tmp_path: Path) -> tuple[Any, Any, dict[str, str], int, int]:
    p, app, names = served
    issue = data_issues.open_issue(p, kind="broken_data", title="a broken row", items=[1])
    f = tmp_path / "dupes.jsonl"
    f.write_text(
        json.dumps({"text": "same words", "label": "pos"})
        + "\n"
        + json.dumps({"text": "Same words", "label": "neg"})
        + "\n",
        encoding="utf-8",
    )
    from truthset.services.imports import ImportOptions

    import_file(p, f, ImportOptions(label_col="label"))
    checks.run_checks(p, ["label_conflicts"])
    (finding,) = checks.list_findings(p, check="label_conflicts")
    return p, app, names, issue, int(finding["id"])


@pytest.mark.parametrize("role", ROLES)
def test_every_new_route_checks_the_role(served: Served, tmp_path: Path, role: str) -> None:
    _, app, names, issue, finding = _site(served, tmp_path)
    client = _clients(app, names)[role]
    for method, path, kwargs, least in _routes(issue, finding, f"new-{role}-{names['admin']}"):
        res = getattr(client, method)(path, **kwargs)
        if RANK[role] < RANK[least]:
            assert res.status_code == (401 if role == "anonymous" else 403), (role, path, res.status_code)
        else:
            assert res.status_code < 500 and res.status_code not in (401, 403), (
                role,
                path,
                res.status_code,
                res.text[:200],
            )


def test_state_changing_cookie_routes_need_the_csrf_token(served: Served, tmp_path: Path) -> None:
    p, app, names, issue, finding = _site(served, tmp_path)
    admin, _ = login(app, names["admin"])
    del admin.headers["X-CSRF-Token"]
    before = data_issues.list_issues(p)
    new_user = f"new-{names['admin']}"
    changing = [(m, path, kw) for m, path, kw, _ in _routes(issue, finding, new_user) if m != "get"]
    assert len(changing) == 13
    for method, path, kwargs in changing:
        res = getattr(admin, method)(path, **kwargs)
        assert res.status_code == 403 and "CSRF" in res.json()["error"], (path, res.status_code)
    # a form post with a wrong token in the form is refused too
    res = admin.post(f"/issues/{issue}/comment", data={"text": "x", "csrf": "forged"})
    assert res.status_code == 403
    got = data_issues.get_issue(p, issue)
    assert got["status"] == "open" and [h["event"] for h in got["history"]] == ["opened"]
    assert data_issues.list_issues(p) == before
    assert checks.list_findings(p, check="label_conflicts")[0]["verdict"] is None
    assert new_user not in {u["name"] for u in users.list_users(p)}
    # scripts with an API token send no cookie and need no CSRF token
    token = users.new_token(p, names["reviewer"])
    script = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert script.post(f"/api/findings/{finding}/verdict", json={"verdict": "right"}).status_code == 200


HUGE = str(2**63)


@pytest.mark.parametrize(
    "case",
    [
        ("reviewer", "get", "/issues/{huge}", {}, "issue_id"),
        ("reviewer", "get", "/issues/-1", {}, "issue_id"),
        ("reviewer", "get", "/issues/{big}", {}, "issue_id"),
        ("reviewer", "post", "/issues/{huge}/comment", {"data": {"text": "x"}}, "issue_id"),
        ("reviewer", "post", "/issues/{issue}/comment", {"data": {"text": "a\x00b"}}, "text"),
        ("reviewer", "post", "/issues/{issue}/comment", {"data": {"text": "x" * 10001}}, "text"),
        ("reviewer", "post", "/issues/{issue}/move", {"data": {"status": "triaged", "note": "a\x00b"}}, "note"),
        ("reviewer", "post", "/issues/{big}/move", {"data": {"status": "triaged"}}, "issue_id"),
        ("admin", "post", "/issues/{issue}/assign", {"data": {"owner": "a\x00b"}}, "owner"),
        ("reviewer", "post", "/issues", {"data": {"kind": "other", "title": "a\x00b"}}, "title"),
        ("reviewer", "post", "/issues", {"data": {"kind": "other", "title": "t", "body": "a\x00b"}}, "body"),
        ("reviewer", "get", "/api/findings?check=a%00b", {}, "check"),
        ("reviewer", "get", "/api/findings?item_id={huge}", {}, "item_id"),
        ("reviewer", "get", "/api/findings?limit=abc", {}, "limit"),
        ("reviewer", "post", "/api/findings/{huge}/verdict", {"json": {"verdict": "right"}}, "finding_id"),
        ("reviewer", "post", "/api/findings/{finding}/verdict", {"json": {"verdict": ["right"]}}, "verdict"),
        ("reviewer", "get", "/items?batch=%C2%B2", {}, "batch"),
        ("reviewer", "get", "/items?batch=-3", {}, "batch"),
        ("reviewer", "get", "/items?page=0", {}, "page"),
        ("reviewer", "get", "/items?text=a%00b", {}, "text"),
        ("reviewer", "get", "/items/{huge}", {}, "item_id"),
        ("reviewer", "get", "/api/items?annotator=a%00b", {}, "annotator"),
        ("admin", "post", "/api/users/a%00b/disable", {}, "name"),
        ("admin", "post", "/api/users/a%00b/token", {}, "name"),
        ("admin", "delete", "/api/users/a%00b/token", {}, "name"),
        ("admin", "post", "/api/users", {"json": {"name": "a\x00b"}}, "name"),
        ("admin", "post", "/api/users", {"json": {"name": 5}}, "name"),
        ("admin", "post", "/api/users", {"json": {"name": "ok-name", "password": "short"}}, "password"),
        ("admin", "get", "/api/export?labels=run:%C2%B2", {}, "labels"),
        ("admin", "get", "/api/export?labels=run:{huge}", {}, "labels"),
        ("admin", "get", "/api/export?format=..%2F..%2Fetc%2Fpasswd", {}, "format"),
    ],
    ids=lambda c: f"{c[1]} {c[2]} {c[4]}",
)
def test_hostile_input_is_a_4xx_naming_the_field(served: Served, tmp_path: Path, case: tuple[Any, ...]) -> None:
    p, app, names, issue, finding = _site(served, tmp_path)
    role, method, path, kwargs, field = case
    client, _ = login(app, names[role])
    path = path.format(huge=HUGE, big=2**31, issue=issue, finding=finding)
    res = getattr(client, method)(path, **kwargs)
    assert 400 <= res.status_code < 500, (path, res.status_code, res.text[:300])
    assert field in res.json()["error"], (path, res.text[:300])
    got = data_issues.get_issue(p, issue)
    assert [h["event"] for h in got["history"]] == ["opened"]  # nothing was stored


def _gold_site(new_project: NewProject, tmp_path: Path) -> tuple[Any, dict[str, TestClient], dict[str, int]]:
    """Label Studio tasks: gold answers as annotations, annotators' answers on gold items, and a
    gold item whose text another item repeats with another label."""

    def ann(who: str, label: str, gold: bool = False) -> dict[str, Any]:
        return {
            "completed_by": {"email": who},
            "ground_truth": gold,
            "result": [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}],
        }

    tasks = [
        {
            "id": i,
            "data": {"text": f"gold item {i}"},
            "annotations": [ann("setter", "pos", True), ann("ann1", "neg"), ann("ann2", "pos")],
        }
        for i in range(1, 5)
    ]
    tasks += [
        {"id": 10, "data": {"text": "Twice told"}, "annotations": [ann("setter", "pos", True)]},
        {"id": 11, "data": {"text": "twice told"}, "annotations": [ann("ann1", "neg")]},
    ]
    p = new_project(labels=["pos", "neg"])
    f = tmp_path / "tasks.json"
    f.write_text(json.dumps(tasks), encoding="utf-8")
    assert import_file(p, f).gold_added == 5
    app = create_app(p)
    clients = {}
    for role in ("admin", "reviewer"):
        users.add_user(p, f"{role}-{p.config.name}", role=role, password=PASSWORD)
        clients[role], _ = login(app, f"{role}-{p.config.name}")
    ids = {it["external_id"]: it["item_id"] for it in clients["admin"].get("/api/items").json()["items"]}
    return p, clients, ids


def test_the_dashboard_shows_gold_numbers_to_admins_only(new_project: NewProject, tmp_path: Path) -> None:
    _, clients, _ = _gold_site(new_project, tmp_path)
    admin = clients["admin"].get("/api/dashboard").json()
    assert admin["gold_items"] == 5 and admin["gold_shown"] is True
    assert {r["annotator"]: r["gold_n"] for r in admin["annotator_table"]}["ann1"] == 4
    assert admin["gold_by_batch"]
    seen = clients["reviewer"].get("/api/dashboard").json()
    assert seen["gold_shown"] is False and seen["gold_items"] is None
    assert seen["gold_by_batch"] == [] and seen["gold_by_week"] == []
    assert seen["annotator_table"] and not any(k.startswith("gold") for r in seen["annotator_table"] for k in r)
    page = clients["reviewer"].get("/dashboard").text
    assert "Gold accuracy" not in page and "gold items" not in page
    assert "Gold accuracy" in clients["admin"].get("/dashboard").text


def test_findings_carry_no_gold_answer(new_project: NewProject, tmp_path: Path) -> None:
    p, clients, ids = _gold_site(new_project, tmp_path)
    checks.run_checks(p, ["label_conflicts", "exact_duplicates"])
    found = clients["reviewer"].get("/api/findings").json()["findings"]
    # the two copies of "twice told" are duplicates, but only the gold answer labels item 10 "pos"
    assert any(f["check"] == "exact_duplicates" and ids["10"] in f["items"] for f in found)
    assert not [f for f in found if f["check"] == "label_conflicts"], found
    assert "setter" not in json.dumps(found)


def test_a_gold_failure_issue_names_no_gold_item(served: Served) -> None:
    p, app, names = served
    annotator, _ = login(app, names["annotator"])
    given = []
    task = annotator.post("/api/next").json()
    while task:
        given.append(task["item_id"])
        done = annotator.post(f"/api/assignments/{task['assignment_id']}/submit", json={"value": "neg"}).json()
        task = done["next"]
    assert len(given) == 9
    with p.store.write() as tx:  # every item is gold "pos": the annotator failed them all in a row
        tx.execute(
            insert(Gold),
            [
                {
                    "item_id": i,
                    "project_id": p.id,
                    "value": json.dumps("pos"),
                    "label": "pos",
                    "source": "test",
                    "created_at": utcnow(),
                }
                for i in given
            ],
        )
    flags = anomalies.detect(p, now=utcnow() + timedelta(minutes=5))
    (flag,) = [f for f in flags if f.kind == "gold_failures"]
    assert flag.details["first_item"] == given[0]  # the CLI's --json (admins) keeps it
    anomalies.run(p, now=utcnow() + timedelta(minutes=5))
    reviewer, _ = login(app, names["reviewer"])
    (issue,) = [i for i in reviewer.get("/api/issues").json()["issues"] if "gold" in i["title"]]
    page = reviewer.get(f"/issues/{issue['id']}").text
    for shown in (issue["body"], page):
        assert "first_item" not in shown and "(from " not in shown and " UTC" not in shown
    assert "9 gold items wrong in a row" in issue["body"]
    assert issue["items"] == [] and issue["links"] == {} or "item" not in issue["links"]


def test_the_annotator_filter_follows_show_annotator_names(served: Served) -> None:
    p, app, names = served
    annotator, _ = login(app, names["annotator"])
    task = annotator.post("/api/next").json()
    annotator.post(f"/api/assignments/{task['assignment_id']}/submit", json={"value": "pos"})
    reviewer, _ = login(app, names["reviewer"])
    admin, _ = login(app, names["admin"])
    who = {"annotator": names["annotator"]}
    assert reviewer.get("/api/items", params=who).json()["total"] == 1  # names shown: allowed
    p.config.review.show_annotator_names = False
    res = reviewer.get("/api/items", params=who)
    assert res.status_code == 403 and res.json()["error"].startswith("field 'annotator'")
    assert reviewer.get("/items", params=who).status_code == 403
    assert 'name="annotator"' not in reviewer.get("/items").text
    assert "/items?annotator=" not in reviewer.get("/dashboard").text
    assert admin.get("/api/items", params=who).json()["total"] == 1
    assert 'name="annotator"' in admin.get("/items").text


def test_user_supplied_strings_are_escaped_on_every_new_page(new_project: NewProject, tmp_path: Path) -> None:
    p = new_project(labels=["pos", "neg"])
    hostile = tmp_path / "<img src=x onerror=alert(1)>.jsonl"
    rows = [{"text": EVIL, "who": EVIL}, {"text": "plain"}]
    hostile.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    import_file(p, hostile)
    tasks = tmp_path / "ls.json"
    tasks.write_text(
        json.dumps(
            [
                {
                    "id": 1,
                    "data": {"text": "x " + EVIL},
                    "annotations": [
                        {
                            "completed_by": {"email": EVIL},
                            "result": [
                                {
                                    "from_name": "label",
                                    "to_name": "text",
                                    "type": "choices",
                                    "value": {"choices": ["pos"]},
                                }
                            ],
                        }
                    ],
                }
            ]
        ),
        encoding="utf-8",
    )
    import_file(p, tasks)
    issue = data_issues.open_issue(p, kind="other", title=EVIL, body=EVIL, items=[1])
    app = create_app(p)
    users.add_user(p, f"admin-{p.config.name}", role="admin", password=PASSWORD)
    admin, token = login(app, f"admin-{p.config.name}")
    admin.post(f"/issues/{issue}/comment", data={"text": EVIL, "csrf": token})
    admin.post(f"/issues/{issue}/move", data={"status": "triaged", "note": EVIL, "csrf": token})
    ids = [it["item_id"] for it in admin.get("/api/items").json()["items"]]
    pages = [
        "/dashboard",
        "/items",
        f"/items?text={EVIL}",
        "/issues",
        f"/issues/{issue}",
        *(f"/items/{i}" for i in ids),
    ]
    for path in pages:
        res = admin.get(path)
        assert res.status_code == 200, path
        assert "<script>window.__pwned" not in res.text and "<img src=x" not in res.text, path
    assert "&lt;script&gt;" in admin.get(f"/issues/{issue}").text


def test_health_routes_say_nothing_of_where_the_data_lives(served: Served) -> None:
    p, app, _ = served
    anonymous = TestClient(app)
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "database": "ok", "migrations": "current"}
    secret = re.escape(str(p.root))
    for res in (anonymous.get("/healthz"), ready):
        assert not re.search(secret, res.text) and "postgresql" not in res.text and "sqlite" not in res.text
        assert "set-cookie" not in {k.lower() for k in res.headers}


def test_a_workspace_url_never_names_a_folder_outside_it(
    new_project: NewProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/p/NAME/`` opens a project another worker made; NAME comes from the URL (percent-decoded
    once more by the workspace). Before the fix ``../outside`` (``/p/..%252Foutside/`` on the
    wire) opened the project in the workspace's parent folder, and a 5,000-character name was a
    500 (File name too long)."""
    import asyncio

    import truthset.services.projects as projects
    from truthset.server.workspace import Workspace
    from truthset.services.workspace import open_workspace

    new_project(labels=["pos", "neg"], folder="ws/a")
    new_project(labels=["pos", "neg"], folder="outside")
    opened: list[str] = []
    real = projects.open_project

    def spy(root: Path | str | None = None) -> projects.Project:
        opened.append(str(root))
        return real(root)

    monkeypatch.setattr(projects, "open_project", spy)
    ws = Workspace(open_workspace(tmp_path / "ws"), tmp_path / "ws")
    for name in ("../outside", "..", "a/../../outside", str(tmp_path / "outside"), "a\x00b", "x" * 5000):
        assert asyncio.run(ws._discover(name)) is None, name
    assert opened == []
    with TestClient(ws) as c:
        res = c.get("/p/" + "x" * 5000 + "/api/me")
        assert res.status_code == 404 and "there is no project" in res.json()["error"]
