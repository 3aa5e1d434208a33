"""Drift through the service and ``truthset drift``: files and batches, and the check after
each import that raises a drift data issue (on real text: the SMS Spam Collection)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from tests.data.sms_shifts import halves, load_sms, plant
from tests.support import NewProject
from truthset.cli import main
from truthset.services import data_issues, drift
from truthset.services.imports import ImportOptions, import_file


@pytest.fixture(scope="module")
def sms_halves() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Reference and current halves of 2,000 SMS rows, and the current one upper-cased with handles stripped."""
    rng = np.random.default_rng(0)
    ref, cur = halves(load_sms(), 2000, rng)
    return ref, cur, plant("uppercase", cur, rng)


def _write(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


def test_cli_two_files_json_fields_and_html(
    sms_halves: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    ref, cur, shifted = sms_halves
    a, b, c = _write(ref, tmp_path / "a.csv"), _write(cur, tmp_path / "b.csv"), _write(shifted, tmp_path / "c.csv")
    run = CliRunner().invoke
    r = run(main, ["drift", "--reference", str(a), "--current", str(b), "--json"])
    assert r.exit_code == 0, r.output
    same = json.loads(r.output)
    assert same["drift"] is False and not any(col["drift"] for col in same["columns"])
    assert {col["column"] for col in same["columns"]} == {"label", "text"}
    assert all({"column", "method", "score", "threshold", "drift"} <= set(col) for col in same["columns"])

    html = tmp_path / "drift.html"
    r = run(main, ["drift", "--reference", str(a), "--current", str(c), "--json", "-o", str(html)])
    moved = json.loads(r.output)
    assert moved["drift"] is True
    methods = {col["method"]: col for col in moved["columns"] if col["column"] == "text"}
    assert methods["oov_rate"]["drift"] and methods["oov_rate"]["score"] >= methods["oov_rate"]["threshold"]
    page = html.read_text(encoding="utf-8")
    assert "The data set drifted" in page and "oov_rate" in page and "<svg" in page


def test_batches_and_the_check_after_import_raise_one_drift_issue(
    new_project: NewProject, sms_halves: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    ref, cur, shifted = sms_halves
    p = new_project(labels=["ham", "spam"])
    opts = ImportOptions(text_col="text", label_col="label")
    first = import_file(p, _write(ref, tmp_path / "a.csv"), opts).batch
    second = import_file(p, _write(cur.assign(text=cur["text"] + " "), tmp_path / "b.csv"), opts).batch
    assert data_issues.list_issues(p) == []  # the same source: no alarm
    third = import_file(p, _write(shifted, tmp_path / "c.csv"), opts).batch
    [issue] = data_issues.list_issues(p)
    assert issue["kind"] == "drift" and issue["source"] == "drift" and issue["links"]["batch"] == [str(third)]
    assert f"batch {third} drifted" in issue["title"] and "text" in issue["body"]

    result = drift.compare(p, str(first), f"{first},{second}")
    assert result["drift"] is False and result["reference"] == f"batch {first}"
    labels = next(c for c in result["columns"] if c["column"] == "label")  # labels came with the import
    assert labels["method"] == "jensenshannon"
    r = CliRunner().invoke(
        main, ["--project", str(p.root), "drift", "--reference", str(first), "--current", str(third), "--json"]
    )
    assert json.loads(r.output)["drift"] is True


def test_auto_drift_can_be_turned_off(
    new_project: NewProject, sms_halves: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    ref, _, shifted = sms_halves
    p = new_project(labels=["ham", "spam"])
    p.save_config(p.config.model_copy(update={"drift": p.config.drift.model_copy(update={"on_import": False})}))
    opts = ImportOptions(text_col="text", label_col="label")
    import_file(p, _write(ref, tmp_path / "a.csv"), opts)
    import_file(p, _write(shifted, tmp_path / "c.csv"), opts)
    assert data_issues.list_issues(p) == []


def test_bad_sides_are_named(new_project: NewProject, tmp_path: Path) -> None:
    p = new_project()
    run = CliRunner().invoke
    r = run(main, ["--project", str(p.root), "drift", "--reference", "nope.csv", "--current", "7"])
    assert r.exit_code == 1 and "--reference 'nope.csv'" in r.output and "Traceback" not in r.output
    r = run(main, ["--project", str(p.root), "drift", "--reference", "1", "--current", "2"])
    assert r.exit_code == 1 and "no batch" in r.output
    a = _write(pd.DataFrame({"x": [1, 2, 3]}), tmp_path / "x.csv")
    b = _write(pd.DataFrame({"y": [1, 2, 3]}), tmp_path / "y.csv")
    r = run(main, ["drift", "--reference", str(a), "--current", str(b)])
    assert r.exit_code == 1 and "share no column" in r.output


def test_labelling_drift_between_schema_versions(new_project: NewProject, tmp_path: Path) -> None:
    from truthset.services.projects import open_project

    p = new_project(labels=["ham", "spam"])
    rng = np.random.default_rng(1)
    sms = load_sms().iloc[rng.permutation(5574)[:1200]].reset_index(drop=True)
    opts = ImportOptions(text_col="text", label_col="label")
    import_file(p, _write(sms.iloc[:600], tmp_path / "a.csv"), opts)
    v1 = p.schema_version
    # version 2: the guide now defines spam (the same labels, annotations untouched)
    schema = p.config.schema.model_copy(
        update={
            "labels": [
                lab.model_copy(update={"definition": "unsolicited advertising"}) if lab.name == "spam" else lab
                for lab in p.config.schema.labels
            ]
        }
    )
    p.save_config(p.config.model_copy(update={"schema_": schema}))
    p2 = open_project(p.root)
    try:
        v2 = p2.schema_version
        assert v2 == v1 + 1
        import_file(p2, _write(sms.iloc[600:], tmp_path / "b.csv"), opts)
        result = drift.labelling(p2, v1, v2)
        assert result["drift"] is False and result["n_reference"] > 500 and result["n_current"] > 500
        everything_spam = sms.iloc[:400].assign(text=sms["text"].iloc[:400] + " again", label="spam")
        import_file(p2, _write(everything_spam, tmp_path / "c.csv"), opts)
        moved = drift.labelling(p2, v1, v2)
        assert moved["drift"] is True and moved["label"]["score"] >= moved["label"]["threshold"]
        r = CliRunner().invoke(
            main, ["--project", str(p.root), "labelling-drift", "--from-version", "9", "--to-version", str(v2)]
        )
        assert r.exit_code == 1 and "--from-version 9" in r.output
    finally:
        p2.close()
