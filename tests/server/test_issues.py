"""The issue tracker's pages and API in-process: who may do what, escaping, and clear refusals."""

from __future__ import annotations

from tests.server.conftest import EVIL, Served, login
from truthset.services import data_issues


def test_reviewer_views_comments_and_moves_admin_assigns(served: Served) -> None:
    p, app, names = served
    issue = data_issues.open_issue(p, kind="broken_data", title=EVIL, body="line one\n" + EVIL, items=[1])
    reviewer, token = login(app, names["reviewer"])
    page = reviewer.get("/issues")
    assert page.status_code == 200 and f'href="/issues/{issue}"' in page.text
    assert "<script>window.__pwned" not in page.text and "&lt;script&gt;" in page.text
    page = reviewer.get(f"/issues/{issue}")
    assert "<script>window.__pwned" not in page.text and 'id="assign-form"' not in page.text

    r = reviewer.post(f"/issues/{issue}/comment", data={"text": "seen it", "csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    r = reviewer.post(
        f"/issues/{issue}/move", data={"status": "triaged", "note": "mine", "csrf": token}, follow_redirects=False
    )
    assert r.status_code == 303
    r = reviewer.post(f"/issues/{issue}/move", data={"status": "open", "csrf": token}, follow_redirects=False)
    assert r.status_code == 303  # triaged -> open is allowed
    r = reviewer.post(f"/issues/{issue}/move", data={"status": "open", "csrf": token})
    assert r.status_code == 409 and "can move to" in r.json()["error"]
    r = reviewer.post(f"/issues/{issue}/assign", data={"owner": names["reviewer"], "csrf": token})
    assert r.status_code == 403

    admin, admin_token = login(app, names["admin"])
    assert 'id="assign-form"' in admin.get(f"/issues/{issue}").text
    r = admin.post(
        f"/issues/{issue}/assign", data={"owner": names["reviewer"], "csrf": admin_token}, follow_redirects=False
    )
    assert r.status_code == 303
    got = data_issues.get_issue(p, issue)
    assert got["owner"] == names["reviewer"]
    assert [(h["event"], h["author"]) for h in got["history"]] == [
        ("opened", None),
        ("comment", names["reviewer"]),
        ("moved", names["reviewer"]),
        ("moved", names["reviewer"]),
        ("assigned", names["admin"]),
    ]
    r = admin.post(f"/issues/{issue}/assign", data={"owner": "nobody-at-all", "csrf": admin_token})
    assert r.status_code == 404 and "owner 'nobody-at-all'" in r.json()["error"]

    listed = reviewer.get("/api/issues").json()
    assert [i["id"] for i in listed["issues"]] == [issue]
    r = reviewer.get("/api/issues?status=closed")
    assert r.status_code == 422 and "status" in r.json()["error"]


def test_annotators_and_strangers_are_kept_out(served: Served) -> None:
    p, app, names = served
    issue = data_issues.open_issue(p, kind="duplicate", title="twice")
    annotator, token = login(app, names["annotator"])
    assert annotator.get("/issues").status_code == 403
    assert annotator.post(f"/issues/{issue}/comment", data={"text": "x", "csrf": token}).status_code == 403
    reviewer, token = login(app, names["reviewer"])
    r = reviewer.post(f"/issues/{issue}/comment", data={"text": "no token"}, headers={"X-CSRF-Token": ""})
    assert r.status_code == 403
    assert reviewer.get("/issues/424242").status_code == 404


def test_reviewer_opens_an_issue_by_hand(served: Served) -> None:
    p, app, names = served
    reviewer, token = login(app, names["reviewer"])
    assert 'id="new-issue-form"' in reviewer.get("/issues").text
    r = reviewer.post(
        "/issues",
        data={
            "kind": "guideline_gap",
            "title": "emoji-only reviews",
            "severity": "low",
            "body": "no rule for them",
            "csrf": token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    issue = int(r.headers["location"].rsplit("/", 1)[1])
    got = data_issues.get_issue(p, issue)
    assert (got["kind"], got["title"], got["severity"], got["source"]) == (
        "guideline_gap",
        "emoji-only reviews",
        "low",
        "manual",
    )
    assert got["history"][0]["author"] == names["reviewer"]
    r = reviewer.post("/issues", data={"kind": "typo", "title": "x", "csrf": token})
    assert r.status_code == 422 and "kind 'typo'" in r.json()["error"]
    r = reviewer.post("/issues", data={"kind": "duplicate", "title": "  ", "csrf": token})
    assert r.status_code == 422 and "title" in r.json()["error"]
