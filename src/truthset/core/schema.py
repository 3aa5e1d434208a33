"""The label schema: labels with definitions, examples, exclusions and tie-break rules.

The schema is what annotators read (rendered as the guide by :mod:`truthset.core.guide`)
and what every annotation is checked against. It is versioned by content: any change of a
definition, example, rule, hotkey or colour gives a new :func:`schema_hash`, and the store
records an immutable version for each distinct hash.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TaskType = Literal[
    "text-classification",
    "multi-label",
    "ner",
    "image-classification",
    "tabular-classification",
]
TASK_TYPES: tuple[str, ...] = (
    "text-classification",
    "multi-label",
    "ner",
    "image-classification",
    "tabular-classification",
)

#: A palette for labels created without a colour (colour-blind safe, Okabe–Ito).
PALETTE: tuple[str, ...] = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
)
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


class Label(BaseModel):
    """One label: what it means, what belongs in it and what does not."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="The label value stored in annotations.")
    definition: str = Field("", description="What the label means, in one or two sentences.")
    include: list[str] = Field(default_factory=list, description="Examples that ARE this label.")
    exclude: list[str] = Field(
        default_factory=list, description="Near misses that are NOT this label, and why."
    )
    tie_break: str = Field("", description="How to decide when this label competes with another.")
    hotkey: str = Field("", description="One key that applies this label in the web app.")
    color: str = Field("", description="Colour as #RRGGBB.")

    @field_validator("color")
    @classmethod
    def _check_color(cls, v: str) -> str:
        if v and not _HEX.fullmatch(v):
            raise ValueError(f"colour must look like #1f77b4, got {v!r}")
        return v


class LabelSchema(BaseModel):
    """The labels of a project and the general instructions that precede them."""

    model_config = ConfigDict(extra="forbid")

    instructions: str = Field("", description="General instructions shown at the top of the guide.")
    span_overlap: Literal["forbid", "allow"] = Field(
        "forbid", description="NER only: may two spans of one annotation overlap?"
    )
    labels: list[Label] = Field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [label.name for label in self.labels]

    def label(self, name: str) -> Label | None:
        for label in self.labels:
            if label.name == name:
                return label
        return None

    @classmethod
    def from_names(cls, names: Iterable[str]) -> LabelSchema:
        """A starter schema: the given names with hotkeys 1..9 and palette colours."""
        labels = []
        for i, name in enumerate(names):
            labels.append(
                Label(
                    name=name,
                    hotkey=str(i + 1) if i < 9 else "",
                    color=PALETTE[i % len(PALETTE)],
                )
            )
        return cls(labels=labels)


def schema_hash(schema: LabelSchema) -> str:
    """Content hash (sha256 hex) of a schema: equal schemas give equal hashes."""
    canonical = json.dumps(schema.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Finding:
    """One problem found by :func:`check_schema`."""

    severity: Literal["error", "warning"]
    code: str
    message: str


def check_schema(
    schema: LabelSchema, *, data_labels: Iterable[str] = (), pending: Iterable[str] = ()
) -> list[Finding]:
    """Find what would confuse annotators or break annotation.

    Checks duplicate names, hotkey clashes (with each other and with the app's reserved
    keys), labels without a definition, and labels present in the data but absent from
    the schema. ``pending`` names labels already awaiting re-annotation (after a split);
    they are reported as warnings instead of errors.
    """
    findings: list[Finding] = []
    for name, n in Counter(schema.names).items():
        if n > 1:
            findings.append(Finding("error", "duplicate-name", f"label {name!r} is defined {n} times"))
    keys: dict[str, list[str]] = {}
    for label in schema.labels:
        if label.hotkey:
            keys.setdefault(label.hotkey.lower(), []).append(label.name)
    for key, names in keys.items():
        if len(names) > 1:
            findings.append(
                Finding("error", "hotkey-clash", f"hotkey {key!r} is used by {', '.join(names)}")
            )
        if key in RESERVED_HOTKEYS:
            findings.append(
                Finding(
                    "error",
                    "hotkey-reserved",
                    f"hotkey {key!r} of {', '.join(names)} is reserved for "
                    f"'{RESERVED_HOTKEYS[key]}'; pick another key",
                )
            )
    for label in schema.labels:
        if not label.definition.strip():
            findings.append(
                Finding(
                    "warning",
                    "missing-definition",
                    f"label {label.name!r} has no definition; annotators will guess",
                )
            )
    known = set(schema.names)
    pending_set = set(pending)
    for name in sorted(set(data_labels) - known):
        if name in pending_set:
            findings.append(
                Finding(
                    "warning",
                    "awaiting-reannotation",
                    f"label {name!r} was split; its items await re-annotation",
                )
            )
        else:
            findings.append(
                Finding(
                    "error",
                    "unknown-label",
                    f"label {name!r} appears in annotations but not in the schema; add it to "
                    "truthset.yaml or migrate it (truthset schema rename/merge)",
                )
            )
    return findings


#: Keys the annotation app uses for actions; labels may not take them.
RESERVED_HOTKEYS: dict[str, str] = {
    "enter": "submit",
    "s": "skip",
    "u": "undo",
    "n": "next",
    "?": "help",
}


def validate_value(task: str, schema: LabelSchema, value: object, *, text: str | None = None) -> object:
    """Check an annotation value against the task and schema; return it in canonical form.

    Single-label tasks take a label name; ``multi-label`` a list of names (sorted, without
    repeats); ``ner`` a list of ``{start, end, label}`` spans inside ``text`` (sorted; no
    overlaps unless the schema allows them). Raises :class:`SchemaError` naming the field.
    """
    from truthset.core.errors import SchemaError, excerpt

    names = set(schema.names)
    if task == "multi-label":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SchemaError("field 'value': a multi-label annotation is a list of label names")
        unknown = sorted(set(value) - names)
        if unknown:
            raise SchemaError(f"field 'value': unknown label(s) {excerpt(unknown, 200)}; the labels are {sorted(names)}")
        return sorted(set(value))
    if task == "ner":
        if not isinstance(value, list):
            raise SchemaError("field 'value': an NER annotation is a list of {start, end, label} spans")
        spans = []
        for k, span in enumerate(value):
            where = f"field 'value[{k}]'"
            if not isinstance(span, dict):
                raise SchemaError(f"{where}: a span is an object with start, end and label")
            start, end, label = span.get("start"), span.get("end"), span.get("label")
            if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool):
                raise SchemaError(f"{where}: start and end must be whole numbers (character offsets)")
            if label not in names:
                raise SchemaError(f"{where}: unknown label {excerpt(label)}; the labels are {sorted(names)}")
            limit = len(text) if text is not None else end
            if not 0 <= start < end <= limit:
                raise SchemaError(f"{where}: span {start}-{end} lies outside the text (length {limit})")
            spans.append({"start": start, "end": end, "label": label})
        spans.sort(key=lambda s: (s["start"], s["end"], s["label"]))
        if schema.span_overlap == "forbid":
            for a, b in zip(spans, spans[1:]):
                if b["start"] < a["end"]:
                    raise SchemaError(f"field 'value': spans {a['start']}-{a['end']} and {b['start']}-{b['end']} "
                                      "overlap, which this schema forbids (schema.span_overlap)")
        return spans
    if not isinstance(value, str):
        raise SchemaError("field 'value': this task takes one label name")
    if value not in names:
        raise SchemaError(f"field 'value': unknown label {excerpt(value)}; the labels are {sorted(names)}")
    return value
