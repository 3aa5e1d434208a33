"""The annotation pages in a real browser: log in, label by hotkeys, mark spans, skip, undo.

Every outcome is checked in the store (read directly, not through the page), so a page that
only looks right fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import (
    EVIL,
    NER_TEXTS,
    PASSWORD,
    TEXTS,
    Serve,
    double_click_word,
    item_id_of,
    login,
    open_annotate,
    screenshot,
    select_text,
    stored_annotations,
)
from truthset.services import queue
from truthset.store.models import DataIssue


def test_login_rejects_a_wrong_password_then_lands_home(serve: Serve, page: Page) -> None:
    site = serve("text-classification", ["pos", "neg"], TEXTS)
    page.goto(site.url + "/annotate")  # not logged in: sent to the login form
    page.wait_for_url(site.url + "/login")
    expect(page.locator("h1")).to_have_text("Log in")
    screenshot(page, "login.png")

    page.fill("input[name=name]", "ann1")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    expect(page.locator("p.error[role=alert]")).to_have_text("Wrong name or password.")
    assert page.url == site.url + "/login"
    expect(page.locator("nav")).to_have_count(0)

    page.fill("input[name=name]", "ann1")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(site.url + "/")
    expect(page.locator("h1")).to_have_text("Hello, ann1")
    expect(page.locator("nav")).to_contain_text("Log out ann1")
    expect(page.locator("nav a[href='/review']")).to_have_count(0)  # an annotator is not offered review


def test_label_by_hotkeys_only(serve: Serve, page: Page) -> None:
    site = serve("text-classification", ["pos", "neg"], TEXTS)
    login(page, site, "ann1")
    first = open_annotate(page, site)
    assert first == TEXTS[0]

    page.keyboard.press("1")
    expect(page.locator("#labels button[data-label=pos]")).to_have_class("on")
    expect(page.locator("#labels button.on")).to_have_count(1)
    screenshot(page, "annotate-text.png")
    page.keyboard.press("Enter")

    expect(page.locator("#status")).to_have_text("Saved.")
    expect(page.locator("#progress")).to_have_text("1 done")
    expect(page.locator("#item")).to_have_text(TEXTS[1])  # the next item came with the answer
    expect(page.locator("#labels button.on")).to_have_count(0)

    [ann] = stored_annotations(site, "ann1")
    assert ann["text"] == first and ann["label"] == "pos" and ann["value"] == "pos"
    assert ann["source"] == "human"
    assert ann["lead_time"] is not None and 0 < ann["lead_time"] < 60


def test_ner_span_marked_by_selection_and_hotkey(serve: Serve, page: Page) -> None:
    site = serve("ner", ["PER", "ORG"], NER_TEXTS)
    login(page, site, "ann1")
    text = open_annotate(page, site)
    assert text == NER_TEXTS[0]

    select_text(page, "Acme Corp")  # a DOM Range over two words, as a drag would make
    page.keyboard.press("2")
    expect(page.locator("#item mark[data-label=ORG]")).to_have_text("Acme Corp")
    expect(page.locator("#spans .chip")).to_have_text(["ORG: Acme Corp"])
    assert page.evaluate("() => window.getSelection().isCollapsed")  # the selection is used up

    double_click_word(page, "Alice")  # a real mouse double click on a word
    page.keyboard.press("1")
    expect(page.locator("#item mark[data-label=PER]")).to_have_text("Alice")
    expect(page.locator("#item")).to_have_text(text)  # highlighting adds no characters
    screenshot(page, "annotate-ner.png")

    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("Saved.")
    expect(page.locator("#item")).to_have_text(NER_TEXTS[1])
    expect(page.locator("#item mark")).to_have_count(0)

    [ann] = stored_annotations(site, "ann1")
    org, per = text.index("Acme Corp"), text.index("Alice")
    assert ann["value"] == [
        {"start": per, "end": per + 5, "label": "PER"},
        {"start": org, "end": org + 9, "label": "ORG"},
    ]
    assert [text[s["start"] : s["end"]] for s in ann["value"]] == ["Alice", "Acme Corp"]


def test_span_offsets_count_characters_not_utf16_units(serve: Serve, page: Page) -> None:
    # An emoji is one character to Python (and the stored offsets) but two UTF-16 units to JS.
    text = "Nice 😀 day: Alice met Acme Corp."
    site = serve("ner", ["PER", "ORG"], [text])
    login(page, site, "ann1")
    assert open_annotate(page, site) == text
    select_text(page, "Acme Corp")
    page.keyboard.press("2")
    expect(page.locator("#item mark[data-label=ORG]")).to_have_text("Acme Corp")
    expect(page.locator("#spans .chip")).to_have_text(["ORG: Acme Corp"])
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("Saved.")
    [ann] = stored_annotations(site, "ann1")
    [span] = ann["value"]
    assert text[span["start"] : span["end"]] == "Acme Corp"


def test_pressing_a_label_key_without_a_selection_asks_for_one(serve: Serve, page: Page) -> None:
    site = serve("ner", ["PER", "ORG"], NER_TEXTS)
    login(page, site, "ann1")
    open_annotate(page, site)
    page.keyboard.press("1")
    expect(page.locator("#status")).to_have_text("Select some text first, then press a label key.")
    expect(page.locator("#item mark")).to_have_count(0)


def test_skip_with_a_reason_opens_a_data_issue(serve: Serve, page: Page) -> None:
    site = serve("text-classification", ["pos", "neg"], TEXTS)
    login(page, site, "ann1")
    first = open_annotate(page, site)

    # as a person does it: open the select, pick the reason, then press the hotkey
    page.click("#skip-reason")
    page.select_option("#skip-reason", "broken data")
    page.keyboard.press("s")
    expect(page.locator("#status")).to_have_text("Skipped (broken data).")
    expect(page.locator("#item")).to_have_text(TEXTS[1])
    screenshot(page, "skip.png")

    with site.project.store.engine.connect() as conn:
        issues = conn.execute(select(DataIssue).where(DataIssue.project_id == site.project.id)).all()
    assert [(i.kind, json.loads(i.items), i.status) for i in issues] == [
        ("skip:broken data", [item_id_of(site, first)], "open")
    ]
    assert stored_annotations(site) == []  # a skip is not an answer


def test_undo_removes_the_last_label(serve: Serve, page: Page) -> None:
    site = serve("text-classification", ["pos", "neg"], TEXTS)
    login(page, site, "ann1")
    open_annotate(page, site)

    page.keyboard.press("2")
    expect(page.locator("#labels button[data-label=neg]")).to_have_class("on")
    page.keyboard.press("u")
    expect(page.locator("#labels button.on")).to_have_count(0)
    page.keyboard.press("Enter")  # nothing chosen any more: nothing is sent
    expect(page.locator("#status")).to_have_text("Pick a label first.")
    expect(page.locator("#status")).to_have_class("status error")
    expect(page.locator("#progress")).to_have_text("0 done")
    assert stored_annotations(site) == []


def test_undo_removes_the_last_span(serve: Serve, page: Page) -> None:
    site = serve("ner", ["PER", "ORG"], NER_TEXTS)
    login(page, site, "ann1")
    text = open_annotate(page, site)

    select_text(page, "Acme Corp")
    page.keyboard.press("2")
    select_text(page, "Paris")
    page.keyboard.press("1")
    expect(page.locator("#item mark")).to_have_count(2)
    page.keyboard.press("u")  # takes back Paris, keeps Acme Corp
    expect(page.locator("#item mark")).to_have_text(["Acme Corp"])
    expect(page.locator("#spans .chip")).to_have_text(["ORG: Acme Corp"])
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("Saved.")

    [ann] = stored_annotations(site, "ann1")
    org = text.index("Acme Corp")
    assert ann["value"] == [{"start": org, "end": org + 9, "label": "ORG"}]


def test_item_text_with_html_and_script_is_inert(serve: Serve, page: Page, new_page: Callable[[], Page]) -> None:
    # The probe works: the same text put in as HTML does run (the onerror handler fires).
    control = new_page()
    control.set_content("<div id=x></div>")
    control.evaluate("(h) => { document.getElementById('x').innerHTML = h; }", EVIL)
    control.wait_for_function("() => window.__pwned === 2")

    # One item only, so the annotator is surely served it; two per item, so it reaches review.
    site = serve("text-classification", ["pos", "neg"], [EVIL], overlap=2)
    login(page, site, "ann1")
    shown = open_annotate(page, site)
    assert shown == EVIL  # shown literally, as text
    expect(page.locator("#item script, #item img")).to_have_count(0)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    assert page.evaluate("() => typeof window.__pwned") == "undefined"

    # ... and on the review page, where its annotations disagree.
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("Saved.")
    p, ann2 = site.project, site.accounts["ann2"].id
    task = queue.next_task(p, ann2)
    assert task is not None and task.payload["text"] == EVIL
    queue.submit(p, ann2, task.assignment_id, "neg", lead_time=2.0)
    reviewer = new_page()
    login(reviewer, site, "reviewer")
    reviewer.goto(site.url + "/review")
    expect(reviewer.locator("#annotations tbody tr")).to_have_count(2)
    expect(reviewer.locator("#item")).to_have_text(EVIL)
    expect(reviewer.locator("#item script, #item img")).to_have_count(0)
    reviewer.wait_for_load_state("networkidle")
    reviewer.wait_for_timeout(300)
    assert reviewer.evaluate("() => typeof window.__pwned") == "undefined"
