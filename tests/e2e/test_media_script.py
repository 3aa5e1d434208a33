"""Issue 10, finding 1, in Chromium: no file that an import or a push names runs script on the
app's origin.

Each hostile file tries what the attack did as a logged-in reviewer: read the CSRF token, set
``window.__pwned`` and call home (``/pwned``). On /work/main the CSV-named ``evil.html`` and the
pushed one were served inline as ``text/html`` and their script ran (the test fails on the
first ``__pwned``). Now they are never recorded, and the one hostile file that is a real image
(a GIF with script in its comment, under a .png name) is served as ``image/gif`` with nosniff
and a sandbox CSP: Chromium shows a picture and runs nothing.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Dialog, Page

from tests.e2e.conftest import Serve, Site, login
from tests.support import png
from truthset.services import users
from truthset.services.imports import import_file

SCRIPT = (
    b"<script>window.__pwned = (document.querySelector('meta[name=csrf-token]') || {}).content || 'ran';"
    b"fetch('/pwned?' + window.__pwned)</script>"
)
HTML = b"<!doctype html><html><body>hello" + SCRIPT + b"</body></html>"
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>window.__pwned = "svg";'
    b"fetch('/pwned?svg')</script><rect width='10' height='10'/></svg>"
)


def _polyglot() -> bytes:
    """A real GIF whose comment holds an HTML page with script (valid for Pillow and browsers)."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (250, 0, 0)).save(buf, "GIF", comment=HTML)
    return buf.getvalue()


def _push(site: Site, token: str, items: list[dict[str, object]]) -> int:
    req = urllib.request.Request(
        site.url + "/api/items",
        data=json.dumps({"items": items}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return int(res.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_no_imported_or_pushed_file_runs_script(
    serve: Serve, page: Page, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "fine.png").write_bytes(png(16, 12, (20, 200, 20)))
    (folder / "poly.png").write_bytes(_polyglot())
    site = serve("image-classification", ["red", "green"], [], folder=folder)
    p = site.project
    # an import naming hostile files (an HTML page, an SVG with script) beside the images
    (folder / "evil.html").write_bytes(HTML)
    (folder / "evil.svg").write_bytes(SVG)
    (folder / "list.csv").write_text("image,label\nevil.html,red\nevil.svg,red\nfine.png,green\n", encoding="utf-8")
    report = import_file(p, folder / "list.csv")
    # an admin push naming a server file, and one sending the HTML as an image's bytes
    planted = Path(tempfile.gettempdir()) / f"evil-{os.getpid()}.html"
    planted.write_bytes(HTML)
    request.addfinalizer(lambda: planted.unlink(missing_ok=True))
    token = users.new_token(p, "admin")
    pushed = [_push(site, token, [{"text": "pushed", "image": planted.name}])]
    pushed += [_push(site, token, [{"image_base64": base64.b64encode(data).decode()}]) for data in (HTML, SVG)]

    called_home: list[str] = []
    dialogs: list[str] = []
    page.on("request", lambda r: called_home.append(r.url) if "/pwned" in r.url else None)

    def on_dialog(d: Dialog) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    login(page, site, "reviewer")
    listing = page.request.get(site.url + "/api/items?limit=100").json()["items"]
    assert len(listing) >= 2
    types = {}
    for item in listing:
        response = page.goto(f"{site.url}/api/items/{item['item_id']}/image")
        assert response is not None
        types[item["item_id"]] = response.headers.get("content-type")
        page.wait_for_timeout(200)
        assert page.evaluate("() => window.__pwned === undefined"), (item, types)
    assert set(types.values()) <= {"image/png", "image/gif"}, types
    assert "image/gif" in types.values()  # the polyglot was served, as the image it is
    # the annotate page shows the polyglot as a picture, and nothing runs there either
    page.goto(site.url + "/annotate")
    # (polled with evaluate: wait_for_function compiles its string with eval, which the app's CSP forbids)
    page.locator("#item img").wait_for()
    for _ in range(100):
        if page.evaluate("() => document.querySelector('#item img').complete"):
            break
        page.wait_for_timeout(50)
    assert page.evaluate("() => document.querySelector('#item img').complete")
    assert page.evaluate("() => window.__pwned === undefined")
    assert called_home == [] and dialogs == []
    # the browser saw nothing hostile because nothing hostile was recorded
    assert report.rejected == 2 and pushed == [422, 422, 422], (report.findings, pushed)
