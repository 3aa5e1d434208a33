"""Every id and text validated at the boundary (issue 10, finding 6), on SQLite and PostgreSQL.

On main, ids past 2^63 - 1 (SQLite) or 2^31 - 1 (PostgreSQL) raised OverflowError or
"integer out of range", and a NUL byte in a skip note, a review reason, ``?label=`` or the
unauthenticated login form raised a psycopg DataError: 500s with a traceback in the log.
Here each is a 422 naming the field (the login form: its page again, naming the field).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import PASSWORD, Served, login
from tests.support import group1

HUGE = [2**31, 2**63, 2**64 + 5]


def _ids(client: TestClient, reviewer: TestClient) -> tuple[int, int, int]:
    task = client.post("/api/next").json()
    done = client.post(f"/api/assignments/{task['assignment_id']}/submit", json={"value": "pos"}).json()
    return task["item_id"], done["next"]["assignment_id"], done["annotation_id"]


@pytest.mark.parametrize("huge", HUGE)
def test_ids_past_what_the_store_holds_get_422_naming_the_field(served: Served, huge: int) -> None:
    _, app, names = served
    annotator, _ = login(app, names["annotator"])
    reviewer, _ = login(app, names["reviewer"])
    item, assignment, annotation = _ids(annotator, reviewer)
    calls: list[tuple[TestClient, str, str, dict[str, Any], str]] = [
        (annotator, "post", f"/api/assignments/{huge}/submit", {"json": {"value": "pos"}}, "assignment_id"),
        (annotator, "post", f"/api/assignments/{huge}/skip", {"json": {"reason": "ambiguous"}}, "assignment_id"),
        (annotator, "get", f"/api/items/{huge}/image", {}, "item_id"),
        (reviewer, "get", f"/api/items/{huge}", {}, "item_id"),
        (reviewer, "get", f"/api/items?after={huge}", {}, "after"),
        (reviewer, "get", f"/api/items?batch={huge}", {}, "batch"),
        (reviewer, "get", f"/api/annotations?after={huge}", {}, "after"),
        (
            reviewer,
            "post",
            f"/api/review/{huge}",
            {"json": {"verdict": "accept", "annotation_id": annotation}},
            "item_id",
        ),
        (
            reviewer,
            "post",
            f"/api/review/{item}",
            {"json": {"verdict": "accept", "annotation_id": huge}},
            "annotation_id",
        ),
    ]
    for client, method, path, kwargs, field in calls:
        res = getattr(client, method)(path, **kwargs)
        assert res.status_code == 422, (path, res.status_code, res.text)
        assert res.json()["error"].startswith(f"field '{field}'"), (path, res.text)
    assert annotator.post(f"/api/assignments/{assignment}/submit", json={"value": "neg"}).status_code == 200


@pytest.mark.parametrize("bad, what", [("a\x00b", "NUL"), ("a\ud800b", "surrogate")])
def test_texts_the_store_cannot_hold_get_422_naming_the_field(served: Served, bad: str, what: str) -> None:
    _, app, names = served
    annotator, _ = login(app, names["annotator"])
    reviewer, _ = login(app, names["reviewer"])
    admin, _ = login(app, names["admin"])
    item, assignment, annotation = _ids(annotator, reviewer)

    def json_body(obj: dict[str, object]) -> dict[str, object]:
        # json.dumps escapes the surrogate as \\ud800, as a client's JSON would
        import json

        return {"content": json.dumps(obj), "headers": {"content-type": "application/json"}}

    calls: list[tuple[TestClient, str, str, dict[str, Any], str]] = [
        (
            annotator,
            "post",
            f"/api/assignments/{assignment}/skip",
            json_body({"reason": "ambiguous", "note": bad}),
            "note",
        ),
        (
            reviewer,
            "post",
            f"/api/review/{item}",
            json_body({"verdict": "reject", "annotation_id": annotation, "reason": bad}),
            "reason",
        ),
        (admin, "post", "/api/items", json_body({"items": [{"text": "fine"}], "annotator": bad}), "annotator"),
    ]
    if what == "NUL":  # a query string cannot carry a lone surrogate (it is percent-decoded as UTF-8)
        calls.append((reviewer, "get", "/api/items?label=a%00b", {}, "label"))
    for client, method, path, kwargs, field in calls:
        res = getattr(client, method)(path, **kwargs)
        assert res.status_code == 422, (path, res.status_code, res.text)
        assert res.json()["error"].startswith(f"field '{field}'") and what in res.json()["error"], res.text
    # and nothing was half-done: the assignment can still be skipped properly
    assert annotator.post(f"/api/assignments/{assignment}/skip", json={"reason": "ambiguous"}).status_code == 200


@pytest.mark.parametrize("field", ["name", "password"])
def test_a_nul_in_the_unauthenticated_login_form_is_a_clear_refusal(served: Served, field: str) -> None:
    _, app, names = served
    client = TestClient(app)
    page = client.get("/login")
    csrf = group1(r'name="csrf" value="([^"]+)"', page.text)
    form = {"name": names["annotator"], "password": PASSWORD, "csrf": csrf, field: "x\x00y"}
    res = client.post("/login", data=form, follow_redirects=False)
    assert res.status_code == 422 and f"{field.capitalize()}: contains a NUL character" in res.text
    assert client.get("/api/me").status_code == 401


@pytest.mark.parametrize(
    "form, field",
    [({"name": "n" * 201, "password": PASSWORD}, "name"), ({"name": "x", "password": "p" * 1025}, "password")],
)
def test_login_fields_are_bounded(served: Served, form: dict[str, str], field: str) -> None:
    _, app, _ = served
    res = TestClient(app).post("/login", data={**form, "csrf": "x"})
    assert res.status_code == 422 and res.json()["error"].startswith(f"field '{field}'")
