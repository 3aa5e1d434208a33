"""Label Studio export format: tasks in, tasks out (pure functions, no I/O).

A Label Studio task is ``{"id", "data": {...}, "annotations": [...], "predictions": [...]}``
(a task without the ``data`` wrapper is its own data, as Label Studio itself accepts).
Each annotation holds a ``result`` list; the results of the project's main control (choices
or taxonomy for classification, labels for NER) become the annotation value; all other
results are kept verbatim in the annotation's ``meta`` so an export gives them back.

Every annotation is its own record, with its Label Studio id (``meta["ls_id"]``): two
annotations by one person are two judgements, the later (by ``created_at``, else file order)
the current one. An annotation without ``completed_by`` gets an annotator of its own
(``labelstudio-annotation-<id>``), never one shared by every anonymous annotation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from truthset.data.rows import parse_lead_time

MAIN_TYPES: dict[str, tuple[str, ...]] = {
    "text-classification": ("choices", "taxonomy"),
    "image-classification": ("choices", "taxonomy"),
    "tabular-classification": ("choices", "taxonomy"),
    "multi-label": ("choices", "taxonomy"),
    "ner": ("labels",),
}
UNKNOWN_ANNOTATOR = "labelstudio"
#: the task ``meta`` key holding an item's gold value when no ground-truth annotation carries it
GOLD_META = "truthset_gold"


@dataclass
class ParsedAnnotation:
    """One Label Studio annotation (or prediction) in truthset's terms."""

    annotator: str
    value: Any
    source: str = "import"
    lead_time: float | None = None
    ground_truth: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParsedTask:
    data: dict[str, Any]
    external_id: str | None
    annotations: list[ParsedAnnotation]
    cancelled: int = 0
    empty: int = 0
    problems: list[str] = field(default_factory=list)
    #: why the task cannot be imported (field, reason), or None
    error: tuple[str, str] | None = None
    #: the item's gold value from the task's ``meta`` (a truthset export), if any
    gold: Any = None


def annotator_name(completed_by: Any, *, anonymous: str = UNKNOWN_ANNOTATOR) -> str:
    """``completed_by`` is a user object (with e-mail), a bare user id, or absent (``anonymous``)."""
    if isinstance(completed_by, Mapping):
        email = completed_by.get("email")
        if email:
            return str(email)
        if completed_by.get("id") is not None:
            return f"labelstudio-user-{completed_by['id']}"
    elif completed_by is not None:
        return f"labelstudio-user-{completed_by}"
    return anonymous


def _lead_time(raw: Any) -> tuple[float | None, str]:
    """A Label Studio lead time: numbers only (text is ignored, as Label Studio writes none)."""
    if not isinstance(raw, (int, float)) or isinstance(raw, bool):
        return None, ""
    return parse_lead_time(raw)


def _taxonomy_path(path: Any) -> str:
    return "/".join(str(p) for p in path) if isinstance(path, list) else str(path)


class LabelStudioParser:
    """Turns tasks into :class:`ParsedTask`, remembering which control is the main one.

    The main control (``from_name``) is the one given, or else the first control of a main
    type met in the file; results of other controls are carried in ``meta``.
    """

    def __init__(self, task_type: str, *, from_name: str | None = None) -> None:
        self.task_type = task_type
        self.main_types = MAIN_TYPES[task_type]
        self.from_name = from_name
        self.to_name: str | None = None
        self.data_key: str | None = None

    def _is_main(self, result: Mapping[str, Any]) -> bool:
        if result.get("type") not in self.main_types:
            return False
        if self.from_name is None:
            self.from_name = str(result.get("from_name", "label"))
        if result.get("from_name") != self.from_name:
            return False
        if self.to_name is None:
            self.to_name = str(result.get("to_name", "text"))
        return True

    def _value(self, results: list[Mapping[str, Any]]) -> tuple[Any, list[str]]:
        problems: list[str] = []
        if self.task_type == "ner":
            spans = []
            for r in results:
                v = r.get("value") or {}
                for lab in v.get("labels") or []:
                    try:
                        span = {"start": int(v["start"]), "end": int(v["end"]), "label": str(lab)}
                    except (KeyError, TypeError, ValueError):
                        problems.append(f"span without valid start/end: {v!r:.120}")
                        continue
                    if "text" in v:
                        span["text"] = v["text"]
                    spans.append(span)
            spans.sort(key=lambda s: (s["start"], s["end"], s["label"]))
            return spans, problems
        labels: list[str] = []
        for r in results:
            v = r.get("value") or {}
            if r.get("type") == "taxonomy":
                labels.extend(_taxonomy_path(p) for p in v.get("taxonomy") or [])
            else:
                labels.extend(str(c) for c in v.get("choices") or [])
        if self.task_type == "multi-label":
            return (sorted(set(labels)) if labels else None), problems
        if not labels:
            return None, problems
        if len(set(labels)) > 1:
            problems.append(f"{len(labels)} choices {labels} in a single-label project; kept the first")
        return labels[0], problems

    def _parse_one(
        self, ann: Mapping[str, Any], *, source: str, anonymous: str = UNKNOWN_ANNOTATOR
    ) -> tuple[ParsedAnnotation | None, list[str]]:
        results = [r for r in ann.get("result") or [] if isinstance(r, Mapping)]
        main = [r for r in results if self._is_main(r)]
        other = [r for r in results if r not in main]
        value, problems = self._value(main)
        if value is None:
            return None, problems
        meta: dict[str, Any] = {}
        if other:
            meta["ls_other_results"] = other
        if ann.get("id") is not None:
            meta["ls_id"] = ann["id"]
        if ann.get("created_at"):
            meta["ls_created_at"] = ann["created_at"]
        if source == "model":
            name = "model:" + str(ann.get("model_version") or "unknown")
            if ann.get("score") is not None:
                meta["score"] = ann["score"]
        else:
            if ann.get("id") is not None:
                anonymous = f"labelstudio-annotation-{ann['id']}"
            name = annotator_name(ann.get("completed_by"), anonymous=anonymous)
        lead, _ = _lead_time(ann.get("lead_time"))
        return (
            ParsedAnnotation(
                annotator=name,
                value=value,
                source=source,
                lead_time=lead,
                ground_truth=bool(ann.get("ground_truth")),
                meta=meta,
            ),
            problems,
        )

    def parse(self, task: Mapping[str, Any], *, line: int = 0) -> ParsedTask:
        """Parse one task (``line``: where it starts, names anonymous annotations).

        Cancelled annotations are counted, not imported. Annotations come out oldest first
        (by ``created_at`` when every one has it, else in file order).
        """
        if "data" in task and not isinstance(task["data"], Mapping):
            out = ParsedTask(data={}, external_id=None, annotations=[])
            out.error = (
                "data",
                f'the task\'s data is {type(task["data"]).__name__}, not an object of fields (e.g. {{"text": ...}})',
            )
            return out
        data = task.get("data")
        if not isinstance(data, Mapping):
            data = {k: v for k, v in task.items() if k not in {"id", "annotations", "predictions"}}
        ext = task.get("id")
        out = ParsedTask(data=dict(data), external_id=None if ext is None else str(ext), annotations=[])
        meta = task.get("meta")
        if isinstance(meta, Mapping) and GOLD_META in meta:
            out.gold = meta[GOLD_META]
        task_key = out.external_id if out.external_id is not None else f"line{line}"
        anns = [a for a in task.get("annotations") or [] if isinstance(a, Mapping)]
        out.problems.extend(
            ["an annotation that is not an object was skipped"] * (len(task.get("annotations") or []) - len(anns))
        )
        if anns and all(isinstance(a.get("created_at"), str) for a in anns):
            anns.sort(key=lambda a: str(a["created_at"]))
        for k, ann in enumerate(anns, start=1):
            if ann.get("was_cancelled"):
                out.cancelled += 1
                continue
            _, bad_lead = _lead_time(ann.get("lead_time"))
            if bad_lead:
                out.error = ("lead_time", f"annotation {ann.get('id', k)}: {bad_lead}")
                return out
            parsed, problems = self._parse_one(
                ann, source="import", anonymous=f"labelstudio-task-{task_key}-annotation-{k}"
            )
            out.problems.extend(problems)
            if parsed is None:
                out.empty += 1
            else:
                out.annotations.append(parsed)
        for pred in task.get("predictions") or []:
            if isinstance(pred, Mapping):
                parsed, problems = self._parse_one(pred, source="model")
                out.problems.extend(problems)
                if parsed is not None:
                    out.annotations.append(parsed)
        return out


def _results(value: Any, task_type: str, *, from_name: str, to_name: str) -> list[dict[str, Any]]:
    base = {"from_name": from_name, "to_name": to_name}
    if task_type == "ner":
        out = []
        for span in value or []:
            v: dict[str, Any] = {"start": span["start"], "end": span["end"], "labels": [span["label"]]}
            if "text" in span:
                v["text"] = span["text"]
            out.append({**base, "type": "labels", "value": v})
        return out
    choices = value if isinstance(value, list) else [value]
    return [{**base, "type": "choices", "value": {"choices": list(choices)}}]


def to_task(
    *,
    data: Mapping[str, Any],
    external_id: str | None,
    annotations: Iterable[Mapping[str, Any]],
    task_type: str,
    from_name: str,
    to_name: str,
    gold: Any = None,
) -> dict[str, Any]:
    """Build one Label Studio task from an item and its annotations (oldest first).

    Each annotation mapping has ``annotator``, ``value``, ``source``, ``lead_time``,
    ``ground_truth`` and ``meta`` (as stored by the import), and may carry ``from_name`` and
    ``to_name`` (the control names of the file it came from) instead of the defaults given.
    ``gold``: the item's gold value; written to the task's ``meta`` unless a ground-truth
    annotation already carries it.
    """
    annotations = list(annotations)
    task: dict[str, Any] = {}
    if external_id is not None:
        numeric = external_id.isascii() and external_id.isdigit() and str(int(external_id)) == external_id
        task["id"] = int(external_id) if numeric else external_id
    task["data"] = dict(data)
    anns: list[dict[str, Any]] = []
    preds: list[dict[str, Any]] = []
    for a in annotations:
        meta = a.get("meta") or {}
        result = _results(
            a["value"], task_type, from_name=a.get("from_name") or from_name, to_name=a.get("to_name") or to_name
        )
        result.extend(meta.get("ls_other_results", []))
        if a.get("source") == "model":
            pred: dict[str, Any] = {"result": result, "model_version": str(a["annotator"]).removeprefix("model:")}
            if "score" in meta:
                pred["score"] = meta["score"]
            preds.append(pred)
            continue
        ann: dict[str, Any] = {
            "completed_by": {"email": a["annotator"]},
            "result": result,
            "was_cancelled": False,
            "ground_truth": bool(a.get("ground_truth")),
        }
        if a.get("lead_time") is not None:
            ann["lead_time"] = a["lead_time"]
        if "ls_id" in meta:
            ann["id"] = meta["ls_id"]
        if "ls_created_at" in meta:
            ann["created_at"] = meta["ls_created_at"]
        anns.append(ann)
    task["annotations"] = anns
    task["predictions"] = preds
    if gold is not None and not any(a.get("ground_truth") and a.get("value") == gold for a in annotations):
        task["meta"] = {GOLD_META: gold}
    return task
