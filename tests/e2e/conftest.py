"""Browser tests: a real uvicorn server over a fresh project, driven by Debian's Chromium.

Each test gets its own project (SQLite, in ``tmp_path``) served by uvicorn in a subprocess on a
free loopback port, so tests share no state and run in any order or xdist worker. The browser
is launched once per session from the system package (``shutil.which("chromium")``); Playwright
is never asked to download one.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypedDict

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from truthset.services import users
from truthset.services.imports import import_file
from truthset.services.projects import Project, init_project
from truthset.services.users import Account

PASSWORD = "correct horse battery"
EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000

TEXTS = [
    "The battery lasts two full days.",
    "Screen cracked after one week.",
    "Fast delivery and friendly support.",
    "Stopped charging within a month.",
    "Exactly as described, would buy again.",
    "The strap broke on the first day.",
    "Great sound for the price.",
    "Manual was missing from the box.",
]
NER_TEXTS = [
    "Alice Smith works at Acme Corp in Paris.",
    "Bob Jones left Globex last year.",
    "Carol Danvers joined Initech in March.",
]

# The server, as `truthset serve` runs it: open the project, build the app, hand it to uvicorn.
SERVE = """
import sys
import uvicorn
from truthset.server.app import create_app
from truthset.services.projects import open_project
uvicorn.run(create_app(open_project(sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="warning")
"""


@dataclass
class Site:
    """A served project: its base URL, the open project (for checks) and one account per role."""

    url: str
    project: Project
    accounts: dict[str, Account] = field(default_factory=dict)

    def name(self, role: str) -> str:
        return self.accounts[role].name


class Serve(Protocol):
    """The ``serve`` fixture: makes a project (with the four users) and serves it."""

    def __call__(
        self,
        task: str,
        labels: list[str],
        texts: list[str],
        *,
        overlap: int = ...,
        folder: Path | None = ...,
        name: str | None = ...,
    ) -> Site: ...


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 30.0) -> bool:
    """True once the server answers; False if it exited (e.g. the port was taken meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url + "/login", timeout=1) as res:
                if res.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    proc.kill()
    pytest.fail(f"the server did not answer within {timeout:.0f}s; log:\n{log.read_text(errors='replace')}")


def _serve(root: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if k != "TRUTHSET_DATABASE_URL"}
    for _ in range(3):  # another process may grab the free port before uvicorn binds it
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", SERVE, str(root), str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        if _wait_until_up(proc, url, log):
            return proc, url
    pytest.fail(f"the server would not start; log:\n{log.read_text(errors='replace')}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Serve]:
    """Factory: ``serve(task, labels, texts, overlap=1, name=None)`` makes a project and serves it.

    Items are handed out in file order (``queue.order: sequential``), so a test knows which
    item comes first. Users: ``admin``, ``reviewer``, ``ann1`` and ``ann2`` (annotators).
    """
    monkeypatch.delenv("TRUTHSET_DATABASE_URL", raising=False)
    started: list[tuple[subprocess.Popen[bytes], Project]] = []

    def make(
        task: str,
        labels: list[str],
        texts: list[str],
        *,
        overlap: int = 1,
        folder: Path | None = None,
        name: str | None = None,
    ) -> Site:
        root = tmp_path / f"site{len(started)}"
        # each project has its own SQLite store, so a fixed name is unique and the screenshots stable
        name = name or ("news-entities" if task == "ner" else "product-reviews")
        p = init_project(root, task=task, labels=labels, name=name)
        queue = p.config.queue.model_copy(update={"order": "sequential", "overlap": overlap})
        p.save_config(p.config.model_copy(update={"queue": queue}))
        items = tmp_path / f"items{len(started)}.jsonl"
        items.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
        report = import_file(p, folder if folder is not None else items)
        assert report.to_dict()["batch"] is not None
        accounts = {}
        for name, role in (("admin", "admin"), ("reviewer", "reviewer"), ("ann1", "annotator"), ("ann2", "annotator")):
            accounts[name] = users.add_user(p, name, role=role, password=PASSWORD)
        proc, url = _serve(root, tmp_path / f"server{len(started)}.log")
        started.append((proc, p))
        return Site(url=url, project=p, accounts=accounts)

    yield make
    for proc, p in started:
        _stop(proc)
        p.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed (apt-get install chromium); the browser tests need it")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Factory: a page in a fresh browser context (its own cookies); fails on uncaught JS errors."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def make() -> Page:
        ctx = browser.new_context(viewport={"width": 1200, "height": 760})
        ctx.set_default_timeout(TIMEOUT_MS)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    assert not errors, f"uncaught JavaScript errors in the page: {errors}"


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    return new_page()


def login(page: Page, site: Site, name: str) -> None:
    """Log in through the form and land on the home page."""
    page.goto(site.url + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(site.url + "/")


def open_annotate(page: Page, site: Site) -> str:
    """Go to /annotate and wait until the first item and the label buttons are shown."""
    from playwright.sync_api import expect

    page.goto(site.url + "/annotate")
    expect(page.locator("#progress")).to_have_text("0 done")
    expect(page.locator("#labels button")).to_have_count(len(site.project.config.schema.labels))
    text = page.locator("#item").text_content()
    assert text is not None  # None only for a document or doctype node, never for an element
    return text


def screenshot(page: Page, name: str) -> None:
    """Keep a picture of the page in docs/screenshots/ (rewritten only when it changed)."""
    png = page.screenshot(full_page=True)
    target = SCREENSHOTS / name
    if not target.exists() or target.read_bytes() != png:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(png)
        tmp.replace(target)


# Select the first occurrence of `needle` inside #item with a DOM Range, across text nodes and
# <mark>s, as a mouse drag would.
SELECT_JS = """
(needle) => {
  const box = document.getElementById('item');
  const at = box.textContent.indexOf(needle);
  if (at < 0) throw new Error('not in the item: ' + needle);
  const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let pos = 0, node, startSet = false;
  while ((node = walker.nextNode())) {
    const len = node.data.length;
    if (!startSet && at < pos + len) { range.setStart(node, at - pos); startSet = true; }
    if (startSet && at + needle.length <= pos + len) { range.setEnd(node, at + needle.length - pos); break; }
    pos += len;
  }
  const sel = window.getSelection();
  sel.removeAllRanges(); sel.addRange(range);
  return sel.toString();
}
"""

# The centre of the first occurrence of `word` inside #item, in page coordinates.
WORD_BOX_JS = """
(word) => {
  const box = document.getElementById('item');
  const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const i = node.data.indexOf(word);
    if (i >= 0) {
      const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + word.length);
      const b = r.getBoundingClientRect();
      return {x: b.x + b.width / 2, y: b.y + b.height / 2};
    }
  }
  throw new Error('not in the item: ' + word);
}
"""


def select_text(page: Page, needle: str) -> None:
    assert page.evaluate(SELECT_JS, needle) == needle


def double_click_word(page: Page, word: str) -> None:
    """Select a word the way a person does: a real double click on it."""
    at = page.evaluate(WORD_BOX_JS, word)
    page.mouse.dblclick(at["x"], at["y"])
    assert page.evaluate("() => window.getSelection().toString().trim()") == word


class StoredAnnotation(TypedDict):
    """An annotation as :func:`stored_annotations` reads it from the store."""

    item_id: int
    text: str | None  # the item's text (None for an item without one, e.g. an image)
    user_id: int
    value: Any  # the decoded answer: a label, a list of labels or a list of spans
    label: str | None
    source: str
    lead_time: float | None


def stored_annotations(site: Site, user: str | None = None) -> list[StoredAnnotation]:
    """Annotations in the store (read directly, not through the app), with their item's text."""
    from sqlalchemy import select

    from truthset.store.models import Annotation, Item

    q = (
        select(
            Annotation.item_id,
            Annotation.user_id,
            Annotation.value,
            Annotation.label,
            Annotation.source,
            Annotation.lead_time,
            Item.payload,
        )
        .join(Item, Item.id == Annotation.item_id)
        .where(Annotation.project_id == site.project.id)
        .order_by(Annotation.id)
    )
    if user is not None:
        q = q.where(Annotation.user_id == site.accounts[user].id)
    with site.project.store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return [
        {
            "item_id": r.item_id,
            "text": json.loads(r.payload).get("text"),
            "user_id": r.user_id,
            "value": json.loads(r.value),
            "label": r.label,
            "source": r.source,
            "lead_time": r.lead_time,
        }
        for r in rows
    ]


def item_id_of(site: Site, text: str) -> int:
    from sqlalchemy import select

    from truthset.store.models import Item

    with site.project.store.engine.connect() as conn:
        for item_id, payload in conn.execute(select(Item.id, Item.payload).where(Item.project_id == site.project.id)):
            if json.loads(payload)["text"] == text:
                return int(item_id)
    raise AssertionError(f"no item with text {text!r}")
