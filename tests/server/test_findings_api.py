"""The findings API: reviewers list findings and record verdicts; annotators may not; a bad
verdict is a 4xx naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.server.conftest import Served, login
from truthset.services import checks
from truthset.services.projects import Project


def _with_conflict(p: Project, tmp_path: Path) -> dict[str, Any]:
    """Two copies of an SMS message with different labels: one label_conflicts finding."""
    import json

    from truthset.services.imports import ImportOptions, import_file

    f = tmp_path / "conflict.jsonl"
    rows = [
        {"id": "x1", "label": "pos", "text": "Ok lar... Joking wif u oni..."},
        {"id": "x2", "label": "neg", "text": "ok lar... joking wif u oni..."},
    ]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    import_file(p, f, ImportOptions(id_col="id", label_col="label"))
    checks.run_checks(p, ["label_conflicts"])
    (finding,) = checks.list_findings(p, check="label_conflicts")
    return finding


def test_reviewer_records_a_verdict_and_precision_counts_it(served: Served, tmp_path: Path) -> None:
    p, app, names = served
    finding = _with_conflict(p, tmp_path)
    client, _ = login(app, names["reviewer"])
    listed = client.get("/api/findings", params={"item_id": finding["items"][0]}).json()["findings"]
    assert [f["id"] for f in listed] == [finding["id"]]
    res = client.post(f"/api/findings/{finding['id']}/verdict", json={"verdict": "wrong"})
    assert res.status_code == 200 and res.json() == {"finding_id": finding["id"], "verdict": "wrong"}
    (row,) = [r for r in checks.check_precision(p) if r["check"] == "label_conflicts"]
    assert (row["wrong"], row["n"], row["precision"]) == (1, 1, 1.0)


def test_annotators_may_not_and_bad_input_is_4xx(served: Served, tmp_path: Path) -> None:
    p, app, names = served
    finding = _with_conflict(p, tmp_path)
    annotator, _ = login(app, names["annotator"])
    assert annotator.post(f"/api/findings/{finding['id']}/verdict", json={"verdict": "wrong"}).status_code == 403
    assert annotator.get("/api/findings").status_code == 403
    client, _ = login(app, names["reviewer"])
    res = client.post(f"/api/findings/{finding['id']}/verdict", json={"verdict": "maybe"})
    assert res.status_code in (400, 422) and "verdict" in res.text
    assert client.post("/api/findings/999999/verdict", json={"verdict": "right"}).status_code == 404
    assert client.post("/api/findings/0/verdict", json={"verdict": "right"}).status_code == 422
