"""Render the label schema as the annotation guide annotators read (Markdown or HTML).

The guide is the schema, nothing more: one source of truth, so the guide can never drift
from the labels annotators are asked to apply. The HTML is self-contained (inline CSS, no
external assets) and every piece of user text is escaped.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import jinja2

from truthset.core.schema import LabelSchema


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("truthset.core", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render_guide(
    schema: LabelSchema,
    *,
    project: str,
    task: str,
    version: int | None = None,
    fmt: Literal["md", "html"] = "html",
) -> str:
    """Return the annotation guide for ``schema`` as Markdown (``fmt='md'``) or HTML.

    The version number, when given, is printed on the guide so an annotator can tell which
    version of the definitions they are reading; every annotation records that version.
    """
    template = _environment().get_template("guide.md" if fmt == "md" else "guide.html")
    return template.render(schema=schema, project=project, task=task, version=version)
