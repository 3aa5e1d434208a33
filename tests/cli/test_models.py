"""The model commands through the CLI: plain JSON field names, one-line user errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from tests.services.test_runs import _sms_slice
from truthset.cli import main
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import init_project


def _run(*args: str, code: int = 0) -> Result:
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert res.exit_code == code, res.output
    return res


def test_train_evaluate_compare_errors_card(tmp_path: Path) -> None:
    p = init_project(tmp_path / "p", task="text-classification", labels=["ham", "spam"], name="cli-models")
    import_file(p, _sms_slice(tmp_path, 800), ImportOptions(annotator="uci-original"))
    p.close()
    root = str(tmp_path / "p")
    a = json.loads(_run("-p", root, "train", "--seed", "0", "--n-boot", "100", "--json").stdout)
    for key in (
        "run",
        "accuracy",
        "macro_f1",
        "macro_f1_ci_low",
        "macro_f1_ci_high",
        "mcc",
        "roc_auc",
        "ece",
        "n_test",
        "n_train",
        "dataset_hash",
        "model_path",
    ):
        assert key in a, key
    assert Path(a["model_path"]).is_file()
    b = json.loads(_run("-p", root, "train", "--seed", "1", "--n-boot", "100", "--json").stdout)
    ev = json.loads(_run("-p", root, "evaluate", str(a["run"]), "--n-boot", "100", "--json").stdout)
    assert ev["macro_f1"] == a["macro_f1"] and ev["n_test"] == a["n_test"]
    assert ev["macro_f1_ci_low"] <= ev["macro_f1"] <= ev["macro_f1_ci_high"]
    text = _run("-p", root, "evaluate", "--slice", "agreement", "--n-boot", "50").stdout
    assert "[agreement=one annotator]" in text
    cmp = json.loads(_run("-p", root, "compare", str(a["run"]), str(b["run"]), "--n-boot", "100", "--json").stdout)
    assert cmp["n_test"] == a["n_test"] and "mcnemar_p_value" in cmp and "macro_f1_diff_ci_low" in cmp
    assert cmp["verdict"] in _run("-p", root, "compare", str(a["run"]), str(b["run"]), "--n-boot", "100").stdout
    listed = json.loads(_run("-p", root, "runs", "--json").stdout)
    assert [r["run"] for r in listed] == [a["run"], b["run"]]
    errs = json.loads(_run("-p", root, "errors", "--json").stdout)
    assert errs["run"] == b["run"] and {x["bucket"] for x in errs["buckets"]} >= {"likely_label_error"}
    card = tmp_path / "card.html"
    _run("-p", root, "report", "model-card", str(a["run"]), "-o", str(card))
    assert "Model card" in card.read_text(encoding="utf-8")
    agreement = json.loads(_run("-p", root, "prelabel", "--agreement", "--json").stdout)
    assert agreement["answers_after_prelabel"] == 0
    # user errors: one line, exit 1, no traceback
    bad = _run("-p", root, "evaluate", "99", code=1)
    assert bad.output.startswith("error: run 99 is not a training run") and "Traceback" not in bad.output
    bad = _run("-p", root, "errors", "--send-to-review", "nope", code=1)
    assert "use one of" in bad.output
    bad = _run("-p", root, "train", "--test-size", "1.5", code=1)
    assert "--test-size 1.5" in bad.output
