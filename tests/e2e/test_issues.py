"""The data-issue tracker in a real browser: an annotator's skip becomes an issue that an admin
assigns and a reviewer comments on and resolves; annotators are kept out."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.e2e.conftest import TEXTS, Serve, login, screenshot
from tests.support import next_task
from truthset.services import data_issues, queue


def test_skip_to_resolution_through_the_pages(serve: Serve, new_page: Callable[[], Page]) -> None:
    site = serve("text-classification", ["pos", "neg"], TEXTS)
    p = site.project
    ann = site.accounts["ann1"].id
    task = next_task(p, ann)
    issue = queue.skip(p, ann, task.assignment_id, "guideline gap", note="is sarcasm negative?")
    data_issues.open_issue(p, kind="drift", title="<b>batch 2</b> drifted", body="<script>alert(1)</script>")

    admin = new_page()
    login(admin, site, "admin")
    admin.click("nav a[href='/issues']")
    rows = admin.locator("#issues tbody tr")
    expect(rows).to_have_count(2)
    expect(admin.locator(f"tr[data-issue='{issue}'] .title")).to_have_text(
        "skipped as guideline gap: is sarcasm negative?"
    )
    expect(admin.locator("#issues")).to_contain_text("<b>batch 2</b> drifted")  # shown as text, not markup
    admin.click(f"tr[data-issue='{issue}'] .title a")
    expect(admin.locator("#issue-status")).to_have_text("open")
    admin.select_option("#assign-owner", "reviewer")
    admin.click("#assign-form button")
    expect(admin.locator("#issue-owner")).to_have_text("reviewer")

    reviewer = new_page()
    login(reviewer, site, "reviewer")
    reviewer.goto(f"{site.url}/issues/{issue}")
    expect(reviewer.locator("#assign-form")).to_have_count(0)  # only admins assign
    reviewer.fill("#comment-form textarea", "Asked the product owner; adding a rule for sarcasm.")
    reviewer.click("#comment-form button")
    expect(reviewer.locator("#history")).to_contain_text("adding a rule for sarcasm")
    reviewer.select_option("#move-status", "triaged")
    reviewer.click("#move-form button")
    expect(reviewer.locator("#issue-status")).to_have_text("triaged")
    reviewer.select_option("#move-status", "resolved")
    reviewer.fill("#move-form input[name=note]", "guide updated")
    reviewer.click("#move-form button")
    expect(reviewer.locator("#issue-status")).to_have_text("resolved")
    expect(reviewer.locator("#move-status option")).to_have_text(["open"])  # only reopening is left
    # the same picture on every run: the times shown as one fixed time
    reviewer.locator("time").evaluate_all("els => els.forEach(e => { e.textContent = '2026-03-02 09:00'; })")
    screenshot(reviewer, "issue.png")

    got = data_issues.get_issue(p, issue)
    assert got["status"] == "resolved" and got["owner"] == "reviewer"
    assert [(h["event"], h["author"]) for h in got["history"]] == [
        ("opened", None),
        ("assigned", "admin"),
        ("comment", "reviewer"),
        ("moved", "reviewer"),
        ("moved", "reviewer"),
    ]

    reviewer.goto(site.url + "/issues")
    expect(reviewer.locator("#issues tbody tr")).to_have_count(1)  # the open list leaves it out
    reviewer.goto(site.url + "/issues?status=resolved")
    expect(reviewer.locator(f"tr[data-issue='{issue}'] .status")).to_have_text("resolved")

    annotator = new_page()
    login(annotator, site, "ann2")
    expect(annotator.locator("nav a[href='/issues']")).to_have_count(0)
    response = annotator.goto(site.url + "/issues")
    assert response is not None and response.status == 403
