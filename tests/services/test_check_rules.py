"""Validation rules (truthset.yaml ``rules:``) in SQL on SQLite and PostgreSQL: every kind flags
exactly the items that break it, named by external id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import NewProject
from truthset.core.config import Rule, parse_project_config
from truthset.core.errors import ConfigError
from truthset.services import check_rules, checks
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project

ROWS = [
    {
        "id": "a",
        "label": "ham",
        "text": "Ok lar... Joking wif u oni...",
        "n": 5,
        "lang": "en",
        "code": "AB-12",
        "note": "fine",
    },
    {"id": "b", "label": "spam", "text": " x ", "n": 50, "lang": "xx", "code": "zz", "note": ""},
    {"id": "c", "label": "ham", "text": "Hi", "n": "seven", "lang": "en", "code": "CD-34"},
    {"id": "d", "label": "spam", "text": "WINNER!! " * 40, "n": 2.5, "lang": "de", "code": "AB-12", "note": "x"},
    {"id": "e", "label": "ham", "text": "Sorry, I'll call later", "n": -1, "lang": "en", "code": "EF-56", "note": "y"},
]

CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"kind": "required", "field": "note"}, ["b", "c"]),
    ({"kind": "type", "field": "n", "type": "integer"}, ["c", "d"]),
    ({"kind": "type", "field": "n", "type": "number"}, ["c"]),
    ({"kind": "type", "field": "code", "type": "string"}, []),
    ({"kind": "range", "field": "n", "min": 0, "max": 10}, ["b", "c", "e"]),
    ({"kind": "regex", "field": "code", "pattern": r"[A-Z]{2}-\d{2}"}, ["b"]),
    ({"kind": "allowed", "field": "lang", "values": ["en", "de"]}, ["b"]),
    ({"kind": "unique", "field": "code"}, ["a", "d"]),
    ({"kind": "max_length", "field": "text", "length": 100}, ["d"]),
    ({"kind": "min_text_length", "field": "text", "length": 3}, ["b", "c"]),
    ({"kind": "label_in_schema"}, ["b", "d"]),
]


@pytest.fixture
def ruled(new_project: NewProject, tmp_path: Path) -> Project:
    p = new_project(labels=["ham", "spam"])
    f = tmp_path / "rows.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    import_file(p, f, ImportOptions(id_col="id", label_col="label"))
    # 'spam' leaves the schema after the labels were given: label_in_schema must flag b and d
    schema = p.config.schema.model_copy(update={"labels": [lab for lab in p.config.schema.labels if lab.name == "ham"]})
    p.config = p.config.model_copy(update={"schema_": schema})
    return p


@pytest.mark.parametrize(("spec", "expected"), CASES, ids=[f"{c[0]['kind']}-{i}" for i, c in enumerate(CASES)])
def test_each_rule_flags_exactly_the_items_that_break_it(
    ruled: Project, spec: dict[str, Any], expected: list[str]
) -> None:
    rule = Rule.model_validate(spec)
    assert [ext for _, ext in check_rules.rule_violations(ruled, rule)] == expected


def test_blocking_rule_fails_the_gate_and_warning_does_not(ruled: Project) -> None:
    warn = Rule.model_validate({"kind": "allowed", "field": "lang", "values": ["en", "de"]})
    ruled.config = ruled.config.model_copy(update={"rules": [warn]})
    res = checks.run_checks(ruled, ["rules"])
    assert res.passed and res.checks[0]["count"] == 1 and res.checks[0]["violations"] == ["b"]
    block = warn.model_copy(update={"severity": "blocking"})
    ruled.config = ruled.config.model_copy(update={"rules": [block]})
    res = checks.run_checks(ruled, ["rules"])
    assert not res.passed and res.to_dict()["gate"] == {"passed": False, "blocking_failed": 1}
    found = checks.list_findings(ruled, check="rule:allowed:lang")
    assert len(found) == 1 and found[0]["detail"]["external_id"] == "b"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "range", "field": "n"}, "needs 'min' or 'max'"),
        ({"kind": "regex", "field": "code", "pattern": "("}, "not a regular expression"),
        ({"kind": "required"}, "needs 'field'"),
        ({"kind": "allowed", "field": "x"}, "needs 'values'"),
        ({"kind": "required", "field": 'a"b'}, "rules.0.field"),
        ({"kind": "nonsense", "field": "x"}, "rules.0.kind"),
    ],
)
def test_bad_rules_are_refused_naming_the_key(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_project_config({"name": "x", "task": "text-classification", "rules": [spec]})
