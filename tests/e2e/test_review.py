"""The review page in a real browser: adjudicate a disagreement; annotators are kept out."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import TEXTS, Serve, login, screenshot, stored_annotations
from truthset.services import queue
from truthset.store.models import Review


def test_reviewer_sees_both_annotations_and_adjudicates(serve: Serve, page: Page) -> None:
    site = serve("text-classification", ["pos", "neg"], TEXTS, overlap=2)
    p = site.project
    # Two annotators disagree on the first item (submitted through the service, as the API does).
    for name, label in (("ann1", "pos"), ("ann2", "neg")):
        uid = site.accounts[name].id
        task = queue.next_task(p, uid)
        assert task is not None and task.payload["text"] == TEXTS[0]
        queue.submit(p, uid, task.assignment_id, label, lead_time=3.0)
    item_id = stored_annotations(site)[0]["item_id"]

    login(page, site, "reviewer")
    expect(page.locator("nav a[href='/review']")).to_have_count(1)
    page.goto(site.url + "/review")
    expect(page.locator("#item")).to_have_text(TEXTS[0])
    expect(page.locator("#why")).to_have_text("disagreement")
    rows = page.locator("#annotations tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td").nth(0)).to_have_text("ann1")
    expect(rows.nth(0).locator("td").nth(1)).to_have_text("pos")
    expect(rows.nth(1).locator("td").nth(0)).to_have_text("ann2")
    expect(rows.nth(1).locator("td").nth(1)).to_have_text("neg")
    expect(page.locator("#correction option")).to_have_text(["pos", "neg"])

    page.select_option("#correction", "neg")
    screenshot(page, "review.png")
    page.click("#correct")
    expect(page.locator("#status")).to_have_text("corrected.")
    expect(page.locator("#item")).to_have_text("Nothing to review.")  # decided: off the queue
    expect(rows).to_have_count(0)

    with p.store.engine.connect() as conn:
        reviews = conn.execute(select(Review).where(Review.item_id == item_id)).all()
    assert [(r.verdict, json.loads(r.correction), r.reviewer_id) for r in reviews] == [
        ("correct", "neg", site.accounts["reviewer"].id)
    ]
    adjudicated = [a for a in stored_annotations(site) if a["source"] == "review"]
    assert [(a["item_id"], a["label"], a["user_id"]) for a in adjudicated] == [
        (item_id, "neg", site.accounts["reviewer"].id)
    ]
    # the annotators' own answers are kept as history
    human = [a["label"] for a in stored_annotations(site) if a["source"] == "human"]
    assert sorted(human, key=str) == ["neg", "pos"]


def test_an_annotator_gets_403_on_the_review_page(serve: Serve, page: Page) -> None:
    site = serve("text-classification", ["pos", "neg"], TEXTS)
    login(page, site, "ann1")
    response = page.goto(site.url + "/review")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("403")
    expect(page.locator("p.error")).to_contain_text("needs the reviewer role")
    expect(page.locator("#annotations")).to_have_count(0)
    # the API behind the page refuses too
    status = page.evaluate("async () => (await fetch('/api/review/queue')).status")
    assert status == 403
