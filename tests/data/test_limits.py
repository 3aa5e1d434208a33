"""Hostile rows (issue 10, finding 9): each is one rejected row with its line, never a crash,
and an over-long value is rejected without being held in memory."""

from __future__ import annotations

import csv
import json
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from truthset.data.jsonfiles import TOO_DEEP, iter_json_array, iter_jsonl
from truthset.data.readers import iter_csv, iter_parquet
from truthset.data.rows import parse_lead_time
from truthset.data.textfile import decoded_lines


def test_importing_truthset_leaves_the_csv_field_limit_alone() -> None:
    """Main raised ``csv.field_size_limit`` for the whole process when readers was imported."""
    code = (
        "import csv; before = csv.field_size_limit(); import truthset.data.readers, truthset.services.imports; "
        "print(before, csv.field_size_limit())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == out[1] == "131072"


def test_reading_restores_the_csv_field_limit(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text("text\n" + "x" * 200_000 + "\nok\n", encoding="utf-8")
    before = csv.field_size_limit()
    _h, rows, _d = iter_csv(f, max_field=300_000)
    assert [len(r.fields["text"]) for r in rows] == [200_000, 2]
    assert csv.field_size_limit() == before


def test_the_limit_is_truthsets_only_while_it_parses(tmp_path: Path) -> None:
    """Rows are parsed in batches under the limit; between them, and while a row is handled,
    the process has its own limit again. Line numbers stay exact across batches (multi-line
    fields, an over-long field and a broken row far into the file)."""
    f = tmp_path / "a.csv"
    body = []
    for i in range(1, 1201):
        if i == 700:
            body.append('"' + "y" * 2_000 + '"')
        elif i == 900:
            body.append('"two\nlines"')
        else:
            body.append(f"row {i}")
    f.write_text("text\n" + "\n".join(body) + "\n", encoding="utf-8")
    before = csv.field_size_limit()
    _h, rows, _d = iter_csv(f, max_field=1_000)
    seen = []
    for r in rows:
        assert csv.field_size_limit() == before
        seen.append((r.line, r.error is not None))
    assert len(seen) == 1200
    assert seen[699] == (701, True) and seen[698] == (700, False)  # row i is on line i + 1
    assert seen[899] == (901, False) and seen[900] == (903, False)  # the field of lines 901-902
    assert seen[-1] == (1202, False)


def test_jsonl_nested_5000_deep_is_a_rejected_row(tmp_path: Path) -> None:
    """Main: a RecursionError traceback."""
    f = tmp_path / "deep.jsonl"
    f.write_text(
        '{"text": "ok"}\n' + '{"text": ' + "[" * 5000 + "]" * 5000 + "}\n" + '{"text": "after"}\n', encoding="utf-8"
    )
    rows = list(iter_jsonl(f))
    assert [(r.line, r.error) for r in rows] == [(1, None), (2, TOO_DEEP), (3, None)]


def test_json_array_element_nested_5000_deep_is_skipped(tmp_path: Path) -> None:
    f = tmp_path / "deep.json"
    deep = '{"data": {"text": ' + "[" * 5000 + '"]}\\"["' + "]" * 5000 + "}}"
    f.write_text('[\n{"id": 1},\n' + deep + ',\n{"id": 3}\n]\n', encoding="utf-8")
    rows = list(iter_json_array(f))
    assert [(r.line, r.error, r.fields) for r in rows] == [
        (2, None, {"id": 1}),
        (3, TOO_DEEP, {}),
        (4, None, {"id": 3}),
    ]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "labelstudio", "parquet"])
def test_nul_in_a_cell_is_a_rejected_row_naming_the_field(tmp_path: Path, fmt: str) -> None:
    """Main: stored on SQLite, a psycopg DataError traceback on PostgreSQL."""
    rows = [{"text": "fine", "annotator": "a"}, {"text": "ok", "annotator": "bad\x00name"}]
    if fmt == "csv":
        f = tmp_path / "n.csv"
        f.write_text("text,annotator\nfine,a\nok,bad\x00name\n", encoding="utf-8")
        got = list(iter_csv(f)[1])
    elif fmt == "jsonl":
        f = tmp_path / "n.jsonl"
        f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        got = list(iter_jsonl(f))
    elif fmt == "labelstudio":
        f = tmp_path / "n.json"
        f.write_text(json.dumps(rows, indent=1), encoding="utf-8")
        got = list(iter_json_array(f))
    else:
        import pandas as pd

        f = tmp_path / "n.parquet"
        pd.DataFrame(rows).to_parquet(f)
        got = list(iter_parquet(f))
    assert got[0].error is None
    assert "NUL" in (got[1].error or "") and got[1].error_field == "annotator"


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("2.5", 2.5),
        ("0", 0.0),
        ("", None),
        (None, None),
        (3, 3.0),
        ("1e999", None),
        ("-5", None),
        ("nan", None),
        ("inf", None),
        (float("inf"), None),
        ("soon", None),
    ],
)
def test_lead_time_must_be_finite_and_not_negative(raw: object, ok: float | None) -> None:
    """Main stored 1e999 as inf (then exported "Infinity", not JSON) and -5 as -5.0."""
    value, err = parse_lead_time(raw)
    assert value == ok
    assert bool(err) == (ok is None and raw not in ("", None))


def _huge_csv(path: Path, cell_mb: int) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("id,text\n1,small\n2,")
        block = "x" * (1 << 20)
        for _ in range(cell_mb):
            fh.write(block)
        fh.write("\n3,after\n")
    return path


def test_a_100_mb_cell_is_rejected_in_bounded_memory(tmp_path: Path) -> None:
    """Main: one 100 MB cell became one item, 680 MB of memory, no warning. Measured in a
    child process: its peak memory must stay far below the cell's size."""
    f = _huge_csv(tmp_path / "huge.csv", 100)
    code = textwrap.dedent(f"""
        import resource, json
        from pathlib import Path
        from truthset.data.readers import iter_csv
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        _h, rows, _d = iter_csv(Path({str(f)!r}))
        out = [(r.line, r.error, (r.fields or {{}}).get("text")) for r in rows]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"rows": out, "grew_mb": (peak - before) / 1024}}))
    """)
    res = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    lines = [(line, err is not None, text) for line, err, text in res["rows"]]
    assert lines == [(2, False, "small"), (3, True, None), (4, False, "after")]
    assert "import_max_field_chars" in res["rows"][1][1]
    assert res["grew_mb"] < 40, res["grew_mb"]  # 4 MiB line limit + 1 MiB blocks, not 100 MB
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0


@pytest.mark.parametrize("where", ["one line", "quoted over lines"])
def test_a_value_over_the_limit_is_a_rejected_row(tmp_path: Path, where: str) -> None:
    f = tmp_path / "big.csv"
    big = "y" * 5000 if where == "one line" else "\n".join(["y" * 50] * 100)
    f.write_text(f'id,text\n1,a\n2,"{big}"\n3,b\n', encoding="utf-8")
    rows = list(iter_csv(f, max_field=1000)[1])
    assert [r.fields.get("id") for r in rows if r.error is None] == ["1", "3"]
    bad = [r for r in rows if r.error]
    assert len(bad) >= 1 and bad[0].line == 3 and "1,000 characters" in (bad[0].error or "")


def test_jsonl_value_over_the_limit(tmp_path: Path) -> None:
    f = tmp_path / "big.jsonl"
    f.write_text(
        json.dumps({"text": "a"})
        + "\n"
        + json.dumps({"text": "z" * 3000, "k": 1})
        + "\n"
        + json.dumps({"text": "z" * 9000})
        + "\n",
        encoding="utf-8",
    )
    rows = list(iter_jsonl(f, max_field=1000))
    assert [(r.line, r.error is None, r.error_field) for r in rows] == [
        (1, True, ""),
        (2, False, "text"),
        (3, False, ""),
    ]


def test_json_array_element_over_the_limit_is_skipped(tmp_path: Path) -> None:
    tasks = [{"data": {"text": "a"}}, {"data": {"text": "w" * 20_000}}, {"data": {"text": "b"}}]
    f = tmp_path / "big.json"
    f.write_text(json.dumps(tasks), encoding="utf-8")  # minified: one line
    rows = list(iter_json_array(f, max_field=1000))
    assert [r.fields for r in rows if r.error is None] == [tasks[0], tasks[2]]
    assert [r.error is None for r in rows] == [True, False, True]


def test_over_long_lines_become_one_marker_each(tmp_path: Path) -> None:
    f = tmp_path / "l.txt"
    f.write_text("short\n" + "q" * 50 + "\nend", encoding="utf-8")
    lines = list(decoded_lines(f, max_line=10))
    assert lines[0] == "short\n" and lines[2] == "end" and "line-too-long" in lines[1]
