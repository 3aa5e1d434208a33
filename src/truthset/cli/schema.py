"""The ``schema`` group: show, check and migrate (rename, merge, split) the label schema."""

from __future__ import annotations

from typing import Any

import click

from truthset.cli._common import _echo_json, _open, main


@main.group()
def schema() -> None:
    """Show, check and migrate the label schema (history is always kept)."""


@schema.command("show")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def schema_show(ctx: click.Context, as_json: bool) -> None:
    """Print the current schema and every version.

    Example: truthset schema show --json
    """
    from truthset.services.projects import schema_history

    project = _open(ctx.find_root())
    data = {
        "version": project.schema_version,
        "schema": project.config.schema.model_dump(),
        "versions": schema_history(project),
    }
    if as_json:
        _echo_json(data)
        return
    for v in data["versions"]:
        click.echo(
            f"v{v['version']}  {v['created_at'][:19]}  {v['note'].get('op', '')}  labels: {', '.join(v['labels'])}"
        )


@schema.command("check")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def schema_check(ctx: click.Context, as_json: bool) -> None:
    """Find duplicate names, hotkey clashes, labels without a hotkey or definition, labels not in the schema.

    Names are compared ignoring case, Unicode form and spacing ('negative' and 'Negative' are
    one name). Exits 1 when an error is found (warnings alone exit 0). Example: truthset schema check
    """
    from truthset.services.schema import check

    findings = check(_open(ctx.find_root()))
    errors = [f for f in findings if f.severity == "error"]
    if as_json:
        _echo_json(
            {"errors": len(errors), "warnings": len(findings) - len(errors), "findings": [f.__dict__ for f in findings]}
        )
    else:
        for f in findings:
            click.echo(f"{f.severity}: {f.code}: {f.message}")
        click.echo(f"{len(errors)} error(s), {len(findings) - len(errors)} warning(s)")
    if errors:
        ctx.exit(1)


def _migration_output(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _echo_json(result)
        return
    click.echo(
        f"schema v{result['version']}: {result['op']}; {result['annotations_migrated']:,} annotation(s) "
        f"migrated (old rows kept as history)"
        + (f"; {result['items_queued']:,} item(s) queued for re-annotation" if result["items_queued"] else "")
    )
    for dropped in result.get("exclusions_dropped", []):
        click.echo(f"  exclusion dropped (now the same label): {dropped}")


@schema.command("rename")
@click.argument("old")
@click.argument("new")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def schema_rename(ctx: click.Context, old: str, new: str, as_json: bool) -> None:
    """Rename label OLD to NEW, keeping every annotation.

    Example: truthset schema rename spam junk
    """
    from truthset.services.schema import rename_label

    _migration_output(rename_label(_open(ctx.find_root()), old, new), as_json)


@schema.command("merge")
@click.argument("labels", nargs=-1, required=True)
@click.option("--into", required=True, help="The label they become (existing or new).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def schema_merge(ctx: click.Context, labels: tuple[str, ...], into: str, as_json: bool) -> None:
    """Merge LABELS into one label.

    The merged labels' examples and tie-break rules are kept (each rule prefixed by its label);
    an exclusion is dropped, and listed, when it is now an example of the label or names another
    of the merged labels. A label used in annotations but no longer in the schema may be merged
    too. Example: truthset schema merge promo scam --into spam
    """
    from truthset.services.schema import merge_labels

    _migration_output(merge_labels(_open(ctx.find_root()), list(labels), into), as_json)


@schema.command("split")
@click.argument("label")
@click.option("--into", required=True, multiple=False, help="New labels, comma- or space-separated.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def schema_split(ctx: click.Context, label: str, into: str, as_json: bool) -> None:
    """Split LABEL into new labels and queue its items for re-annotation.

    Example: truthset schema split spam --into "promo,scam"
    """
    from truthset.services.schema import split_label

    names = [n for n in into.replace(",", " ").split() if n]
    _migration_output(split_label(_open(ctx.find_root()), label, names), as_json)
