"""Images on import (issue 11, item 11; issue 10, finding 1), on SQLite and PostgreSQL.

Before (checked against /work/main): a PNG cut to its first 40 bytes was imported as an
item; the same bytes under cat/ and dog/ became two items with no finding, and
``truthset findings --kind conflict`` was not even a choice; files of another folder, hidden
files and symlinks out of the folder were imported and only refused (or not) when served.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Row, delete, select, update
from sqlalchemy.orm import InstrumentedAttribute

from tests.support import NewProject, batch_of, png
from truthset.cli import main
from truthset.core.keys import key_of_hash
from truthset.data.records import canonical_json, content_hash
from truthset.services.imports import ImportOptions, import_file, import_findings
from truthset.services.projects import Project
from truthset.store.models import Annotation, Item

CAT = png(4, 4, (200, 100, 50))
DOG = png(4, 4, (50, 100, 200))


def cli(*args: str, code: int = 0) -> str:
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert res.exit_code == code, res.output
    return res.output


def rows(project: Project, *columns: InstrumentedAttribute[Any]) -> Sequence[Row[*tuple[Any, ...]]]:
    """The project's rows of the columns' table (the PostgreSQL test database holds many projects)."""
    table = columns[0].class_
    with project.store.engine.connect() as conn:
        return conn.execute(select(*columns).where(table.project_id == project.id).order_by(columns[0])).all()


def test_a_png_cut_to_40_bytes_is_rejected_with_file_and_reason(new_project: NewProject, tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    (folder / "cat").mkdir(parents=True)
    (folder / "cat" / "whole.png").write_bytes(CAT)
    (folder / "cat" / "cut.png").write_bytes(CAT[:40])
    p = new_project(task="image-classification", labels=["cat"])
    report = import_file(p, folder, ImportOptions(labels_from_folders=True))
    assert (report.items_added, report.rejected) == (1, 1)
    [finding] = import_findings(p, batch_of(report), kind="rejected")
    assert finding["line"] == 1 and finding["field"] == "image" and finding["raw"] == "cat/cut.png"
    assert "truncated" in finding["reason"]
    # the same file named by a CSV: rejected at its line, in its column
    (folder / "list.csv").write_text("path,label\ncat/whole.png,cat\ncat/cut.png,cat\n", encoding="utf-8")
    q = new_project(task="image-classification", labels=["cat"])
    report = import_file(q, folder / "list.csv")
    assert (report.items_added, report.rejected) == (1, 1)
    assert [(f["line"], f["field"], f["raw"]) for f in report.findings] == [(3, "path", "cat/cut.png")]


def test_the_same_bytes_in_two_folders_are_one_item_with_a_conflict(new_project: NewProject, tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    for label in ("cat", "dog"):
        (folder / label).mkdir(parents=True)
    (folder / "cat" / "a.png").write_bytes(CAT)
    (folder / "dog" / "a-copy.png").write_bytes(CAT)
    (folder / "dog" / "b.png").write_bytes(DOG)
    p = new_project(task="image-classification", labels=["cat", "dog"])
    report = import_file(p, folder, ImportOptions(labels_from_folders=True))
    # the copy is the same item (one image), a new judgement of it rather than a duplicated row,
    # and its other label is a conflict (the later label is current, the earlier kept)
    assert (
        report.items_added,
        report.annotations_added,
        report.new_judgements,
        report.duplicates,
        report.conflicts,
    ) == (2, 3, 1, 0, 1)
    values = rows(p, Annotation.item_id, Annotation.value)
    first = values[0].item_id
    assert sorted(json.loads(v) for i, v in values if i == first) == ["cat", "dog"]
    out = json.loads(cli("-p", str(p.root), "findings", "--kind", "conflict", "--json"))
    [conflict] = out["findings"]
    assert conflict["kind"] == "conflict" and conflict["line"] == 2 and conflict["field"] == "import"
    assert '"cat" before' in conflict["reason"] and '"dog"' in conflict["reason"]
    # one recorded image per item, with what Pillow found
    from truthset.store.models import Media

    media = rows(p, Media.item_id, Media.kind, Media.mime, Media.size, Media.width, Media.height)
    assert [tuple(m)[1:] for m in media] == [
        ("file", "image/png", len(CAT), 4, 4),
        ("file", "image/png", len(DOG), 4, 4),
    ]


def test_paths_must_stay_in_the_folder_and_out_of_hidden_and_project_files(
    new_project: NewProject, tmp_path: Path
) -> None:
    folder = tmp_path / "data"
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "x.png").write_bytes(CAT)
    (folder / "ok.png").write_bytes(CAT)
    (tmp_path / "outside.png").write_bytes(DOG)
    (folder / "link-out.png").symlink_to(tmp_path / "outside.png")
    (folder / "link-in.png").symlink_to(folder / "ok.png")
    (folder / "sub").mkdir()
    (folder / "list.csv").write_text(
        "image\nok.png\n.git/x.png\nlink-out.png\nlink-in.png\n../outside.png\nsub\nmissing.png\n"
        '"data:image/png;base64,AAAA"\njavascript:alert(1)\nhttps://cdn.example.org/a.png\n',
        encoding="utf-8",
    )
    p = new_project(task="image-classification", labels=["a"])
    report = import_file(p, folder / "list.csv")
    reasons = {f["line"]: f["reason"] for f in import_findings(p, batch_of(report), kind="rejected")}
    assert report.items_added == 1  # ok.png; link-in.png is the same bytes (a duplicate of line 2)
    assert "hidden" in reasons[3]
    assert "outside the import's folder" in reasons[4] and "outside the import's folder" in reasons[6]
    assert "not a regular file" in reasons[7] and "no such file" in reasons[8]
    assert "only http and https" in reasons[9] and "only http and https" in reasons[10]
    assert "not allowed" in reasons[11] and "media.allowed_url_hosts" in reasons[11]
    assert str(tmp_path) not in " ".join(reasons.values())


def test_an_image_folder_needs_an_image_project(new_project: NewProject, tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    folder.mkdir()
    (folder / "a.png").write_bytes(CAT)
    p = new_project(labels=["a"])
    with pytest.raises(ValueError, match="only into an image-classification project"):
        import_file(p, folder)


def _as_before_0010(project: Project) -> None:
    """Make the project look as earlier versions left it: no media rows, payload hashes."""
    from truthset.store.models import Media

    with project.store.engine.begin() as conn:
        conn.execute(delete(Media).where(Media.project_id == project.id))
        for item_id, payload in conn.execute(select(Item.id, Item.payload).where(Item.project_id == project.id)).all():
            h = content_hash(canonical_json(json.loads(payload)))
            # migration 0011 derived content_key from the hash of the time
            conn.execute(update(Item).where(Item.id == item_id).values(content_hash=h, content_key=key_of_hash(h)))


def test_rescan_records_the_images_of_an_earlier_project(new_project: NewProject, tmp_path: Path) -> None:
    from truthset.services.media import served_image

    folder = tmp_path / "pics"
    (folder / "cat").mkdir(parents=True)
    for i in range(4):
        (folder / "cat" / f"{i}.png").write_bytes(png(3, 3, (i, i, i)))
    p = new_project(task="image-classification", labels=["cat"])
    import_file(p, folder, ImportOptions(labels_from_folders=True))
    _as_before_0010(p)
    ids = [r.id for r in rows(p, Item.id)]
    with pytest.raises(LookupError, match="rescan"):
        served_image(p, ids[0])
    (folder / "cat" / "3.png").unlink()
    (folder / "cat" / "3.png").symlink_to(p.root / ".truthset" / "secret_key")
    out = cli("-p", str(p.root), "media", "rescan", "--json", code=1)  # one image could not be recorded
    report = json.loads(out)
    assert (report["items"], report["recorded"], report["rehashed"], report["not_recorded"]) == (4, 3, 3, 1)
    assert report["problems"][0]["item_id"] == ids[3] and "outside" in report["problems"][0]["reason"]
    assert served_image(p, ids[0]).content == (folder / "cat" / "0.png").read_bytes()
    # known by their bytes now: the grown folder adds only the new image, not copies
    (folder / "cat" / "3.png").unlink()
    (folder / "cat" / "4.png").write_bytes(png(3, 3, (9, 9, 9)))
    assert import_file(p, folder, ImportOptions(labels_from_folders=True)).items_added == 1
    again = json.loads(cli("-p", str(p.root), "media", "rescan", "--json", code=1))
    assert (again["items"], again["recorded"]) == (1, 0)  # 3.png is gone: still not recorded
