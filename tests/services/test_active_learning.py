"""Active learning (issue 14, second pass): retrain every N new labels, then refresh the
pre-labels and the uncertainty order; never inside a request (a background thread, or
``truthset train --if-due``)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.support import NewProject, active_project, most_uncertain, unjudged
from truthset.cli import main
from truthset.core.config import ActiveConfig
from truthset.services import active_learning, runs
from truthset.services.projects import Project
from truthset.services.queue import next_task, submit
from truthset.services.users import add_user

N = 5


def _project(new_project: NewProject, tmp_path: Path) -> tuple[Project, dict[str, str]]:
    return active_project(new_project, tmp_path, N)


def _answer(p: Project, user_id: int, truth: dict[str, str], n: int) -> None:
    for _ in range(n):
        task = next_task(p, user_id)
        assert task is not None
        submit(p, user_id, task.assignment_id, truth[task.payload["text"]])


def test_a_retrain_is_due_after_n_new_labels_and_reorders_the_queue(new_project: NewProject, tmp_path: Path) -> None:
    p, truth = _project(new_project, tmp_path)
    first = runs.list_runs(p)[-1]["run"]
    assert active_learning.status(p) == {"retrain_every": N, "last_run": first, "new_labels": 0, "due": False}
    assert active_learning.retrain_if_due(p)["retrained"] is False
    ann = add_user(p, f"ann-{p.config.name}", role="annotator", password="pw-ann-123456")
    _answer(p, ann.id, truth, N - 1)
    assert active_learning.status(p)["due"] is False  # N - 1 labels: not yet
    _answer(p, ann.id, truth, 1)
    assert active_learning.status(p)["new_labels"] == N and active_learning.status(p)["due"]
    out = active_learning.retrain_if_due(p)
    assert out["retrained"] and out["run"] > first and len(runs.list_runs(p)) == 2
    # the new run trained on the new labels and counts from them on
    new_run = runs.get_run(p, out["run"])
    assert new_run["config"]["labels_upto"] > runs.get_run(p, first)["config"]["labels_upto"]
    assert active_learning.status(p)["new_labels"] == 0
    # (39 new items: one of the 40 messages is a copy of another, which the import keeps as one item)
    assert (
        out["prelabel"]["prelabelled"] == len(unjudged(p)) == 39 - N
        and out["prelabel"]["queue_order"] == "uncertainty (entropy)"
    )
    # the queue now starts at the item the new run is least sure of
    bob = add_user(p, f"bob-{p.config.name}", role="annotator", password="pw-bob-123456")
    task = next_task(p, bob.id)
    assert task is not None and task.item_id == most_uncertain(p, out["run"])


def test_the_server_hook_retrains_in_the_background_and_the_cli_when_due(
    new_project: NewProject, tmp_path: Path
) -> None:
    p, truth = _project(new_project, tmp_path)
    ann = add_user(p, f"ann-{p.config.name}", role="annotator", password="pw-ann-123456")
    _answer(p, ann.id, truth, N - 1)
    active_learning.poke(p)  # what the submit route calls: returns at once
    assert active_learning.wait_idle(p, 60) == {
        "retrained": False,
        "retrain_every": N,
        "last_run": runs.list_runs(p)[-1]["run"],
        "new_labels": N - 1,
        "due": False,
    }
    _answer(p, ann.id, truth, 1)
    active_learning.poke(p)
    done = active_learning.wait_idle(p, 120)
    assert done is not None and done["retrained"] and len(runs.list_runs(p)) == 2
    # a poke whose label that retrain already counted (a submit racing the retrain it set off)
    # finds nothing new: the retrain stays the last result (it was replaced by the empty check,
    # which made tests/server/test_active_http.py flaky)
    active_learning.poke(p)
    assert active_learning.wait_idle(p, 60) == done
    bob = add_user(p, f"bob-{p.config.name}", role="annotator", password="pw-bob-123456")
    task = next_task(p, bob.id)
    assert task is not None and task.item_id == most_uncertain(p, done["run"])
    # from the command line: not due now; due again after N more labels
    res = CliRunner().invoke(main, ["-p", str(p.root), "train", "--if-due"], catch_exceptions=False)
    assert res.exit_code == 0 and f"not due: 0 new label(s) since run {done['run']}" in res.output
    _answer(p, ann.id, truth, N)
    res = CliRunner().invoke(main, ["-p", str(p.root), "train", "--if-due", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["retrained"] and out["new_labels"] == N and len(runs.list_runs(p)) == 3


def test_if_due_needs_the_setting(new_project: NewProject) -> None:
    p = new_project(labels=["ham", "spam"])
    res = CliRunner().invoke(main, ["-p", str(p.root), "train", "--if-due"])
    assert res.exit_code == 1 and "active.retrain_every" in res.output
    active_learning.poke(p)  # off: no thread, nothing to wait for
    assert active_learning.wait_idle(p) is None


def test_a_project_that_cannot_train_yet_is_retried_after_n_more_labels_only(
    new_project: NewProject, tmp_path: Path
) -> None:
    from tests.support import project_with_items

    p = project_with_items(new_project, tmp_path, 12)
    p.config = p.config.model_copy(update={"active": ActiveConfig(retrain_every=2, n_boot=0)})
    ann = add_user(p, f"ann-{p.config.name}", role="annotator", password="pw-ann-123456")
    for _ in range(2):
        task = next_task(p, ann.id)
        assert task is not None
        submit(p, ann.id, task.assignment_id, "pos")
    active_learning.poke(p)
    first = active_learning.wait_idle(p, 60)
    assert first is not None and first["retrained"] is False and "at least 10 items" in first["error"]
    active_learning.poke(p)  # no new label: not tried again
    backing = active_learning.wait_idle(p, 60)
    assert backing is not None and backing["backing_off"] is True
    for _ in range(2):
        task = next_task(p, ann.id)
        assert task is not None
        submit(p, ann.id, task.assignment_id, "neg")
    active_learning.poke(p)  # two more labels: tried again (and still too few)
    again = active_learning.wait_idle(p, 60)
    assert again is not None and "backing_off" not in again and "at least 10 items" in again["error"]
    assert runs.list_runs(p) == []
