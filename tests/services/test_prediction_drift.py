"""Prediction drift of a trained model (``truthset drift --model RUN``) on the SMS Spam
Collection, on SQLite and PostgreSQL: the model trained on one slice sees no drift between two
other random slices, and flags a planted label-prior shift (spam share raised from about 13% to
over half) through its predicted-label distribution."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import NewProject
from truthset.core.errors import InvalidInput, NotFound
from truthset.services.demo import demo_file
from truthset.services.imports import ImportOptions, import_file
from truthset.services.prediction_drift import compare_predictions, parse_run
from truthset.services.projects import Project
from truthset.services.training import train


def _lines() -> tuple[str, list[str]]:
    lines = demo_file().read_text(encoding="utf-8").splitlines()
    return lines[0], [ln for ln in lines[1:] if ln]


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


#: the ``trained`` fixture: (project, its run id, TSV files by name)
Trained = tuple[Project, int, dict[str, Path]]


@pytest.fixture
def trained(new_project: NewProject, tmp_path: Path) -> Trained:
    header, rows = _lines()
    p = new_project(labels=["ham", "spam"])
    import_file(p, _write(tmp_path / "train.tsv", header, rows[:1200]), ImportOptions(annotator="uci-original"))
    run = train(p, seed=0, n_boot=50)
    rest = rows[1200:]
    random.Random(7).shuffle(rest)
    files = {
        "reference": _write(tmp_path / "reference.tsv", header, rest[:1000]),
        "control": _write(tmp_path / "control.tsv", header, rest[1000:2000]),
    }
    spam = [r for r in rest[2000:] if r.startswith("spam\t")]
    ham = [r for r in rest[2000:] if r.startswith("ham\t")]
    planted = spam[:300] + ham[:250]
    random.Random(8).shuffle(planted)
    files["planted"] = _write(tmp_path / "planted.tsv", header, planted)
    return p, run["run"], files


def test_no_drift_between_random_slices_and_drift_on_a_planted_label_shift(trained: Trained) -> None:
    p, run, files = trained
    same = compare_predictions(p, run, str(files["reference"]), str(files["control"]))
    assert same["run"] == run and same["n_reference"] == 1000 and same["n_current"] == 1000
    assert same["drift"] is False and not any(c["drift"] for c in same["columns"])
    label = {c["column"]: c for c in same["columns"]}["predicted_label"]
    assert label["method"] == "jensenshannon" and label["threshold"] == p.config.drift.jensenshannon
    shifted = compare_predictions(p, None, str(files["reference"]), str(files["planted"]))  # the latest run
    cols = {c["column"]: c for c in shifted["columns"]}
    assert shifted["drift"] is True and cols["predicted_label"]["drift"] is True
    assert cols["predicted_label"]["score"] >= p.config.drift.jensenshannon > label["score"]
    assert shifted["predicted_share_reference"]["spam"] < 0.2 < 0.4 < shifted["predicted_share_current"]["spam"]
    assert set(cols) == {"predicted_label", "score"}
    assert 0.5 < shifted["mean_confidence_current"] <= 1 and 0.5 < shifted["mean_confidence_reference"] <= 1


def test_batches_work_as_sides_and_errors_name_the_fix(trained: Trained, tmp_path: Path) -> None:
    p, run, files = trained
    a = import_file(p, files["reference"], ImportOptions(annotator="uci-original")).batch
    b = import_file(p, files["planted"], ImportOptions(annotator="uci-original")).batch
    got = compare_predictions(p, run, str(a), str(b))
    assert (got["reference"], got["current"], got["drift"]) == (f"batch {a}", f"batch {b}", True)
    with pytest.raises(NotFound, match="not a training run"):
        compare_predictions(p, run + 100000, str(a), str(b))
    bad = tmp_path / "bad.csv"
    bad.write_text("note\nhello there\nsee you at six\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="reads the field.*--text-column"):
        compare_predictions(p, run, str(bad), str(b))
    assert compare_predictions(p, run, str(bad), str(b), text_column="note")["n_reference"] == 2
    with pytest.raises(InvalidInput, match="--text-column 'nope'"):
        compare_predictions(p, run, str(bad), str(b), text_column="nope")
    with pytest.raises(InvalidInput, match="--model 'x'"):
        parse_run("x")


def test_cli_json_and_text(trained: Trained) -> None:
    from truthset.cli import main

    p, run, files = trained
    root = str(p.root)
    html = files["reference"].parent / "drift.html"
    p.close()
    res = CliRunner().invoke(
        main,
        [
            "-p",
            root,
            "drift",
            "--model",
            "latest",
            "--reference",
            str(files["reference"]),
            "--current",
            str(files["planted"]),
            "--json",
            "-o",
            str(html),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "predicted_label" in html.read_text(encoding="utf-8")
    out = json.loads(res.output)
    assert out["run"] == run and out["drift"] is True
    assert {"column", "method", "score", "threshold", "drift"} <= set(out["columns"][0])
    res = CliRunner().invoke(
        main,
        [
            "-p",
            root,
            "drift",
            "--model",
            str(run),
            "--reference",
            str(files["reference"]),
            "--current",
            str(files["control"]),
        ],
    )
    assert res.exit_code == 0 and f"prediction drift of run {run}: no" in res.output and "mean confidence" in res.output
    res = CliRunner().invoke(
        main,
        [
            "-p",
            root,
            "drift",
            "--model",
            "999999",
            "--reference",
            str(files["reference"]),
            "--current",
            str(files["control"]),
        ],
    )
    assert res.exit_code == 1 and "Traceback" not in res.output and "999999" in res.output
