"""Image items: served to reviewers and to the annotator who holds them, never from outside
their import folder (the attacks of issue 10 are in test_media.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.server.conftest import PASSWORD, login
from tests.support import NewProject, png
from truthset.server.app import create_app
from truthset.services import users
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project

#: the ``image_app`` fixture: (project, its app, user names by role, the image folder)
ImageApp = tuple[Project, FastAPI, dict[str, str], Path]


@pytest.fixture
def image_app(new_project: NewProject, tmp_path: Path) -> ImageApp:
    folder = tmp_path / "pics"
    (folder / "cat").mkdir(parents=True)
    (folder / "dog").mkdir()
    (folder / "cat" / "a.png").write_bytes(png(4, 3, (200, 30, 30)))
    (folder / "dog" / "b.png").write_bytes(png(4, 3, (30, 30, 200)))
    (tmp_path / "secret.png").write_bytes(png(1, 1, (0, 0, 0)))
    p = new_project(task="image-classification", labels=["cat", "dog"])
    import_file(p, folder, ImportOptions(labels_from_folders=True))
    names = {}
    for role in ("annotator", "annotator2", "reviewer"):
        names[role] = f"{role}-{p.config.name}"
        users.add_user(p, names[role], role="reviewer" if role == "reviewer" else "annotator", password=PASSWORD)
    return p, create_app(p), names, folder


def test_image_is_served_to_its_annotator_only(image_app: ImageApp) -> None:
    p, app, names, folder = image_app
    a, _ = login(app, names["annotator"])
    b, _ = login(app, names["annotator2"])
    p.config = p.config.model_copy(update={"queue": p.config.queue.model_copy(update={"order": "sequential"})})
    t = a.post("/api/next").json()
    res = a.get(f"/api/items/{t['item_id']}/image")
    assert res.status_code == 200 and res.headers["content-type"] == "image/png"
    assert res.content == (folder / t["data"]["image"]).read_bytes()
    other = t["item_id"] + 1
    assert a.get(f"/api/items/{other}/image").status_code == 403  # not handed to a yet
    assert b.get(f"/api/items/{t['item_id']}/image").status_code == 403
    reviewer, _ = login(app, names["reviewer"])
    assert reviewer.get(f"/api/items/{other}/image").status_code == 200
    assert TestClient(app).get(f"/api/items/{other}/image").status_code == 401


def test_paths_outside_the_import_folder_are_refused(new_project: NewProject, tmp_path: Path) -> None:
    """Paths leading out of the import's folder are rejected rows (before: imported, then 404)."""
    (tmp_path / "secret.png").write_bytes(png(1, 1, (0, 0, 0)))
    listing = tmp_path / "data" / "list.csv"
    listing.parent.mkdir()
    (listing.parent / "ok.png").write_bytes(png(2, 2, (1, 2, 3)))
    listing.write_text("image,label\nok.png,cat\n../secret.png,dog\n/etc/passwd,cat\n", encoding="utf-8")
    p = new_project(task="image-classification", labels=["cat", "dog"])
    report = import_file(p, listing)
    assert (report.items_added, report.rejected) == (1, 2)
    assert [(f["line"], f["field"]) for f in report.findings] == [(3, "image"), (4, "image")]
    assert all("outside the import's folder" in f["reason"] for f in report.findings)
    users.add_user(p, f"rev-{p.config.name}", role="reviewer", password=PASSWORD)
    app = create_app(p)
    client, _ = login(app, f"rev-{p.config.name}")
    items = client.get("/api/items").json()["items"]
    assert [it["data"]["text"] for it in items] == ["ok.png"]
    res = client.get(f"/api/items/{items[0]['item_id']}/image")
    assert res.status_code == 200 and res.content == (listing.parent / "ok.png").read_bytes()
