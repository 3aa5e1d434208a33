"""The stakeholder reports show the data checks and the training runs, on real SMS messages
and on SQLite and PostgreSQL: the data card lists the exact and near duplicates of the latest
check and the frozen split of the latest run; the quality report shows open findings per check
and the latest run's headline metrics with their intervals."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import SMS
from tests.support import NewProject
from truthset.reports._format import fmt_num
from truthset.services import checks, report_checks, reporting, users
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project
from truthset.services.training import train


def _project(new_project: NewProject, tmp_path: Path) -> Project:
    """600 SMS messages under ids sms1..; one copied under another id, one edited slightly."""
    p = new_project(labels=["ham", "spam"])
    lines = [ln.split("\t", 1) for ln in SMS.read_text(encoding="utf-8").split("\n")[1:601] if ln]
    rows = [{"id": f"sms{n}", "label": lab, "text": t} for n, (lab, t) in enumerate(lines, 1)]
    rows.append({"id": "copy-of-sms3", "label": lines[2][0], "text": lines[2][1]})
    rows.append({"id": "edit-of-sms9", "label": lines[8][0], "text": lines[8][1].replace("WINNER", "WlNNER")})
    f = tmp_path / f"{p.config.name}.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    import_file(p, f, ImportOptions(id_col="id", label_col="label"))
    return p


def test_reports_without_checks_or_runs_say_so(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    card = reporting.data_card_facts(p)
    assert card["duplicate_clusters"] == [] and card["model_split"] is None
    assert any("No data check has run" in x for x in card["limitations"])
    facts = reporting.quality_facts(p, record=False)
    assert facts["checks"] == [] and facts["model"] is None


def test_data_card_lists_duplicates_and_the_frozen_split(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    checks.run_checks(p, ["exact_duplicates", "near_duplicates", "label_conflicts"], raise_issues=False)
    run = train(p, seed=0, n_boot=100)
    card = reporting.data_card_facts(p)
    exact = [c for c in card["duplicate_clusters"] if c["kind"] == "exact duplicates"]
    assert any({"sms3", "copy-of-sms3"} <= set(c["ids"].split(", ")) for c in exact)
    near = [c for c in card["duplicate_clusters"] if c["kind"] == "near duplicates"]
    assert any({"sms9", "edit-of-sms9"} <= set(c["ids"].split(", ")) for c in near)
    n_exact = len(checks.list_findings(p, check="exact_duplicates"))
    assert card["duplicates"]["exact duplicates (same normalised text)"].startswith(f"{n_exact:,} cluster(s)")
    split = card["model_split"]
    assert split["run"] == run["run"] and split["method"] == "group"
    assert [(s["side"], s["items"]) for s in split["sizes"]] == [
        ("train", run["n_train"]),
        ("validation", run["n_val"]),
        ("test", run["n_test"]),
    ]
    out = tmp_path / "card.html"
    reporting.write_data_card(p, out)
    page = out.read_text(encoding="utf-8")
    assert "Duplicate clusters (latest data check)" in page and "copy-of-sms3" in page and "edit-of-sms9" in page
    assert f"Split of training run {run['run']}" in page
    for side in ("train", "validation", "test"):
        assert f'<td>{side}</td><td class="num">{run["n_" + ("val" if side == "validation" else side)]:,}</td>' in page
    # a second run freezes the test items: the card shows the newest run's split
    again = train(p, seed=1, n_boot=100)
    split = reporting.data_card_facts(p)["model_split"]
    assert split["run"] == again["run"] and split["frozen_test"] and split["sizes"][2]["items"] == run["n_test"]


def test_quality_report_shows_open_findings_and_the_latest_metrics(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    checks.run_checks(p, ["exact_duplicates", "near_duplicates"], raise_issues=False)
    reviewer = users.add_user(p, f"r-{p.config.name}", role="reviewer", password="correct horse").id
    exact = checks.list_findings(p, check="exact_duplicates")
    checks.record_finding_verdict(p, exact[0]["id"], reviewer, "wrong")
    checks.send_to_review(p, "near_duplicates")
    run = train(p, seed=0, n_boot=100)
    facts = reporting.quality_facts(p, record=False)
    rows = {c["check"]: c for c in facts["checks"]}
    assert rows["exact_duplicates"]["open_findings"] == len(exact) - 1
    assert rows["exact_duplicates"]["judged_findings"] == 1
    assert rows["exact_duplicates"]["items"] == len({i for f in exact for i in f["items"]})
    near = checks.list_findings(p, check="near_duplicates")
    assert rows["near_duplicates"]["sent_to_review"] == len(near) == rows["near_duplicates"]["open_findings"]
    metrics = {m["metric"]: m for m in facts["model"]["metrics"]}
    assert metrics["accuracy"]["value"] == run["accuracy"]
    assert metrics["accuracy"]["value_ci_low"] == run["accuracy_ci_low"] < run["accuracy_ci_high"]
    assert metrics["macro_f1"]["value"] == run["macro_f1"] and facts["model"]["n_test"] == run["n_test"]
    assert any(f"run {run['run']}" in s for s in facts["summary"])
    out = tmp_path / "quality.html"
    reporting.write_quality_report(p, out)
    page = out.read_text(encoding="utf-8")
    assert "<h2>Data checks</h2>" in page and "<code>exact_duplicates</code>" in page
    assert f'<td class="num">{len(exact) - 1:,}</td>' in page
    assert "<h2>Latest model</h2>" in page and f"Training run {run['run']}" in page
    assert fmt_num(run["accuracy"]) in page and fmt_num(run["accuracy_ci_low"]) in page
    assert fmt_num(run["accuracy_ci_high"]) in page
    assert report_checks.HEADLINE_METRICS[0] == "accuracy"
