"""Issue 10, finding 1: the image route served the server's own files. Each reproduction of the
issue, on SQLite and PostgreSQL.

Before the fix (checked by running these tests against /work/main): the CSV naming
``.truthset/secret_key`` answered 200 with the session key (and the database, and
truthset.yaml) for a text project; an ``image`` field in a text project's JSONL did the same;
an admin push of ``{"image": "<other project>/.truthset/truthset.db"}`` served the other
project's database; an ``.html`` file came back as ``text/html``; and 404 messages named the
import folder's absolute path. Now only images an import checked and recorded are served.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.server.conftest import PASSWORD, Reply, login
from tests.support import NewProject, batch_of, png
from truthset.core.config import STATE_DIR
from truthset.server.app import create_app
from truthset.services import users
from truthset.services.imports import import_file, import_findings
from truthset.services.projects import Project

STORE_FILES = [".truthset/secret_key", ".truthset/truthset.db", "truthset.yaml"]
HTML = b"<html><body><script>window.__pwned = 1</script></body></html>"


def client(project: Project, role: str) -> TestClient:
    """A logged-in client of ``project`` with ``role`` (a fresh app and user)."""
    name = f"{role}-{project.config.name}"
    if name not in {u["name"] for u in users.list_users(project)}:
        users.add_user(project, name, role=role, password=PASSWORD)
    c, _ = login(create_app(project), name)
    return c


def secret_bytes(project: Project) -> list[bytes]:
    """What must never come back: the project's key, its database (if SQLite) and its config."""
    state = project.root / STATE_DIR
    found = [f.read_bytes()[:64] for f in (state / "secret_key", state / "truthset.db") if f.is_file()]
    return [*found, project.config_path.read_bytes()[:64]]


def assert_nothing_leaks(project: Project, res: Reply) -> None:
    assert res.status_code == 404, res.text
    assert all(s not in res.content for s in secret_bytes(project))
    assert str(project.root) not in res.text and tempfile.gettempdir() not in res.text


def test_a_csv_naming_store_files_serves_nothing_in_a_text_project(new_project: NewProject) -> None:
    """The issue's first reproduction, as written: a text project, an annotator handed the item."""
    p = new_project(labels=["a", "b"])
    client(p, "admin")  # makes the session key, as a running server does
    (p.root / "incoming.csv").write_text("text\n" + "\n".join(STORE_FILES) + "\n", encoding="utf-8")
    assert import_file(p, p.root / "incoming.csv").items_added == 3
    annotator = client(p, "annotator")
    reviewer = client(p, "reviewer")
    for _ in STORE_FILES:
        task = annotator.post("/api/next").json()
        res = annotator.get(f"/api/items/{task['item_id']}/image")
        assert_nothing_leaks(p, res)
        assert "no images" in res.json()["error"]
        assert_nothing_leaks(p, reviewer.get(f"/api/items/{task['item_id']}/image"))
        annotator.post(f"/api/assignments/{task['assignment_id']}/submit", json={"value": "a"})


def test_a_csv_naming_store_files_is_rejected_in_an_image_project(new_project: NewProject) -> None:
    p = new_project(task="image-classification", labels=["a", "b"])
    client(p, "admin")
    (p.root / "ok.png").write_bytes(png(3, 3, (9, 9, 9)))
    (p.root / "incoming.csv").write_text("text\nok.png\n" + "\n".join(STORE_FILES) + "\n", encoding="utf-8")
    report = import_file(p, p.root / "incoming.csv")
    assert (report.items_added, report.rejected) == (1, 3)
    rejected = import_findings(p, batch_of(report), kind="rejected")
    assert [(f["line"], f["field"]) for f in rejected] == [(3, "text"), (4, "text"), (5, "text")]
    assert all("never images" in f["reason"] for f in rejected), rejected
    reviewer = client(p, "reviewer")
    items = reviewer.get("/api/items").json()["items"]
    assert [it["data"]["text"] for it in items] == ["ok.png"]
    for item_id in range(items[0]["item_id"], items[0]["item_id"] + 5):
        res = reviewer.get(f"/api/items/{item_id}/image")
        if item_id == items[0]["item_id"]:
            assert res.status_code == 200 and res.content == (p.root / "ok.png").read_bytes()
        else:
            assert_nothing_leaks(p, res)


def test_an_image_field_in_a_text_projects_jsonl_serves_nothing(new_project: NewProject, tmp_path: Path) -> None:
    p = new_project(labels=["a", "b"])
    client(p, "admin")
    f = p.root / "items.jsonl"
    f.write_text(
        "".join(json.dumps({"text": f"t{i}", "image": path}) + "\n" for i, path in enumerate(STORE_FILES)),
        encoding="utf-8",
    )
    import_file(p, f)
    reviewer = client(p, "reviewer")
    for it in reviewer.get("/api/items").json()["items"]:
        assert_nothing_leaks(p, reviewer.get(f"/api/items/{it['item_id']}/image"))


@pytest.mark.parametrize("task", ["text-classification", "image-classification"])
def test_an_admin_push_cannot_read_another_projects_database(new_project: NewProject, task: str) -> None:
    """Pushed items went through a temp file whose folder (the system temp folder) was the base."""
    other = new_project(folder="other")
    for f in ("truthset.db", "secret_key"):
        (other.root / STATE_DIR / f).write_bytes(b"SQLite format 3\x00 OTHER PROJECT SECRET")
    p = new_project(task=task, labels=["a", "b"])
    admin = client(p, "admin")
    relative = os.path.relpath(other.root / STATE_DIR / "truthset.db", tempfile.gettempdir())
    res = admin.post(
        "/api/items",
        json={
            "items": [
                {"text": "hello", "image": relative},
                {"text": "x", "image": str(other.root / STATE_DIR / "secret_key")},
            ]
        },
    )
    if task == "image-classification":
        assert res.status_code == 422 and "items[0].image" in res.json()["error"], res.text
        assert "cannot name a file on the server" in res.json()["error"]
        return
    assert res.status_code == 200, res.text  # a text project: 'image' is just data, never a file
    for it in admin.get("/api/items").json()["items"]:
        res = admin.get(f"/api/items/{it['item_id']}/image")
        assert res.status_code == 404 and b"OTHER PROJECT SECRET" not in res.content


@pytest.mark.parametrize("how", ["csv", "folder", "push"])
def test_html_and_svg_are_never_images(new_project: NewProject, tmp_path: Path, how: str) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>window.__pwned = 2</script></svg>'
    p = new_project(task="image-classification", labels=["a", "b"])
    admin = client(p, "admin")
    if how == "push":
        for n, data in enumerate((HTML, svg)):
            res = admin.post("/api/items", json={"items": [{"image_base64": base64.b64encode(data).decode()}]})
            assert res.status_code == 422 and "items[0].image_base64" in res.json()["error"], (n, res.text)
            assert "not an image" in res.json()["error"]
        assert admin.get("/api/items").json()["items"] == []
        return
    folder = tmp_path / "pics"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "evil.html").write_bytes(HTML)
    (folder / "a" / "evil.png").write_bytes(HTML)  # HTML under an image name
    (folder / "a" / "evil.svg").write_bytes(svg)
    (folder / "a" / "evil.gif").write_bytes(svg)
    (folder / "a" / "fine.png").write_bytes(png(2, 2, (5, 5, 5)))
    if how == "csv":
        (folder / "list.csv").write_text("image\na/evil.html\na/evil.png\na/evil.svg\na/evil.gif\na/fine.png\n")
        report = import_file(p, folder / "list.csv")
        assert (report.items_added, report.rejected) == (1, 4)
    else:
        report = import_file(p, folder)
        assert (report.items_added, report.rejected) == (1, 2)  # .html and .svg are no image names
    assert all("not an image" in f["reason"] or "not a recognised image" in f["reason"] for f in report.findings)
    items = admin.get("/api/items").json()["items"]
    res = admin.get(f"/api/items/{items[0]['item_id']}/image")
    assert res.status_code == 200 and res.headers["content-type"] == "image/png"


def test_an_image_answer_carries_its_type_and_safety_headers(new_project: NewProject, tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    folder.mkdir()
    buf = io.BytesIO()
    Image.new("RGB", (5, 4), (1, 2, 3)).save(buf, "GIF", comment=b"<script>alert(1)</script>")
    (folder / "poly.png").write_bytes(buf.getvalue())  # a GIF under a .png name: the type is the content's
    p = new_project(task="image-classification", labels=["a"])
    import_file(p, folder)
    reviewer = client(p, "reviewer")
    item = reviewer.get("/api/items").json()["items"][0]
    res = reviewer.get(f"/api/items/{item['item_id']}/image")
    assert res.status_code == 200 and res.content == buf.getvalue()
    assert res.headers["content-type"] == "image/gif"
    assert res.headers["x-content-type-options"] == "nosniff"
    assert res.headers["content-disposition"].startswith("inline;")
    assert "sandbox" in res.headers["content-security-policy"]


def test_a_changed_moved_or_swapped_file_is_not_served(new_project: NewProject, tmp_path: Path) -> None:
    """The recorded bytes or nothing; and a 404 names no server path (before: the import folder)."""
    folder = tmp_path / "pics"
    folder.mkdir()
    for name in ("changed", "gone", "symlink", "hardlink"):
        (folder / f"{name}.png").write_bytes(png(2, 2, (len(name), 0, 0)))
    p = new_project(task="image-classification", labels=["a"])
    client(p, "admin")
    import_file(p, folder)
    reviewer = client(p, "reviewer")
    ids = {it["data"]["image"]: it["item_id"] for it in reviewer.get("/api/items").json()["items"]}
    (folder / "changed.png").write_bytes(png(2, 2, (99, 0, 0)))
    (folder / "gone.png").unlink()
    (folder / "symlink.png").unlink()
    (folder / "symlink.png").symlink_to(p.root / STATE_DIR / "secret_key")
    (folder / "hardlink.png").unlink()
    os.link(p.config_path, folder / "hardlink.png")
    for name, item_id in ids.items():
        res = reviewer.get(f"/api/items/{item_id}/image")
        assert_nothing_leaks(p, res)
        assert str(folder) not in res.text and "rescan" in res.json()["error"], name


def test_pushed_images_are_bytes_or_allowed_urls(new_project: NewProject) -> None:
    p = new_project(task="image-classification", labels=["a", "b"])
    p.save_config(
        p.config.model_copy(
            update={"media": p.config.media.model_copy(update={"allowed_url_hosts": ["images.example.org"]})}
        )
    )
    admin = client(p, "admin")
    # pages may show what the image route redirects to (and nothing else from outside)
    policy = admin.get("/annotate").headers["content-security-policy"]
    assert "img-src 'self' data: https://images.example.org http://images.example.org;" in policy
    picture = png(6, 5, (10, 200, 10))
    res = admin.post(
        "/api/items",
        json={
            "items": [
                {"image_base64": base64.b64encode(picture).decode(), "label": "a", "source": "camera 1"},
                {"image_url": "https://images.example.org/x/1.jpg"},
            ]
        },
    )
    assert res.status_code == 200, res.text
    assert res.json()["items_added"] == 2 and res.json()["source"] == "api"
    items = admin.get("/api/items").json()["items"]
    got = admin.get(f"/api/items/{items[0]['item_id']}/image")
    assert got.status_code == 200 and got.content == picture and got.headers["content-type"] == "image/png"
    stored = list((p.root / STATE_DIR / "media").rglob("*.png"))
    assert len(stored) == 1 and stored[0].read_bytes() == picture
    moved = admin.get(f"/api/items/{items[1]['item_id']}/image", follow_redirects=False)
    assert moved.status_code == 307 and moved.headers["location"] == "https://images.example.org/x/1.jpg"
    # the same push again adds nothing; a batch's source is "api", no temporary file
    assert (
        admin.post(
            "/api/items",
            json={"items": [{"image_base64": base64.b64encode(picture).decode(), "label": "a", "source": "camera 1"}]},
        ).json()["items_added"]
        == 0
    )
    assert all(b["source"] == "api" for b in admin.get("/api/stats").json()["by_batch"])
    for bad, field, why in [
        ({"image_url": "https://evil.example.com/a.png"}, "image_url", "not allowed"),
        ({"image_url": "file:///etc/passwd"}, "image_url", "only http and https"),
        ({"image_base64": "%%%"}, "image_base64", "not valid base64"),
        ({"image_base64": base64.b64encode(picture[:40]).decode()}, "image_base64", "truncated"),
        ({}, "items[0]", "exactly one of"),
        ({"text": "a.png", "image_base64": "x"}, "items[0].text", "cannot name a file"),
    ]:
        res = admin.post("/api/items", json={"items": [bad]})
        assert res.status_code == 422 and field in res.json()["error"] and why in res.json()["error"], (bad, res.text)


def test_a_text_project_takes_no_pushed_image(new_project: NewProject) -> None:
    p = new_project(labels=["a"])
    admin = client(p, "admin")
    res = admin.post(
        "/api/items", json={"items": [{"text": "t", "image_base64": base64.b64encode(png(1, 1, (0, 0, 0))).decode()}]}
    )
    assert res.status_code == 422 and "has no images" in res.json()["error"]
