"""The NER review page in a real browser: each annotator's spans on a line, disagreements marked,
adjudication by accepting one annotator's spans or by editing them; item text stays inert.

Every outcome is checked in the store (read directly, not through the page). Before issue 11 the
page listed spans as offsets ("ORG[21-30]") in a table, with nothing highlighted and no way to
adjudicate spans (the "Correct label" form was disabled for NER): every test here failed.
"""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Page, Route, expect
from sqlalchemy import select

from tests.e2e.conftest import EVIL, NER_TEXTS, Serve, Site, login, screenshot, select_text, stored_annotations
from truthset.services import queue
from truthset.store.models import Review


def span(text: str, part: str, label: str) -> dict[str, Any]:
    start = text.index(part)
    return {"start": start, "end": start + len(part), "label": label}


FIRST, SECOND = NER_TEXTS[0], NER_TEXTS[1]
# ann1 and ann2 agree on Acme Corp only; on the second item, on Bob Jones only
ANSWERS = {
    "ann1": [
        [span(FIRST, "Alice Smith", "PER"), span(FIRST, "Acme Corp", "ORG"), span(FIRST, "Paris", "LOC")],
        [span(SECOND, "Bob Jones", "PER"), span(SECOND, "Globex", "ORG")],
    ],
    "ann2": [[span(FIRST, "Alice", "PER"), span(FIRST, "Acme Corp", "ORG")], [span(SECOND, "Bob Jones", "PER")]],
}


def disputed_site(
    serve: Serve,
    labels: list[str] | None = None,
    texts: list[str] | None = None,
    answers: dict[str, list[list[dict[str, Any]]]] | None = None,
) -> Site:
    """A served NER project whose items got different spans from ann1 and ann2."""
    texts = texts or NER_TEXTS[:2]
    site = serve("ner", labels or ["PER", "ORG", "LOC"], texts, overlap=2)
    for name, values in (answers or ANSWERS).items():
        uid = site.accounts[name].id
        for text, value in zip(texts, values):
            task = queue.next_task(site.project, uid)
            assert task is not None and task.payload["text"] == text
            queue.submit(site.project, uid, task.assignment_id, value, lead_time=4.0)
    return site


def adjudications(site: Site) -> list[tuple[object, object]]:
    return [(a["text"], a["value"]) for a in stored_annotations(site) if a["source"] == "review"]


def test_each_annotator_on_a_line_disagreements_marked_and_one_accepted(serve: Serve, page: Page) -> None:
    site = disputed_site(serve)
    login(page, site, "reviewer")
    page.goto(site.url + "/review")
    expect(page.locator("#why")).to_have_text("disagreement")

    lines = page.locator("#lines .line")
    expect(lines).to_have_count(2)
    ann1, ann2 = page.locator(".line[data-annotator=ann1]"), page.locator(".line[data-annotator=ann2]")
    # every span highlighted on the text, which is shown whole (highlighting adds no characters)
    expect(ann1.locator(".text mark")).to_have_text(["Alice Smith", "Acme Corp", "Paris"])
    expect(ann1.locator(".text mark").nth(2)).to_have_attribute("data-label", "LOC")
    expect(ann2.locator(".text mark")).to_have_text(["Alice", "Acme Corp"])
    for line in (ann1, ann2):
        expect(line.locator(".text")).to_have_text(FIRST)
    # a span not marked the same way by every annotator is a disagreement; the shared one is not
    expect(ann1.locator("mark.disputed")).to_have_text(["Alice Smith", "Paris"])
    expect(ann2.locator("mark.disputed")).to_have_text(["Alice"])
    expect(page.locator("#lines mark:not(.disputed)")).to_have_text(["Acme Corp", "Acme Corp"])
    expect(ann1.locator(".summary")).to_have_text("3 span(s), 2 not shared by all")
    # the disagreement shows as more than colour: a dashed outline and a sign after the label
    style = page.evaluate("""() => { const m = document.querySelector('.line mark.disputed');
        return [getComputedStyle(m).outlineStyle, getComputedStyle(m, '::after').content]; }""")
    assert style == ["dashed", '"PER ≠"']
    # the adjudication line starts with the spans everyone agrees on
    expect(page.locator("#item mark")).to_have_text(["Acme Corp"])
    expect(page.locator("#item")).to_have_text(FIRST)
    screenshot(page, "review-ner.png")

    # keyboard only: the cursor starts on the adjudication line; down wraps to the first annotator
    expect(page.locator("#editor")).to_have_class("line editor cursor")
    page.keyboard.press("ArrowDown")
    expect(page.locator(".line.cursor")).to_have_attribute("data-annotator", "ann1")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("Adjudicated with ann1's spans.")
    expect(page.locator(".line[data-annotator=ann1] .text")).to_have_text(SECOND)  # the next item
    assert adjudications(site) == [(FIRST, ANSWERS["ann1"][0])]
    with site.project.store.engine.connect() as conn:
        reviews = conn.execute(select(Review)).all()
    ann1_first = next(a for a in stored_annotations(site, "ann1") if a["text"] == FIRST)
    assert [(r.verdict, json.loads(r.correction), r.reviewer_id) for r in reviews] == [
        ("correct", ANSWERS["ann1"][0], site.accounts["reviewer"].id)
    ]
    assert reviews[0].annotation_id is not None
    with site.project.store.engine.connect() as conn:
        from truthset.store.models import Annotation

        accepted = conn.execute(select(Annotation.value).where(Annotation.id == reviews[0].annotation_id)).scalar_one()
    assert json.loads(accepted) == ann1_first["value"]  # the review names the annotation it took

    # the second item with the mouse: ann2's "Accept these spans" button
    page.locator(".line[data-annotator=ann2] button.accept").click()
    expect(page.locator("#status")).to_have_text("Adjudicated with ann2's spans.")
    expect(page.locator("#item")).to_have_text("Nothing to review.")
    expect(lines).to_have_count(0)
    assert adjudications(site) == [(FIRST, ANSWERS["ann1"][0]), (SECOND, ANSWERS["ann2"][1])]
    # the annotators' own answers are kept as history
    assert sorted(len(a["value"]) for a in stored_annotations(site) if a["source"] == "human") == [1, 2, 2, 3]


def test_editing_spans_stores_the_edited_value(serve: Serve, page: Page) -> None:
    site = disputed_site(serve)
    login(page, site, "reviewer")
    page.goto(site.url + "/review")
    expect(page.locator("#lines .line")).to_have_count(2)
    editor, chips = page.locator("#item mark"), page.locator("#spans .chip .what")

    page.keyboard.press("ArrowUp")  # from the adjudication line up to ann2's
    expect(page.locator(".line.cursor")).to_have_attribute("data-annotator", "ann2")
    page.keyboard.press("=")  # copy ann2's spans into the adjudication
    expect(page.locator("#status")).to_have_text("Copied ann2's spans; edit them, then press Enter.")
    expect(editor).to_have_text(["Alice", "Acme Corp"])
    expect(page.locator("#editor")).to_have_class("line editor cursor")

    page.keyboard.press("ArrowRight")  # pick the first span ...
    expect(page.locator("#spans .chip.chosen .what")).to_have_text("PER: Alice")
    page.keyboard.press("Delete")  # ... and remove it
    expect(chips).to_have_text(["ORG: Acme Corp"])
    page.keyboard.press("u")  # undo brings it back; remove it again
    expect(chips).to_have_text(["PER: Alice", "ORG: Acme Corp"])
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Backspace")
    expect(chips).to_have_text(["ORG: Acme Corp"])

    select_text(page, "Alice Smith")  # select text, press a label's hotkey
    page.keyboard.press("1")
    expect(chips).to_have_text(["PER: Alice Smith", "ORG: Acme Corp"])
    select_text(page, "Paris")
    page.keyboard.press("2")
    expect(chips).to_have_text(["PER: Alice Smith", "ORG: Acme Corp", "ORG: Paris"])
    page.locator("#spans .chip", has_text="ORG: Paris").locator("button.x").click()  # remove by mouse
    expect(chips).to_have_text(["PER: Alice Smith", "ORG: Acme Corp"])
    select_text(page, "Paris")
    page.locator("#labels button[data-label=LOC]").click()  # or click the label
    expect(chips).to_have_text(["PER: Alice Smith", "ORG: Acme Corp", "LOC: Paris"])
    select_text(page, "Acme Corp")  # the same text again with another label relabels it
    page.keyboard.press("3")
    expect(chips).to_have_text(["PER: Alice Smith", "LOC: Acme Corp", "LOC: Paris"])
    select_text(page, "Acme Corp")
    page.keyboard.press("2")
    select_text(page, "Smith works")  # overlaps a span: refused, since the schema forbids overlaps
    page.keyboard.press("1")
    expect(page.locator("#status")).to_have_text(
        '"Smith works" overlaps "Alice Smith" (PER), which this schema forbids; remove that span first.'
    )
    expect(page.locator("#status")).to_have_class("status error")
    expect(chips).to_have_text(["PER: Alice Smith", "ORG: Acme Corp", "LOC: Paris"])
    expect(page.locator("#item")).to_have_text(FIRST)
    screenshot(page, "review-ner-edit.png")

    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("Adjudicated with the edited spans.")
    expect(page.locator(".line[data-annotator=ann1] .text")).to_have_text(SECOND)
    edited = [span(FIRST, "Alice Smith", "PER"), span(FIRST, "Acme Corp", "ORG"), span(FIRST, "Paris", "LOC")]
    assert adjudications(site) == [(FIRST, edited)]
    with site.project.store.engine.connect() as conn:
        [review] = conn.execute(select(Review)).all()
    assert (review.verdict, json.loads(review.correction), review.annotation_id) == ("correct", edited, None)

    # a span may also be marked by selecting it on an annotator's line
    page.keyboard.press("ArrowDown")  # ann1's line
    select_text_in(page, ".line[data-annotator=ann1] .text", "last year")
    page.keyboard.press("3")
    expect(chips).to_have_text(["PER: Bob Jones", "LOC: last year"])
    page.click("#correct")
    expect(page.locator("#status")).to_have_text("Adjudicated with the edited spans.")
    assert adjudications(site)[1] == (SECOND, [span(SECOND, "Bob Jones", "PER"), span(SECOND, "last year", "LOC")])


def select_text_in(page: Page, selector: str, needle: str) -> None:
    """Select ``needle`` inside the element matched by ``selector`` (a DOM Range over its text nodes)."""
    got = page.evaluate(
        """([selector, needle]) => {
      const box = document.querySelector(selector), at = box.textContent.indexOf(needle);
      const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT), range = document.createRange();
      let pos = 0, node, startSet = false;
      while ((node = walker.nextNode())) {
        const len = node.data.length;
        if (!startSet && at < pos + len) { range.setStart(node, at - pos); startSet = true; }
        if (startSet && at + needle.length <= pos + len) { range.setEnd(node, at + needle.length - pos); break; }
        pos += len;
      }
      const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
      return sel.toString();
    }""",
        [selector, needle],
    )
    assert got == needle


EVIL_LABEL = '<img src=x onerror="window.__pwned = 3">'
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'"


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_item_text_and_labels_with_html_run_nothing(serve: Serve, page: Page) -> None:
    text = EVIL
    answers = {
        "ann1": [[span(text, "<script>", EVIL_LABEL), span(text, "<img src=x", "PER")]],
        "ann2": [[span(text, "<script>", EVIL_LABEL)]],
    }
    site = disputed_site(serve, labels=["PER", EVIL_LABEL], texts=[text], answers=answers)
    login(page, site, "reviewer")
    # Served under a Content-Security-Policy without 'unsafe-inline': nothing the page does may be
    # refused by it (an inline script, an event handler attribute or a style attribute would be).
    page.add_init_script("""window.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective));""")

    def with_csp(route: Route) -> None:
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": CSP})

    page.route(site.url + "/review", with_csp)
    page.goto(site.url + "/review")
    expect(page.locator("#lines .line")).to_have_count(2)
    for who in ("ann1", "ann2"):
        expect(page.locator(f".line[data-annotator={who}] .text")).to_have_text(text)  # shown literally
    expect(page.locator(".line[data-annotator=ann1] mark")).to_have_text(["<script>", "<img src=x"])
    expect(page.locator(".line[data-annotator=ann1] mark.disputed")).to_have_text(["<img src=x"])
    expect(page.locator("#labels button").nth(1)).to_contain_text(EVIL_LABEL)
    expect(page.locator("#review script, #review img, #guide img")).to_have_count(0)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    # the label colours still apply (set through the CSSOM, which the policy allows)
    per_label = site.project.config.schema.label("PER")
    assert per_label is not None
    colour = per_label.color
    per = page.locator(".line[data-annotator=ann1] mark[data-label=PER]")
    assert per.evaluate("(m) => getComputedStyle(m).borderBottomColor") == _rgb(colour)
    guide = page.locator("#guide .glabel").first
    assert guide.evaluate("(g) => getComputedStyle(g).borderLeftColor") == _rgb(colour)
    assert page.evaluate("() => window.__csp") == []

    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("Adjudicated with ann1's spans.")
    assert adjudications(site) == [(text, answers["ann1"][0])]
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    assert page.evaluate("() => window.__csp") == []
