"""Streaming readers on real files: CSV/TSV, JSONL, JSON arrays, Parquet, image folders."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from truthset.core.errors import EncodingProblem, ImportFailed, InvalidInput
from truthset.data.readers import (
    Row,
    chunked,
    decoded_lines,
    detect_format,
    file_sha256,
    iter_csv,
    iter_images,
    iter_json_array,
    iter_jsonl,
    iter_parquet,
    looks_like_image,
)

# conftest.py is not importable as a module: recompute its dataset path from here.
SMS = Path(__file__).resolve().parents[3] / "shared/datasets/text/sms_spam_collection/SMSSpamCollection.tsv"

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 10
GIF = b"GIF89a" + b"\x01\x00\x01\x00\x00\x00\x00;"
BMP = b"BM" + b"\x00" * 30
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 12


def write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_bytes(content.encode("utf-8"))
    else:
        path.write_bytes(content)
    return path


def read_csv(path: Path, **kw: Any) -> tuple[list[str], list[Row], dict[str, Any]]:
    header, rows, dialect = iter_csv(path, **kw)
    return header, list(rows), dialect


# --- detect_format --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("data.csv", "id,text\n1,hi\n", "csv"),
        ("data.tsv", "id\ttext\n1\thi\n", "csv"),
        ("data.txt", "id;text\n1;hi\n", "csv"),
        ("data.jsonl", '{"text": "hi"}\n{"text": "ho"}\n', "jsonl"),
        ("data.ndjson", '{"text": "hi"}\n', "jsonl"),
        ("data.jsonl", '\n\n  {"text": "hi"}\n', "jsonl"),
        ("noext", '{"text": "hi"}\n', "jsonl"),
        ("export.json", '[{"data": {"text": "hi"}}]', "labelstudio"),
        ("export.json", '\ufeff\n  [\n {"data": {}}]', "labelstudio"),  # BOM and blank lines
        ("export.txt", "[]", "labelstudio"),
        ("export.json", "", "labelstudio"),
        ("table.parquet", b"PAR1garbage", "parquet"),
        ("table.PQ", b"", "parquet"),
        ("table.bin", b"PAR1\x15\x04\x15", "parquet"),  # by magic bytes, whatever the name
        ("table.csv", b"PAR1\x15\x04\x15", "parquet"),
    ],
)
def test_detect_format(tmp_path: Path, name: str, content: str | bytes, expected: str) -> None:
    assert detect_format(write(tmp_path, name, content)) == expected


def test_detect_format_folder_is_images(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    assert detect_format(tmp_path / "imgs") == "images"


def test_detect_format_of_a_real_parquet_file(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "no_suffix"
    pq.write_table(pa.table({"text": ["a"]}), path)
    assert detect_format(path) == "parquet"


def test_detect_format_of_the_sms_file_is_csv() -> None:
    assert detect_format(SMS) == "csv"


@pytest.mark.parametrize("header", ["[tag],text\nx,hello\n", "{id},text\n1,hello\n"])
def test_detect_format_trusts_a_csv_suffix_over_a_bracket(tmp_path: Path, header: str) -> None:
    # A CSV whose first column name starts with '[' or '{' is still a CSV; the .csv suffix
    # says so, and guessing JSON turns a valid file into a "not valid JSON" failure.
    assert detect_format(write(tmp_path, "data.csv", header)) == "csv"


def test_detect_format_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="no such file"):
        detect_format(tmp_path / "nope.csv")


# --- decoded_lines --------------------------------------------------------------------------


def test_decoded_lines_keeps_line_ends_and_only_splits_on_newline(tmp_path: Path) -> None:
    text = "a\r\nb\x0cc\u2028d\ne"
    lines = list(decoded_lines(write(tmp_path, "f.txt", text)))
    assert lines == ["a\r\n", "b\x0cc\u2028d\n", "e"]
    assert "".join(lines) == text


def test_decoded_lines_unknown_encoding(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown encoding 'utf-99'"):
        list(decoded_lines(write(tmp_path, "f.txt", "x"), "utf-99"))


def test_decoded_lines_across_read_blocks(tmp_path: Path) -> None:
    # a two-byte character split across the 1 MiB read boundary is decoded whole
    head = "x" * ((1 << 20) - 1)
    text = head + "é\n" + "ünï\n" * 3
    lines = list(decoded_lines(write(tmp_path, "big.txt", text)))
    assert lines[0] == head + "é\n"
    assert lines[1:] == ["ünï\n"] * 3


# --- iter_csv on the real SMS file ----------------------------------------------------------


@pytest.fixture(scope="module")
def sms() -> tuple[list[str], list[Row], dict[str, Any]]:
    if not SMS.is_file():
        pytest.fail(f"test data not found at {SMS}")
    return read_csv(SMS)


def test_sms_header_dialect_and_counts(sms: tuple[list[str], list[Row], dict[str, Any]]) -> None:
    header, rows, dialect = sms
    assert header == ["Label", "SMS"]
    assert dialect == {"delimiter": "\t", "quoting": "none"}
    assert len(rows) == 5574
    assert [r for r in rows if r.error] == []
    labels = [r.fields["Label"] for r in rows]
    assert (labels.count("ham"), labels.count("spam")) == (4827, 747)


def test_sms_rows_match_the_raw_file_line_by_line(
    sms: tuple[list[str], list[Row], dict[str, Any]],
) -> None:
    _, rows, _ = sms
    raw = SMS.read_text(encoding="utf-8").split("\n")
    assert raw[-1] == ""  # the file ends with a newline
    raw = raw[:-1]
    assert [r.line for r in rows] == list(range(2, len(raw) + 1))
    for r in rows:
        label, text = raw[r.line - 1].split("\t")
        assert r.fields == {"Label": label, "SMS": text}


def test_sms_quotes_are_kept_as_text(sms: tuple[list[str], list[Row], dict[str, Any]]) -> None:
    _, rows, _ = sms
    raw = SMS.read_text(encoding="utf-8").split("\n")
    first_quoted = next(i for i, ln in enumerate(raw, start=1) if "\t" in ln and ln.split("\t")[1].startswith('"'))
    assert first_quoted == 284  # checked with: grep -n $'\t"' SMSSpamCollection.tsv
    row = next(r for r in rows if r.line == first_quoted)
    assert row.fields["SMS"] == raw[first_quoted - 1].split("\t", 1)[1]
    assert row.fields["SMS"].startswith('"Wen u miss someone')
    assert row.fields["SMS"].endswith('Keep-in-touch" gdeve..')
    # the next row is its own row, not swallowed by an open quote
    nxt = next(r for r in rows if r.line == first_quoted + 1)
    assert nxt.fields == {"Label": "ham", "SMS": "Ok. I asked for money how far"}
    n_quote_rows = sum('"' in r.fields["SMS"] for r in rows)
    assert n_quote_rows == sum('"' in ln for ln in raw[1:])


# --- iter_csv on standard CSV ---------------------------------------------------------------

STANDARD = b'id,text,note\n1,"hello, world",plain\n2,"she said ""hi""",x\n3,"multi\nline\nvalue",y\n4,after,z\n'


def test_standard_csv_with_quoted_commas_quotes_and_newlines(tmp_path: Path) -> None:
    header, rows, dialect = read_csv(write(tmp_path, "std.csv", STANDARD))
    assert header == ["id", "text", "note"]
    assert dialect == {"delimiter": ",", "quoting": "minimal"}
    assert [(r.line, r.fields) for r in rows] == [
        (2, {"id": "1", "text": "hello, world", "note": "plain"}),
        (3, {"id": "2", "text": 'she said "hi"', "note": "x"}),
        (4, {"id": "3", "text": "multi\nline\nvalue", "note": "y"}),
        (7, {"id": "4", "text": "after", "note": "z"}),  # the row after a 3-line row
    ]
    assert all(r.error is None for r in rows)


def test_crlf_line_ends(tmp_path: Path) -> None:
    path = write(tmp_path, "crlf.csv", b'id,text\r\n1,"a\r\nb"\r\n2,c\r\n')
    header, rows, _ = read_csv(path)
    assert header == ["id", "text"]
    assert [(r.line, r.fields) for r in rows] == [
        (2, {"id": "1", "text": "a\r\nb"}),
        (4, {"id": "2", "text": "c"}),
    ]


@pytest.mark.parametrize(
    ("rows", "header"),
    [
        ([["x", "a\nb,c"]], ["id", "text"]),  # each physical line has 2 comma-separated parts
        ([["a\nb"], ["c"]], ["text"]),  # one column: every physical line has 1 part
        ([["1", '"quoted"\nnext,line']], ["id", "text"]),
    ],
    ids=["two-cols", "one-col", "quoted-start"],
)
def test_quoted_newline_is_not_mistaken_for_unquoted_text(
    tmp_path: Path, rows: list[list[str]], header: list[str]
) -> None:
    # A standard CSV written by Python's csv module must read back as written, even when
    # the pieces of a multi-line field happen to have the header's field count.
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    path = write(tmp_path, "nl.csv", buf.getvalue())
    _, got, dialect = read_csv(path)
    assert dialect["quoting"] == "minimal"
    assert [list(r.fields.values()) for r in got] == rows


def test_too_many_fields_is_an_error_row_with_counts_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.csv", "id,text\n1,ok\n2,one,two\n3,fine\n")
    _, rows, _ = read_csv(path)
    assert [r.line for r in rows] == [2, 3, 4]
    bad = rows[1]
    assert bad.fields == {}
    assert bad.error is not None
    assert "expected 2 fields (id, text), found 3" in bad.error
    assert bad.raw == "2,one,two"
    assert rows[0].error is None and rows[2].fields == {"id": "3", "text": "fine"}


def test_too_few_fields_is_an_error_row(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.csv", "id,text,extra\n1,a,b\n2\n")
    _, rows, _ = read_csv(path)
    assert rows[1].line == 3
    assert rows[1].error is not None and "expected 3 fields" in rows[1].error
    assert "found 1" in rows[1].error


@pytest.mark.parametrize(("quoting", "says_quoting_none"), [("none", False), ("minimal", True)])
def test_too_many_fields_hint_depends_on_quoting(tmp_path: Path, quoting: str, says_quoting_none: bool) -> None:
    path = write(tmp_path, "q.tsv", "label\ttext\nham\tword\nspam\ta\tb\n")
    _, rows, dialect = read_csv(path, quoting=quoting)
    assert dialect["quoting"] == quoting
    assert rows[1].error is not None and rows[1].line == 3
    assert "--delimiter" in rows[1].error
    assert ("--quoting none" in rows[1].error) is says_quoting_none


def test_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "blank.csv", "id,text\n\n1,a\n\n\n2,b\n\n")
    _, rows, _ = read_csv(path)
    assert [(r.line, r.fields["id"]) for r in rows] == [(3, "1"), (6, "2")]
    assert all(r.error is None for r in rows)


def test_invalid_utf8_names_offset_line_and_encoding_option(tmp_path: Path) -> None:
    content = b"id,text\n1,ok\n2,caf\xe9\n"
    path = write(tmp_path, "latin.csv", content)
    with pytest.raises(EncodingProblem) as info:
        read_csv(path)
    message = str(info.value)
    offset = content.index(b"\xe9")
    assert f"byte offset {offset}" in message
    assert "(line 3)" in message
    assert "0xE9" in message
    assert "--encoding" in message and "cp1252" in message
    assert isinstance(info.value, ImportFailed)
    assert isinstance(info.value, UnicodeError)
    assert isinstance(info.value.__cause__, UnicodeDecodeError)


def test_same_file_reads_with_cp1252(tmp_path: Path) -> None:
    path = write(tmp_path, "latin.csv", b"id,text\n1,ok\n2,caf\xe9 \x93quoted\x94\n")
    _, rows, _ = read_csv(path, encoding="cp1252")
    assert rows[1].fields == {"id": "2", "text": "café \u201cquoted\u201d"}


def test_invalid_byte_beyond_the_first_read_block(tmp_path: Path) -> None:
    # past the 1 MiB read buffer and the sniffing sample: found while iterating,
    # with the offset and line counted over all earlier blocks
    line = b"1,abcdefghijklmnopqrstuvwxyz0123456789\n"
    n = (1 << 20) // len(line) + 10
    content = b"id,text\n" + line * n + b"2,\xff\xfe\n"
    path = write(tmp_path, "late.csv", content)
    _, rows, _ = iter_csv(path)
    with pytest.raises(EncodingProblem) as info:
        list(rows)
    message = str(info.value)
    offset = content.index(b"\xff")
    assert f"byte offset {offset}" in message
    assert f"(line {n + 2})" in message


def test_truncated_multibyte_character_at_end_of_file(tmp_path: Path) -> None:
    content = b"id,text\n1,caf\xc3"
    path = write(tmp_path, "cut.csv", content)
    with pytest.raises(EncodingProblem) as info:
        read_csv(path)
    assert f"byte offset {len(content) - 1}" in str(info.value)
    assert "(line 2)" in str(info.value)


def test_utf8_bom_is_stripped_from_the_first_header(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.csv", b"\xef\xbb\xbfid,text\n1,\xef\xbb\xbfkept\n")
    header, rows, _ = read_csv(path)
    assert header == ["id", "text"]
    # only the file's leading BOM goes; one inside the data is data
    assert rows[0].fields == {"id": "1", "text": "\ufeffkept"}


@pytest.mark.parametrize(
    ("content", "delimiter"),
    [
        ("id;text\n1;a\n2;b\n", ";"),
        ("id|text\n1|a\n2|b\n", "|"),
        ("id\ttext\n1\ta,b\n2\tc,d\n", "\t"),
        ("id,text\n1,a;b\n2,c;d\n", ","),
    ],
)
def test_delimiter_is_sniffed(tmp_path: Path, content: str, delimiter: str) -> None:
    _, rows, dialect = read_csv(write(tmp_path, "d.txt", content))
    assert dialect["delimiter"] == delimiter
    assert [r.fields["id"] for r in rows] == ["1", "2"]
    assert all(r.error is None for r in rows)


def test_explicit_options_override_sniffing(tmp_path: Path) -> None:
    path = write(tmp_path, "o.csv", 'a,b\n1,"x"\n')
    _, rows, dialect = read_csv(path, quoting="none")
    assert dialect["quoting"] == "none"
    assert rows[0].fields == {"a": "1", "b": '"x"'}
    _, rows, dialect = read_csv(path, quoting="minimal")
    assert rows[0].fields == {"a": "1", "b": "x"}


def test_header_whitespace_is_stripped_and_duplicates_rejected(tmp_path: Path) -> None:
    header, _, _ = read_csv(write(tmp_path, "h.csv", " id , text \n1,a\n"))
    assert header == ["id", "text"]
    with pytest.raises(ImportFailed, match=r"line 1: duplicate column name\(s\) \['id'\]"):
        iter_csv(write(tmp_path, "d.csv", "id,text,id\n1,2,3\n"))


def test_empty_file_is_import_failed(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="empty"):
        iter_csv(write(tmp_path, "e.csv", b""))


_CELL_CHARS = string.ascii_letters + string.digits + " ,;|\"'.-_éß☃"


def _tables(chars: str) -> st.SearchStrategy[list[list[str]]]:
    cell = st.text(alphabet=st.sampled_from(chars), max_size=12)
    return st.integers(1, 4).flatmap(
        lambda w: st.lists(st.lists(cell, min_size=w, max_size=w), min_size=1, max_size=15)
    )


def _round_trip(tmp_path: Path, rows: list[list[str]]) -> None:
    header = [f"c{i}" for i in range(len(rows[0]))]
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    path = tmp_path / "prop.csv"
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    got_header, got, _ = read_csv(path)
    assert got_header == header
    assert [r.error for r in got] == [None] * len(got)
    assert [[r.fields[h] for h in header] for r in got] == rows


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_tables(_CELL_CHARS))
@example(rows=[[" "], [""], ['"']])
@example(rows=[['"a', "b,"], ['""', ","]])
def test_csv_writer_output_reads_back_unchanged(tmp_path: Path, rows: list[list[str]]) -> None:
    _round_trip(tmp_path, rows)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_tables(_CELL_CHARS + "\n\r"))
def test_csv_writer_output_with_line_breaks_reads_back_unchanged(tmp_path: Path, rows: list[list[str]]) -> None:
    _round_trip(tmp_path, rows)


# --- iter_jsonl -----------------------------------------------------------------------------


def test_jsonl_rows_errors_and_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "d.jsonl",
        '{"text": "a", "n": 1}\n\n{"text": "b",}\n[1, 2]\n"just a string"\n  {"text": "c\\nd", "u": "\u2028"}  \r\n',
    )
    rows = list(iter_jsonl(path))
    assert [r.line for r in rows] == [1, 3, 4, 5, 6]
    assert rows[0].fields == {"text": "a", "n": 1} and rows[0].error is None
    assert rows[1].error is not None and rows[1].error.startswith("not valid JSON at column")
    assert rows[1].raw.startswith('{"text": "b",}')
    assert rows[2].error == "expected a JSON object, found list"
    assert rows[3].error == "expected a JSON object, found str"
    assert rows[4].fields == {"text": "c\nd", "u": "\u2028"}


def test_jsonl_with_bom_and_no_final_newline(tmp_path: Path) -> None:
    rows = list(iter_jsonl(write(tmp_path, "b.jsonl", b'\xef\xbb\xbf{"a": 1}\n{"a": 2}')))
    assert [(r.line, r.fields) for r in rows] == [(1, {"a": 1}), (2, {"a": 2})]


def test_jsonl_invalid_encoding(tmp_path: Path) -> None:
    with pytest.raises(EncodingProblem, match=r"line 2"):
        list(iter_jsonl(write(tmp_path, "e.jsonl", b'{"a": 1}\n{"a": "\xe9"}\n')))


# --- iter_json_array ------------------------------------------------------------------------


def test_json_array_elements_and_start_lines(tmp_path: Path) -> None:
    text = '\n\n[\n  {"id": 1,\n   "text": "a"},\n  {"id": 2, "text": "x\\ny"}\n  ,\n  3,\n  {"id": 4}\n]\n'
    rows = list(iter_json_array(write(tmp_path, "a.json", text)))
    assert [(r.line, r.fields, r.error) for r in rows if r.error is None] == [
        (4, {"id": 1, "text": "a"}, None),
        (6, {"id": 2, "text": "x\ny"}, None),
        (9, {"id": 4}, None),
    ]
    bad = [r for r in rows if r.error]
    assert len(bad) == 1 and bad[0].line == 8
    assert bad[0].error == "expected a JSON object (a task), found int"
    assert bad[0].raw == "3"


def test_minified_one_line_array(tmp_path: Path) -> None:
    tasks = [{"id": i, "data": {"text": f"t{i}, [with] {{braces}}"}} for i in range(50)]
    path = write(tmp_path, "min.json", json.dumps(tasks, separators=(",", ":")))
    rows = list(iter_json_array(path))
    assert [r.fields for r in rows] == tasks
    assert {r.line for r in rows} == {1}


@pytest.mark.parametrize("text", ["[]", "  [ \n ]  \n", "\ufeff[]"])
def test_empty_array(tmp_path: Path, text: str) -> None:
    assert list(iter_json_array(write(tmp_path, "e.json", text))) == []


def test_array_larger_than_one_read_buffer(tmp_path: Path) -> None:
    # > 1 MiB and > 4096 lines, so both the byte blocks and the line batches are crossed
    tasks = [{"id": i, "data": {"text": f"{i} " + "lorem ipsum " * 20}} for i in range(4500)]
    text = json.dumps(tasks, indent=2)
    assert len(text.encode()) > (1 << 20) and text.count("\n") > 4096
    path = write(tmp_path, "big.json", text)
    rows = list(iter_json_array(path))
    assert [r.fields for r in rows] == tasks
    lines = text.split("\n")
    # each element's line is where its "{" is
    for r in rows[::250]:
        assert lines[r.line - 1] == "  {"
        assert lines[r.line] == f'    "id": {r.fields["id"]},'


def test_big_minified_array(tmp_path: Path) -> None:
    tasks = [{"id": i, "text": "x" * 400} for i in range(4000)]
    text = json.dumps(tasks, separators=(",", ":"))
    assert len(text) > (1 << 20)
    rows = list(iter_json_array(write(tmp_path, "bigmin.json", text)))
    assert len(rows) == 4000 and rows[-1].fields == tasks[-1]
    assert all(r.line == 1 for r in rows)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[\n {"id": 1},\n {"id": 2,\n  "text": "cut', 4),  # cut inside a string on line 4
        ('[\n {"id": 1},\n {"id": 2}\n', 4),  # never closed
        ('[\n {"id": 1},\n {"id": 2\n ]\n', 4),  # the ']' on line 4 comes before a '}'
        ("[", 1),
    ],
)
def test_truncated_array_is_import_failed_naming_a_line(tmp_path: Path, text: str, line: int) -> None:
    path = write(tmp_path, "cut.json", text)
    with pytest.raises(ImportFailed) as info:
        list(iter_json_array(path))
    assert str(info.value).startswith(f"{path}: line {line}:")


@pytest.mark.parametrize("text", ['{"id": 1}', "", "  \n", "nope"])
def test_not_an_array_is_import_failed(tmp_path: Path, text: str) -> None:
    with pytest.raises(ImportFailed, match="expected a JSON array"):
        list(iter_json_array(write(tmp_path, "o.json", text)))


def test_json_array_elements_before_a_truncation_are_yielded(tmp_path: Path) -> None:
    path = write(tmp_path, "cut.json", '[{"id": 1}, {"id": 2}, {"id"')
    it = iter_json_array(path)
    assert next(it).fields == {"id": 1}
    assert next(it).fields == {"id": 2}
    with pytest.raises(ImportFailed):
        next(it)


# --- iter_parquet ---------------------------------------------------------------------------


def test_parquet_rows_lines_and_batches(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "text": ["a", "b", None, "dé", "e"],
            "n": [1, 2, 3, None, 5],
            "tags": [["x"], [], ["y", "z"], None, ["w"]],
        }
    )
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=2)
    rows = list(iter_parquet(path, batch_rows=2))
    assert [r.line for r in rows] == [2, 3, 4, 5, 6]
    assert [r.fields for r in rows] == table.to_pylist()
    assert rows[2].fields["text"] is None
    assert rows[3].fields == {"text": "dé", "n": None, "tags": None}


def test_parquet_unreadable_file_is_import_failed(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    path = write(tmp_path, "bad.parquet", b"PAR1 this is not parquet")
    with pytest.raises(ImportFailed, match="not a readable Parquet file") as info:
        list(iter_parquet(path))
    assert str(path) in str(info.value)


# --- images ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "ok"),
    [
        (PNG, True),
        (JPEG, True),
        (GIF, True),
        (b"GIF87a" + b"\x00" * 8, True),
        (BMP, True),
        (WEBP, True),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", False),
        (b"hello world", False),
        (b"", False),
        (b"\x89PNG\r\n", False),
    ],
)
def test_looks_like_image(head: bytes, ok: bool) -> None:
    assert looks_like_image(head) is ok


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    root = tmp_path / "imgs"
    write(root, "cat/b.png", PNG)
    write(root, "cat/a.JPG", JPEG)
    write(root, "dog/c.gif", GIF)
    write(root, "dog/fake.jpg", "I am text, not a JPEG")
    write(root, "dog/notes.txt", "ignored: not an image extension")
    write(root, "top.webp", WEBP)
    write(root, ".hidden/secret.png", PNG)
    write(root, "dog/deep/d.bmp", BMP)
    return root


def test_images_rows_in_walk_order_with_hashes(image_folder: Path) -> None:
    # deterministic: a folder's files in name order, then its sub-folders in name order;
    # hidden folders and non-image extensions are skipped
    rows = list(iter_images(image_folder))
    assert [r.line for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r.fields.get("image") or r.raw for r in rows] == [
        "top.webp",
        "cat/a.JPG",
        "cat/b.png",
        "dog/c.gif",
        "dog/fake.jpg",
        "dog/deep/d.bmp",
    ]
    good = [r for r in rows if r.error is None]
    for r in good:
        assert r.fields["sha256"] == hashlib.sha256((image_folder / r.fields["image"]).read_bytes()).hexdigest()
        assert "label" not in r.fields


def test_fake_image_is_an_error_row(image_folder: Path) -> None:
    rows = list(iter_images(image_folder))
    bad = [r for r in rows if r.error]
    assert len(bad) == 1
    assert bad[0].raw == "dog/fake.jpg"
    assert bad[0].error_field == "image"
    assert "not a recognised image" in (bad[0].error or "")
    assert bad[0].fields == {}


def test_labels_from_folders(image_folder: Path) -> None:
    rows = [r for r in iter_images(image_folder, labels_from_folders=True) if r.error is None]
    assert {r.fields["image"]: r.fields.get("label") for r in rows} == {
        "cat/a.JPG": "cat",
        "cat/b.png": "cat",
        "dog/c.gif": "dog",
        "dog/deep/d.bmp": "deep",  # the immediate parent folder
        "top.webp": None,  # a file at the top has no folder to name it
    }


def test_empty_image_file_is_an_error_row(tmp_path: Path) -> None:
    write(tmp_path, "x/empty.png", b"")
    rows = list(iter_images(tmp_path / "x"))
    assert len(rows) == 1 and rows[0].error is not None


def test_file_sha256_of_a_folder_changes_with_content_and_names(image_folder: Path, tmp_path: Path) -> None:
    h1 = file_sha256(image_folder)
    assert file_sha256(image_folder) == h1
    (image_folder / "dog/notes.txt").write_text("not an image: ignored")
    assert file_sha256(image_folder) == h1
    (image_folder / "cat/b.png").write_bytes(PNG + b"\x00")
    h2 = file_sha256(image_folder)
    assert h2 != h1
    (image_folder / "cat/b.png").rename(image_folder / "cat/b2.png")
    assert file_sha256(image_folder) != h2


def test_file_sha256_of_a_file(tmp_path: Path) -> None:
    data = b"abc" * 500_000
    assert file_sha256(write(tmp_path, "f", data)) == hashlib.sha256(data).hexdigest()


# --- chunked --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "size", "sizes"),
    [(0, 3, []), (1, 3, [1]), (3, 3, [3]), (7, 3, [3, 3, 1]), (6, 2, [2, 2, 2]), (5, 1, [1] * 5)],
)
def test_chunked_sizes(n: int, size: int, sizes: list[int]) -> None:
    rows = [Row(line=i) for i in range(n)]
    assert [len(c) for c in chunked(rows, size)] == sizes


@given(n=st.integers(0, 200), size=st.integers(1, 50))
def test_chunked_preserves_rows_and_order(n: int, size: int) -> None:
    rows = [Row(line=i + 2) for i in range(n)]
    chunks = list(chunked(iter(rows), size))
    assert [r for c in chunks for r in c] == rows
    assert all(len(c) == size for c in chunks[:-1])
    assert all(0 < len(c) <= size for c in chunks)
