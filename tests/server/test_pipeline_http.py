"""A pipeline driving a project over HTTP only (issue 15): users and tokens, items pushed with
import options, two annotators, leases handed back, training labels exported. No CLI call; the
one service call makes the first admin's token (what ``truthset user token`` does once)."""

from __future__ import annotations

import csv
import io
import json

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support import NewProject
from truthset.server.app import create_app
from truthset.services import users

ITEMS = [{"id": f"msg-{i}", "text": f"pipeline message {i}"} for i in range(6)]


def _bearer(app: FastAPI, token: str) -> TestClient:
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_pipeline_over_http(new_project: NewProject) -> None:
    p = new_project(labels=["pos", "neg"])
    p.config = p.config.model_copy(update={"queue": p.config.queue.model_copy(update={"overlap": 2})})
    boss = f"boss-{p.config.name}"
    users.add_user(p, boss, role="admin")
    app = create_app(p)
    admin = _bearer(app, users.new_token(p, boss))

    # users and tokens
    tokens = {}
    for who in ("a1", "a2"):
        res = admin.post("/api/users", json={"name": f"{who}-{p.config.name}", "role": "annotator", "token": True})
        assert res.status_code == 201, res.text
        tokens[who] = res.json()["token"]
    assert admin.post("/api/users", json={"name": f"a1-{p.config.name}"}).status_code == 409
    bad_role = admin.post("/api/users", json={"name": f"x-{p.config.name}", "role": "boss"})
    assert bad_role.status_code == 422 and "role" in bad_role.json()["error"]
    listed = {u["name"]: u for u in admin.get("/api/users").json()["users"]}
    assert listed[f"a1-{p.config.name}"]["has_token"] and not listed[f"a1-{p.config.name}"]["can_log_in"]
    a1, a2 = _bearer(app, tokens["a1"]), _bearer(app, tokens["a2"])
    assert a1.post("/api/users", json={"name": "sneaky"}).status_code == 403

    # items pushed with the import's options
    pushed = admin.post(
        "/api/items", json={"items": ITEMS, "id_col": "id", "due": "2030-01-31", "on_duplicate": "reject"}
    )
    assert pushed.status_code == 200, pushed.text
    report = pushed.json()
    assert report["items_added"] == 6 and report["source"] == "api" and report["due_at"].startswith("2030-01-31")
    stats = admin.get("/api/stats").json()
    (batch,) = stats["by_batch"]
    assert batch["source"] == "api" and batch["due_at"].startswith("2030-01-31")
    ids = {it["external_id"]: it["item_id"] for it in admin.get("/api/items").json()["items"]}
    assert sorted(ids) == sorted(it["id"] for it in ITEMS)
    again = admin.post("/api/items", json={"items": ITEMS[:2], "id_col": "id", "on_duplicate": "reject"}).json()
    assert again["items_added"] == 0
    for body, field in (
        ({"items": ITEMS, "on_duplicate": "keep"}, "on_duplicate"),
        ({"items": ITEMS, "due": "next week"}, "due"),
        ({"items": ITEMS, "id_col": "key"}, "key"),
    ):
        res = admin.post("/api/items", json=body)
        assert res.status_code == 422 and field in res.json()["error"], res.text

    # a lease handed back without a skip: the item is free again at once
    first = a1.post("/api/next").json()
    assert a2.post(f"/api/tasks/{first['assignment_id']}/release").status_code == 404  # not a2's
    released = a1.post(f"/api/tasks/{first['assignment_id']}/release")
    assert released.status_code == 200 and released.json()["item_id"] == first["item_id"]
    assert a1.post(f"/api/tasks/{first['assignment_id']}/release").status_code == 404  # gone
    again_first = a1.post("/api/next").json()
    assert again_first["item_id"] == first["item_id"]

    # two annotators; the last answer of each is submitted without taking another lease
    labelled: dict[str, list[int]] = {"a1": [], "a2": []}
    for who, client, task in (("a1", a1, again_first), ("a2", a2, a2.post("/api/next").json())):
        while task is not None:
            value = "neg" if who == "a2" and task["item_id"] == ids["msg-0"] else "pos"
            last = len(labelled[who]) == len(ITEMS) - 1
            res = client.post(
                f"/api/assignments/{task['assignment_id']}/submit" + ("?next=false" if last else ""),
                json={"value": value, "lead_time": 1.0},
            )
            assert res.status_code == 200, res.text
            labelled[who].append(task["item_id"])
            task = res.json()["next"]
            if last:
                assert task is None
    assert sorted(labelled["a1"]) == sorted(labelled["a2"]) == sorted(ids.values())
    stages = admin.get("/api/stats").json()["by_stage"]["annotate"]
    assert stages == {"done": 12}  # no lease left behind, none expired, none skipped

    # training labels out, streamed; and the whole project
    res = admin.get("/api/export", params={"format": "jsonl", "labels": "latest"})
    assert res.status_code == 200 and 'filename="' in res.headers["content-disposition"]
    rows = [json.loads(line) for line in res.text.splitlines()]
    assert len(rows) == 6 and all(r["label"] == "pos" or r["external_id"] == "msg-0" for r in rows)
    whole = admin.get("/api/export", params={"format": "csv"})
    table = list(csv.DictReader(io.StringIO(whole.text)))
    assert whole.status_code == 200 and len(table) == 12  # one row per annotation
    bad = admin.get("/api/export", params={"format": "xml"})
    assert bad.status_code == 422 and "format" in bad.json()["error"]
    assert a1.get("/api/export").status_code == 403

    # revoke and disable: the tokens stop working
    assert admin.delete(f"/api/users/a2-{p.config.name}/token").status_code == 204
    assert a2.get("/api/me").status_code == 401
    assert admin.post(f"/api/users/a1-{p.config.name}/disable").json()["status"] == "disabled"
    assert a1.get("/api/me").status_code == 401
    assert admin.post(f"/api/users/{boss}/disable").status_code == 409
    assert admin.post(f"/api/users/a1-{p.config.name}/enable").status_code == 200
    assert a1.get("/api/me").status_code == 200
    fresh = admin.post(f"/api/users/a2-{p.config.name}/token").json()["token"]
    assert _bearer(app, fresh).get("/api/me").json()["role"] == "annotator"
    assert admin.post("/api/users/nobody-here/disable").status_code == 404


def test_every_new_route_has_an_openapi_example(new_project: NewProject) -> None:
    app = create_app(new_project(labels=["pos", "neg"]))
    spec = TestClient(app).get("/openapi.json").json()
    wanted = {
        ("/api/users", "get"),
        ("/api/users", "post"),
        ("/api/users/{name}/disable", "post"),
        ("/api/users/{name}/enable", "post"),
        ("/api/users/{name}/token", "post"),
        ("/api/export", "get"),
        ("/api/items", "post"),
        ("/api/items", "get"),
        ("/api/tasks/{assignment_id}/release", "post"),
        ("/api/assignments/{assignment_id}/submit", "post"),
        ("/api/dashboard", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/api/projects", "post"),
        ("/api/users/{name}/project-role", "put"),
    }
    for path, method in wanted:
        op = spec["paths"][path][method]
        text = json.dumps(op) + json.dumps(spec.get("components", {}))
        assert '"example' in json.dumps(op) or ('"examples"' in text and "requestBody" in op), (path, method)
