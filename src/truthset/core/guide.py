"""Render the label schema as the annotation guide annotators read (Markdown or HTML).

The guide is the schema, nothing more: one source of truth, so the guide can never drift
from the labels annotators are asked to apply. The HTML is self-contained (inline CSS, no
external assets); ``fragment`` is its body alone, for a page that has its own frame (the web
app's /guide). Schema text is plain text in every format: HTML-escaped in HTML, and in
Markdown escaped so that no HTML, link, image or emphasis in it renders as such.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Literal

import jinja2

from truthset.core.schema import LabelSchema

#: characters that make Markdown (CommonMark/GFM) markup anywhere in a line
_MD_INLINE = re.compile(r"([\\`*_\[\]|~])")
#: what makes markup at the start of a line: headings, lists, rules (a quote's ">" is an entity)
_MD_LINE_START = re.compile(r"^(\s*\d*)([#+\-=.)])", re.MULTILINE)


def markdown_text(value: object) -> str:
    """``value`` as literal Markdown text: HTML characters as entities, markup characters
    backslash-escaped, so schema text cannot inject HTML, links or images into a guide."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_INLINE.sub(r"\\\1", text)
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def markdown_code(value: object) -> str:
    """``value`` as a Markdown code span (shown literally), or escaped text if it holds a backtick."""
    text = str(value)
    return f"`{text}`" if "`" not in text and "\n" not in text else markdown_text(text)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("truthset.core", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["md"] = markdown_text
    env.filters["md_code"] = markdown_code
    return env


def render_guide(
    schema: LabelSchema,
    *,
    project: str,
    task: str,
    version: int | None = None,
    fmt: Literal["md", "html", "fragment"] = "html",
) -> str:
    """Return the annotation guide for ``schema`` as Markdown (``fmt='md'``), an HTML document
    (``'html'``) or the document's body (``'fragment'``, already escaped).

    The version number, when given, is printed on the guide so an annotator can tell which
    version of the definitions they are reading; every annotation records that version.
    """
    name = {"md": "guide.md", "html": "guide.html", "fragment": "guide_body.html"}[fmt]
    template = _environment().get_template(name)
    return template.render(schema=schema, project=project, task=task, version=version)
