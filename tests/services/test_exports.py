"""Exports: Label Studio round trip on the real NER project, CSV round trip, other formats."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import LEOKA, SMS
from tests.support import NewProject
from truthset.services.exports import bio_tags, export_project
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project


def _snapshot(
    project: Project, path: Path, *, history: bool = True
) -> list[tuple[str | None, str, list[tuple[Any, ...]], str]]:
    """Items (external id, payload, gold) and annotations, from the JSONL export.

    ``history``: superseded annotations too (what JSONL and Label Studio round trips keep);
    else current ones only (what the CSV/Parquet long format holds).
    """
    export_project(project, path, fmt="jsonl")
    out: list[tuple[str | None, str, list[tuple[Any, ...]], str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        anns = sorted(
            (
                a["annotator"],
                json.dumps(a["value"], sort_keys=True),
                a["source"],
                a["lead_time"],
                a["ground_truth"],
                json.dumps(a["meta"], sort_keys=True),
                a["current"],
            )
            for a in r["annotations"]
            if history or a["current"]
        )
        out.append(
            (r["external_id"], json.dumps(r["data"], sort_keys=True), anns, json.dumps(r["gold"], sort_keys=True))
        )
    return sorted(out)


def test_labelstudio_round_trip_ner(new_project: NewProject, tmp_path: Path) -> None:
    a = new_project(task="ner")
    import_file(a, LEOKA)
    ls = tmp_path / "export.json"
    rep = export_project(a, ls, fmt="labelstudio")
    assert rep.items == 130
    b = new_project(task="ner")
    r = import_file(b, ls)
    assert r.items_added == 130 and r.annotations_added == rep.annotations
    assert _snapshot(a, tmp_path / "a.jsonl") == _snapshot(b, tmp_path / "b.jsonl")
    # the taxonomy results (a second control) survive the trip verbatim
    task = json.loads(ls.read_text(encoding="utf-8"))[0]
    assert any(res["type"] == "taxonomy" for res in task["annotations"][0]["result"])


def test_labelstudio_round_trip_predictions(new_project: NewProject, tmp_path: Path, datasets: Path) -> None:
    a = new_project()
    import_file(a, datasets / "labelstudio" / "ls_core_tests" / "tasks_annotations_predictions.json")
    out = tmp_path / "t.json"
    export_project(a, out, fmt="labelstudio")
    tasks = json.loads(out.read_text())
    assert sum(len(t["predictions"]) for t in tasks) == 3
    b = new_project()
    import_file(b, out)
    assert _snapshot(a, tmp_path / "a.jsonl") == _snapshot(b, tmp_path / "b.jsonl")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_long_format_round_trip_sms(new_project: NewProject, tmp_path: Path, fmt: str) -> None:
    a = new_project()
    import_file(a, SMS)
    out = tmp_path / f"sms.{fmt}"
    rep = export_project(a, out, fmt=fmt)
    assert rep.items == 5171 and rep.annotations == 5171
    df = pd.read_csv(out, keep_default_na=False) if fmt == "csv" else pd.read_parquet(out)
    assert len(df) == 5171 and set(df["label"]) == {"ham", "spam"}
    b = new_project()
    r = import_file(b, out)
    assert r.items_added == 5171, r.findings[:3]
    assert _snapshot(a, tmp_path / "a.jsonl", history=False) == _snapshot(b, tmp_path / "b.jsonl", history=False)


def test_conll_export(new_project: NewProject, tmp_path: Path) -> None:
    p = new_project(task="ner")
    import_file(p, LEOKA)
    out = tmp_path / "x.conll"
    rep = export_project(p, out, fmt="conll")
    text = out.read_text(encoding="utf-8")
    # a block per annotation, and one per item's gold (every LEOKA item has gold)
    assert text.count("# annotator = ") == rep.annotations
    assert text.count("# gold = true") == 130
    assert text.count("# item_id = ") == rep.annotations + 130
    assert "\tB-Date\n" in text
    q = new_project()
    with pytest.raises(ValueError, match="NER"):
        export_project(q, tmp_path / "y.conll", fmt="conll")


def test_bio_tags() -> None:
    spans = [{"start": 4, "end": 13, "label": "PER"}]
    assert bio_tags("Hi, Ann Smith here", spans) == [("Hi,", "O"), ("Ann", "B-PER"), ("Smith", "I-PER"), ("here", "O")]


texts = st.text(alphabet=string.ascii_letters + string.digits + " ,;\"'é€\t", min_size=1, max_size=40).filter(
    lambda s: s.strip() != ""
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(texts, st.sampled_from(["a", "b", "c"]), st.sampled_from(["ann1", "ann2"])), min_size=1, max_size=30
    )
)
def test_csv_export_import_round_trip_property(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, str, str]]
) -> None:
    """Export → import → export gives the same items and annotations (SQLite)."""
    from truthset.services.projects import init_project

    base = tmp_path_factory.mktemp("rt")
    src = base / "in.csv"
    pd.DataFrame(rows, columns=["text", "label", "annotator"]).to_csv(src, index=False)
    a = init_project(base / "a", task="text-classification")
    import_file(a, src, ImportOptions(quoting="minimal"))
    out = base / "out.csv"
    export_project(a, out, fmt="csv")
    b = init_project(base / "b", task="text-classification")
    import_file(b, out, ImportOptions(quoting="minimal"))

    def norm(p: Project) -> list[tuple[str, list[tuple[Any, Any]]]]:
        snap = _snapshot(p, base / f"{p.config.name}.jsonl", history=False)
        return sorted((d, [(x[0], x[1]) for x in anns]) for _e, d, anns, _g in snap)

    assert norm(a) == norm(b)
    a.close()
    b.close()
