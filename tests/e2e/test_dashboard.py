"""The dashboard and the item browser in a real browser (issue 15): numbers, charts, filters,
an item's history; annotators are kept out and item text never runs as markup."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import EVIL, TEXTS, Serve, Site, login, screenshot
from truthset.services import queue


def _annotated(serve: Serve) -> Site:
    site = serve("text-classification", ["pos", "neg"], [*TEXTS, EVIL], overlap=2)
    p = site.project
    for name in ("ann1", "ann2"):
        uid = site.accounts[name].id
        while (task := queue.next_task(p, uid)) is not None:
            # they disagree on the second text only
            label = "neg" if name == "ann2" and task.payload["text"] == TEXTS[1] else "pos"
            queue.submit(p, uid, task.assignment_id, label, lead_time=2.0 if name == "ann1" else 5.0)
    return site


def test_dashboard_shows_progress_annotators_and_charts(serve: Serve, page: Page, new_page: Callable[[], Page]) -> None:
    site = _annotated(serve)
    login(page, site, "reviewer")
    page.click("main a[href='/dashboard']")
    page.wait_for_url(site.url + "/dashboard")
    batch = page.locator("#batches tbody tr")
    expect(batch).to_have_count(1)
    expect(batch.locator("td").nth(2)).to_have_text("9")
    expect(batch.locator("td").nth(3)).to_have_text("18 / 18")
    expect(page.locator(".dash .meta").first).to_contain_text("9 items · 18 judgements by 2 annotators")
    rows = page.locator("#annotators tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td").nth(0)).to_have_text("ann1")
    expect(rows.nth(0).locator("td").nth(1)).to_have_text("9")
    expect(rows.nth(0).locator("td").nth(2)).to_have_text("2.0")
    expect(rows.nth(0).locator("td").nth(3)).to_contain_text("0.89")  # 8 of 9 items agree
    assert page.locator("svg.ts-chart").count() >= 2
    for title in ("Judgements done per batch", "Judgements per annotator and day"):
        expect(page.locator("svg.ts-chart title", has_text=title)).to_have_count(1)
    expect(page.locator("#quality tbody tr")).to_have_count(1)  # one batch: a table row, no one-point chart
    expect(page.locator("#labels-by-version tbody tr")).to_contain_text("pos 17 · neg 1")
    screenshot(page, "dashboard.png")

    annotator = new_page()
    login(annotator, site, "ann1")
    expect(annotator.locator("a[href='/dashboard']")).to_have_count(0)
    res = annotator.goto(site.url + "/dashboard")
    assert res is not None and res.status == 403


def test_item_browser_filters_and_opens_history(serve: Serve, page: Page) -> None:
    site = _annotated(serve)
    login(page, site, "reviewer")
    page.click("nav a[href='/items']")
    expect(page.locator("#item-count")).to_contain_text("9 items")
    expect(page.locator("#item-list")).to_contain_text("<script>window.__pwned")  # shown as text
    assert page.evaluate("window.__pwned") is None
    page.fill("#item-filters input[name=text]", "CRACKED")
    page.click("#item-filters button[type=submit]")
    expect(page.locator("#item-count")).to_contain_text("1 item ")
    page.select_option("#item-filters select[name=label]", "neg")
    page.fill("#item-filters input[name=text]", "")
    page.click("#item-filters button[type=submit]")
    expect(page.locator("#item-list tbody tr")).to_have_count(1)
    expect(page.locator("#item-list tbody tr")).to_contain_text(TEXTS[1])
    screenshot(page, "items.png")
    page.click("#item-list tbody tr a")
    expect(page.locator("#item-text")).to_have_text(TEXTS[1])
    history = page.locator("#history tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("ann1")
    expect(history.nth(1)).to_contain_text("neg")
    expect(page.locator("#gold")).to_have_count(0)
    screenshot(page, "item-history.png")


def test_demo_dashboard(tmp_path: Path, page: Page, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's dashboard (``truthset demo``): weeks of simulated work, gold, an at-risk batch."""
    from tests.e2e.conftest import PASSWORD, Site, _serve, _stop
    from truthset.services import users
    from truthset.services.dashboard import demo_step
    from truthset.services.demo import build_demo

    monkeypatch.delenv("TRUTHSET_DATABASE_URL", raising=False)
    project, _ = build_demo(tmp_path / "demo")
    demo_step(project)
    users.add_user(project, "lead", role="admin", password=PASSWORD)
    proc, url = _serve(project.root, tmp_path / "server.log")
    try:
        site = Site(url=url, project=project)
        login(page, site, "lead")
        page.goto(url + "/dashboard")
        expect(page.locator("#batches tbody tr.risk")).to_have_count(1)
        expect(page.locator("#annotators")).to_contain_text("bob")
        for title in ("Gold accuracy per week", "Agreement per week", "Label shares per week"):
            expect(page.locator("svg.ts-chart title", has_text=title)).to_have_count(1)
        screenshot(page, "dashboard-demo.png")
    finally:
        _stop(proc)
        project.close()
