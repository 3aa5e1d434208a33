"""Issue 10, finding 2: gold answers are for admins only, on every route, on both stores.

Gold imported from Label Studio (``ground_truth: true``) is also stored as an annotation. On
/work/main a reviewer saw it beside ``"gold": null`` in ``GET /api/items/{id}``, in
``/api/annotations`` and through ``/api/items?label=``, and the review queue said which items
were "wrong on gold"; reviewers may annotate too, so they could look answers up before being
handed the item as hidden gold. (test_reviewers_and_annotators_never_see_gold fails there.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import PASSWORD, Reply, login
from tests.support import NewProject
from truthset.server.app import create_app
from truthset.services import users
from truthset.services.imports import import_file
from truthset.services.projects import Project

SETTER = "gold-setter@example.org"


def _ann(who: str, label: str, *, gold: bool = False) -> dict[str, Any]:
    return {
        "completed_by": {"email": who},
        "ground_truth": gold,
        "result": [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}],
    }


TASKS = [
    # a gold item one annotator got wrong
    {"id": 1, "data": {"text": "gold, answered"}, "annotations": [_ann(SETTER, "pos", gold=True), _ann("ann1", "neg")]},
    # a plain disagreement
    {"id": 2, "data": {"text": "disputed"}, "annotations": [_ann("ann1", "pos"), _ann("ann2", "neg")]},
    # a gold item nobody has seen yet: hidden gold for whoever gets it
    {"id": 3, "data": {"text": "gold, unseen"}, "annotations": [_ann(SETTER, "neg", gold=True)]},
]


#: the ``gold_site`` fixture: (project, a logged-in client by role, item ids by external id)
GoldSite = tuple[Project, dict[str, TestClient], dict[str, int]]


@pytest.fixture
def gold_site(new_project: NewProject, tmp_path: Path) -> GoldSite:
    p = new_project(labels=["pos", "neg"])
    f = tmp_path / "tasks.json"
    f.write_text(json.dumps(TASKS), encoding="utf-8")
    report = import_file(p, f)
    assert report.gold_added == 2
    app = create_app(p)
    clients: dict[str, TestClient] = {}
    for role in ("admin", "reviewer", "annotator"):
        users.add_user(p, f"{role}-{p.config.name}", role=role, password=PASSWORD)
    for role in ("admin", "reviewer", "annotator"):
        clients[role], _ = login(app, f"{role}-{p.config.name}")
    ids = {it["external_id"]: it["item_id"] for it in clients["admin"].get("/api/items").json()["items"]}
    return p, clients, ids


def _everything(client: TestClient, ids: dict[str, int]) -> dict[str, Reply]:
    """What one client gets from every route that lists items, annotations or reviews."""
    out: dict[str, Reply] = {f"item {e}": client.get(f"/api/items/{i}") for e, i in ids.items()}
    out["annotations"] = client.get("/api/annotations")
    out["label=neg"] = client.get("/api/items", params={"label": "neg"})
    out["label=pos"] = client.get("/api/items", params={"label": "pos"})
    out["review queue"] = client.get("/api/review/queue")
    out["items"] = client.get("/api/items")
    return out


@pytest.mark.parametrize("role", ["reviewer", "annotator"])
def test_reviewers_and_annotators_never_see_gold(gold_site: GoldSite, role: str) -> None:
    _, clients, ids = gold_site
    for what, res in _everything(clients[role], ids).items():
        if role == "annotator":
            assert res.status_code == 403, what
            continue
        assert res.status_code == 200, what
        assert SETTER not in res.text, what
    if role == "annotator":
        return
    c = clients["reviewer"]
    one = c.get(f"/api/items/{ids['1']}").json()
    assert one["gold"] is None and [a["annotator"] for a in one["annotations"]] == ["ann1"]
    assert c.get(f"/api/items/{ids['3']}").json()["annotations"] == []
    # no gold answer through the label filter: item 3's only "neg" is its gold answer
    assert [it["external_id"] for it in c.get("/api/items", params={"label": "neg"}).json()["items"]] == ["1", "2"]
    assert all(a["annotator"] != SETTER for a in c.get("/api/annotations").json()["annotations"])
    # the queue does not say which items are gold or who is wrong on them
    assert c.get("/api/review/queue").json()["items"] == [{"item_id": ids["2"], "reasons": ["disagreement"]}]


def test_admins_see_gold_everywhere(gold_site: GoldSite) -> None:
    _, clients, ids = gold_site
    admin = clients["admin"]
    one = admin.get(f"/api/items/{ids['1']}").json()
    assert one["gold"] == "pos" and SETTER in [a["annotator"] for a in one["annotations"]]
    assert [it["external_id"] for it in admin.get("/api/items", params={"label": "neg"}).json()["items"]] == [
        "1",
        "2",
        "3",
    ]
    assert sum(a["annotator"] == SETTER for a in admin.get("/api/annotations").json()["annotations"]) == 2
    queue = {r["item_id"]: r["reasons"] for r in admin.get("/api/review/queue").json()["items"]}
    assert queue == {ids["1"]: ["disagreement", "wrong on gold"], ids["2"]: ["disagreement"]}
    assert admin.get("/api/gold").json()["gold"] == [
        {"item_id": ids["1"], "value": "pos"},
        {"item_id": ids["3"], "value": "neg"},
    ]


def test_a_reviewer_who_annotates_gets_hidden_gold_blind(gold_site: GoldSite) -> None:
    """Reviewers annotate too: the task of a gold item carries no answer and no hint."""
    p, clients, ids = gold_site
    p.config = p.config.model_copy(update={"queue": p.config.queue.model_copy(update={"gold_rate": 1.0})})
    reviewer = clients["reviewer"]
    seen = []
    while (res := reviewer.post("/api/next")).status_code == 200:
        task = res.json()
        seen.append(task["item_id"])
        assert task["prelabel"] is None and SETTER not in res.text
        assert set(task) == {"assignment_id", "item_id", "data", "leased_until", "prelabel", "reason", "progress"}
        reviewer.post(f"/api/assignments/{task['assignment_id']}/submit", json={"value": "pos"})
    assert ids["3"] in seen
