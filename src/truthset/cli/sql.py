"""``truthset sql``: read the project's data with SQL, on a read-only connection (docs/sql.md)."""

from __future__ import annotations

import click

from truthset.cli._common import _echo_json, _open, main


@main.command("sql")
@click.argument("query")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV with a header row.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: columns, rows, row_count, truncated.")
@click.option("--limit", type=int, default=1000, show_default=True, help="At most this many rows.")
@click.pass_context
def sql(ctx: click.Context, query: str, as_csv: bool, as_json: bool, limit: int) -> None:
    """Run one read-only SQL query; writes are refused. Views: v_items, v_annotations,
    v_current_labels, v_gold, v_consensus, v_findings, v_issues, v_issue_events, v_issue_links,
    v_runs, v_users, v_batches, v_projects (every row carries project_id).

    Example: truthset sql "SELECT label, count(*) AS n FROM v_current_labels GROUP BY label" --csv
    """
    from truthset.services import sql as svc

    if as_csv and as_json:
        raise click.UsageError("choose one of --csv and --json")
    result = svc.query(_open(ctx), query, limit=limit)
    if as_json:
        _echo_json(result)
    elif as_csv:
        click.echo(svc.as_csv(result), nl=False)
    else:
        widths = [
            max([len(str(c))] + [len(str(r[i])) for r in result["rows"][:200]]) for i, c in enumerate(result["columns"])
        ]
        widths = [min(w, 60) for w in widths]
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(result["columns"], widths)))
        for r in result["rows"]:
            click.echo("  ".join(str("" if v is None else v)[:60].ljust(w) for v, w in zip(r, widths)))
    if result["truncated"] and not as_json:
        click.echo(f"(stopped at --limit {limit} rows)", err=True)
