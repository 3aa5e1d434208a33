"""The analysts' views over the data checks' findings (``v_findings``: one row per finding and
item, with check, severity and verdict) and the training runs (``v_runs``), on SQLite and
PostgreSQL; and migration 0016 brings a database already at 0015 up to them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from tests.conftest import SMS
from tests.support import NewProject
from truthset.services import checks
from truthset.services import sql as svc
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project
from truthset.services.training import train
from truthset.services.users import add_user
from truthset.store.engine import make_engine
from truthset.store.migrate import _alembic_config, head_revision, upgrade


def _project(new_project: NewProject, tmp_path: Path) -> Project:
    """Real SMS messages under ids sms1..sms60, plus one text three times with two labels."""
    p = new_project(labels=["ham", "spam"])
    lines = SMS.read_text(encoding="utf-8").split("\n")[1:61]
    rows = [{"id": f"sms{n}", "label": lab, "text": t} for n, (lab, t) in enumerate(ln.split("\t", 1) for ln in lines)]
    rows += [{"id": f"copy{n}", "label": lab, "text": "see you at six"} for n, lab in enumerate(["ham", "spam", "ham"])]
    f = tmp_path / f"{p.config.name}.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    import_file(p, f, ImportOptions(id_col="id", label_col="label"))
    return p


def test_v_findings_has_one_row_per_finding_item_with_its_verdict(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    checks.run_checks(p, ["exact_duplicates", "label_conflicts"])
    found = checks.list_findings(p, check="label_conflicts")
    assert len(found) == 1 and len(found[0]["items"]) == 3
    reviewer = add_user(p, f"rev-{p.config.name}", role="reviewer", password="pw-reviewer-1234")
    checks.record_finding_verdict(p, found[0]["id"], reviewer.id, "wrong")
    out = svc.query(
        p,
        "SELECT finding_id, check_name, severity, item_id, external_id, verdict, verdict_by "
        f"FROM v_findings WHERE project_id = {p.id} AND check_name = 'label_conflicts' ORDER BY item_id",
    )
    assert out["columns"] == ["finding_id", "check_name", "severity", "item_id", "external_id", "verdict", "verdict_by"]
    assert [r[3] for r in out["rows"]] == sorted(found[0]["items"])
    assert {(r[0], r[1], r[2], r[5], r[6]) for r in out["rows"]} == {
        (found[0]["id"], "label_conflicts", "error", "wrong", f"rev-{p.config.name}")
    }
    # every finding-item pair, and nothing else
    pairs = sum(len(f["items"]) for f in checks.list_findings(p))
    assert svc.query(p, f"SELECT count(*) FROM v_findings WHERE project_id = {p.id}")["rows"] == [[pairs]]


def test_v_runs_shows_a_training_run(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    run = train(p, seed=0, n_boot=50)
    out = svc.query(
        p,
        "SELECT id, kind, created_at, metrics, dataset_hash, schema_version FROM v_runs "
        f"WHERE project_id = {p.id} AND id = {run['run']}",
    )
    ((rid, kind, created, metrics, dataset_hash, schema_version),) = out["rows"]
    assert rid == run["run"] and kind == "train" and created
    assert json.loads(metrics)["accuracy"] == run["accuracy"]
    assert dataset_hash == run["dataset_hash"] and schema_version == p.schema_version


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
def test_0016_gives_a_database_at_0015_the_new_views(
    tmp_path: Path, backend_name: str, request: pytest.FixtureRequest
) -> None:
    from alembic import command

    from tests.store.test_migration_0015 import _url

    def columns(conn: Connection, view: str) -> list[str]:
        return list(conn.execute(text(f"SELECT * FROM {view} WHERE 1 = 0")).keys())

    engine = make_engine(_url(tmp_path, backend_name, request))
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0015")
        # a database migrated by 0015 as it shipped: v_findings showed import findings
        conn.exec_driver_sql("DROP VIEW v_findings")
        conn.exec_driver_sql("DROP VIEW v_import_findings")
        conn.exec_driver_sql(
            "CREATE VIEW v_findings AS SELECT f.id, b.project_id, f.batch_id, f.kind, f.line, "
            "f.field, f.reason FROM import_findings f JOIN batches b ON b.id = f.batch_id"
        )
    assert head_revision() == "0016"
    upgrade(engine)
    with engine.begin() as conn:
        assert {"check_name", "severity", "verdict", "item_id"} <= set(columns(conn, "v_findings"))
        assert columns(conn, "v_import_findings")[-1] == "reason"
        assert "schema_version" in columns(conn, "v_runs")
        command.downgrade(_alembic_config(conn), "0015")  # leaves working views behind
        assert "check_name" in columns(conn, "v_findings")
    engine.dispose()
