"""Validation rules from truthset.yaml (``rules:``), run in the store (see docs/checks.md).

Each rule gives the items that break it, named by external id; a ``blocking`` rule with a
violation makes ``truthset check`` exit 1, so the check can gate a pipeline. Kinds the store
answers in one SQL query are run there; ``range`` (a number parse) and ``regex`` (a Python
regular expression) stream the field's values in pages, so neither reads whole payloads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from truthset.core.config import Rule
from truthset.services.projects import Project
from truthset.store.repo import findings as repo_findings
from truthset.store.repo import rules as repo_rules

RULE_VERSION = "1"

#: advice shown under a rule's finding
ADVICE = {
    "required": "Fill in the field (or drop the items) at the source, then re-import.",
    "type": "Fix the value's type at the source (a number written as text, a list where a value belongs).",
    "range": "Fix the out-of-range values, or widen the rule's min/max if they are legitimate.",
    "regex": "Fix the values that do not match the pattern, or correct the pattern.",
    "allowed": "Map the unexpected values onto the allowed ones, or add them to the rule.",
    "unique": "Remove or merge the items that share the value.",
    "max_length": "Shorten or split the long values; check they were not two rows run together.",
    "min_text_length": "Drop or fill the (nearly) empty texts: nothing can be labelled from them.",
    "label_in_schema": "Migrate the labels to the schema (truthset schema) or add the missing label.",
}


def _out_of_range(value: str, rule: Rule) -> bool:
    try:
        x = float(value)
    except ValueError:
        return True
    if math.isnan(x):
        return True
    return (rule.min is not None and x < rule.min) or (rule.max is not None and x > rule.max)


def _streamed(project: Project, rule: Rule) -> list[tuple[int, str | None]]:
    """Violations of a ``range`` or ``regex`` rule, reading the field in pages."""
    assert rule.field is not None  # the config requires it for these kinds
    pattern = re.compile(rule.pattern) if rule.pattern is not None else None
    out: list[tuple[int, str | None]] = []
    with project.store.read() as tx:
        for page in repo_rules.field_pages(tx, project.id, rule.field):
            for item_id, ext, value in page:
                bad = (
                    _out_of_range(value, rule)
                    if rule.kind == "range"
                    else pattern is not None and pattern.fullmatch(value) is None
                )
                if bad:
                    out.append((int(item_id), ext))
    return out


def rule_violations(project: Project, rule: Rule) -> list[tuple[int, str | None]]:
    """(item id, external id) of the items that break ``rule``, in id order."""
    if rule.kind in repo_rules.SQL_KINDS:
        labels = [lab.name for lab in project.config.schema.labels]
        with project.store.read() as tx:
            return [(int(i), e) for i, e in repo_rules.violations(tx, project.id, rule, schema_labels=labels)]
    return _streamed(project, rule)


def _describe(rule: Rule) -> str:
    bounds = {
        "type": f"of type {rule.type}",
        "range": f"in [{rule.min}, {rule.max}]",
        "regex": f"matching {rule.pattern!r}",
        "allowed": f"one of {rule.values}",
        "max_length": f"at most {rule.length} characters",
        "min_text_length": f"at least {rule.length} non-blank characters",
    }
    if rule.kind == "label_in_schema":
        return "every current label is a label of the schema"
    if rule.kind == "required":
        return f"'{rule.field}' is present and not blank"
    if rule.kind == "unique":
        return f"no two items share a value of '{rule.field}'"
    return f"'{rule.field}' is {bounds[rule.kind]}"


def run_rules(project: Project, rules: Sequence[Rule]) -> list[tuple[dict[str, Any], list[repo_findings.NewFinding]]]:
    """Each rule's summary (a check entry of the report) and its findings (one per item)."""
    out = []
    for rule in rules:
        bad = rule_violations(project, rule)
        ids = [ext if ext is not None else str(item) for item, ext in bad]
        summary = {
            "check": f"rule:{rule.label}",
            "check_version": RULE_VERSION,
            "kind": "rule",
            "rule": rule.kind,
            "field": rule.field,
            "severity": rule.severity,
            "count": len(bad),
            "items": len(bad),
            "title": f"Rule {rule.label}",
            "message": f"rule: {_describe(rule)}; {len(bad):,} item(s) break it",
            "what_to_do": ADVICE[rule.kind],
            "violations": ids[:1000],
            "examples": [{"id": i, "detail": _describe(rule)} for i in ids[:10]],
        }
        found = [
            repo_findings.NewFinding(
                kind="rule",
                severity=rule.severity,
                key=f"{rule.label}:{item}",
                items=[item],
                detail={"external_id": ext},
            )
            for item, ext in bad
        ]
        out.append((summary, found))
    return out
