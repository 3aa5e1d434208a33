"""The review page shows the data-check finding that sent an item to review, and records the
reviewer's verdict on it (truthset check --send-to-review, then --precision)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import TEXTS, Serve, login
from truthset.services import checks


def test_reviewer_judges_a_duplicate_finding(serve: Serve, page: Page) -> None:
    site = serve("text-classification", ["pos", "neg"], [*TEXTS, "the battery lasts  TWO full days."])
    p = site.project
    checks.run_checks(p, ["exact_duplicates"])
    assert checks.send_to_review(p, "exact_duplicates") == 1
    (finding,) = checks.list_findings(p, check="exact_duplicates")
    login(page, site, "reviewer")
    page.goto(site.url + "/review")
    expect(page.locator("#why")).to_have_text("check: exact_duplicates")
    expect(page.locator("#item")).to_have_text(TEXTS[0])
    row = page.locator("#findings .finding")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("exact_duplicates")
    row.locator("button[data-verdict='right']").click()
    expect(row).to_have_text("exact_duplicates: label was right (recorded)")
    (after,) = checks.list_findings(p, check="exact_duplicates")
    assert after["id"] == finding["id"] and after["verdict"] == "right"
    (prec,) = [r for r in checks.check_precision(p) if r["check"] == "exact_duplicates"]
    assert (prec["right"], prec["n"], prec["precision"]) == (1, 1, 0.0)
