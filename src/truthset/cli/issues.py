"""The ``issues`` group: the data-issue tracker on the command line.

``list``, ``show``, ``open``, ``assign``, ``move``, ``comment``, ``link`` and ``export``;
the rules (which moves are allowed, who may own an issue) are in services/data_issues.py.
``--by NAME`` records who made a change (default: nobody named, the command line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from truthset.cli._common import _echo_json, _open, main

_BY = click.option("--by", "by", default=None, help="The user making the change (recorded in the history).")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@main.group()
def issues() -> None:
    """Data issues: list, show, open, assign, move, comment, link, export."""


def _svc() -> Any:
    from truthset.services import data_issues

    return data_issues


def _print_issue(issue: dict[str, Any]) -> None:
    click.echo(f"#{issue['id']} [{issue['status']}] {issue['kind']} ({issue['severity']}): {issue['title']}")
    click.echo(f"  owner: {issue['owner'] or '-'}  source: {issue['source']}  opened: {issue['created_at'][:19]}")
    if issue["body"]:
        for line in issue["body"].splitlines():
            click.echo(f"  {line}")
    if issue["items"]:
        click.echo(
            f"  items: {', '.join(str(i) for i in issue['items'][:20])}" + (" ..." if len(issue["items"]) > 20 else "")
        )
    for kind, targets in issue["links"].items():
        click.echo(f"  {kind}: {', '.join(targets)}")
    for h in issue.get("history", []):
        move = f" {h['from']} -> {h['to']}" if h["from"] else ""
        click.echo(f"  {str(h['at'])[:19]} {h['author'] or '-'} {h['event']}{move}: {h['note']}".rstrip(": "))
    if issue["moves"]:
        click.echo(f"  can move to: {', '.join(issue['moves'])}")


@issues.command("list")
@click.option("--status", multiple=True, help="Only these statuses (repeatable).")
@click.option("--kind", multiple=True, help="Only these kinds (repeatable).")
@click.option("--owner", default=None, help="Only issues this user owns.")
@click.option("--open", "open_only", is_flag=True, help="Only issues not resolved or won't-fix.")
@_JSON
@click.pass_context
def issues_list(
    ctx: click.Context,
    status: tuple[str, ...],
    kind: tuple[str, ...],
    owner: str | None,
    open_only: bool,
    as_json: bool,
) -> None:
    """List the project's data issues, newest first.

    Example: truthset issues list --open --kind drift
    """
    rows = _svc().list_issues(_open(ctx), status=status, kind=kind, owner=owner, open_only=open_only)
    if as_json:
        _echo_json({"issues": rows, "count": len(rows)})
        return
    if not rows:
        click.echo("no data issues")
    for r in rows:
        click.echo(
            f"#{r['id']:<5} {r['status']:<10} {r['severity']:<8} {r['kind']:<21} "
            f"{(r['owner'] or '-'):<12} {r['title'][:80]}"
        )


@issues.command("show")
@click.argument("issue_id", type=int)
@_JSON
@click.pass_context
def issues_show(ctx: click.Context, issue_id: int, as_json: bool) -> None:
    """Show one issue with its links and history.

    Example: truthset issues show 3
    """
    issue = _svc().get_issue(_open(ctx), issue_id)
    _echo_json(issue) if as_json else _print_issue(issue)


@issues.command("open")
@click.option(
    "--kind",
    required=True,
    help="ambiguous_definition, broken_data, duplicate, drift, annotator_quality, guideline_gap or other.",
)
@click.option("--title", required=True)
@click.option("--body", default="")
@click.option("--severity", default="medium", show_default=True, help="low, medium, high or critical.")
@click.option("--owner", default=None)
@click.option("--item", "items", type=int, multiple=True, help="An item id the issue is about (repeatable).")
@click.option("--guide-section", default=None, help="The guide section it concerns.")
@_BY
@_JSON
@click.pass_context
def issues_open(
    ctx: click.Context,
    kind: str,
    title: str,
    body: str,
    severity: str,
    owner: str | None,
    items: tuple[int, ...],
    guide_section: str | None,
    by: str | None,
    as_json: bool,
) -> None:
    """Open an issue by hand.

    Example: truthset issues open --kind guideline_gap --title "sarcasm is not covered" --item 12
    """
    svc, project = _svc(), _open(ctx)
    links = [("guide_section", guide_section)] if guide_section else []
    issue_id = svc.open_issue(
        project,
        kind=kind,
        title=title,
        body=body,
        severity=severity,
        owner=owner,
        items=items,
        links=links,
        author_id=svc.user_id_of(project, by),
    )
    issue = svc.get_issue(project, issue_id)
    _echo_json(issue) if as_json else click.echo(f"opened issue #{issue_id}")


@issues.command("assign")
@click.argument("issue_id", type=int)
@click.argument("owner", required=False)
@_BY
@_JSON
@click.pass_context
def issues_assign(ctx: click.Context, issue_id: int, owner: str | None, by: str | None, as_json: bool) -> None:
    """Give an issue an owner (no OWNER: nobody).

    Example: truthset issues assign 3 lee
    """
    svc, project = _svc(), _open(ctx)
    issue = svc.assign(project, issue_id, owner, author_id=svc.user_id_of(project, by))
    _echo_json(issue) if as_json else click.echo(f"issue #{issue_id}: owner {issue['owner'] or '-'}")


@issues.command("move")
@click.argument("issue_id", type=int)
@click.argument("status")
@click.option("--note", default="", help="Why (recorded in the history).")
@click.option(
    "--schema-version",
    type=int,
    default=None,
    help="With 'resolved': the schema edit that fixed a guideline gap (links that version).",
)
@_BY
@_JSON
@click.pass_context
def issues_move(
    ctx: click.Context, issue_id: int, status: str, note: str, schema_version: int | None, by: str | None, as_json: bool
) -> None:
    """Move an issue: open, triaged, escalated, resolved, wont_fix.

    Example: truthset issues move 3 resolved --schema-version 4
    """
    svc, project = _svc(), _open(ctx)
    author = svc.user_id_of(project, by)
    if schema_version is not None:
        if status != "resolved":
            raise click.UsageError("--schema-version goes with the status 'resolved'")
        issue = svc.resolve_with_schema(project, issue_id, version=schema_version, author_id=author)
    else:
        issue = svc.move(project, issue_id, status, note=note, author_id=author)
    _echo_json(issue) if as_json else click.echo(f"issue #{issue_id}: {issue['status']}")


@issues.command("comment")
@click.argument("issue_id", type=int)
@click.argument("text")
@_BY
@_JSON
@click.pass_context
def issues_comment(ctx: click.Context, issue_id: int, text: str, by: str | None, as_json: bool) -> None:
    """Add a comment to an issue.

    Example: truthset issues comment 3 "asked the data owner" --by lee
    """
    svc, project = _svc(), _open(ctx)
    issue = svc.comment(project, issue_id, text, author_id=svc.user_id_of(project, by))
    _echo_json(issue) if as_json else click.echo(f"issue #{issue_id}: comment added")


@issues.command("link")
@click.argument("issue_id", type=int)
@click.argument("kind")
@click.argument("target")
@_BY
@_JSON
@click.pass_context
def issues_link(ctx: click.Context, issue_id: int, kind: str, target: str, by: str | None, as_json: bool) -> None:
    """Link an issue to an item, schema_version, guide_section, finding or batch.

    Example: truthset issues link 3 guide_section "Sarcasm"
    """
    svc, project = _svc(), _open(ctx)
    issue = svc.link(project, issue_id, kind, target, author_id=svc.user_id_of(project, by))
    _echo_json(issue) if as_json else click.echo(f"issue #{issue_id}: linked {kind} {target}")


@issues.command("export")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), required=True, help="The CSV file to write.")
@click.option("--status", multiple=True)
@click.option("--open", "open_only", is_flag=True)
@_JSON
@click.pass_context
def issues_export(ctx: click.Context, csv_path: Path, status: tuple[str, ...], open_only: bool, as_json: bool) -> None:
    """Write issues as CSV for another tracker (JIRA, GitHub, a spreadsheet).

    Example: truthset issues export --csv issues.csv --open
    """
    svc, project = _svc(), _open(ctx)
    rows = svc.list_issues(project, status=status, open_only=open_only)
    n = svc.export_csv(project, csv_path, rows)
    _echo_json({"path": str(csv_path), "issues": n}) if as_json else click.echo(f"wrote {n} issue(s) to {csv_path}")
