"""Label migrations keep every annotation and record schema versions."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.conftest import LEOKA, SMS
from truthset.core.errors import SchemaError
from truthset.services.imports import import_file
from truthset.services.projects import open_project, schema_history
from truthset.services.schema import check, merge_labels, rename_label, split_label
from truthset.store.models import Annotation, Assignment
from truthset.store.repo import status_counts


def _counts(p):  # type: ignore[no-untyped-def]
    with p.engine.connect() as conn:
        return status_counts(conn, p.id)


def test_rename_keeps_history(new_project) -> None:  # type: ignore[no-untyped-def]
    p = new_project(labels=["ham", "spam"])
    import_file(p, SMS)
    before = _counts(p)["by_label"]
    res = rename_label(p, "spam", "junk")
    assert res["annotations_migrated"] == before["spam"]
    after = _counts(p)
    assert after["by_label"] == {"ham": before["ham"], "junk": before["spam"]}
    assert after["annotations"] == before["ham"] + before["spam"]
    with p.engine.connect() as conn:
        rows = conn.execute(select(Annotation.label, Annotation.supersedes_id, Annotation.schema_version)
                            .where(Annotation.project_id == p.id)).all()
    assert sum(1 for r in rows if r.label == "spam") == before["spam"]  # old rows kept
    assert all(r.supersedes_id is not None and r.schema_version == res["version"] for r in rows if r.label == "junk")
    reopened = open_project(p.root)
    assert reopened.config.schema.names == ["ham", "junk"]
    assert reopened.schema_version == res["version"]
    assert [v["note"].get("op") for v in schema_history(reopened)][-1] == "rename"
    reopened.close()
    with pytest.raises(SchemaError, match="already exists"):
        rename_label(p, "ham", "junk")
    with pytest.raises(SchemaError, match="not in the schema"):
        rename_label(p, "nope", "x")


def test_merge_and_split_ner(new_project) -> None:  # type: ignore[no-untyped-def]
    p = new_project(task="ner")
    import_file(p, LEOKA)
    before = _counts(p)["by_label"]
    res = merge_labels(p, ["Firearm", "Other_weapon"], into="Weapon")
    assert _counts(p)["by_label"]["Weapon"] == before["Firearm"] + before["Other_weapon"]
    assert "Firearm" not in p.config.schema.names and "Weapon" in p.config.schema.names
    assert res["annotations_migrated"] > 0
    res = split_label(p, "Person", ["Officer", "Suspect"])
    assert res["items_queued"] > 0
    with p.engine.connect() as conn:
        queued = conn.execute(select(Assignment).where(Assignment.project_id == p.id)).all()
    assert len(queued) == res["items_queued"] and all("split" in q.reason for q in queued)
    codes = {f.code for f in check(p)}
    assert "awaiting-reannotation" in codes
    assert _counts(p)["by_stage"]["annotate"]["pending"] == res["items_queued"]


def test_editing_yaml_makes_a_new_version(new_project) -> None:  # type: ignore[no-untyped-def]
    p = new_project(labels=["a", "b"])
    v = p.schema_version
    schema = p.config.schema.model_copy(deep=True)
    schema.labels[0].definition = "Something precise."
    p.save_config(p.config.model_copy(update={"schema_": schema}))
    q = open_project(p.root)
    assert q.schema_version == v + 1
    q.close()
    r = open_project(p.root)
    assert r.schema_version == v + 1  # unchanged file: no new version
    stored = schema_history(r)[-1]
    assert stored["note"] == {"op": "edit", "from": v}
    r.close()


def test_check_finds_unknown_labels(new_project) -> None:  # type: ignore[no-untyped-def]
    p = new_project(labels=["ham"])
    import_file(p, SMS)
    found = {(f.code, f.message.split("'")[1]) for f in check(p) if f.code == "unknown-label"}
    assert found == {("unknown-label", "spam")}
    json.dumps([f.__dict__ for f in check(p)])


def test_renamed_gold_keeps_the_annotation_encoding(new_project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Gold and annotations store the same canonical JSON, so review compares them as equal."""
    from truthset.services.review import review_candidates
    from truthset.store.models import Gold

    tasks = [{"data": {"text": "un café"}, "annotations": [{"completed_by": {"email": "a@x"}, "ground_truth": True,
              "result": [{"type": "choices", "from_name": "c", "to_name": "text", "value": {"choices": ["naïve"]}}]}]}]
    f = tmp_path / "gold.json"
    f.write_text(json.dumps(tasks), encoding="utf-8")
    p = new_project()
    import_file(p, f)
    rename_label(p, "naïve", "niña")
    with p.engine.connect() as conn:
        gold = conn.execute(select(Gold.value).where(Gold.project_id == p.id)).scalar_one()
        current = conn.execute(select(Annotation.value).where(Annotation.project_id == p.id,
                                                              Annotation.source == "migration")).scalar_one()
    assert gold == current == '"niña"'
    assert review_candidates(p) == []
