"""Label migrations keep every annotation and record schema versions."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import LEOKA, SMS
from tests.support import NewProject
from truthset.core.errors import ImportFailed, SchemaError
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project, open_project, schema_history
from truthset.services.schema import check, merge_labels, rename_label, split_label
from truthset.store.models import Annotation, Assignment
from truthset.store.repo import status_counts


def _counts(p: Project) -> dict[str, Any]:
    with p.store.engine.connect() as conn:
        return status_counts(conn, p.id)


def test_rename_keeps_history(new_project: NewProject) -> None:
    p = new_project(labels=["ham", "spam"])
    import_file(p, SMS)
    before = _counts(p)["by_label"]
    res = rename_label(p, "spam", "junk")
    assert res["annotations_migrated"] == before["spam"]
    after = _counts(p)
    assert after["by_label"] == {"ham": before["ham"], "junk": before["spam"]}
    assert after["annotations"] == before["ham"] + before["spam"]
    with p.store.engine.connect() as conn:
        rows = conn.execute(
            select(Annotation.label, Annotation.supersedes_id, Annotation.schema_version).where(
                Annotation.project_id == p.id
            )
        ).all()
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


def test_renamed_labels_stay_judgements_for_qc_and_training(new_project: NewProject) -> None:
    """A rename carries each judgement into the new version under the new name (source
    ``migration``); quality control and training must count them. Found by running the README
    tour: after ``schema rename spam junk`` every spam label vanished from QC and training
    ("4523 labelled items in 1 class")."""
    from truthset.services.qc import project_annotations
    from truthset.services.training import load_dataset

    p = new_project(labels=["ham", "spam"])
    import_file(p, SMS)
    before = _counts(p)["by_label"]
    rename_label(p, "spam", "junk")
    judged = project_annotations(p).frame["label"].value_counts().to_dict()
    assert judged == {"ham": before["ham"], "junk": before["spam"]}
    data = load_dataset(p, None, ["text"])
    assert set(data.y.tolist()) == {"ham", "junk"}


def test_merge_and_split_ner(new_project: NewProject) -> None:
    p = new_project(task="ner")
    import_file(p, LEOKA)
    before = _counts(p)["by_label"]
    res = merge_labels(p, ["Firearm", "Other_weapon"], into="Weapon")
    assert _counts(p)["by_label"]["Weapon"] == before["Firearm"] + before["Other_weapon"]
    assert "Firearm" not in p.config.schema.names and "Weapon" in p.config.schema.names
    assert res["annotations_migrated"] > 0
    res = split_label(p, "Person", ["Officer", "Suspect"])
    assert res["items_queued"] > 0
    with p.store.engine.connect() as conn:
        queued = conn.execute(select(Assignment).where(Assignment.project_id == p.id)).all()
    assert len(queued) == res["items_queued"] and all("split" in q.reason for q in queued)
    codes = {f.code for f in check(p)}
    assert "awaiting-reannotation" in codes
    assert _counts(p)["by_stage"]["annotate"]["pending"] == res["items_queued"]


def test_editing_yaml_makes_a_new_version(new_project: NewProject) -> None:
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


def test_check_finds_unknown_labels(new_project: NewProject) -> None:
    p = new_project(labels=["ham"])
    import_file(p, SMS)
    found = {(f.code, f.message.split("'")[1]) for f in check(p) if f.code == "unknown-label"}
    assert found == {("unknown-label", "spam")}
    json.dumps([f.__dict__ for f in check(p)])


def test_renamed_gold_keeps_the_annotation_encoding(new_project: NewProject, tmp_path: Path) -> None:
    """Gold and annotations store the same canonical JSON, so review compares them as equal."""
    from truthset.services.review import review_candidates
    from truthset.store.models import Gold

    tasks = [
        {
            "data": {"text": "un café"},
            "annotations": [
                {
                    "completed_by": {"email": "a@x"},
                    "ground_truth": True,
                    "result": [
                        {"type": "choices", "from_name": "c", "to_name": "text", "value": {"choices": ["naïve"]}}
                    ],
                }
            ],
        }
    ]
    f = tmp_path / "gold.json"
    f.write_text(json.dumps(tasks), encoding="utf-8")
    p = new_project()
    import_file(p, f)
    rename_label(p, "naïve", "niña")
    with p.store.engine.connect() as conn:
        gold = conn.execute(select(Gold.value).where(Gold.project_id == p.id)).scalar_one()
        current = conn.execute(
            select(Annotation.value).where(Annotation.project_id == p.id, Annotation.source == "migration")
        ).scalar_one()
    assert gold == current == '"niña"'
    assert review_candidates(p) == []


# --- issue 11, item 10: names, hotkeys and what a merge keeps ------------------------------------


def _with_schema(p: Project, labels: list[dict[str, Any]]) -> Project:
    """Give project ``p`` these labels (as an edit of truthset.yaml would) and reopen it."""
    from truthset.core.schema import Label

    schema = p.config.schema.model_copy(update={"labels": [Label(**lab) for lab in labels]})
    p.save_config(p.config.model_copy(update={"schema_": schema}))
    q = open_project(p.root)
    p.config, p.schema_version = q.config, q.schema_version
    q.close()
    return p


SPAM_LABELS: list[dict[str, Any]] = [
    {"name": "ham", "definition": "Ordinary messages.", "hotkey": "1", "tie_break": "ham when unsure"},
    {
        "name": "promo",
        "definition": "Advertising.",
        "hotkey": "2",
        "include": ["50% off today"],
        "exclude": ["a phishing link (that is scam)", "a note from a friend"],
        "tie_break": "promo when nothing is asked of the reader",
    },
    {
        "name": "scam",
        "definition": "Fraud.",
        "hotkey": "3",
        "include": ["send your PIN"],
        "exclude": ["50% off today", "a real bank's statement"],
        "tie_break": "scam as soon as money or data is asked for",
    },
]


def test_merge_into_a_new_label_keeps_tie_breaks_examples_and_fitting_exclusions(new_project: NewProject) -> None:
    """Before issue 11 the merged label had no tie-break rule at all."""
    p = _with_schema(new_project(labels=["ham"]), SPAM_LABELS)
    res = merge_labels(p, ["promo", "scam"], into="spam")
    reopened = open_project(p.root)  # what truthset.yaml now holds
    spam = reopened.config.schema.label("spam")
    reopened.close()
    assert spam is not None
    assert spam.tie_break == (
        "promo: promo when nothing is asked of the reader / scam: scam as soon as money or data is asked for"
    )
    assert spam.include == ["50% off today", "send your PIN"]
    # kept: near misses against labels outside the merge; dropped (and reported): one naming
    # the other merged label, and one that is now an example of the merged label
    assert spam.exclude == ["a note from a friend", "a real bank's statement"]
    assert res["exclusions_dropped"] == ["promo: a phishing link (that is scam)", "scam: 50% off today"]
    assert spam.definition == "promo: Advertising. / scam: Fraud."
    assert spam.hotkey == "2"
    assert [v["note"] for v in schema_history(p)][-1]["exclusions_dropped"] == res["exclusions_dropped"]


def test_merge_into_an_existing_label_adds_the_sources_rules_and_examples(new_project: NewProject) -> None:
    p = _with_schema(new_project(labels=["ham"]), SPAM_LABELS)
    res = merge_labels(p, ["promo"], into="scam")
    scam = p.config.schema.label("scam")
    assert scam is not None and p.config.schema.names == ["ham", "scam"]
    assert scam.definition == "Fraud." and scam.hotkey == "3"  # the target's own stay
    assert scam.tie_break == (
        "scam as soon as money or data is asked for / promo: promo when nothing is asked of the reader"
    )
    assert scam.include == ["send your PIN", "50% off today"]
    assert scam.exclude == ["a real bank's statement", "a note from a friend"]
    assert sorted(res["exclusions_dropped"]) == ["promo: a phishing link (that is scam)", "scam: 50% off today"]
    # merging a label into itself changes nothing of its text
    again = merge_labels(p, ["scam"], into="scam")
    assert p.config.schema.label("scam") == scam and "exclusions_dropped" not in again


@pytest.mark.parametrize("spelling", ["Negative", "NEGATIVE", "\uff4e\uff45\uff47\uff41\uff54\uff49\uff56\uff45"])
def test_a_schema_with_one_name_twice_is_refused_when_saved(new_project: NewProject, spelling: str) -> None:
    """Before issue 11 'negative' and 'Negative' were saved as two labels."""
    from truthset.core.schema import Label

    p = new_project(labels=["negative", "positive"])
    before = p.config_path.read_bytes()
    schema = p.config.schema.model_copy(update={"labels": [*p.config.schema.labels, Label(name=spelling)]})
    with pytest.raises(SchemaError) as info:
        p.save_config(p.config.model_copy(update={"schema_": schema}))
    assert f"'negative' (labels[0]) and {spelling!r} (labels[2])" in str(info.value)
    assert p.config_path.read_bytes() == before
    # and a file edited by hand that way does not open; the message names both and the fix
    import yaml

    from truthset.core.errors import ConfigError

    data = yaml.safe_load(before)
    data["schema"]["labels"].append({"name": spelling})
    p.config_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=f"truthset schema merge '{spelling}' --into 'negative'"):
        open_project(p.root)


def test_the_other_spelling_in_annotations_is_merged_after_its_deletion(
    new_project: NewProject, tmp_path: Path
) -> None:
    """The fix the refusal names works: merge a label the data uses but the schema no longer has.

    Before issue 11 merge refused a label that was not in the schema.
    """
    p = new_project(labels=["negative", "positive"])
    f = tmp_path / "labels.jsonl"
    f.write_text(
        "".join(
            json.dumps({"text": f"t{i}", "label": lab}) + "\n"
            for i, lab in enumerate(["negative", "Negative", "positive", "Negative"])
        ),
        encoding="utf-8",
    )
    import_file(p, f)
    assert {(x.code, x.message.split("'")[1]) for x in check(p) if x.severity == "error"} == {
        ("unknown-label", "Negative")
    }
    res = merge_labels(p, ["Negative"], into="negative")
    assert res["annotations_migrated"] == 2
    assert _counts(p)["by_label"] == {"negative": 3, "positive": 1}
    assert p.config.schema.names == ["negative", "positive"]
    assert [x for x in check(p) if x.severity == "error"] == []
    with pytest.raises(SchemaError, match="not in the schema"):
        merge_labels(p, ["neutral"], into="negative")  # neither in the schema nor in the data


@pytest.mark.parametrize(
    ("op", "message"),
    [
        (lambda p: rename_label(p, "ham", "Spam"), "'Spam' is the same name as the existing 'spam'"),
        (lambda p: merge_labels(p, ["ham"], into="SPAM"), "'SPAM' is the same name as the existing 'spam'"),
        (lambda p: split_label(p, "ham", ["Spam", "eggs"]), "'Spam' is the same name as the existing 'spam'"),
    ],
)
def test_migrations_refuse_a_name_that_only_differs_by_case(
    new_project: NewProject, op: Callable[[Project], object], message: str
) -> None:
    p = new_project(labels=["ham", "spam"])
    version = p.schema_version
    with pytest.raises(SchemaError, match=message):
        op(p)
    assert p.schema_version == version and open_project(p.root).config.schema.names == ["ham", "spam"]


def test_rename_may_change_the_case_of_the_label_itself(new_project: NewProject) -> None:
    p = new_project(labels=["ham", "spam"])
    rename_label(p, "spam", "Spam")
    assert p.config.schema.names == ["ham", "Spam"]


def test_split_gives_the_new_labels_keys_beyond_nine(new_project: NewProject) -> None:
    """Before issue 11 a split in a nine-label schema left the new labels without a hotkey."""
    p = new_project(labels=[f"L{i}" for i in range(1, 10)])
    split_label(p, "L4", ["L4a", "L4b", "L4c"])
    keys = {lab.name: lab.hotkey for lab in p.config.schema.labels}
    assert (keys["L4a"], keys["L4b"], keys["L4c"]) == ("4", "0", "a")
    assert [x.code for x in check(p) if x.code.startswith("hotkey") or x.code == "missing-hotkey"] == []


def test_check_reports_a_label_without_a_hotkey(new_project: NewProject) -> None:
    p = _with_schema(
        new_project(labels=["ham"]),
        [{"name": "ham", "hotkey": "1", "definition": "d"}, {"name": "spam", "definition": "d"}],
    )
    [finding] = check(p)
    assert (finding.severity, finding.code) == ("warning", "missing-hotkey")
    assert "'spam'" in finding.message and "hotkey: '2'" in finding.message


def test_an_import_that_would_add_one_name_twice_is_refused_whole(new_project: NewProject, tmp_path: Path) -> None:
    """Labels taken into an empty schema from the data: two spellings of one name are refused."""
    p = new_project()
    f = tmp_path / "labels.jsonl"
    f.write_text(
        "".join(
            json.dumps({"text": f"t{i}", "label": lab}) + "\n"
            for i, lab in enumerate(["negative", "positive", "Negative"])
        ),
        encoding="utf-8",
    )
    with pytest.raises(ImportFailed, match="one name written two ways") as info:
        import_file(p, f)
    assert "'negative'" in str(info.value) and "'Negative'" in str(info.value)
    assert "Nothing was imported" in str(info.value) and "truthset schema merge" in str(info.value)
    assert _counts(p)["items"] == 0 and _counts(p)["annotations"] == 0
    assert open_project(p.root).config.schema.names == []


def test_renamed_judgements_still_count_for_review_and_drift(new_project: NewProject, tmp_path: Path) -> None:
    """After a rename, the judgements carried into the new version (source "migration") are
    still the items' labels: disagreements stay in the review queue and a batch's drift frame
    keeps its labels. Main dropped both (review and drift read human and import only)."""
    from truthset.services import drift, review

    p = new_project(labels=["pos", "neg"])
    f = tmp_path / "disputed.jsonl"
    # items 0-1: both say neg; items 2-3: pos, neg, pos (a disagreement, pos by majority)
    votes = {0: "nn", 1: "nn", 2: "pnp", 3: "pnp"}
    rows = [
        {"text": f"item {i}", "label": {"p": "pos", "n": "neg"}[v], "annotator": who}
        for i, said in votes.items()
        for v, who in zip(said, "abc")
    ]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    batch = import_file(p, f, ImportOptions(label_col="label", annotator_col="annotator")).batch
    assert batch is not None
    before = [c["item_id"] for c in review.review_candidates(p)]
    assert len(before) == 2
    rename_label(p, "neg", "negative")
    assert [c["item_id"] for c in review.review_candidates(p)] == before
    frame = drift.batch_frame(p, [batch])
    assert sorted(frame["label"]) == ["negative", "negative", "pos", "pos"]
