"""The dashboard and the item browser (issue 15): roles, numbers, filters, escaping, gold kept to admins."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import EVIL, PASSWORD, login
from tests.support import NewProject
from truthset.server.app import create_app
from truthset.services import users
from truthset.services.imports import import_file
from truthset.services.projects import Project

SETTER = "gold-setter@example.org"
#: the ``site`` fixture: (project, a logged-in client by role, item ids by external id)
DashSite = tuple[Project, dict[str, TestClient], dict[str, int]]


def _ann(who: str, label: str, *, gold: bool = False) -> dict[str, Any]:
    return {
        "completed_by": {"email": who},
        "ground_truth": gold,
        "result": [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}],
    }


TASKS = [
    {
        "id": 1,
        "data": {"text": "gold item, both right"},
        "annotations": [_ann(SETTER, "pos", gold=True), _ann("ann1", "pos"), _ann("ann2", "pos")],
    },
    {"id": 2, "data": {"text": "a disputed Message"}, "annotations": [_ann("ann1", "pos"), _ann("ann2", "neg")]},
    {"id": 3, "data": {"text": EVIL}, "annotations": [_ann("ann1", "neg"), _ann("ann2", "neg")]},
    {
        "id": 4,
        "data": {"text": "gold item, ann2 wrong"},
        "annotations": [_ann(SETTER, "neg", gold=True), _ann("ann1", "neg"), _ann("ann2", "pos")],
    },
] + [{"id": 10 + i, "data": {"text": f"plain message {i}"}, "annotations": []} for i in range(30)]


@pytest.fixture
def site(new_project: NewProject, tmp_path: Path) -> DashSite:
    p = new_project(labels=["pos", "neg"])
    f = tmp_path / "tasks.json"
    f.write_text(json.dumps(TASKS), encoding="utf-8")
    import_file(p, f)
    app = create_app(p)
    for role in ("admin", "reviewer", "annotator"):
        users.add_user(p, f"{role}-{p.config.name}", role=role, password=PASSWORD)
    clients = {role: login(app, f"{role}-{p.config.name}")[0] for role in ("admin", "reviewer", "annotator")}
    ids = {it["external_id"]: it["item_id"] for it in clients["admin"].get("/api/items?limit=100").json()["items"]}
    return p, clients, ids


def test_dashboard_numbers_and_roles(site: DashSite) -> None:
    p, clients, ids = site
    assert clients["annotator"].get("/dashboard").status_code == 403
    assert clients["annotator"].get("/api/dashboard").status_code == 403
    d = clients["reviewer"].get("/api/dashboard").json()
    rows = {r["annotator"]: r for r in d["annotator_table"]}
    assert set(rows) == {"ann1", "ann2"}  # the gold setter's answers are gold, not judgements
    # on 4 shared items they agree on 1, 3: 2 of 4
    assert rows["ann1"]["agreement"] == 0.5 and rows["ann1"]["agreement_items"] == 4
    assert "gold_n" not in rows["ann1"] and d["gold_shown"] is False  # gold numbers: admins only
    rows = {r["annotator"]: r for r in clients["admin"].get("/api/dashboard").json()["annotator_table"]}
    assert (rows["ann1"]["gold_n"], rows["ann1"]["gold_accuracy"]) == (2, 1.0)
    assert (rows["ann2"]["gold_n"], rows["ann2"]["gold_accuracy"]) == (2, 0.5)
    page = clients["reviewer"].get("/dashboard")
    assert page.status_code == 200
    assert page.text.count("<svg ") >= 1 and "ann2" in page.text
    assert "34 items · 8 judgements by 2 annotators" in page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # no inline script: the CSP forbids it
    assert "<script>window" not in page.text
    home = clients["reviewer"].get("/")
    assert 'href="/dashboard"' in home.text and 'href="/items"' in home.text
    assert 'href="/dashboard"' not in clients["annotator"].get("/").text


def test_item_browser_filters_and_total(site: DashSite) -> None:
    p, clients, ids = site
    api = clients["reviewer"]
    assert api.get("/api/items?limit=5").json()["total"] == 34
    assert api.get("/api/items?text=MESSAGE&limit=100").json()["total"] == 31  # any case
    assert api.get("/api/items?text=%25&limit=100").json()["total"] == 0  # LIKE wildcards are literal
    got = api.get("/api/items?annotator=ann2&label=pos").json()
    assert sorted(it["external_id"] for it in got["items"]) == ["1", "4"] and got["total"] == 2
    page1 = api.get("/items?text=plain")
    assert page1.status_code == 200 and "30 items" in page1.text and "page 1 of 2" in page1.text
    assert 'rel="next" href="/items?page=2&amp;text=plain"' in page1.text
    page2 = api.get("/items?page=2&text=plain")
    assert len(re.findall(r'<a href="/items/\d+">', page2.text)) == 5
    evil = api.get("/items?text=script")
    assert EVIL not in evil.text and "&lt;script&gt;" in evil.text
    assert api.get("/items?batch=0").status_code == 422 and api.get("/items?batch=x").status_code == 422
    assert "30 items" in api.get("/items?text=plain&batch=&label=").text
    assert clients["annotator"].get("/items").status_code == 403
    assert clients["annotator"].get("/api/items").status_code == 403


def test_item_page_history_and_gold_for_admins_only(site: DashSite) -> None:
    p, clients, ids = site
    url = f"/items/{ids['4']}"
    assert clients["annotator"].get(url).status_code == 403
    reviewer, admin = clients["reviewer"].get(url), clients["admin"].get(url)
    assert reviewer.status_code == admin.status_code == 200
    assert 'id="gold"' not in reviewer.text and SETTER not in reviewer.text
    assert 'id="gold"' in admin.text and SETTER in admin.text
    assert reviewer.text.count("<td>human</td>") + reviewer.text.count("<td>import</td>") == 2
    assert clients["reviewer"].get(f"/items/{ids['3']}").text.count("&lt;script&gt;") >= 1
    assert clients["reviewer"].get("/items/999999").status_code == 404


def test_item_browser_finding_filter(site: DashSite) -> None:
    """Items named by an open data issue of a kind (a skip here) are one filter away."""
    p, clients, ids = site
    annotator = clients["annotator"]
    task = annotator.post("/api/next").json()
    assert (
        annotator.post(
            f"/api/assignments/{task['assignment_id']}/skip", json={"reason": "broken data", "note": "empty"}
        ).status_code
        == 200
    )
    got = clients["reviewer"].get("/api/items", params={"finding": "skip:broken data"}).json()
    assert got["total"] == 1 and got["items"][0]["item_id"] == task["item_id"]
    assert clients["reviewer"].get("/api/items", params={"finding": "skip:other"}).json()["total"] == 0
    page = clients["reviewer"].get("/items", params={"finding": "skip:broken data"})
    assert '<option value="skip:broken data" selected>' in page.text and "1 item " in page.text
