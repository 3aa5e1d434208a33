"""The ``user`` group: add users of the web app, set passwords, issue API tokens, list them."""

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
    import os

    from truthset.services.users import add_user

    if password is None:
        password = os.environ.get("TRUTHSET_PASSWORD") or click.prompt(
            f"password for {name}", hide_input=True, confirmation_prompt=True)
    project = _open(ctx.find_root())
    with project.engine.begin() as conn:
        account = add_user(conn, name, role=role, password=password)
    click.echo(f"user {account.name!r} ({account.role}) can now log in")


@user.command("password")
@click.argument("name")
@click.option("--password", default=None)
@click.pass_context
def user_password(ctx: click.Context, name: str, password: str | None) -> None:
    """Set a user's password. Example: truthset user password alice"""
    import os

    from truthset.services.users import set_password

    if password is None:
        password = os.environ.get("TRUTHSET_PASSWORD") or click.prompt(
            f"new password for {name}", hide_input=True, confirmation_prompt=True)
    with _open(ctx.find_root()).engine.begin() as conn:
        set_password(conn, name, password)
    click.echo(f"password of {name!r} changed")


@user.command("token")
@click.argument("name")
@click.pass_context
def user_token(ctx: click.Context, name: str) -> None:
    """Issue an API token for scripts (shown once; replaces the old one).

    Example: curl -H "Authorization: Bearer $(truthset user token bot)" http://127.0.0.1:8000/api/me
    """
    from truthset.services.users import new_token

    with _open(ctx.find_root()).engine.begin() as conn:
        click.echo(new_token(conn, name))


@user.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List users and roles. Example: truthset user list"""
    from truthset.services.users import list_users

    with _open(ctx.find_root()).engine.connect() as conn:
        rows = list_users(conn)
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['name']}\t{r['role']}\t{'can log in' if r['can_log_in'] else 'no login'}")
