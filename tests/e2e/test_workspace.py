"""The workspace's project list in a real browser (issue 15): open a project, log in, use its
pages through their usual links, switch to another project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, _free_port, _stop, _wait_until_up, screenshot
from truthset.services import users
from truthset.services.imports import import_file
from truthset.services.projects import init_project

SERVE = """
import sys
import uvicorn
from truthset.server.workspace import Workspace
from truthset.services.workspace import open_workspace
uvicorn.run(Workspace(open_workspace(sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def test_project_list_opens_each_project(tmp_path: Path, page: Page, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRUTHSET_DATABASE_URL", raising=False)
    ws = tmp_path / "ws"
    for name, task, labels in (
        ("support-tickets", "text-classification", ["bug", "question"]),
        ("product-reviews", "text-classification", ["pos", "neg"]),
    ):
        p = init_project(ws / name, task=task, labels=labels, name=name)
        f = tmp_path / f"{name}.jsonl"
        f.write_text("".join(json.dumps({"text": f"{name} text {i}"}) + "\n" for i in range(4)))
        import_file(p, f)
        users.add_user(p, "lead", role="admin", password=PASSWORD)
        p.close()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "TRUTHSET_DATABASE_URL"}
    log = tmp_path / "server.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(ws), str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        assert _wait_until_up(proc, url, log)  # it asks for /login: without a project, a redirect to the list
        page.goto(url + "/")
        page.wait_for_url(url + "/projects")
        rows = page.locator("#projects tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text("product-reviews")
        screenshot(page, "projects.png")
        page.click("text=support-tickets")
        page.wait_for_url(url + "/login")
        page.fill("input[name=name]", "lead")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(url + "/")
        expect(page.locator("header .proj")).to_have_text("support-tickets")
        page.click("nav a[href='/items']")
        expect(page.locator("#item-list")).to_contain_text("support-tickets text 0")
        page.goto(url + "/projects")
        expect(page.locator("#projects tbody tr", has_text="support-tickets")).to_contain_text("current")
        page.click("text=product-reviews")
        page.wait_for_url(url + "/login")  # its own login
        expect(page.locator("header .proj")).to_have_text("product-reviews")
    finally:
        _stop(proc)
