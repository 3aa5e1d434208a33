"""Body limits, error format, security headers and leaks (issue 10, findings 5 and 8).

Each test failed on main: a 50 MB value came back whole in the 422 and a 50 MB ignored field
was accepted, no response had a Content-Security-Policy or X-Frame-Options, the cookie never
had Secure, /api/stats showed absolute server paths, a body parse error answered
``{"detail": ...}``, and an ``accept`` verdict without an annotation was stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import Served, login
from truthset.server.app import create_app

MB = 2**20
TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "truthset" / "server" / "templates"


def _submit_path(client: TestClient) -> str:
    task = client.post("/api/next").json()
    return f"/api/assignments/{task['assignment_id']}/submit"


def test_a_body_over_the_limit_gets_413_in_the_apps_format(served: Served) -> None:
    _, app, names = served
    client, _ = login(app, names["annotator"])
    path = _submit_path(client)
    res = client.post(path, json={"value": "pos", "ignored": "a" * (2 * MB)})
    assert res.status_code == 413
    body = res.json()
    assert body["status"] == 413 and "1,048,576 bytes" in body["error"]
    assert client.post(path, json={"value": "pos"}).status_code == 200  # nothing was stored before


def test_a_streamed_body_without_content_length_is_stopped_at_the_limit(served: Served) -> None:
    _, app, names = served
    client, _ = login(app, names["annotator"])
    path = _submit_path(client)
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        yield b'{"value": "pos", "x": "'
        for _ in range(40):  # 2.5 MB in 64 KB pieces
            sent.append(1)
            yield b"a" * 65536
        yield b'"}'

    res = client.post(path, content=chunks(), headers={"content-type": "application/json"})
    assert res.status_code == 413 and res.json()["status"] == 413


def test_item_pushes_have_their_own_larger_limit(served: Served) -> None:
    p, _, names = served
    admin, _ = login(create_app(p), names["admin"])
    items = [{"text": f"pushed {i} " + "b" * 1000} for i in range(1500)]  # ~1.5 MB
    assert admin.post("/api/items", json={"items": items}).json()["items_added"] == 1500
    p.settings = p.settings.model_copy(update={"max_items_body_bytes": MB})
    small, _ = login(create_app(p), names["admin"])
    assert small.post("/api/items", json={"items": items}).status_code == 413


def test_a_bad_value_is_never_echoed_at_length(served: Served) -> None:
    _, app, names = served
    client, _ = login(app, names["annotator"])
    res = client.post(_submit_path(client), json={"value": "a" * 500_000})
    assert res.status_code == 422
    assert len(res.content) < 2000 and "'value'" in res.json()["error"] and "500,002 characters" in res.json()["error"]


@pytest.mark.parametrize(
    "body, content_type, status, words",
    [
        (b'{"value": "\xff"}', "application/json", 400, "UTF-8"),
        (b'{"value": ', "application/json", 422, "not valid JSON"),
        (b"--x\r\n", "multipart/form-data; boundary=x", 422, "request body"),
    ],
)
def test_body_parse_errors_answer_in_the_apps_format(
    served: Served, body: bytes, content_type: str, status: int, words: str
) -> None:
    _, app, names = served
    client, _ = login(app, names["annotator"])
    res = client.post(_submit_path(client), content=body, headers={"content-type": content_type})
    assert res.status_code == status
    assert res.json()["status"] == status and words in res.json()["error"], res.text


def test_an_unexpected_error_is_a_500_in_the_apps_format_without_a_traceback(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    from truthset.services import review

    _, app, names = served
    client, _ = login(app, names["reviewer"])
    monkeypatch.setattr(review, "review_candidates", lambda *a, **k: 1 / 0)
    res = client.get("/api/review/queue")
    assert res.status_code == 500
    assert res.json() == {"error": "internal error; the server log has the details", "status": 500}
    assert "Traceback" not in res.text and "ZeroDivision" not in res.text


REQUIRED = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "same-origin"}


@pytest.mark.parametrize(
    "method, path, who",
    [
        ("get", "/login", None),
        ("get", "/static/style.css", None),
        ("get", "/docs", None),
        ("get", "/openapi.json", None),
        ("get", "/api/me", None),
        ("get", "/no-such-page", None),
        ("get", "/", "annotator"),
        ("get", "/annotate", "annotator"),
        ("get", "/guide", "annotator"),
        ("get", "/review", "reviewer"),
        ("post", "/api/next", "annotator"),
        ("get", "/api/stats", "reviewer"),
    ],
)
def test_every_response_carries_the_security_headers(served: Served, method: str, path: str, who: str | None) -> None:
    _, app, names = served
    client = login(app, names[who])[0] if who else TestClient(app)
    res = getattr(client, method)(path, headers={"accept": "text/html"} if path == "/no-such-page" else {})
    for header, value in REQUIRED.items():
        assert res.headers.get(header) == value, (path, header, res.headers)
    csp = dict(d.strip().split(" ", 1) for d in res.headers["content-security-policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
    assert csp["default-src"] == "'self'" and csp["object-src"] == "'none'"


class _Scripts(HTMLParser):
    """Inline scripts and event-handler attributes of a page: what the CSP would block."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        self.inline += [f"{tag} {k}" for k in names if k.startswith("on")]
        if tag == "script" and not names.get("src"):
            self._in_script = True
        if any(v and v.strip().lower().startswith("javascript:") for v in names.values()):
            self.inline.append(f"{tag} javascript: URL")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(f"inline script {data[:40]!r}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


@pytest.mark.parametrize(
    "path, who",
    [
        ("/login", None),
        ("/docs", None),
        ("/", "annotator"),
        ("/annotate", "annotator"),
        ("/review", "reviewer"),
        ("/guide", "annotator"),
        ("/no-such-page", "annotator"),
    ],
)
def test_pages_run_no_inline_script(served: Served, path: str, who: str | None) -> None:
    """Every page keeps to the CSP: scripts only from files, no on* handlers, no javascript: URLs."""
    _, app, names = served
    client = login(app, names[who])[0] if who else TestClient(app)
    parser = _Scripts()
    parser.feed(client.get(path, headers={"accept": "text/html"}).text)
    assert parser.inline == []


def test_templates_hold_no_inline_script() -> None:
    for template in TEMPLATES.glob("*.html"):
        parser = _Scripts()
        parser.feed(template.read_text(encoding="utf-8"))
        assert parser.inline == [], template.name
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", template.read_text(encoding="utf-8")) == [], template.name


@pytest.mark.parametrize("https", [0, 1])
def test_the_session_cookie_is_secure_when_served_over_https(served: Served, https: int) -> None:
    p, _, _ = served
    p.settings = p.settings.model_copy(update={"https": https})
    res = TestClient(create_app(p), base_url="https://testserver").get("/login")
    cookie = res.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert ("; secure" in cookie) is bool(https)
    assert ("strict-transport-security" in res.headers) is bool(https)


def test_stats_show_batch_file_names_not_server_paths(served: Served) -> None:
    p, app, names = served
    reviewer, _ = login(app, names["reviewer"])
    batches = reviewer.get("/api/stats").json()["by_batch"]
    assert [b["source"] for b in batches] == ["items.jsonl"]
    assert str(p.root.parent) not in json.dumps(reviewer.get("/api/stats").json())


def test_an_accept_verdict_needs_the_annotation_it_accepts(served: Served) -> None:
    _, app, names = served
    annotator, _ = login(app, names["annotator"])
    task = annotator.post("/api/next").json()
    annotation = annotator.post(f"/api/assignments/{task['assignment_id']}/submit", json={"value": "pos"}).json()
    reviewer, _ = login(app, names["reviewer"])
    res = reviewer.post(f"/api/review/{task['item_id']}", json={"verdict": "accept"})
    assert res.status_code == 422 and "'annotation_id'" in res.json()["error"]
    assert reviewer.get(f"/api/items/{task['item_id']}").json()["reviews"] == []
    ok = reviewer.post(
        f"/api/review/{task['item_id']}", json={"verdict": "accept", "annotation_id": annotation["annotation_id"]}
    )
    assert ok.status_code == 200
