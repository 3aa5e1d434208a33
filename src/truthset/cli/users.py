"""The ``user`` group: add users of the web app, set passwords and roles, issue API tokens,
disable, enable or remove users, list them. Every change that affects what a user may do ends
their browser sessions (within ``account_cache_seconds`` in a running server)."""

from __future__ import annotations

import click

from truthset.cli._common import _echo_json, _open, main


@main.group()
def user() -> None:
    """Users of the web app: admin, reviewer, annotator."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "reviewer", "annotator"]), default="annotator", show_default=True)
@click.option("--password", default=None, help="Default: asked for (or read from TRUTHSET_PASSWORD).")
@click.pass_context
def user_add(ctx: click.Context, name: str, role: str, password: str | None) -> None:
    """Create a user who can log in.

    Example: truthset user add alice --role annotator
    """
    from truthset.core.config import load_settings
    from truthset.services.users import add_user

    if password is None:
        password = load_settings().password or click.prompt(
            f"password for {name}", hide_input=True, confirmation_prompt=True
        )
    account = add_user(_open(ctx.find_root()), name, role=role, password=password)
    click.echo(f"user {account.name!r} ({account.role}) can now log in")


@user.command("password")
@click.argument("name")
@click.option("--password", default=None)
@click.pass_context
def user_password(ctx: click.Context, name: str, password: str | None) -> None:
    """Set a user's password. Example: truthset user password alice"""
    from truthset.core.config import load_settings
    from truthset.services.users import set_password

    if password is None:
        password = load_settings().password or click.prompt(
            f"new password for {name}", hide_input=True, confirmation_prompt=True
        )
    set_password(_open(ctx.find_root()), name, password)
    click.echo(f"password of {name!r} changed; their sessions are ended")


@user.command("token")
@click.argument("name")
@click.pass_context
def user_token(ctx: click.Context, name: str) -> None:
    """Issue an API token for scripts (shown once; replaces the old one).

    Example: curl -H "Authorization: Bearer $(truthset user token bot)" http://127.0.0.1:8000/api/me
    """
    from truthset.services.users import new_token

    click.echo(new_token(_open(ctx.find_root()), name))


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["admin", "reviewer", "annotator"]))
@click.pass_context
def user_role(ctx: click.Context, name: str, role: str) -> None:
    """Give a user another role; their sessions end. Example: truthset user role alice reviewer"""
    from truthset.services.users import set_role

    set_role(_open(ctx.find_root()), name, role)
    click.echo(f"{name!r} is now {role}; their sessions are ended (they log in again)")


@user.command("disable")
@click.argument("name")
@click.pass_context
def user_disable(ctx: click.Context, name: str) -> None:
    """Stop a user logging in or using their API token (until enabled); their sessions end.

    Example: truthset user disable alice
    """
    from truthset.services.users import disable

    disable(_open(ctx.find_root()), name)
    click.echo(
        f"{name!r} is disabled: no login, no API token, sessions ended ('truthset user enable {name}' undoes it)"
    )


@user.command("enable")
@click.argument("name")
@click.pass_context
def user_enable(ctx: click.Context, name: str) -> None:
    """Let a disabled user log in and use their API token again. Example: truthset user enable alice"""
    from truthset.services.users import enable

    enable(_open(ctx.find_root()), name)
    click.echo(f"{name!r} is enabled")


@user.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def user_remove(ctx: click.Context, name: str, yes: bool) -> None:
    """Remove a user for good: no login, password or API token; sessions end. Their annotations
    and reviews stay, attributed to the name, and the name cannot be given to anyone else.

    Example: truthset user remove alice --yes
    """
    from truthset.services.users import remove

    if not yes:
        click.confirm(f"remove {name!r} for good (their annotations stay)?", abort=True)
    remove(_open(ctx.find_root()), name)
    click.echo(f"{name!r} is removed; their annotations stay, attributed to {name!r}")


@user.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List users and roles. Example: truthset user list"""
    from truthset.services.users import list_users

    rows = list_users(_open(ctx.find_root()))
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        login = r["status"] if r["status"] != "active" else ("can log in" if r["can_log_in"] else "no login")
        click.echo(f"{r['name']}\t{r['role']}\t{login}")


@user.command("grant")
@click.argument("name")
@click.argument("role", type=click.Choice(["admin", "reviewer", "annotator"]), required=False)
@click.option("--clear", is_flag=True, help="Drop the project's role: the user's own role applies again.")
@click.pass_context
def user_grant(ctx: click.Context, name: str, role: str | None, clear: bool) -> None:
    """Give NAME a ROLE in this project only (where one database holds several projects:
    PostgreSQL, a workspace); their sessions end.

    Example: truthset -p support-tickets user grant rita reviewer
    """
    from truthset.services.users import set_project_role

    if (role is None) == (not clear):
        raise click.UsageError("give a ROLE, or --clear")
    project = _open(ctx.find_root())
    set_project_role(project, name, None if clear else role)
    click.echo(f"{name!r} is {'back to their own role' if clear else role} in {project.config.name}")
