"""Read-only SQL views for analysts (``truthset sql``, Datasette, Metabase): docs/sql.md.

The views give the tables' useful columns under stable names and leave out what an analyst
must never see (password hashes, API token hashes, session generations). They are plain
``CREATE VIEW`` statements that SQLite and PostgreSQL both accept, created by migration 0015
(and again by 0016, which added the data checks' findings and the training runs' columns).

A view pins the tables it reads: SQLite cannot rename a rebuilt table (Alembic's batch mode)
while a view names it, and PostgreSQL cannot change a column a view uses. So
:func:`truthset.store.migrate.upgrade` drops the views before pending migrations and creates
them again afterwards (:func:`drop_views`, :func:`create_views`): a later migration never
has to think about them.
"""

from __future__ import annotations

from typing import Any

#: a judgement is current when no later annotation supersedes it
_CURRENT = "NOT EXISTS (SELECT 1 FROM annotations b WHERE b.supersedes_id = a.id)"

#: view name -> SELECT; in creation order (no view reads another)
VIEWS: dict[str, str] = {
    "v_projects": "SELECT id, name, task, schema_version, created_at FROM projects",
    "v_batches": (
        "SELECT id, project_id, source, format, rows_read, items_added, annotations_added, duplicates, "
        "rejected, status, due_at, created_at FROM batches"
    ),
    "v_items": (
        "SELECT id, project_id, external_id, batch_id, line, split, payload, content_hash, created_at FROM items"
    ),
    "v_annotations": (
        "SELECT a.id, a.project_id, a.item_id, u.name AS annotator, a.label, a.value, a.schema_version, "
        "a.lead_time, a.source, a.batch_id, a.supersedes_id, a.ground_truth, a.created_at, "
        f"CASE WHEN {_CURRENT} THEN 1 ELSE 0 END AS is_current "
        "FROM annotations a JOIN users u ON u.id = a.user_id"
    ),
    "v_current_labels": (
        "SELECT a.id AS annotation_id, a.project_id, a.item_id, u.name AS annotator, a.label, a.value, "
        "a.schema_version, a.source, a.created_at "
        f"FROM annotations a JOIN users u ON u.id = a.user_id WHERE {_CURRENT}"
    ),
    "v_gold": "SELECT item_id, project_id, label, value, source, created_at FROM gold",
    "v_consensus": (
        "SELECT c.project_id, c.item_id, c.run_id, c.method, c.value, c.posterior, c.created_at, "
        "CASE WHEN c.run_id = (SELECT MAX(r.id) FROM runs r WHERE r.project_id = c.project_id "
        "AND r.kind = 'qc-aggregate') THEN 1 ELSE 0 END AS is_latest_run FROM consensus c"
    ),
    "v_import_findings": (
        "SELECT f.id, b.project_id, f.batch_id, f.kind, f.line, f.field, f.reason "
        "FROM import_findings f JOIN batches b ON b.id = f.batch_id"
    ),
    # one row per finding and item it concerns (a finding about a column has one row, no item);
    # "check" is a reserved word in SQL, so the column is check_name
    "v_findings": (
        'SELECT f.id AS finding_id, f.project_id, f."check" AS check_name, f.check_version, f.kind, f.severity, '
        "f.key, f.score, f.detail, fi.item_id, i.external_id, f.created_at, f.sent_at, f.verdict, "
        "u.name AS verdict_by, f.verdict_at FROM findings f "
        "LEFT JOIN finding_items fi ON fi.finding_id = f.id LEFT JOIN items i ON i.id = fi.item_id "
        "LEFT JOIN users u ON u.id = f.verdict_by"
    ),
    "v_issues": (
        "SELECT i.id, i.project_id, i.kind, i.severity, i.status, u.name AS owner, i.title, i.body, "
        "i.source, i.items, i.schema_version, i.created_at, i.updated_at "
        "FROM data_issues i LEFT JOIN users u ON u.id = i.owner_id"
    ),
    "v_issue_events": (
        "SELECT e.id, i.project_id, e.issue_id, u.name AS author, e.event, e.from_status, e.to_status, "
        "e.note, e.created_at FROM data_issue_events e JOIN data_issues i ON i.id = e.issue_id "
        "LEFT JOIN users u ON u.id = e.author_id"
    ),
    "v_issue_links": (
        "SELECT l.id, i.project_id, l.issue_id, l.kind, l.target, l.created_at "
        "FROM data_issue_links l JOIN data_issues i ON i.id = l.issue_id"
    ),
    "v_runs": (
        "SELECT id, project_id, kind, created_at, metrics, dataset_hash, schema_version, code_version, seed, "
        "config FROM runs"
    ),
    # no password_hash, token_hash or session_gen: never readable through SQL for analysts
    "v_users": "SELECT id, name, role, status, created_at FROM users",
}


def drop_views(conn: Any) -> None:
    """Drop every analyst view that exists (before a migration changes the tables they read)."""
    for name in reversed(list(VIEWS)):
        conn.exec_driver_sql(f"DROP VIEW IF EXISTS {name}")


def create_views(conn: Any) -> None:
    """(Re)create every analyst view on ``conn`` (any SQLAlchemy connection, in its transaction)."""
    drop_views(conn)
    for name, body in VIEWS.items():
        conn.exec_driver_sql(f"CREATE VIEW {name} AS {body}")
