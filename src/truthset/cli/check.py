"""``truthset check`` (validation rules and data checks, gating a pipeline) and ``truthset profile``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from truthset.cli._common import _console, _echo_json, _open, main


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.2f}"


def _print_precision(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="Precision of each check, from reviewers' verdicts (95% Wilson interval)")
    for col in ("check", "version", "findings", "wrong", "right", "ambiguous", "precision", "interval"):
        table.add_column(col, no_wrap=col == "check")
    for r in rows:
        table.add_row(
            r["check"],
            r["check_version"],
            str(r["findings"]),
            str(r["wrong"]),
            str(r["right"]),
            str(r["ambiguous"]),
            _fmt(r["precision"]),
            "-" if r["ci_low"] is None else f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}]",
        )
    _console().print(table)


def _print_result(data: dict[str, Any]) -> None:
    console = _console()
    console.print(f"[bold]{data['project']}[/]: {data['n_items']:,} items checked")
    for c in data["findings"]:
        if c.get("skipped"):
            console.print(f"  [dim]-[/] {c['check']}: skipped ({c['skipped']})")
            continue
        mark = (
            "[green]ok[/]"
            if not c["count"]
            else f"[{'red' if c['severity'] == 'blocking' else 'yellow'}]{c['severity']}[/]"
        )
        console.print(f"  {mark} {c['check']}: {c['message']}")
        if c["count"] and c.get("violations"):
            shown = ", ".join(map(str, c["violations"][:10]))
            console.print(f"      items: {shown}{' …' if c['count'] > 10 else ''}")
    for i in data.get("issues", []):
        console.print(f"  data issue #{i['issue']} {i['action']}: {i['check']} (truthset issues show {i['issue']})")
    gate = data["gate"]
    if gate["passed"]:
        console.print("[green]passed[/]: no blocking rule failed")
    else:
        console.print(f"[red]failed[/]: {gate['blocking_failed']} blocking rule(s) have violations")


@main.command("check")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    metavar="KIND",
    help="Run only this check (repeatable): rules, exact_duplicates, label_conflicts, near_duplicates, "
    "identifier_leakage, "
    "leakage, label_issues, consensus, outliers.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="Write the HTML report here.")
@click.option(
    "--send-to-review",
    "send",
    metavar="CHECK",
    default=None,
    help="Put the items of this check's findings (a check name or a finding kind) in the review queue.",
)
@click.option(
    "--precision", is_flag=True, help="Report each check's precision from reviewers' verdicts; runs no check."
)
@click.option(
    "--list",
    "list_check",
    metavar="CHECK",
    default=None,
    help="List the recorded findings of a check (ids, items, verdicts); runs no check.",
)
@click.option("--no-issues", is_flag=True, help="Raise no data issues for serious findings (default: raise them).")
@click.pass_context
def check(
    ctx: click.Context,
    kinds: tuple[str, ...],
    as_json: bool,
    output: Path | None,
    send: str | None,
    precision: bool,
    list_check: str | None,
    no_issues: bool,
) -> None:
    """Run validation rules and data checks; exit 1 when a blocking rule fails.

    Rules come from truthset.yaml (rules:); checks find duplicates, label conflicts, near
    duplicates, leakage across splits, probable label errors, doubtful consensus labels and
    outliers. Every check records findings a reviewer can judge.

    Example: truthset check -o check.html && truthset check --send-to-review label_issues
    """
    from truthset.services import checks

    project = _open(ctx.find_root())
    try:
        if precision:
            rows = checks.check_precision(project)
            _echo_json({"checks": rows}) if as_json else _print_precision(rows)
            return
        if list_check is not None:
            found = checks.list_findings(project, check=list_check)
            if as_json:
                _echo_json({"findings": found})
            else:
                for f in found:
                    click.echo(
                        f"#{f['id']} {f['check']} ({f['severity']}) items {f['items'][:10]} "
                        f"score {_fmt(f['score'])} verdict {f['verdict'] or '-'}"
                    )
            return
        if send is not None and not kinds:
            n = checks.send_to_review(project, send)
            _echo_json({"sent": n, "check": send}) if as_json else click.echo(
                f"{n:,} finding(s) of {send} sent to the review queue"
            )
            return
        result = checks.run_checks(project, kinds or None, raise_issues=not no_issues)
        data = result.to_dict()
        if send is not None:
            data["sent_to_review"] = checks.send_to_review(project, send)
        if output is not None:
            checks.write_report(result, output)
        if as_json:
            _echo_json(data)
        else:
            _print_result(data)
            if output is not None:
                click.echo(f"report: {output}")
            if send is not None:
                click.echo(f"{data['sent_to_review']:,} finding(s) of {send} sent to the review queue")
    finally:
        project.close()
    if not result.passed:
        ctx.exit(1)


@main.command("profile")
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the profile page (HTML, plots as inline SVG) here.",
)
@click.pass_context
def profile(ctx: click.Context, as_json: bool, output: Path | None) -> None:
    """Profile the project's raw data: fields, missing and distinct values, text health, labels.

    Example: truthset profile -o profile.html
    """
    from truthset.services import profile as svc

    project = _open(ctx.find_root())
    try:
        data = svc.profile_project(project)
    finally:
        project.close()
    if output is not None:
        svc.write_profile(data, output)
    if as_json:
        _echo_json(data)
        return
    console = _console()
    console.print(f"[bold]{data['dataset']}[/]: {data['n_rows']:,} items")
    for c in data["columns"]:
        extra = ""
        if c.get("text"):
            t = c["text"]
            extra = (
                f", length median {t['length']['median']:.0f} (max {t['length']['max']}), empty {t['empty']}, "
                f"mojibake {t['mojibake']}, control characters {t['control_chars']}"
            )
        console.print(f"  {c['name']} ({c['type']}): missing {c['missing']:,}, distinct {c['distinct']:,}{extra}")
    if data["labels"]:
        lab = data["labels"]
        shown = ", ".join(f"{k} {v:,}" for k, v in lab["overall"].items())
        console.print(f"  labels: {shown} (imbalance {lab['imbalance']:.1f}x)")
    if output is not None:
        click.echo(f"report: {output}")
