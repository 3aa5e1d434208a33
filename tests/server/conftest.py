"""An app over a real project (SQLite and PostgreSQL) with one user per role, in-process."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support import NewProject, group1
from truthset.server.app import create_app
from truthset.services import users
from truthset.services.imports import import_file
from truthset.services.projects import Project

PASSWORD = "correct horse battery"
#: the ``served`` fixture: (project, its app, user names by role)
Served = tuple[Project, FastAPI, dict[str, str]]


class Reply(Protocol):
    """What a test reads of a TestClient response: httpx's or httpx2's ``Response``,
    whichever package this Starlette's TestClient is built on."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def content(self) -> bytes: ...
    @property
    def headers(self) -> Mapping[str, str]: ...


EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


@pytest.fixture
def served(new_project: NewProject, tmp_path: Path) -> Served:
    """(project, app, names by role); items include one whose text is HTML/script."""
    p = new_project(labels=["pos", "neg"])
    f = tmp_path / "items.jsonl"
    rows = [{"text": f"review number {i}"} for i in range(8)] + [{"text": EVIL}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    import_file(p, f)
    names = {}
    for role in ("admin", "reviewer", "annotator"):
        names[role] = f"{role}-{p.config.name}"
        users.add_user(p, names[role], role=role, password=PASSWORD)
    names["annotator2"] = f"annotator2-{p.config.name}"
    users.add_user(p, names["annotator2"], role="annotator", password=PASSWORD)
    return p, create_app(p), names


def login(app: FastAPI, name: str) -> tuple[TestClient, str]:
    """A client logged in as ``name`` and its CSRF token."""
    client = TestClient(app)
    page = client.get("/login")
    csrf = group1(r'name="csrf" value="([^"]+)"', page.text)
    res = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf}, follow_redirects=False)
    assert res.status_code == 303, res.text
    page = client.get("/annotate")
    token = group1(r'name="csrf-token" content="([^"]+)"', page.text)
    client.headers["X-CSRF-Token"] = token
    return client, token
