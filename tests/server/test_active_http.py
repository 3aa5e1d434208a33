"""Active learning through the annotation server: answers submitted over HTTP make a retrain
due, which runs in the server's background thread (not in the request), then the queue
serves by the new run's uncertainty."""

from __future__ import annotations

from pathlib import Path

from tests.server.conftest import PASSWORD, login
from tests.support import NewProject, active_project, most_uncertain
from truthset.server.app import create_app
from truthset.services import active_learning, runs, users

EVERY = 3


def test_http_submits_trigger_a_background_retrain(new_project: NewProject, tmp_path: Path) -> None:
    p, truth = active_project(new_project, tmp_path, EVERY)
    first = runs.list_runs(p)[-1]["run"]
    name = f"ann-{p.config.name}"
    users.add_user(p, name, role="annotator", password=PASSWORD)
    client, _ = login(create_app(p), name)
    task = client.post("/api/next").json()
    for _ in range(EVERY):
        res = client.post(
            f"/api/assignments/{task['assignment_id']}/submit", json={"value": truth[task["data"]["text"]]}
        )
        assert res.status_code == 200, res.text
        task = res.json()["next"]
    done = active_learning.wait_idle(p, 120)
    assert done is not None and done["retrained"] and done["new_labels"] == EVERY
    assert [r["run"] for r in runs.list_runs(p)] == [first, done["run"]]
    assert active_learning.status(p)["due"] is False
    assert done["prelabel"]["queue_order"] == "uncertainty (entropy)"
    # the lease held since before the retrain is answered (storing only); the next item is then
    # the one the new run is least sure of
    res = client.post(
        f"/api/assignments/{task['assignment_id']}/submit?next=false", json={"value": truth[task["data"]["text"]]}
    )
    assert res.status_code == 200 and res.json()["next"] is None
    assert client.post("/api/next").json()["item_id"] == most_uncertain(p, done["run"])
