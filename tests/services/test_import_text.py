"""Encodings and text health on import (issue 11, item 6), on files made the way the issue's
real file was: UTF-8 text with curly quotes, accents and emoji, mis-decoded in another code
page and saved again. Each test names what today's main does instead.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import ftfy.bad_codecs  # noqa: F401 - registers sloppy-windows-1252, to make the test files
import pytest
from sqlalchemy import select

from tests.support import NewProject, batch_of
from truthset.core.errors import EncodingProblem
from truthset.services.imports import ImportOptions, import_file, import_findings
from truthset.services.projects import Project
from truthset.store.models import Item

#: UTF-8 text with curly quotes, accents, dashes, the euro sign and emoji
ORIGINALS = [
    "“Hear worm” she said — café naïve déjà vu",
    "Zoë’s résumé – 10€ at the crème brûlée stand",
    "I’m done… “quote” über straße",
    "great flight 😀 thanks",
]
PLAIN = "the flight was late again and the crew was nice"


def _mojibake(text: str, codepage: str) -> str:
    """``text`` encoded as UTF-8 and decoded in ``codepage``: how it reads after the mistake."""
    return text.encode("utf-8").decode(codepage)


def _rows(n: int) -> list[tuple[int, str, bool]]:
    """(id, original text, mis-decoded?): every third row carries a special original."""
    return [(i, ORIGINALS[(i // 3) % len(ORIGINALS)] if i % 3 == 0 else f"{PLAIN} {i}", i % 3 == 0) for i in range(n)]


def _write(path: Path, texts: list[tuple[int, str]], *, encoding: str) -> Path:
    body = "id,text,label\n" + "".join(f'{i},"{t}",pos\n' for i, t in texts)
    path.write_bytes(body.encode(encoding))
    return path


def _texts(project: Project) -> dict[str | None, str]:
    with project.store.engine.connect() as conn:
        return {
            e: json.loads(p)["text"]
            for e, p in conn.execute(select(Item.external_id, Item.payload).where(Item.project_id == project.id))
        }


@pytest.mark.parametrize("codepage", ["mac_roman", "sloppy-windows-1252"])
def test_mojibake_saved_as_utf8_is_counted_listed_and_repaired(
    new_project: NewProject, tmp_path: Path, codepage: str
) -> None:
    """Main: ``mojibake_rows`` missed most of it (its pattern knew a few cp1252 sequences and
    no Mac Roman ones), ``findings`` could not list it, and nothing could repair it."""
    rows = _rows(60)
    f = _write(
        tmp_path / "moji.csv", [(i, _mojibake(t, codepage) if bad else t) for i, t, bad in rows], encoding="utf-8"
    )
    bad_ids = {str(i) for i, _t, bad in rows if bad}
    p = new_project()
    r = import_file(p, f, ImportOptions(id_col="id"))
    assert r.mojibake_rows == len(bad_ids) == 20
    listed = import_findings(p, batch_of(r), kind="mojibake")
    assert {x["line"] - 1 for x in listed} == {int(i) + 1 for i in bad_ids}
    assert all(x["field"] == "text" for x in listed)
    assert "--fix-text" in listed[0]["reason"]
    # --fix-text repairs on import; the original stays in the finding
    q = new_project()
    r = import_file(q, f, ImportOptions(id_col="id", fix_text=True))
    assert r.repaired_rows == 20
    texts = _texts(q)
    originals = {str(i): t for i, t, _bad in rows}
    assert texts == originals  # every row back as it was written, emoji included
    kept = import_findings(q, batch_of(r), kind="mojibake")
    assert {x["raw"] for x in kept} == {_mojibake(originals[i], codepage) for i in bad_ids}
    assert "repaired" in kept[0]["reason"]


def _excel_era_file(path: Path) -> tuple[Path, list[tuple[int, str, bool]]]:
    """The issue's file: UTF-8 text read as Windows-1252 (mojibake), then saved as Mac Roman,
    with accents typed directly on the Mac in other rows (bytes 0x8E, 0x8F, 0x9D...)."""
    rows = _rows(300)
    texts = []
    for i, t, bad in rows:
        if bad:
            t = _mojibake(t, "sloppy-windows-1252").replace("\x9d", "")  # no Mac Roman for U+009D
        elif i % 7 == 1:
            t += " où est le café, très cher"
        texts.append((i, t))
    body = "id,text,label\n" + "".join(f'{i},"{t}",pos\n' for i, t in texts)
    path.write_bytes(body.encode("mac_roman", errors="replace"))
    return path, rows


def test_the_suggested_encoding_decodes_the_whole_file(new_project: NewProject, tmp_path: Path) -> None:
    """Main suggested ``--encoding cp1252``, which fails on the file (bytes cp1252 leaves
    undefined), and then suggested cp1252 again."""
    f, _rows_ = _excel_era_file(tmp_path / "tweets.csv")
    with pytest.raises(UnicodeDecodeError):
        f.read_bytes().decode("cp1252")  # the file is one that cp1252 cannot read
    p = new_project()
    with pytest.raises(EncodingProblem) as err:
        import_file(p, f)
    suggested = str(err.value).split("--encoding ")[1].split(".")[0].split()[0]
    assert codecs.lookup(suggested).name != "cp1252"
    f.read_bytes().decode(suggested)  # decodes every byte
    r = import_file(p, f, ImportOptions(encoding=suggested, id_col="id"))
    assert r.items_added == 300 and r.rejected == 0


def test_mac_roman_reading_counts_and_repairs_the_mojibake(new_project: NewProject, tmp_path: Path) -> None:
    f, rows = _excel_era_file(tmp_path / "tweets.csv")
    p = new_project()
    r = import_file(p, f, ImportOptions(encoding="mac_roman", id_col="id", fix_text=True))
    # Mac Roman has no "ð", the first character of every emoji's mojibake: saving in Mac Roman
    # turned it into "?", and what is left ("?Ÿ˜€") no longer reads as mojibake; the other 75
    # mis-decoded rows are found
    bad = {str(i) for i, t, b in rows if b and "😀" not in t}
    assert r.mojibake_rows == len(bad) == 75
    texts = _texts(p)
    for i, t, _b in rows:
        if str(i) in bad and "”" not in t:  # a closing curly quote lost its last byte (U+009D)
            assert texts[str(i)] == t
    assert texts["1"].endswith("où est le café, très cher")  # typed on the Mac: kept as it is


def test_latin1_reading_counts_c1_controls(new_project: NewProject, tmp_path: Path) -> None:
    """Main: with latin-1, texts full of C1 controls (U+0080-U+009F) and "ÛÏ" mojibake, and the
    report said ``control_char_rows: 0``."""
    f, _rows_ = _excel_era_file(tmp_path / "tweets.csv")
    p = new_project()
    r = import_file(p, f, ImportOptions(encoding="latin-1", id_col="id"))
    assert r.control_char_rows > 0 and r.mojibake_rows > 0
    listed = import_findings(p, batch_of(r), kind="control")
    assert len(listed) == r.control_char_rows
    assert "\\x" in listed[0]["reason"]  # the control character is shown, not printed raw


def test_clean_text_in_many_scripts_is_not_mojibake(new_project: NewProject, tmp_path: Path) -> None:
    texts = [
        "Straße über Öl",
        "ação não São Paulo",
        "très… “été” déjà",
        "Zażółć gęślą jaźń",
        "Привет мир ёлка",
        "日本語のテキスト",
        "İstanbul’da çay",
        "great 😀 👍🏽 ❤️",
        "¿Qué? ¡Sí! año",
    ]
    f = tmp_path / "clean.jsonl"
    f.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    p = new_project()
    r = import_file(p, f)
    assert (r.items_added, r.mojibake_rows, r.control_char_rows) == (len(texts), 0, 0)


def test_xlsx_is_read_with_openpyxl(new_project: NewProject, tmp_path: Path) -> None:
    """Main read the workbook (a zip file) as CSV and advised re-encoding it as UTF-8."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["tweet_id", "text", "airline_sentiment", "retweets"])
    ws.append([5703061336, "“Nice” flight 😀", "positive", 0])
    ws.append([5703011308, "late again", "negative", 2])
    ws.append([None, None, None, None])  # an empty row: skipped
    ws.append([5703010836, "", "neutral", 1])  # no text: a rejected row
    wb.create_sheet("other").append(["x"])
    f = tmp_path / "tweets.xlsx"
    wb.save(f)
    p = new_project()
    r = import_file(p, f, ImportOptions(id_col="tweet_id", label_col="airline_sentiment"))
    assert r.format == "xlsx"
    assert (r.rows_read, r.items_added, r.annotations_added, r.rejected) == (3, 2, 2, 1)
    assert import_findings(p, batch_of(r), kind="rejected")[0]["line"] == 5
    with p.store.engine.connect() as conn:
        payloads = {
            e: json.loads(x)
            for e, x in conn.execute(select(Item.external_id, Item.payload).where(Item.project_id == p.id))
        }
    assert payloads["5703061336"] == {"text": "“Nice” flight 😀", "retweets": 0}
    assert sorted(r.labels_added_to_schema) == ["negative", "positive"]


def test_xlsx_without_openpyxl_names_the_extra(
    new_project: NewProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from truthset.core.errors import MissingDependency

    f = tmp_path / "a.xlsx"
    f.write_bytes(b"PK\x03\x04 not really a workbook")
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(MissingDependency, match=r"truthset\[excel\]"):
        import_file(new_project(), f)
