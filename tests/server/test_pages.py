"""Pages: unknown pages, the guide's navigation, and the API docs served from the package.

Failed on main: unknown pages answered raw JSON ``{"detail": "Not Found"}`` to a browser and
/guide had no navigation bar (issue 11, item 13); /docs and /redoc loaded Swagger and ReDoc
from a CDN with the project name unescaped in the title (issue 10, finding 7).
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.server.conftest import EVIL, Served, login
from truthset.server.app import create_app

HTML = {"accept": "text/html,application/xhtml+xml"}


def test_unknown_pages_get_an_html_404_with_the_navigation(served: Served) -> None:
    _, app, names = served
    client, _ = login(app, names["reviewer"])
    res = client.get("/no/such/page", headers=HTML)
    assert res.status_code == 404 and res.headers["content-type"].startswith("text/html")
    assert 'href="/annotate"' in res.text and 'href="/review"' in res.text and "Log out" in res.text
    assert "/no/such/page" in res.text
    anonymous = TestClient(app).get("/nowhere", headers=HTML)
    assert anonymous.status_code == 404 and anonymous.headers["content-type"].startswith("text/html")
    api = client.get("/api/no-such-route", headers=HTML)
    assert api.status_code == 404 and api.json() == {
        "error": "there is no page or API route at '/api/no-such-route'",
        "status": 404,
    }


def test_the_guide_page_has_the_navigation_bar(served: Served) -> None:
    _, app, names = served
    client, _ = login(app, names["annotator"])
    page = client.get("/guide").text
    assert '<header class="bar">' in page and 'href="/annotate"' in page and "Log out" in page
    assert "Annotation guide" in page and "pos" in page


def test_api_docs_come_from_the_package_with_the_title_escaped(served: Served) -> None:
    p, _, _ = served
    p.config = p.config.model_copy(update={"name": EVIL})
    client = TestClient(create_app(p))
    page = client.get("/docs")
    assert page.status_code == 200
    assert "<script>window.__pwned" not in page.text and "&lt;script&gt;window.__pwned" in page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/static/") or s == "/openapi.json" for s in sources), sources
    for asset in sources:
        assert client.get(asset).status_code == 200, asset
    assert "cdn" not in page.text.lower()
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").json()["info"]["title"] == f"truthset: {EVIL}"
