"""The annotation guide rendered from the schema (Markdown and self-contained HTML)."""

from __future__ import annotations

import html
import re
from typing import Literal, cast

import pytest

from truthset.core.guide import render_guide
from truthset.core.schema import Label, LabelSchema


def sms_schema() -> LabelSchema:
    return LabelSchema(
        instructions="Judge the message, not the sender.",
        labels=[
            Label(
                name="spam",
                definition="Unsolicited advertising or a scam.",
                include=["WINNER!! claim your prize", "Call 0800 now for a free phone"],
                exclude=["A bill from your own provider"],
                tie_break="If it sells something to you, it is spam.",
                hotkey="1",
                color="#D55E00",
            ),
            Label(
                name="ham",
                definition="A normal message between people.",
                include=["See you at 7?"],
                exclude=["A chain letter"],
                tie_break="If a person wrote it to you personally, it is ham.",
                hotkey="2",
                color="#009E73",
            ),
        ],
    )


Fmt = Literal["md", "html"]


@pytest.fixture(params=["md", "html"])
def fmt(request: pytest.FixtureRequest) -> Fmt:
    return cast(Fmt, request.param)


def test_guide_contains_every_part_of_every_label(fmt: Fmt) -> None:
    s = sms_schema()
    out = render_guide(s, project="sms", task="text-classification", version=3, fmt=fmt)
    for label in s.labels:
        assert label.name in out
        assert label.definition in out
        for ex in label.include + label.exclude:
            assert ex in out
        assert label.tie_break in out
        assert label.hotkey in out
    assert s.instructions in out
    assert "sms" in out
    assert "text-classification" in out


def test_guide_shows_the_version(fmt: Fmt) -> None:
    out = render_guide(sms_schema(), project="p", task="text-classification", version=17, fmt=fmt)
    assert re.search(r"version\s+17\b", out)
    without = render_guide(sms_schema(), project="p", task="text-classification", fmt=fmt)
    assert "version" not in without


def test_md_lists_hotkeys_in_the_headings_and_table() -> None:
    out = render_guide(sms_schema(), project="sms", task="text-classification", version=1, fmt="md")
    assert out.startswith("# Annotation guide: sms")
    assert "### spam (key `1`)" in out
    assert "### ham (key `2`)" in out
    assert "| spam | 1 | Unsolicited advertising or a scam. |" in out
    assert "**When in doubt:** If it sells something to you, it is spam." in out
    assert "- WINNER!! claim your prize" in out


def test_md_table_cell_survives_pipes_and_newlines() -> None:
    s = LabelSchema(labels=[Label(name="x", definition="a | b\nc")])
    out = render_guide(s, project="p", task="ner", fmt="md")
    row = next(line for line in out.splitlines() if line.startswith("| x |"))
    assert row == "| x |  | a \\| b c |"


def test_html_shows_hotkeys_as_kbd_and_colours() -> None:
    out = render_guide(sms_schema(), project="sms", task="text-classification", version=1, fmt="html")
    assert out.lstrip().lower().startswith("<!doctype html>")
    assert "<kbd>1</kbd>" in out and "<kbd>2</kbd>" in out
    assert "--c: #D55E00" in out
    # self-contained: no external scripts, styles or images
    assert not re.search(r"<(script|link|img)\b", out, re.IGNORECASE)
    assert "http://" not in out and "https://" not in out


def test_missing_definition_is_flagged_in_both_formats(fmt: Fmt) -> None:
    s = LabelSchema(labels=[Label(name="undecided")])
    out = render_guide(s, project="p", task="ner", fmt=fmt)
    assert "no definition yet" in out.lower()


@pytest.mark.parametrize(("overlap", "word"), [("forbid", "not allowed"), ("allow", "allowed")])
def test_ner_guide_states_the_overlap_rule(fmt: Fmt, overlap: Literal["forbid", "allow"], word: str) -> None:
    s = LabelSchema(span_overlap=overlap, labels=[Label(name="PER", definition="a person")])
    out = render_guide(s, project="p", task="ner", fmt=fmt)
    assert f"Overlapping spans: {word}." in out
    other = render_guide(s, project="p", task="text-classification", fmt=fmt)
    assert "Overlapping spans" not in other


PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    'Tom & Jerry\'s "quote"',
]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("where", ["definition", "include", "exclude", "tie_break", "name", "instructions", "project"])
def test_html_escapes_user_text_everywhere(payload: str, where: str) -> None:
    label = {"name": "spam", "definition": "d", "include": [], "exclude": [], "tie_break": ""}
    instructions = ""
    project = "p"
    if where in ("include", "exclude"):
        label[where] = [payload]
    elif where == "instructions":
        instructions = payload
    elif where == "project":
        project = payload
    else:
        label[where] = payload
    s = LabelSchema(instructions=instructions, labels=[Label(**label)])
    out = render_guide(s, project=project, task="text-classification", version=1, fmt="html")
    assert payload not in out
    # escaped, not dropped: unescaping the page gives the text back
    assert payload in html.unescape(out)
    assert "<script" not in out.lower()
    assert "<img" not in out.lower()
    assert "Tom & Jerry" not in out  # a bare & is escaped too


def test_html_has_no_raw_script_tag_from_a_definition() -> None:
    s = LabelSchema(labels=[Label(name="spam", definition="<script>alert(1)</script>")])
    out = render_guide(s, project="p", task="text-classification", fmt="html")
    assert "<script" not in out.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out


@pytest.mark.parametrize(
    "text",
    [
        "x < y & z",
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(2)">',
        "[click](javascript:alert(3))",
        "![pixel](http://tracker.example/p.png)",
        "*not emphasis* and _not_ either",
        "# not a heading",
        "1. not a list",
        "a | b",
        "back\\slash `code`",
    ],
)
def test_md_shows_schema_text_verbatim_and_never_as_markup(text: str) -> None:
    """Schema text is plain text: rendered by a CommonMark renderer (markdown-it, with GFM
    tables) it reads exactly as written, and makes no element, link or image. Failed before
    the fix (issue 10, finding 7): the guide copied the text in as Markdown, HTML included."""
    from markdown_it import MarkdownIt

    s = LabelSchema(instructions=text, labels=[Label(name="spam", definition=text, include=[text], tie_break=text)])
    out = render_guide(s, project=text, task="text-classification", fmt="md")
    rendered = MarkdownIt("commonmark").enable("table").render(out)
    for tag in ("<script", "<img", "<a ", "<em>", "<strong>x", "<ol", "<h1>#"):
        assert tag not in rendered.replace("<h1>Annotation", "")
    shown = re.sub(r"<[^>]+>", "", rendered)
    shown = shown.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    assert shown.count(text) >= 4, rendered  # title, instructions, definition (table and section), example


def test_default_format_is_html() -> None:
    out = render_guide(sms_schema(), project="p", task="text-classification")
    assert "<html" in out


def test_labels_appear_in_schema_order(fmt: Fmt) -> None:
    s = LabelSchema(labels=[Label(name=n, definition=f"def {n}") for n in ["zeta", "alpha", "mid"]])
    out = render_guide(s, project="p", task="text-classification", fmt=fmt)
    positions = [out.index(f"def {n}") for n in ["zeta", "alpha", "mid"]]
    assert positions == sorted(positions)
