"""The data-issue tracker through its service and the ``truthset issues`` commands (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import NewProject, next_task
from truthset.cli import main
from truthset.core.errors import Conflict, InvalidInput, NotFound
from truthset.services import data_issues as di
from truthset.services import queue
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project
from truthset.services.schema import rename_label
from truthset.services.users import add_user

#: user names: unique, as a PostgreSQL test database is shared by the session's projects
LEE, ANN = f"lee-{uuid.uuid4().hex[:8]}", f"ann-{uuid.uuid4().hex[:8]}"


def _project(new_project: NewProject, tmp_path: Path) -> Project:
    global LEE, ANN
    LEE, ANN = f"lee-{uuid.uuid4().hex[:8]}", f"ann-{uuid.uuid4().hex[:8]}"
    p = new_project(labels=["pos", "neg"])
    data = tmp_path / "items.csv"
    data.write_text("text\n" + "\n".join(f"text number {i}" for i in range(5)) + "\n", encoding="utf-8")
    import_file(p, data, ImportOptions(text_col="text"))
    add_user(p, LEE, role="reviewer", password="pw-lee-123456")
    add_user(p, ANN, role="annotator", password="pw-ann-123456")
    return p


def test_lifecycle_with_history_links_and_invalid_moves(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    lee = di.user_id_of(p, LEE)
    issue = di.open_issue(
        p,
        kind="broken_data",
        title="rows 3-5 are HTML",
        items=[1, 2],
        links=[("guide_section", "Markup")],
        author_id=lee,
    )
    got = di.get_issue(p, issue)
    assert got["status"] == "open" and got["items"] == [1, 2] and got["links"] == {"guide_section": ["Markup"]}
    assert got["source"] == "manual" and got["schema_version"] == p.schema_version

    with pytest.raises(Conflict, match="can move to triaged, escalated, resolved, wont_fix, not open"):
        di.move(p, issue, "open")
    with pytest.raises(InvalidInput, match="status 'closed'"):
        di.move(p, issue, "closed")
    di.assign(p, issue, LEE, author_id=lee)
    di.move(p, issue, "triaged", note="looked at it", author_id=lee)
    di.comment(p, issue, "the exporter escapes nothing", author_id=lee)
    di.move(p, issue, "escalated")
    with pytest.raises(Conflict, match="escalated"):
        di.move(p, issue, "open")  # escalated goes back to triage, or is closed
    di.move(p, issue, "resolved")
    got = di.move(p, issue, "open", note="came back")
    assert got["owner"] == LEE and got["status"] == "open"
    events = [(h["event"], h["from"], h["to"], h["author"]) for h in got["history"]]
    assert events == [
        ("opened", None, "open", LEE),
        ("assigned", None, None, LEE),
        ("moved", "open", "triaged", LEE),
        ("comment", None, None, LEE),
        ("moved", "triaged", "escalated", None),
        ("moved", "escalated", "resolved", None),
        ("moved", "resolved", "open", None),
    ]
    assert got["history"][3]["note"] == "the exporter escapes nothing"

    with pytest.raises(NotFound, match="owner 'nobody'"):
        di.assign(p, issue, "nobody")
    with pytest.raises(NotFound, match="issue 999"):
        di.get_issue(p, 999)
    with pytest.raises(InvalidInput, match="kind 'typo'"):
        di.open_issue(p, kind="typo", title="x")
    with pytest.raises(InvalidInput, match="comment"):
        di.comment(p, issue, "   ")


def test_raise_issue_updates_instead_of_duplicating(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    first, what = di.raise_issue(
        p,
        fingerprint="anomaly:fast:ann",
        kind="annotator_quality",
        title="ann is fast",
        body="3x faster",
        source="anomaly",
    )
    assert what == "opened"
    assert di.raise_issue(
        p,
        fingerprint="anomaly:fast:ann",
        kind="annotator_quality",
        title="ann is fast",
        body="3x faster",
        source="anomaly",
    ) == (first, "unchanged")
    assert di.raise_issue(
        p,
        fingerprint="anomaly:fast:ann",
        kind="annotator_quality",
        title="ann is fast",
        body="5x faster",
        source="anomaly",
    ) == (first, "updated")
    assert len(di.list_issues(p)) == 1 and di.get_issue(p, first)["body"] == "5x faster"
    di.move(p, first, "resolved")
    assert di.raise_issue(
        p,
        fingerprint="anomaly:fast:ann",
        kind="annotator_quality",
        title="ann is fast",
        body="5x faster",
        source="anomaly",
    ) == (first, "reopened")
    di.move(p, first, "wont_fix")
    assert di.raise_issue(
        p, fingerprint="anomaly:fast:ann", kind="annotator_quality", title="ann is fast", body="9x", source="anomaly"
    ) == (first, "wont_fix")
    assert di.get_issue(p, first)["status"] == "wont_fix"


def test_guideline_gap_resolved_by_a_schema_edit_links_the_new_version(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    gap = di.open_issue(p, kind="guideline_gap", title="'neg' is unclear for sarcasm")
    drift = di.open_issue(p, kind="drift", title="batch 2 drifted")
    with pytest.raises(InvalidInput, match="edit the schema"):
        di.resolve_with_schema(p, gap)  # no edit since it was opened
    before = p.schema_version
    rename_label(p, "neg", "negative")
    assert p.schema_version == before + 1
    with pytest.raises(InvalidInput, match="drift issue"):
        di.resolve_with_schema(p, drift)
    got = di.resolve_with_schema(p, gap)
    assert got["status"] == "resolved" and got["links"]["schema_version"] == [str(before + 1)]
    assert got["history"][-1]["note"] == f"resolved by schema version {before + 1}"


def test_skips_in_the_queue_show_as_tracker_issues(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    ann = di.user_id_of(p, ANN)
    assert ann is not None
    task = next_task(p, ann)
    raised = queue.skip(p, ann, task.assignment_id, "guideline gap", note="irony?")
    [issue] = di.list_issues(p, kind=["guideline_gap"])
    assert issue["id"] == raised and issue["source"] == "skip" and issue["items"] == [task.item_id]
    assert di.get_issue(p, raised)["history"][0]["event"] == "opened"
    assert di.list_issues(p, kind=["drift"]) == []


def test_cli_list_show_assign_move_comment_export(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    run = CliRunner().invoke
    root = ["--project", str(p.root)]
    r = run(
        main,
        [
            *root,
            "issues",
            "open",
            "--kind",
            "duplicate",
            "--title",
            "same text twice",
            "--item",
            "1",
            "--item",
            "2",
            "--by",
            LEE,
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    issue = json.loads(r.output)["id"]
    assert run(main, [*root, "issues", "assign", str(issue), LEE]).exit_code == 0
    r = run(main, [*root, "issues", "move", str(issue), "triaged", "--by", LEE, "--json"])
    assert json.loads(r.output)["status"] == "triaged"
    assert run(main, [*root, "issues", "comment", str(issue), "merged upstream"]).exit_code == 0
    r = run(main, [*root, "issues", "show", str(issue)])
    assert "merged upstream" in r.output and "open -> triaged" in r.output and f"owner: {LEE}" in r.output
    r = run(main, [*root, "issues", "list", "--open", "--json"])
    assert [i["id"] for i in json.loads(r.output)["issues"]] == [issue]

    r = run(main, [*root, "issues", "move", str(issue), "open"])
    assert r.exit_code == 0  # triaged -> open is allowed
    r = run(main, [*root, "issues", "move", str(issue), "open"])
    assert r.exit_code == 1 and r.output.startswith("error: issue") and "Traceback" not in r.output
    r = run(main, [*root, "issues", "show", "77"])
    assert r.exit_code == 1 and "no such data issue" in r.output

    out = tmp_path / "issues.csv"
    r = run(main, [*root, "issues", "export", "--csv", str(out), "--json"])
    assert json.loads(r.output)["issues"] == 1
    [row] = list(csv.DictReader(out.open(encoding="utf-8")))
    assert row["kind"] == "duplicate" and row["items"] == "1 2" and row["owner"] == LEE
