"""In Chromium: /docs runs no injected script and loads nothing from outside; every page keeps
the Content-Security-Policy (issue 10, findings 7 and 8).

Failed on main: /docs loaded Swagger UI from a CDN (requests to another host, and a page that
stays empty offline) and put the project name into the page unescaped.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import EVIL, TEXTS, Serve, login

# collects the CSP's reports in the page (an init script is injected by the browser, not the page)
WATCH_CSP = (
    "window.__csp = []; document.addEventListener('securitypolicyviolation', "
    "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)


def test_docs_run_no_injected_script_and_load_nothing_from_outside(serve: Serve, page: Page) -> None:
    site = serve("text-classification", ["pos", "neg"], TEXTS[:2], name=EVIL)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.add_init_script(WATCH_CSP)
    page.goto(site.url + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("truthset:")  # Swagger UI ran
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() >= 10  # every API route is listed
    assert page.title() == f"truthset: {EVIL} · API"
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("window.__csp") == []
    outside = [u for u in requested if not u.startswith(site.url) and not u.startswith("data:")]
    assert outside == [], outside
    page.goto(site.url + "/redoc")
    assert "404" in page.content()


def test_the_app_pages_keep_the_csp_and_their_label_colours(serve: Serve, page: Page) -> None:
    site = serve("text-classification", ["pos", "neg"], TEXTS[:3])
    page.add_init_script(WATCH_CSP)
    login(page, site, "admin")
    page.goto(site.url + "/annotate")
    button = page.locator("#labels button").first
    expect(button).to_have_text("pos 1")
    colour = site.project.config.schema.labels[0].color.lstrip("#")
    rgb = tuple(int(colour[i : i + 2], 16) for i in (0, 2, 4))
    assert button.evaluate("b => getComputedStyle(b).borderTopColor") == f"rgb({rgb[0]}, {rgb[1]}, {rgb[2]})"
    assert page.evaluate("window.__csp") == []
    for path in ("/review", "/guide", "/no-such-page"):
        page.goto(site.url + path)
        expect(page.locator("header.bar nav")).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__csp") == [], path  # each page's own reports
