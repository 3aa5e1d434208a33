"""``truthset doctor``: the project's health checks (services/health.py), non-zero exit on a failure."""

from __future__ import annotations

import click

from truthset.cli._common import _echo_json, main

MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


@main.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Check the database (answers, migrations current, integrity), free disk, leases nobody
    will finish and SQLite's WAL size. Exits 1 when a check fails (warnings do not).

    Example: truthset doctor --json
    """
    from truthset.services.health import doctor_at

    report = doctor_at(ctx.find_root().obj["project_dir"])
    if as_json:
        _echo_json(report)
    else:
        for c in report["checks"]:
            click.echo(f"{MARK[c['status']]}  {c['check']:<12} {c['detail']}")
        click.echo("healthy" if report["ok"] else "problems found: see FAIL above")
    if not report["ok"]:
        ctx.exit(1)
