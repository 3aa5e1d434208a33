"""Running the web app: ``serve`` a project, and ``demo`` (build the demo project, optionally serve it)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from truthset.cli._common import _echo_json, _open, main
from truthset.cli.imports import _print_import
from truthset.cli.project import _print_status
from truthset.core.errors import TruthsetError


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes. 2 on a 2-core machine about doubles what the app takes (the web "
    "stack is Python, one core per process); they share the store, SQLite or PostgreSQL.",
)
@click.option(
    "--workspace",
    type=click.Path(path_type=Path),
    default=None,
    help="Serve every project in this folder (its sub-folders with truthset.yaml): a project "
    "list at /projects, each project at /p/NAME/ with its own users and roles.",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int, workspace: Path | None) -> None:
    """Run the annotation web app (API docs at /docs).

    Example: truthset serve --port 8000 --workers 2
    Several projects: truthset serve --workspace ./projects
    """
    import uvicorn

    from truthset.server.app import create_app
    from truthset.services.users import list_users

    if workspace is not None:
        _serve_workspace(workspace, host, port, workers)
        return
    project = _open(ctx)
    click.echo(
        f"truthset {project.config.name}: http://{host}:{port}/ (log in; API docs at /docs)"
        + (f", {workers} worker processes" if workers > 1 else "")
    )
    can_log_in = any(u["can_log_in"] for u in list_users(project))
    if not can_log_in:
        where = "" if project.root.resolve() == Path.cwd().resolve() else f" -p {project.root}"
        click.echo(
            f"no user can log in yet: create one, e.g. truthset{where} user add NAME --role admin "
            "(the server need not stop)",
            err=True,
        )
    from truthset.services.media import unrecorded_images

    missing = unrecorded_images(project)
    if missing:
        click.echo(
            f"warning: {missing:,} item(s) have no recorded image and will not be shown; "
            "run 'truthset media rescan' (see docs/security.md)",
            err=True,
        )
    if workers == 1:
        uvicorn.run(create_app(project), host=host, port=port, log_level="warning")
        return
    from truthset.services.projects import session_key

    session_key(project)  # made once here, before the workers start and read it
    project.close()
    os.environ["TRUTHSET_PROJECT"] = str(project.root)
    uvicorn.run(
        "truthset.server.app:app_from_env", factory=True, host=host, port=port, workers=workers, log_level="warning"
    )


def _serve_workspace(folder: Path, host: str, port: int, workers: int) -> None:
    import uvicorn

    from truthset.server.workspace import Workspace
    from truthset.services.projects import session_key
    from truthset.services.workspace import open_workspace

    projects = open_workspace(folder)
    click.echo(
        f"truthset workspace {folder}: http://{host}:{port}/projects"
        + (f", {workers} worker processes" if workers > 1 else "")
    )
    for name, p in sorted(projects.items()):
        click.echo(f"  {name:<24} {p.task:<24} http://{host}:{port}/p/{name}/")
    if workers == 1:
        uvicorn.run(Workspace(projects, folder), host=host, port=port, log_level="warning")
        return
    for p in projects.values():
        session_key(p)  # made once here, before the workers start and read it
        p.close()
    os.environ["TRUTHSET_WORKSPACE"] = str(folder)
    uvicorn.run(
        "truthset.server.workspace:workspace_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


@main.command()
@click.argument("directory", type=click.Path(path_type=Path), default=Path("truthset-demo"))
@click.option("--json", "as_json", is_flag=True)
@click.option("--serve", is_flag=True, help="Then start the web app with demo users (printed with passwords).")
@click.option("--port", default=8000, show_default=True, type=int)
def demo(directory: Path, as_json: bool, serve: bool, port: int) -> None:
    """Build a demo project from the bundled SMS Spam Collection and show what is in it.

    Example: truthset demo ./spam-demo --serve
    """
    from truthset.services.checks import demo_step as run_checks
    from truthset.services.dashboard import demo_step as simulate_team
    from truthset.services.demo import build_demo
    from truthset.services.reporting import demo_step as write_reports
    from truthset.services.runs import demo_step as train_baseline
    from truthset.services.status import status

    project, report = build_demo(directory)
    simulated = simulate_team(project)  # annotators, gold, reviews: the dashboard's numbers
    checked = run_checks(project)  # truthset check: findings and check.html
    baseline = train_baseline(project)  # a run, its evaluation, error buckets, model card
    data = status(project)
    written = write_reports(project)  # the quality report and the data card
    if as_json:
        _echo_json(
            {
                "directory": str(project.root),
                "import": report.to_dict(),
                "status": data,
                "dashboard": simulated,
                "checks": checked,
                "baseline": {k: v for k, v in baseline.items() if k != "summary"},
                "reports": written,
            }
        )
        return
    if report.batch is None:
        raise TruthsetError("the demo import recorded no batch")
    click.echo(f"demo project in {project.root} — SMS Spam Collection (Almeida et al. 2011, CC BY 4.0)\n")
    _print_import(report)
    click.echo("")
    _print_status(data)
    from truthset.quality import sample_size

    n = sample_size(data["items"], max_error_rate=0.02, confidence=0.95) if data["items"] else 0
    click.echo(
        f"\nquality check: to claim at most 2% wrong labels among these {data['items']:,} items with 95% "
        f"confidence, review {n:,} of them and find no error (truthset qc sample --batch {report.batch} "
        "--max-error-rate 0.02 -o review.csv draws them)."
    )
    if not simulated["skipped"]:
        click.echo(
            f"\ndashboard: {simulated['judgements']:,} simulated judgements by 3 annotators over 14 days, "
            f"{simulated['gold_items']} gold items, {simulated['reviews']} reviews (/dashboard in the web app)"
        )
    click.echo(
        f"\ndata checks (truthset check): {', '.join(f'{k} {v:,}' for k, v in checked['flagged'].items())}"
        f"; report: {checked['report']}; data issues raised: {checked.get('issues', 0)} (truthset issues list)"
    )
    click.echo("\n" + baseline["summary"])
    click.echo(
        f"\nnext: cd {directory} && truthset guide -o guide.html; truthset findings --kind duplicate; "
        "truthset export --format labelstudio -o tasks.json"
    )
    click.echo(f"\nreports: {written['quality_report']} and {written['data_card']}")
    if serve:
        import uvicorn

        from truthset.server.app import create_app
        from truthset.services.demo import demo_users

        click.echo(f"\nweb app: http://127.0.0.1:{port}/login  (API docs: /docs; Ctrl-C stops it)")
        for name, role, password in demo_users(project):
            click.echo(f"  {role:<10} {name:<9} password {password}")
        uvicorn.run(create_app(project), host="127.0.0.1", port=port, log_level="warning")
