"""Import edge cases of issue 10 (finding 9) on SQLite and PostgreSQL: a clear rejected row
with line and field, never a traceback, and stored values that export as valid JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.support import NewProject, batch_of
from truthset.services.exports import export_project
from truthset.services.imports import ImportReport, import_file, import_findings
from truthset.services.projects import Project
from truthset.store.models import Annotation, Item


def _rejected(project: Project, report: ImportReport) -> list[tuple[int, str, str]]:
    return [(f["line"], f["field"], f["reason"]) for f in import_findings(project, batch_of(report), kind="rejected")]


def test_nul_in_any_cell_is_a_rejected_row(new_project: NewProject, tmp_path: Path) -> None:
    """Main on PostgreSQL: psycopg DataError (a traceback), nothing imported."""
    f = tmp_path / "nul.csv"
    f.write_text("text,label,annotator\nfine,a,w1\nok,a,bad\x00name\nalso\x00bad,b,w2\nlast,b,w1\n", encoding="utf-8")
    p = new_project()
    r = import_file(p, f)
    assert (r.items_added, r.rejected) == (2, 2)
    rejected = _rejected(p, r)
    assert [(line, field) for line, field, _ in rejected] == [(3, "annotator"), (4, "text")]
    assert all("NUL" in reason for _, _, reason in rejected)


def test_deeply_nested_jsonl_line_is_a_rejected_row(new_project: NewProject, tmp_path: Path) -> None:
    """Main: a RecursionError traceback."""
    f = tmp_path / "deep.jsonl"
    f.write_text(
        '{"text": "a"}\n{"text": "b", "x": ' + "[" * 5000 + "]" * 5000 + '}\n{"text": "c"}\n', encoding="utf-8"
    )
    p = new_project()
    r = import_file(p, f)
    assert (r.items_added, r.rejected) == (2, 1)
    assert _rejected(p, r)[0][0] == 2


@pytest.mark.parametrize("lead", ["1e999", "-5", "NaN", "inf"])
def test_bad_lead_times_are_rejected_rows(new_project: NewProject, tmp_path: Path, lead: str) -> None:
    """Main stored 1e999 as inf and -5 as -5.0, and the JSONL export wrote ``Infinity``."""
    f = tmp_path / "lead.csv"
    f.write_text(f"text,label,lead_time\nok,a,2.5\nbad,a,{lead}\n", encoding="utf-8")
    p = new_project()
    r = import_file(p, f)
    assert (r.items_added, r.rejected) == (1, 1)
    assert _rejected(p, r)[0][:2] == (3, "lead_time")


def test_exports_never_write_infinity(new_project: NewProject, tmp_path: Path) -> None:
    """A lead time stored as infinity by an older version exports as null: valid JSON."""
    f = tmp_path / "a.csv"
    f.write_text("text,label,lead_time\nok,a,2.5\n", encoding="utf-8")
    p = new_project()
    import_file(p, f)
    with p.store.engine.begin() as conn:
        conn.execute(update(Annotation).where(Annotation.project_id == p.id).values(lead_time=math.inf))
    for fmt in ("jsonl", "labelstudio"):
        out = tmp_path / f"x.{fmt}"
        export_project(p, out, fmt=fmt)
        text = out.read_text(encoding="utf-8")
        assert "Infinity" not in text
        json.loads(text.splitlines()[0] if fmt == "jsonl" else text, parse_constant=lambda c: pytest.fail(c))


@pytest.mark.parametrize(
    ("task", "reason"),
    [
        ({"id": 1, "data": None}, "not an object"),
        ({"id": 2, "data": {"title": "a", "body": "b"}}, "has no 'text'"),
        ({"id": 3, "data": {"text": ""}}, "empty"),
    ],
)
def test_labelstudio_task_without_text_is_rejected(
    new_project: NewProject, tmp_path: Path, task: dict[str, Any], reason: str
) -> None:
    """Main: ``{"data": null}`` became an item with no text in a text project."""
    f = tmp_path / "ls.json"
    f.write_text(json.dumps([{"id": 9, "data": {"text": "fine"}}, task]), encoding="utf-8")
    p = new_project()
    r = import_file(p, f)
    assert (r.items_added, r.rejected) == (1, 1)
    line, field, why = _rejected(p, r)[0]
    assert field == "data" and reason in why


def test_value_over_the_field_limit_is_a_rejected_row(new_project: NewProject, tmp_path: Path) -> None:
    """The limit is the setting import_max_field_chars (here lowered to 1,000)."""
    f = tmp_path / "big.csv"
    f.write_text("text,label\nsmall,a\n" + "x" * 5000 + ",b\nafter,a\n", encoding="utf-8")
    p = new_project()
    p.settings = p.settings.model_copy(update={"import_max_field_chars": 1000})
    r = import_file(p, f)
    assert (r.items_added, r.rejected) == (2, 1)
    line, _field, reason = _rejected(p, r)[0]
    assert line == 3 and "1,000 characters" in reason and "TRUTHSET_IMPORT_MAX_FIELD_CHARS" in reason
    with p.store.engine.connect() as conn:
        longest = conn.execute(select(func.max(func.length(Item.payload))).where(Item.project_id == p.id)).scalar()
    assert longest is not None and longest < 100
