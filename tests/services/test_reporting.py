"""Quality report and data card of a real crowd project (the Duck Identification answers):
the facts, the rendered pages, the PDF (pages and headings), and changes between reports."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner
from pypdf import PdfReader

from tests.conftest import DATASETS
from tests.support import NewProject
from truthset.cli import main
from truthset.services import data_issues, reporting
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project
from truthset.services.schema import rename_label

DUCK = DATASETS / "crowd" / "d_Duck_Identification"


def _project(new_project: NewProject, tmp_path: Path) -> tuple[Project, pd.DataFrame]:
    """The duck answers in two batches (half the questions each), with one open issue."""
    p = new_project(labels=["0", "1"])
    raw = pd.read_csv(DUCK / "answer.csv")
    questions = sorted(raw["question"].unique())
    first = raw[raw["question"].isin(questions[: len(questions) // 2])]
    for name, part in (("first.csv", first), ("second.csv", raw.drop(first.index))):
        part.to_csv(tmp_path / name, index=False)
        import_file(p, tmp_path / name, ImportOptions(text_col="question", annotator_col="worker", label_col="answer"))
    data_issues.open_issue(p, kind="guideline_gap", title="mallards vs. other ducks is unclear", severity="high")
    return p, raw


def test_quality_facts_per_batch_and_changes_since_the_last_report(new_project: NewProject, tmp_path: Path) -> None:
    p, raw = _project(new_project, tmp_path)
    facts = reporting.quality_facts(p)
    assert facts["labelled"]["items"] == raw["question"].nunique() == facts["labelled"]["items_done"]
    assert facts["labelled"]["annotators"] == raw["worker"].nunique()
    assert len(facts["batches"]) == 2 and sum(b["items"] for b in facts["batches"]) == facts["labelled"]["items"]
    for b in facts["batches"]:
        a = b["agreement"]
        assert a is not None and a["ci_low"] <= a["value"] <= a["ci_high"]
    high = [i for i in data_issues.list_issues(p) if i["severity"] == "high"]
    assert {r["title"] for r in facts["risks"]} == {f"#{i['id']} {i['title']}" for i in high}
    assert any("mallards" in r["title"] for r in facts["risks"])
    assert facts["changes"] == [] and facts["previous_period"] is None

    data_issues.open_issue(p, kind="duplicate", title="question asked twice")
    again = reporting.quality_facts(p)
    change = {c["what"]: (c["before"], c["after"]) for c in again["changes"]}
    n_open = len(data_issues.list_issues(p, open_only=True))
    assert (
        change["open data issues"] == (n_open - 1, n_open)
        and change["annotations"] == (len(raw.drop_duplicates(["question", "worker"], keep="last")),) * 2
    )
    assert again["previous_period"] is not None


def test_report_quality_html_and_pdf(new_project: NewProject, tmp_path: Path) -> None:
    p, _ = _project(new_project, tmp_path)
    html, pdf = tmp_path / "report.html", tmp_path / "report.pdf"
    r = CliRunner().invoke(
        main, ["--project", str(p.root), "report", "quality", "-o", str(html), "--pdf", str(pdf), "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["html"] == str(html) and out["labelled"]["items"] > 0
    page = html.read_text(encoding="utf-8")
    for heading in (
        "Summary",
        "What was labelled",
        "Batches",
        "Risks and bottlenecks",
        "Open data issues",
        "Changes since the last report",
    ):
        assert heading in page
    assert "mallards vs. other ducks is unclear" in page and "<svg" in page
    reader = PdfReader(pdf)
    text = "\n".join(pg.extract_text() for pg in reader.pages)
    assert len(reader.pages) >= 2
    for heading in ("Summary", "Batches", "Open data issues", "Changes since the last report"):
        assert heading in text


def test_data_card_facts_and_page(new_project: NewProject, tmp_path: Path) -> None:
    p, raw = _project(new_project, tmp_path)
    before = p.schema_version
    rename_label(p, "1", "duck")
    card = reporting.data_card_facts(p)
    assert [s["source"] for s in card["sources"]] == ["first.csv", "second.csv"]
    assert card["schema"]["version"] == before + 1 and len(card["schema"]["versions"]) == before + 1
    assert sum(card["label_distribution"].values()) == raw["question"].nunique()
    assert set(card["label_distribution"]) <= {"0", "duck"}
    assert any("mallards" in x for x in card["limitations"])
    assert any("No gold items" in x for x in card["limitations"])
    out = tmp_path / "card.html"
    r = CliRunner().invoke(main, ["--project", str(p.root), "report", "data-card", "-o", str(out)])
    assert r.exit_code == 0, r.output
    page = out.read_text(encoding="utf-8")
    for heading in ("Sources", "Label schema", "Splits", "Duplicates", "Known limitations"):
        assert heading in page


def test_demo_step_writes_both_pages(new_project: NewProject, tmp_path: Path) -> None:
    p, _ = _project(new_project, tmp_path)
    paths = reporting.demo_step(p)
    assert Path(paths["quality_report"]).is_file() and Path(paths["data_card"]).is_file()


def test_reviewed_batches_get_an_acceptance_verdict(new_project: NewProject, tmp_path: Path) -> None:
    from sqlalchemy import select

    from truthset.services.review import record_verdict
    from truthset.services.users import add_user
    from truthset.store.models import Annotation, Item

    p, _ = _project(new_project, tmp_path)
    reviewer = add_user(p, f"rev-{p.config.name}", role="reviewer", password="pw-reviewer-123").id
    with p.store.read() as tx:
        rows = tx.execute(
            select(Item.batch_id, Annotation.item_id, Annotation.id)
            .join(Item, Item.id == Annotation.item_id)
            .where(Item.project_id == p.id)
            .order_by(Annotation.id)
        ).all()
    in_rows = {b for b, _, _ in rows}
    batches = sorted(b for b in in_rows if b is not None)
    assert len(batches) == len(in_rows) == 2  # every imported item is in one of the two batches
    first = list({i: a for b, i, a in rows if b == batches[0]}.items())[:60]
    second = list({i: a for b, i, a in rows if b == batches[1]}.items())[:20]
    for item, annotation in first:
        record_verdict(p, reviewer, item, "accept", annotation_id=annotation)
    for n, (item, annotation) in enumerate(second):
        if n < 5:
            record_verdict(p, reviewer, item, "reject", annotation_id=annotation, reason="not a duck")
        else:
            record_verdict(p, reviewer, item, "accept", annotation_id=annotation)
    facts = reporting.quality_facts(p, max_error_rate=0.05)
    a, b = (x["acceptance"] for x in facts["batches"])
    assert len(first) >= 50  # every item of the first batch, or 60 of them
    assert a["accepted"] is True and (a["n_reviewed"], a["n_errors"]) == (len(first), 0) and a["upper_bound"] <= 0.05
    assert b["accepted"] is False and (b["n_reviewed"], b["n_errors"]) == (20, 5) and b["error_rate"] == 0.25
    assert b["ci_low"] <= 0.25 <= b["ci_high"]
    assert any(r["title"].endswith("failed acceptance") for r in facts["risks"])
    page = tmp_path / "r.html"
    reporting.write_quality_report(p, page)
    assert "batches accepted" in page.read_text(encoding="utf-8")
