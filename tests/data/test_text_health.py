"""Mojibake and control characters (data.profile), encoding suggestions (data.textfile),
CoNLL tags (data.conll): pure functions, with properties over generated text."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import ftfy.bad_codecs  # noqa: F401 - registers sloppy-windows-1252
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truthset.data.conll import bio_tags, spans_from_tags, tokens
from truthset.data.profile import any_problem, has_control_chars, has_mojibake, repair
from truthset.data.textfile import decodes_whole, suggest_encoding

#: words of real Western text with accents, typography and emoji (what the issue's tweets held);
#: random juxtapositions of such characters ("â‘A") are genuinely ambiguous, real words are not.
#: Left out, because ftfy leaves it as it is: "Åre", whose Windows-1252 mojibake "Ã…" reads as a
#: letter and an ellipsis
SPECIAL_WORDS = [
    "café",
    "naïve",
    "déjà",
    "“quoted”",
    "don’t",
    "10€",
    "—",
    "über",
    "straße",
    "😀",
    "crème",
    "Zoë’s",
    "résumé",
    "wait…",
    "£5",
    "©2024",
    "señor",
    "garçon",
    "Ça",
    "–",
    "‘single’",
    "👍🏽",
    "❤️",
    "Øresund",
    "São",
    "fiancée",
    "mañana",
    "Ürün",
    "İstanbul",
]
PLAIN_WORDS = ["the", "flight", "was", "late", "again", "and", "crew", "nice", "ok", "@united", "#fail", "2"]
texts = (
    st.lists(st.sampled_from(SPECIAL_WORDS + PLAIN_WORDS), min_size=1, max_size=12)
    .map(" ".join)
    .filter(lambda t: not t.isascii())
)


@settings(max_examples=500, deadline=None)
@given(text=texts, codepage=st.sampled_from(["sloppy-windows-1252", "mac_roman"]))
def test_mojibake_of_any_such_text_is_detected_and_repaired(text: str, codepage: str) -> None:
    bad = text.encode("utf-8").decode(codepage)
    assert has_mojibake(bad)
    assert any_problem([bad])
    assert repair(bad) == text


@settings(max_examples=200, deadline=None)
@given(text=texts)
def test_clean_text_is_not_mojibake_and_repair_leaves_it(text: str) -> None:
    assert not has_mojibake(text)
    assert repair(text) == text


@pytest.mark.parametrize(
    ("text", "control"),
    [("bell\x07", True), ("\x89ÛÏear", True), ("del\x7f", True), ("tab\tnew\nline\r", False), ("plain", False)],
)
def test_control_characters(text: str, control: bool) -> None:
    assert has_control_chars(text) == control
    assert any_problem(["clean", text]) == (control or has_mojibake(text))


def test_suggestion_is_cp1252_for_a_windows_file_and_never_one_that_fails(tmp_path: Path) -> None:
    win = tmp_path / "win.csv"
    win.write_bytes(b"id,text\n" + "".join(f"{i},café “quoted” — 10€\n" for i in range(50)).encode("cp1252"))
    assert suggest_encoding(win, exclude={"utf_8"}) == "cp1252"
    mac = tmp_path / "mac.csv"
    mac.write_bytes(b"id,text\n" + "".join(f"{i},où est le café, très cher ù\n" for i in range(50)).encode("mac_roman"))
    assert not decodes_whole(mac, "cp1252")
    suggested = suggest_encoding(mac, exclude={"utf_8"})
    assert suggested is not None and decodes_whole(mac, suggested) and suggested != "cp1252"
    assert mac.read_bytes().decode(suggested).count("où est le café") == 50


@settings(max_examples=100, deadline=None)
@given(
    toks=st.lists(
        st.tuples(
            st.text(alphabet=string.ascii_letters + "é,.", min_size=1, max_size=6), st.sampled_from(["O", "PER", "LOC"])
        ),
        min_size=1,
        max_size=15,
    ),
    seps=st.lists(st.sampled_from([" ", "  ", "\t", " \n "]), min_size=15, max_size=15),
)
def test_token_aligned_spans_survive_bio(toks: list[tuple[str, str]], seps: list[str]) -> None:
    """Spans over whole tokens come back from their BIO tags exactly (a span per run of a label)."""
    text = "".join(t + s for (t, _), s in zip(toks, seps))
    offsets = tokens(text)
    spans: list[dict[str, Any]] = []
    for (_tok, s, e), (_t, label) in zip(offsets, toks):
        if label == "O":
            continue
        if spans and spans[-1]["label"] == label and spans[-1]["run"]:
            spans[-1]["end"] = e
        else:
            spans.append({"start": s, "end": e, "label": label, "run": True})
        for sp in spans[:-1]:
            sp["run"] = False
    for sp in spans:
        sp.pop("run")
    tags = [tag for _tok, tag in bio_tags(text, spans)]
    assert spans_from_tags(offsets, tags) == spans


def test_conll_blocks_read_back(tmp_path: Path) -> None:
    from truthset.data.conll import block, iter_conll

    text = "Ann met  Bob\tin Rome"
    spans = [
        {"start": 0, "end": 3, "label": "PER"},
        {"start": 9, "end": 12, "label": "PER"},
        {"start": 16, "end": 20, "label": "LOC"},
    ]
    f = tmp_path / "x.conll"
    f.write_text(
        block(
            item_id=1,
            external_id="doc-1",
            text=text,
            payload={"text": text, "src": 2},
            text_field="text",
            annotator="ann",
            spans=spans,
        )
        + block(item_id=2, external_id=None, text="multi\nline", payload={"text": "multi\nline"}, text_field="text")
        + "-DOCSTART- -X- O O\n\nPlain O\nCoNLL B-ORG\n\n"
        + "# text = bad\x00token\nbad O\n\n",
        encoding="utf-8",
    )
    rows = list(iter_conll(f))
    assert rows[0].fields == {
        "text": text,
        "external_id": "doc-1",
        "annotator": "ann",
        "gold": False,
        "spans": spans,
        "payload": {"src": 2},
    }
    assert rows[1].fields["text"] == "multi\nline" and rows[1].fields["spans"] is None
    assert rows[2].fields["text"] == "Plain CoNLL" and rows[2].fields["spans"] == [
        {"start": 6, "end": 11, "label": "ORG"}
    ]
    assert rows[3].error is not None and "NUL" in rows[3].error
