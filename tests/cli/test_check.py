"""``truthset check`` and ``truthset profile`` through click's CliRunner: the gate's exit code,
--json, the HTML reports, sending findings to review and precision from verdicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from tests.conftest import SMS
from tests.support import RunCli
from truthset.cli import main


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> RunCli:
    monkeypatch.delenv("TRUTHSET_DATABASE_URL", raising=False)
    runner = CliRunner()

    def go(*args: str, code: int = 0) -> Result:
        res = runner.invoke(main, list(args), catch_exceptions=False)
        assert res.exit_code == code, res.output
        return res

    return go


@pytest.fixture
def sms_dir(run: RunCli, tmp_path: Path) -> str:
    """A project with the first 600 SMS messages under ids, five of them copied with the other label."""
    lines = [ln.split("\t", 1) for ln in SMS.read_text(encoding="utf-8").split("\n")[1:601] if ln]
    rows = [{"id": f"sms{n}", "label": lab, "text": t} for n, (lab, t) in enumerate(lines, 1)]
    rows += [
        {"id": f"flip{k}", "label": "spam" if lab == "ham" else "ham", "text": t}
        for k, (lab, t) in enumerate(lines[:5])
    ]
    f = tmp_path / "sms.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    d = str(tmp_path / "proj")
    run("init", d, "--task", "text-classification", "--labels", "ham,spam")
    run("-p", d, "import", str(f), "--id-col", "id", "--label-col", "label")
    return d


def _add_rules(d: str, rules: list[dict[str, Any]]) -> None:
    path = Path(d) / "truthset.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["rules"] = rules
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def test_blocking_rule_exits_1_and_warning_exits_0(run: RunCli, sms_dir: str, tmp_path: Path) -> None:
    _add_rules(sms_dir, [{"kind": "max_length", "field": "text", "length": 200, "severity": "warning"}])
    data = json.loads(run("-p", sms_dir, "check", "--kind", "rules", "--json").output)
    assert data["gate"] == {"passed": True, "blocking_failed": 0}
    (rule,) = data["findings"]
    assert rule["check"] == "rule:max_length:text" and rule["count"] >= 1
    long_ids = rule["violations"]
    _add_rules(sms_dir, [{"kind": "max_length", "field": "text", "length": 200, "severity": "blocking"}])
    res = run("-p", sms_dir, "check", "--kind", "rules", code=1)
    assert "failed" in res.output and long_ids[0] in res.output
    out = tmp_path / "check.html"
    data = json.loads(run("-p", sms_dir, "check", "--kind", "rules", "--json", "-o", str(out), code=1).output)
    assert data["gate"]["passed"] is False
    page = out.read_text(encoding="utf-8")
    assert "max_length:text" in page and "<script" not in page.split("</head>")[1]


def test_check_report_send_to_review_and_precision(run: RunCli, sms_dir: str, tmp_path: Path) -> None:
    out = tmp_path / "check.html"
    data = json.loads(
        run(
            "-p", sms_dir, "check", "--kind", "exact_duplicates", "--kind", "label_conflicts", "--json", "-o", str(out)
        ).output
    )
    checks = {c["check"]: c for c in data["findings"]}
    assert checks["label_conflicts"]["clusters"] == 5 and checks["exact_duplicates"]["clusters"] >= 5
    assert "Same text, different labels" in out.read_text(encoding="utf-8")
    sent = json.loads(run("-p", sms_dir, "check", "--send-to-review", "label_conflicts", "--json").output)
    assert sent == {"sent": 5, "check": "label_conflicts"}
    listed = json.loads(run("-p", sms_dir, "check", "--list", "label_conflicts", "--json").output)["findings"]
    assert len(listed) == 5 and all(f["sent_to_review"] for f in listed)
    from truthset.services import checks as svc
    from truthset.services import review, users
    from truthset.services.projects import open_project

    p = open_project(sms_dir)
    try:
        assert {w["item_id"] for w in review.review_candidates(p, limit=100)} == {i for f in listed for i in f["items"]}
        rid = users.add_user(p, "rev", role="reviewer", password="correct horse").id
        for f, v in zip(listed, ["wrong", "wrong", "right", "wrong", "wrong"]):
            svc.record_finding_verdict(p, f["id"], rid, v)
    finally:
        p.close()
    prec = json.loads(run("-p", sms_dir, "check", "--precision", "--json").output)["checks"]
    row = next(r for r in prec if r["check"] == "label_conflicts")
    assert (row["n"], row["precision"]) == (5, 0.8) and 0.3 < row["ci_low"] < 0.8 < row["ci_high"] <= 1
    assert "label_conflicts" in run("-p", sms_dir, "check", "--precision").output


def test_bad_kind_and_unknown_check_are_one_line_errors(run: RunCli, sms_dir: str) -> None:
    res = run("-p", sms_dir, "check", "--kind", "spelling", code=1)
    assert res.output.startswith("error:") and "exact_duplicates" in res.output and "Traceback" not in res.output
    res = run("-p", sms_dir, "check", "--send-to-review", "nothing", code=1)
    assert res.output.startswith("error:") and "truthset check" in res.output


def test_profile_json_and_page(run: RunCli, sms_dir: str, tmp_path: Path) -> None:
    out = tmp_path / "profile.html"
    data = json.loads(run("-p", sms_dir, "profile", "--json", "-o", str(out)).output)
    assert data["n_rows"] == 605
    (text,) = [c for c in data["columns"] if c["name"] == "text"]
    assert text["type"] == "text" and text["missing"] == 0 and text["distinct"] < 605
    assert sum(text["text"]["length_histogram"]["counts"]) == 605
    scripts = text["text"]["languages"]
    assert sum(scripts.values()) == 605 and max(scripts, key=scripts.get) == "Latin"
    labels = data["labels"]["overall"]
    assert labels["ham"] + labels["spam"] == 605 and data["labels"]["imbalance"] > 1
    assert [b["batch"] for b in data["labels"]["by_batch"]] == ["#1 sms.jsonl"]  # the file's name, not its path
    page = out.read_text(encoding="utf-8")
    assert "<svg" in page and "Data profile" in page
