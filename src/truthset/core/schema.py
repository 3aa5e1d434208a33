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
import unicodedata
from collections.abc import Iterable, Iterator
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
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


class Label(BaseModel):
    """One label: what it means, what belongs in it and what does not."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="The label value stored in annotations.")
    definition: str = Field("", description="What the label means, in one or two sentences.")
    include: list[str] = Field(default_factory=list, description="Examples that ARE this label.")
    exclude: list[str] = Field(default_factory=list, description="Near misses that are NOT this label, and why.")
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
        """A starter schema: the given names with hotkeys (see :data:`HOTKEYS`) and palette colours.

        The first 33 labels get a key; any further label gets none (``schema check`` says so).
        """
        labels = []
        keys = free_hotkeys(())
        for i, name in enumerate(names):
            labels.append(Label(name=name, hotkey=next(keys, ""), color=PALETTE[i % len(PALETTE)]))
        return cls(labels=labels)


#: Keys the web app's pages use for actions (as the browser names them, lower case); labels
#: may not take them.
RESERVED_HOTKEYS: dict[str, str] = {
    "enter": "submit",
    "s": "skip",
    "u": "undo",
    "n": "next",
    "?": "help",
    "=": "copy a line into the adjudication (review)",
    "arrowup": "previous line (review)",
    "arrowdown": "next line (review)",
    "arrowleft": "previous span (review)",
    "arrowright": "next span (review)",
    "delete": "remove the span (review)",
    "backspace": "remove the span (review)",
}

#: The keys handed to labels that have none, in order: the digits 1-9 and 0 (the top row of
#: the keyboard), then the letters a-z that no page action uses (not s, u, n). 33 keys in all.
HOTKEYS: tuple[str, ...] = (
    *"1234567890",
    *(c for c in "abcdefghijklmnopqrstuvwxyz" if c not in RESERVED_HOTKEYS),
)


def free_hotkeys(used: Iterable[str]) -> Iterator[str]:
    """The keys of :data:`HOTKEYS` not in ``used`` (compared ignoring case), in order."""
    taken = {k.lower() for k in used}
    return (k for k in HOTKEYS if k not in taken)


def name_key(name: str) -> str:
    """The form in which two label names are compared: the same key means the same name.

    Case (``casefold``), Unicode form (NFKC: a composed "é" equals "e" + combining accent, a
    full-width "Ａ" equals "A") and runs of spaces are ignored, since annotators cannot tell
    such names apart on screen.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(folded.split())


def duplicate_names(schema: LabelSchema) -> list[list[int]]:
    """Groups of label positions whose names are the same by :func:`name_key` (two or more each)."""
    groups: dict[str, list[int]] = {}
    for i, label in enumerate(schema.labels):
        groups.setdefault(name_key(label.name), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def _describe_duplicates(schema: LabelSchema, group: list[int]) -> str:
    names = [schema.labels[i].name for i in group]
    if len(set(names)) == 1:
        return f"label {names[0]!r} is defined {len(names)} times (labels[{'], labels['.join(map(str, group))}])"
    listed = " and ".join(f"{n!r} (labels[{i}])" for n, i in zip(names, group))
    return (
        f"labels {listed} are the same name written differently (names are compared ignoring "
        "case, Unicode form and spacing)"
    )


def require_unique_names(schema: LabelSchema) -> None:
    """Refuse a schema in which two labels share a name; the error names both and the fix."""
    from truthset.core.errors import SchemaError

    problems = []
    for group in duplicate_names(schema):
        keep, *others = (schema.labels[i].name for i in group)
        merges = "; ".join(f"truthset schema merge {o!r} --into {keep!r}" for o in others if o != keep)
        problems.append(
            f"{_describe_duplicates(schema, group)}. Keep one: delete the other(s) from schema.labels "
            "in truthset.yaml or give them a distinct name"
            + (f"; if annotations already use a deleted name, then run: {merges}" if merges else "")
        )
    if problems:
        raise SchemaError("; ".join(problems))


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


def check_schema(schema: LabelSchema, *, data_labels: Iterable[str] = (), pending: Iterable[str] = ()) -> list[Finding]:
    """Find what would confuse annotators or break annotation.

    Checks duplicate names (ignoring case, Unicode form and spacing: :func:`name_key`), hotkey
    clashes (with each other and with the app's reserved keys), labels without a hotkey or a
    definition, and labels present in the data but absent from the schema. ``pending`` names
    labels already awaiting re-annotation (after a split); they are reported as warnings
    instead of errors.
    """
    findings: list[Finding] = []
    for group in duplicate_names(schema):
        findings.append(
            Finding(
                "error",
                "duplicate-name",
                _describe_duplicates(schema, group) + "; keep one and delete or rename the other(s)",
            )
        )
    keys: dict[str, list[str]] = {}
    for label in schema.labels:
        if label.hotkey:
            keys.setdefault(label.hotkey.lower(), []).append(label.name)
    for key, names in keys.items():
        if len(names) > 1:
            findings.append(Finding("error", "hotkey-clash", f"hotkey {key!r} is used by {', '.join(names)}"))
        if key in RESERVED_HOTKEYS:
            findings.append(
                Finding(
                    "error",
                    "hotkey-reserved",
                    f"hotkey {key!r} of {', '.join(names)} is reserved for '{RESERVED_HOTKEYS[key]}'; pick another key",
                )
            )
    spare = free_hotkeys([*keys, *RESERVED_HOTKEYS])
    for label in schema.labels:
        if not label.hotkey:
            key = next(spare, "")
            fix = f"add e.g. hotkey: '{key}' to it in truthset.yaml" if key else "every key is taken"
            findings.append(
                Finding(
                    "warning",
                    "missing-hotkey",
                    f"label {label.name!r} has no hotkey; annotators must click it ({fix})",
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
            raise SchemaError(
                f"field 'value': unknown label(s) {excerpt(unknown, 200)}; the labels are {sorted(names)}"
            )
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
            if (
                not isinstance(start, int)
                or not isinstance(end, int)
                or isinstance(start, bool)
                or isinstance(end, bool)
            ):
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
                    raise SchemaError(
                        f"field 'value': spans {a['start']}-{a['end']} and {b['start']}-{b['end']} "
                        "overlap, which this schema forbids (schema.span_overlap)"
                    )
        return spans
    if not isinstance(value, str):
        raise SchemaError("field 'value': this task takes one label name")
    if value not in names:
        raise SchemaError(f"field 'value': unknown label {excerpt(value)}; the labels are {sorted(names)}")
    return value
