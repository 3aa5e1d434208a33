"""Every export format re-imports into an equal project (issue 11, items 7, 8, 9), and
overlapping NER spans are findings (item 10).

Equal: the same items (external ids and content), annotators, annotations and gold. JSONL
and Label Studio carry every annotation, superseded ones too; CSV, Parquet and CoNLL carry
the current ones. Each test names what today's main loses.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATASETS, LEOKA
from tests.support import NewProject, batch_of
from truthset.services.exports import ExportReport, export_project
from truthset.services.imports import ImportOptions, ImportReport, import_file, import_findings
from truthset.services.projects import Project

CORE = DATASETS / "labelstudio" / "ls_core_tests"


def snapshot(project: Project, tmp: Path, *, history: bool, text_only: bool = False) -> dict[str, Any]:
    """The project as its JSONL export shows it, keyed by external id (else by text).

    ``text_only``: payload values compared as text (CSV holds text: a number comes back as
    text there; Parquet keeps types).
    """
    out = tmp / f"snap-{project.id}-{project.config.name}.jsonl"
    export_project(project, out, fmt="jsonl")
    items: dict[str, Any] = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        key = r["external_id"] or r["data"]["text"]
        data = {k: str(v) for k, v in r["data"].items()} if text_only else r["data"]
        anns = sorted(
            (a["annotator"], json.dumps(a["value"], sort_keys=True), a.get("current", True))
            for a in r["annotations"]
            if history or a.get("current", True)
        )
        items[key] = (data, anns, r["gold"])
    return items


def _round_trip(
    new_project: NewProject, tmp_path: Path, source: Path, task: str, fmt: str
) -> tuple[Project, Project, ExportReport, ImportReport]:
    a = new_project(task=task)
    import_file(a, source)
    out = tmp_path / f"export.{fmt}"
    rep = export_project(a, out, fmt=fmt)
    b = new_project(task=task)
    r = import_file(b, out, ImportOptions(format=fmt))
    return a, b, rep, r


@pytest.mark.parametrize("fmt", ["jsonl", "labelstudio", "csv", "parquet"])
def test_every_format_round_trips_the_leoka_ner_export(new_project: NewProject, tmp_path: Path, fmt: str) -> None:
    """LEOKA (130 tasks, 3 annotators, 130 gold): main could not re-import its JSONL export
    ("no text column found") and its CSV/Parquet round trip lost the gold (130 -> 0)."""
    a, b, rep, r = _round_trip(new_project, tmp_path, LEOKA, "ner", fmt)
    assert r.rejected == 0 and r.items_added == 130 and r.gold_added == 130
    history = fmt in ("jsonl", "labelstudio")
    sa = snapshot(a, tmp_path, history=history, text_only=fmt == "csv")
    sb = snapshot(b, tmp_path, history=history, text_only=fmt == "csv")
    assert sa == sb
    assert sum(g is not None for _d, _a, g in sb.values()) == 130


def test_conll_round_trip_keeps_ids_annotators_and_gold(new_project: NewProject, tmp_path: Path) -> None:
    """Main's CoNLL blocks carried only the internal item_id, and nothing read them back.
    Spans come back as whole tokens (CoNLL's unit), so the tags, not the offsets, are equal."""
    a, b, rep, r = _round_trip(new_project, tmp_path, LEOKA, "ner", "conll")
    assert (r.rejected, r.items_added, r.annotations_added, r.gold_added) == (0, 130, rep.annotations, 130)
    first = (tmp_path / "export.conll").read_text(encoding="utf-8")
    assert "# external_id = " in first
    again = tmp_path / "again.conll"
    export_project(b, again, fmt="conll")

    def without_internal_ids(text: str) -> list[str]:
        return [ln for ln in text.splitlines() if not ln.startswith("# item_id = ")]

    assert without_internal_ids(again.read_text(encoding="utf-8")) == without_internal_ids(first)
    sa, sb = snapshot(a, tmp_path, history=False), snapshot(b, tmp_path, history=False)
    assert sa.keys() == sb.keys()
    assert {k: sorted(x[0] for x in v[1]) for k, v in sa.items()} == {
        k: sorted(x[0] for x in v[1]) for k, v in sb.items()
    }


@pytest.mark.parametrize("fmt", ["jsonl", "labelstudio", "csv", "parquet"])
def test_every_format_round_trips_a_classification_project(new_project: NewProject, tmp_path: Path, fmt: str) -> None:
    """Label Studio's own test export: annotations, predictions, anonymous annotators."""
    a, b, _rep, r = _round_trip(
        new_project, tmp_path, CORE / "tasks_annotations_predictions.json", "text-classification", fmt
    )
    assert r.rejected == 0
    history = fmt in ("jsonl", "labelstudio")
    assert snapshot(a, tmp_path, history=history, text_only=True) == snapshot(
        b, tmp_path, history=history, text_only=True
    )


def test_labelstudio_round_trip_keeps_the_source_annotation_count(new_project: NewProject, tmp_path: Path) -> None:
    """import -> export -> import gives the source's 4 annotations (main: 3), superseded ones
    included: an annotator's two annotations of a task both come back, the later current."""
    src = json.loads((CORE / "tasks_annotations_predictions.json").read_text(encoding="utf-8"))
    res = [
        {"from_name": "text_class", "to_name": "text", "type": "choices", "value": {"choices": [c]}}
        for c in ("class_A", "class_B")
    ]
    src.append(
        {
            "id": 77,
            "data": {"text": "twice"},
            "annotations": [
                {
                    "id": 701,
                    "completed_by": {"email": "x@y.org"},
                    "result": [res[0]],
                    "created_at": "2024-01-01T00:00:00Z",
                },
                {
                    "id": 702,
                    "completed_by": {"email": "x@y.org"},
                    "result": [res[1]],
                    "created_at": "2024-01-02T00:00:00Z",
                },
            ],
        }
    )
    f = tmp_path / "src.json"
    f.write_text(json.dumps(src), encoding="utf-8")
    source_count = sum(len(t.get("annotations", [])) + len(t.get("predictions", [])) for t in src)
    a = new_project()
    assert import_file(a, f).annotations_added == source_count == 9
    out = tmp_path / "ls.json"
    assert export_project(a, out, fmt="labelstudio").annotations == source_count
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert [x["id"] for t in exported if t.get("id") == 77 for x in t["annotations"]] == [701, 702]
    b = new_project()
    assert import_file(b, out).annotations_added == source_count
    assert snapshot(a, tmp_path, history=True) == snapshot(b, tmp_path, history=True)


def test_labelstudio_export_keeps_each_files_control_names(new_project: NewProject, tmp_path: Path) -> None:
    """Main exported every task under the control names of the last file imported."""
    p = new_project()
    import_file(p, CORE / "humor_dataset_2_annotations.json")  # control "sentiment"
    import_file(p, CORE / "tasks_annotations_predictions.json")  # control "text_class"
    out = tmp_path / "ls.json"
    export_project(p, out, fmt="labelstudio")
    names = {
        t["data"]["text"][:9]: {r["from_name"] for x in t["annotations"] + t["predictions"] for r in x["result"]}
        for t in json.loads(out.read_text(encoding="utf-8"))
    }
    assert names["Joe biden"] == {"sentiment"}
    assert names["Test exam"] == {"text_class"}


def test_overlapping_spans_are_findings(new_project: NewProject) -> None:
    """With the default ``span_overlap: forbid``, main imported LEOKA's overlapping spans
    without a word. The pairs are counted here from the raw file, independently."""
    raw = json.loads(LEOKA.read_text(encoding="utf-8"))
    pairs = 0
    for t in raw:
        for ann in t["annotations"]:
            if ann.get("was_cancelled"):
                continue
            spans = [
                (r["value"]["start"], r["value"]["end"])
                for r in ann["result"]
                if r["type"] == "labels"
                for _label in r["value"]["labels"]
            ]
            pairs += sum(1 for x, y in itertools.combinations(spans, 2) if x[0] < y[1] and y[0] < x[1])
    assert pairs >= 1
    p = new_project(task="ner")
    r = import_file(p, LEOKA)
    assert r.overlapping_spans == pairs
    listed = import_findings(p, batch_of(r), kind="overlap")
    assert sum(int(x["reason"].split()[0]) for x in listed) == pairs
    assert "span_overlap: forbid" in listed[0]["reason"]


def test_overlaps_are_fine_where_the_schema_allows_them(new_project: NewProject, tmp_path: Path) -> None:
    f = tmp_path / "ner.jsonl"
    spans = [
        {"start": 0, "end": 7, "label": "PER"},
        {"start": 4, "end": 7, "label": "LOC"},
        {"start": 12, "end": 15, "label": "PER"},
    ]
    f.write_text(json.dumps({"text": "Ann Lee met Bob", "label": spans}) + "\n", encoding="utf-8")
    p = new_project(task="ner")
    assert import_file(p, f).overlapping_spans == 1
    q = new_project(task="ner")
    schema = q.config.schema.model_copy(update={"span_overlap": "allow"})
    q.config = q.config.model_copy(update={"schema_": schema})
    assert import_file(q, f).overlapping_spans == 0
