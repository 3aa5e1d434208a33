"""Label Studio tasks in and out, on real exports (see shared/datasets/labelstudio/SOURCE.md)."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truthset.data.labelstudio import (
    UNKNOWN_ANNOTATOR,
    LabelStudioParser,
    ParsedTask,
    annotator_name,
    to_task,
)

LS = Path(__file__).resolve().parents[3] / "shared/datasets/labelstudio"
LEOKA = LS / "leoka_ner" / "LEOKA_team_2_pseudonymized.json"
CORE = LS / "ls_core_tests"
CONVERTER = LS / "ls_converter_tests"


def load(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        pytest.fail(f"test data not found at {path}")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


# --- annotator_name -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("completed_by", "expected"),
    [
        ({"id": 14, "email": "sergei@heartex.test", "first_name": ""}, "sergei@heartex.test"),
        ({"email": "a@b.org"}, "a@b.org"),
        ({"id": 7, "email": ""}, "labelstudio-user-7"),
        ({"id": 7, "email": None}, "labelstudio-user-7"),
        ({"id": 0}, "labelstudio-user-0"),
        ({}, UNKNOWN_ANNOTATOR),
        ({"id": None, "email": ""}, UNKNOWN_ANNOTATOR),
        (1, "labelstudio-user-1"),
        (0, "labelstudio-user-0"),
        (None, UNKNOWN_ANNOTATOR),
    ],
)
def test_annotator_name(completed_by: Any, expected: str) -> None:
    assert annotator_name(completed_by) == expected


def test_unknown_annotator_is_labelstudio() -> None:
    assert UNKNOWN_ANNOTATOR == "labelstudio"


def test_anonymous_annotations_get_one_annotator_per_labelstudio_id() -> None:
    parser = LabelStudioParser("text-classification")
    res = [{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}]
    task = parser.parse(
        {
            "id": 9,
            "data": {"text": "t"},
            "annotations": [{"id": 101, "result": res}, {"id": 102, "result": res}, {"result": res}],
        },
        line=4,
    )
    assert [a.annotator for a in task.annotations] == [
        "labelstudio-annotation-101",
        "labelstudio-annotation-102",
        "labelstudio-task-9-annotation-3",
    ]


@pytest.mark.parametrize("data", [None, "text", 3, ["x"]])
def test_task_whose_data_is_not_an_object_is_an_error(data: Any) -> None:
    """``{"data": null}`` became an item with no text (issue 10.9)."""
    task = LabelStudioParser("text-classification").parse({"id": 1, "data": data})
    assert task.error is not None and task.error[0] == "data"
    assert "not an object" in task.error[1]


@pytest.mark.parametrize("lead", [-5, float("inf"), float("nan")])
def test_bad_lead_time_is_an_error(lead: float) -> None:
    """lead_time 1e999 became ``inf`` and was exported as invalid JSON (issue 10.9)."""
    res = [{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}]
    task = LabelStudioParser("text-classification").parse(
        {"id": 1, "data": {"text": "t"}, "annotations": [{"id": 5, "result": res, "lead_time": lead}]}
    )
    assert task.error is not None and task.error[0] == "lead_time"


def test_annotations_come_oldest_first_by_created_at() -> None:
    res = [{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}]
    task = LabelStudioParser("text-classification").parse(
        {
            "id": 1,
            "data": {"text": "t"},
            "annotations": [
                {"id": 2, "result": res, "created_at": "2024-03-12T10:00:00Z"},
                {"id": 1, "result": res, "created_at": "2024-03-11T10:00:00Z"},
            ],
        }
    )
    assert [a.meta["ls_id"] for a in task.annotations] == [1, 2]


# --- NER on the LEOKA project (130 tasks x 3 annotators) ------------------------------------


@pytest.fixture(scope="module")
def leoka_raw() -> list[dict[str, Any]]:
    return load(LEOKA)


@pytest.fixture(scope="module")
def leoka_ner(leoka_raw: list[dict[str, Any]]) -> tuple[LabelStudioParser, list[ParsedTask]]:
    parser = LabelStudioParser("ner")
    raw = copy.deepcopy(leoka_raw)
    parsed = [parser.parse(t) for t in raw]
    assert raw == leoka_raw  # parsing does not modify its input
    return parser, parsed


def test_leoka_task_counts(leoka_ner: tuple[LabelStudioParser, list[ParsedTask]]) -> None:
    parser, parsed = leoka_ner
    assert len(parsed) == 130
    assert parser.from_name == "label" and parser.to_name == "text"
    # 390 annotations: 2 cancelled (tasks 97056524, 97056542), the rest imported
    assert sum(t.cancelled for t in parsed) == 2
    assert {t.external_id for t in parsed if t.cancelled} == {"97056524", "97056542"}
    assert sum(len(t.annotations) for t in parsed) == 388
    assert sum(t.empty for t in parsed) == 0
    assert all(t.problems == [] for t in parsed)
    assert Counter(len(t.annotations) for t in parsed) == Counter({3: 128, 2: 2})
    assert Counter(a.annotator for t in parsed for a in t.annotations) == Counter(
        {
            "annotator_1@example.org": 130,
            "annotator_2@example.org": 128,
            "annotator_3@example.org": 130,
        }
    )


def test_leoka_tasks_keep_data_and_ids(
    leoka_raw: list[dict[str, Any]], leoka_ner: tuple[LabelStudioParser, list[ParsedTask]]
) -> None:
    _, parsed = leoka_ner
    for raw, task in zip(leoka_raw, parsed):
        assert task.data == raw["data"]
        assert task.external_id == str(raw["id"])


def test_leoka_spans(leoka_raw: list[dict[str, Any]], leoka_ner: tuple[LabelStudioParser, list[ParsedTask]]) -> None:
    _, parsed = leoka_ner
    spans = [s for t in parsed for a in t.annotations for s in a.value]
    assert len(spans) == 3260
    assert Counter(s["label"] for s in spans) == Counter(
        {
            "Experience": 466,
            "Person": 464,
            "Age": 450,
            "Department": 391,
            "Date": 381,
            "Time": 370,
            "Firearm": 369,
            "Drugs": 260,
            "Other_weapon": 65,
            "SWAT": 44,
        }
    )
    for raw, task in zip(leoka_raw, parsed):
        text = raw["data"]["text"]
        for a in task.annotations:
            assert a.source == "import"
            assert isinstance(a.value, list)
            keys = [(s["start"], s["end"], s["label"]) for s in a.value]
            assert keys == sorted(keys)
            for s in a.value:
                assert set(s) == {"start", "end", "label", "text"}
                assert text[s["start"] : s["end"]] == s["text"]


def test_leoka_first_annotation_in_detail(
    leoka_raw: list[dict[str, Any]], leoka_ner: tuple[LabelStudioParser, list[ParsedTask]]
) -> None:
    _, parsed = leoka_ner
    a = parsed[0].annotations[0]
    assert a.annotator == "annotator_1@example.org"
    assert a.lead_time == pytest.approx(1458.961)
    assert a.ground_truth is True
    assert a.meta["ls_id"] == 32407866
    assert a.meta["ls_created_at"] == "2024-03-11T22:58:31.783696Z"
    assert len(a.value) == 15
    assert a.value[0] == {"start": 3, "end": 15, "label": "Date", "text": "September 17"}
    assert a.value[1] == {"start": 16, "end": 36, "label": "Time", "text": "just after 1:50 p.m."}
    # the hierarchical category is not a span: kept verbatim for the export
    raw_tax = [r for r in leoka_raw[0]["annotations"][0]["result"] if r["type"] == "taxonomy"]
    assert a.meta["ls_other_results"] == raw_tax


def test_leoka_taxonomy_results_kept_in_meta(
    leoka_raw: list[dict[str, Any]], leoka_ner: tuple[LabelStudioParser, list[ParsedTask]]
) -> None:
    _, parsed = leoka_ner
    for raw, task in zip(leoka_raw, parsed):
        live = sorted((a for a in raw["annotations"] if not a["was_cancelled"]), key=lambda a: a["created_at"])
        assert len(live) == len(task.annotations)
        for r, a in zip(live, task.annotations):  # oldest first, so the latest is current
            assert a.meta["ls_id"] == r["id"]
            others = [x for x in r["result"] if x["type"] != "labels"]
            assert a.meta.get("ls_other_results", []) == others
    with_tax = sum("ls_other_results" in a.meta for t in parsed for a in t.annotations)
    assert with_tax == 386
    assert sum(a.ground_truth for t in parsed for a in t.annotations) == 130


def test_leoka_annotation_with_only_a_category_is_an_empty_span_list(
    leoka_ner: tuple[LabelStudioParser, list[ParsedTask]],
) -> None:
    # task 97056521: two annotators marked no span, only the category. In NER an empty
    # span list is a judgement ("no entities"), and dropping it would lose the category.
    _, parsed = leoka_ner
    task = next(t for t in parsed if t.external_id == "97056521")
    values = {a.annotator: a.value for a in task.annotations}
    assert values["annotator_2@example.org"] == []
    assert values["annotator_3@example.org"] == []
    assert len(values["annotator_1@example.org"]) == 1
    for a in task.annotations:
        assert a.meta["ls_other_results"][0]["value"]["taxonomy"] == [["Assaulted", "Injured"]]


def test_leoka_category_as_multi_label_taxonomy_joined_by_slash(
    leoka_raw: list[dict[str, Any]],
) -> None:
    parser = LabelStudioParser("multi-label")
    task = parser.parse(leoka_raw[0])
    assert parser.from_name == "Category"
    a = task.annotations[0]
    assert a.value == [
        "Assaulted/Injured",
        "Killed",
        "Killed/Feloniously Killed",
        "Suspect",
        "Suspect/Arrested",
        "Suspect/Injured",
    ]
    # the spans are now the "other" results, all 15 of them, verbatim
    assert len(a.meta["ls_other_results"]) == 15
    assert all(r["type"] == "labels" for r in a.meta["ls_other_results"])


def test_leoka_category_in_a_single_label_project_reports_the_extra_choices(
    leoka_raw: list[dict[str, Any]],
) -> None:
    parser = LabelStudioParser("text-classification")
    task = parser.parse(leoka_raw[0])
    assert task.annotations[0].value == "Killed"  # the first path
    assert len(task.problems) == 3  # one per annotation with several categories
    assert "single-label" in task.problems[0] and "kept the first" in task.problems[0]


def test_from_name_given_selects_that_control(leoka_raw: list[dict[str, Any]]) -> None:
    parser = LabelStudioParser("text-classification", from_name="nope")
    task = parser.parse(leoka_raw[0])
    assert task.annotations == []
    assert task.empty == 3


# --- classification on Label Studio's own test exports --------------------------------------


def test_core_humor_ground_truth_and_annotator() -> None:
    parser = LabelStudioParser("text-classification")
    tasks = [parser.parse(t) for t in load(CORE / "humor_dataset_2_annotations.json")]
    assert parser.from_name == "sentiment" and parser.to_name == "text"
    assert [t.external_id for t in tasks] == [None, None]
    assert [t.data["text"][:9] for t in tasks] == ["Joe biden", "Watch: da"]
    anns = [t.annotations[0] for t in tasks]
    assert [a.value for a in anns] == ["Not Humor", "Not Humor"]
    assert [a.ground_truth for a in anns] == [True, False]
    assert {a.annotator for a in anns} == {"test_suites_user@heartex.com"}
    assert all(a.lead_time is None for a in anns)


@pytest.fixture(scope="module")
def core_tasks() -> list[ParsedTask]:
    parser = LabelStudioParser("text-classification")
    return [parser.parse(t, line=i) for i, t in enumerate(load(CORE / "tasks_annotations_predictions.json"))]


def test_core_predictions_become_model_annotations(core_tasks: list[ParsedTask]) -> None:
    assert len(core_tasks) == 6
    models = [(i, a) for i, t in enumerate(core_tasks) for a in t.annotations if a.source == "model"]
    assert [(i, a.annotator, a.value) for i, a in models] == [
        (0, "model:model_version_A", "class_A"),
        (1, "model:model_version_A", "class_A"),
        (5, "model:unknown", "class_PREDICTIONS_TESTING"),  # no model_version given
    ]
    for _, a in models:
        assert a.ground_truth is False and a.lead_time is None


def test_core_annotations_lead_time_and_unknown_annotator(core_tasks: list[ParsedTask]) -> None:
    """Annotations without ``completed_by`` (and here without an id) are not one shared
    annotator: task 2's two annotations were one person and one was dropped (issue 11.7)."""
    people = [[(a.annotator, a.value, a.lead_time) for a in t.annotations if a.source == "import"] for t in core_tasks]
    assert people == [
        [("labelstudio-task-line0-annotation-1", "class_A", 3.0)],
        [
            ("labelstudio-task-line1-annotation-1", "class_A", 3.0),
            ("labelstudio-task-line1-annotation-2", "class_A", 5.0),
        ],
        [("labelstudio-task-line2-annotation-1", "class_TESTING", None)],
        [],
        [],
        [],
    ]
    assert all(isinstance(a.lead_time, float) for t in core_tasks for a in t.annotations if a.lead_time is not None)


def test_core_tasks_without_data_wrapper_are_their_own_data(core_tasks: list[ParsedTask]) -> None:
    assert core_tasks[3].data == {"text": "zzz"}
    assert core_tasks[4].data == {"text": "vivi"}
    assert core_tasks[0].data == {"text": "Test example phrase 1", "int_field": 1}
    assert core_tasks[2].data == {"int_field": "99", "text": "yoyo"}  # types kept as given
    assert all(t.external_id is None for t in core_tasks)
    assert all(t.cancelled == 0 and t.empty == 0 and t.problems == [] for t in core_tasks)


def test_task_without_data_wrapper_drops_only_task_keys() -> None:
    parser = LabelStudioParser("text-classification")
    task = parser.parse({"id": 5, "text": "hi", "meta_x": 1, "annotations": [], "predictions": []})
    assert task.data == {"text": "hi", "meta_x": 1}
    assert task.external_id == "5"


def test_converter_history_export() -> None:
    parser = LabelStudioParser("text-classification")
    [task] = [parser.parse(t) for t in load(CONVERTER / "csv_test_history.json")]
    assert task.external_id == "6141"
    # the edit history repeats the result; it must not become a second annotation
    assert len(task.annotations) == 1
    a = task.annotations[0]
    assert (a.annotator, a.value, a.lead_time) == ("sergei@heartex.test", "Positive", 1.849)
    assert a.meta == {"ls_id": 18047, "ls_created_at": "2024-05-15T12:09:16.789536Z"}


def test_converter_colliding_keys() -> None:
    # the control is named "text", like the data field it labels
    parser = LabelStudioParser("text-classification")
    [task] = [parser.parse(t) for t in load(CONVERTER / "csv_test_colliding_keys.json")]
    assert parser.from_name == "text" and parser.to_name == "text"
    assert task.data == {"text": "This is a sample sentence"}
    [a] = task.annotations
    assert (a.annotator, a.value, a.lead_time, a.ground_truth) == (
        "annotator@example.com",
        "positive",
        1.0,
        False,
    )


def test_converter_taxonomy_with_other_control() -> None:
    parser = LabelStudioParser("image-classification")
    raw = load(CONVERTER / "data_repeater_taxonomy.json")
    [task] = [parser.parse(t) for t in raw]
    assert parser.from_name == "categories_0" and parser.to_name == "page_0"
    [a] = task.annotations
    assert a.value == "Archaea"
    assert a.annotator == "labelstudio-user-1"  # completed_by is a bare user id
    assert a.lead_time == 13.042
    assert a.meta["ls_other_results"] == [raw[0]["annotations"][0]["result"][0]]
    assert a.meta["ls_other_results"][0]["type"] == "rectanglelabels"
    assert task.data == raw[0]["data"]


def test_converter_odd_choice_value_kept_verbatim() -> None:
    parser = LabelStudioParser("text-classification")
    [task] = [parser.parse(t) for t in load(CONVERTER / "csv_test2.json")]
    assert parser.from_name == "uri_selection" and parser.to_name == "$uri"
    [a] = task.annotations
    assert a.value == 'Yes " "" \n \t \t а б в \n'
    assert a.annotator == "test@heartex.com"
    assert task.data["writers"][0]["name"] == "JIN XING CHEN"  # nested data kept


# --- odd inputs -----------------------------------------------------------------------------


def _ann(choices: list[str] | None, **kw: Any) -> dict[str, Any]:
    result = (
        []
        if choices is None
        else [
            {
                "type": "choices",
                "from_name": "label",
                "to_name": "text",
                "value": {"choices": choices},
            }
        ]
    )
    return {"result": result, **kw}


def test_empty_cancelled_and_malformed_annotations_are_counted() -> None:
    parser = LabelStudioParser("text-classification")
    task = parser.parse(
        {
            "id": 1,
            "data": {"text": "x"},
            "annotations": [
                _ann(["a"], completed_by=3),
                _ann(None),
                _ann([]),
                _ann(["b"], was_cancelled=True),
                "not an object",
                {"result": ["not a dict", None]},
            ],
            "predictions": [_ann(None), "junk"],
        }
    )
    assert [a.value for a in task.annotations] == ["a"]
    assert task.cancelled == 1
    assert task.empty == 3
    assert task.problems == ["an annotation that is not an object was skipped"]


@pytest.mark.parametrize(("lead", "expected"), [(3, 3.0), (2.5, 2.5), ("4", None), (None, None), ([1], None)])
def test_lead_time_only_from_numbers(lead: Any, expected: float | None) -> None:
    parser = LabelStudioParser("text-classification")
    task = parser.parse({"data": {"text": "x"}, "annotations": [_ann(["a"], lead_time=lead)]})
    assert task.annotations[0].lead_time == expected


def test_prediction_score_kept_in_meta() -> None:
    parser = LabelStudioParser("text-classification")
    task = parser.parse({"data": {"text": "x"}, "predictions": [_ann(["a"], score=0.93, model_version="v2")]})
    [a] = task.annotations
    assert (a.annotator, a.source, a.meta["score"]) == ("model:v2", "model", 0.93)


def test_multi_label_value_is_sorted_and_unique() -> None:
    parser = LabelStudioParser("multi-label")
    task = parser.parse({"data": {"text": "x"}, "annotations": [_ann(["b", "a", "b"])]})
    assert task.annotations[0].value == ["a", "b"]


def test_ner_span_without_offsets_is_a_problem_not_a_crash() -> None:
    parser = LabelStudioParser("ner")
    result = [
        {"type": "labels", "from_name": "label", "to_name": "text", "value": {"labels": ["PER"]}},
        {
            "type": "labels",
            "from_name": "label",
            "to_name": "text",
            "value": {"start": "2", "end": 5, "labels": ["LOC"]},
        },
    ]
    task = parser.parse({"data": {"text": "hello world"}, "annotations": [{"result": result}]})
    assert task.annotations[0].value == [{"start": 2, "end": 5, "label": "LOC"}]
    assert len(task.problems) == 1 and "start/end" in task.problems[0]


def test_ner_span_with_several_labels_gives_one_span_each() -> None:
    parser = LabelStudioParser("ner")
    result = [
        {
            "type": "labels",
            "from_name": "label",
            "to_name": "text",
            "value": {"start": 0, "end": 5, "labels": ["PER", "ORG"], "text": "hello"},
        }
    ]
    task = parser.parse({"data": {"text": "hello"}, "annotations": [{"result": result}]})
    assert task.annotations[0].value == [
        {"start": 0, "end": 5, "label": "ORG", "text": "hello"},
        {"start": 0, "end": 5, "label": "PER", "text": "hello"},
    ]


# --- to_task -> parse round trips -----------------------------------------------------------

OTHER = {
    "type": "textarea",
    "from_name": "comment",
    "to_name": "text",
    "value": {"text": ["looks fine"]},
    "id": "c1",
}

ROUND_TRIP_CASES = [
    ("text-classification", "spam"),
    ("text-classification", 'Yes " "" \n \t а б в'),
    ("image-classification", "cat"),
    ("multi-label", ["news", "sports"]),
    ("multi-label", ["only"]),
    (
        "ner",
        [
            {"start": 0, "end": 5, "label": "PER", "text": "Alice"},
            {"start": 10, "end": 15, "label": "LOC", "text": "Paris"},
        ],
    ),
    ("ner", [{"start": 0, "end": 5, "label": "PER"}]),  # spans without text
    ("ner", []),  # no entities in the text
]


@pytest.mark.parametrize(("task_type", "value"), ROUND_TRIP_CASES)
@pytest.mark.parametrize(
    ("annotator", "lead_time", "ground_truth", "meta"),
    [
        (
            "alice@example.org",
            12.5,
            True,
            {"ls_other_results": [OTHER], "ls_id": 77, "ls_created_at": "2024-01-01T00:00:00Z"},
        ),
        ("bob", None, False, {}),
    ],
)
def test_to_task_then_parse_round_trips(
    task_type: str,
    value: Any,
    annotator: str,
    lead_time: float | None,
    ground_truth: bool,
    meta: dict[str, Any],
) -> None:
    stored = [
        {
            "annotator": annotator,
            "value": value,
            "source": "import",
            "lead_time": lead_time,
            "ground_truth": ground_truth,
            "meta": meta,
        },
        {
            "annotator": "model:v3",
            "value": value,
            "source": "model",
            "lead_time": None,
            "ground_truth": False,
            "meta": {"score": 0.5},
        },
    ]
    data = {"text": "Alice was in Paris.", "n": 1}
    task = to_task(
        data=data,
        external_id="42",
        annotations=stored,
        task_type=task_type,
        from_name="label",
        to_name="text",
    )
    # the export is plain JSON
    task = json.loads(json.dumps(task))
    assert task["id"] == 42
    parsed = LabelStudioParser(task_type).parse(task)
    assert parsed.data == data
    assert parsed.external_id == "42"
    assert parsed.problems == [] and parsed.cancelled == 0 and parsed.empty == 0
    human, model = parsed.annotations
    assert (human.annotator, human.value, human.lead_time, human.ground_truth, human.source) == (
        annotator,
        value,
        lead_time,
        ground_truth,
        "import",
    )
    assert human.meta == meta
    assert (model.annotator, model.value, model.source, model.meta) == (
        "model:v3",
        value,
        "model",
        {"score": 0.5},
    )


def test_round_trip_keeps_the_control_names() -> None:
    task = to_task(
        data={"body": "x"},
        external_id=None,
        task_type="text-classification",
        annotations=[{"annotator": "a", "value": "spam", "source": "import", "meta": {}}],
        from_name="sentiment",
        to_name="body",
    )
    assert "id" not in task
    [result] = task["annotations"][0]["result"]
    assert (result["from_name"], result["to_name"], result["type"]) == (
        "sentiment",
        "body",
        "choices",
    )
    parser = LabelStudioParser("text-classification")
    parser.parse(task)
    assert (parser.from_name, parser.to_name) == ("sentiment", "body")


def test_real_export_round_trips_through_to_task(leoka_raw: list[dict[str, Any]]) -> None:
    parser = LabelStudioParser("ner")
    for raw in leoka_raw[:20]:
        first = parser.parse(raw)
        stored = [
            {
                "annotator": a.annotator,
                "value": a.value,
                "source": a.source,
                "lead_time": a.lead_time,
                "ground_truth": a.ground_truth,
                "meta": a.meta,
            }
            for a in first.annotations
        ]
        again = LabelStudioParser("ner").parse(
            to_task(
                data=first.data,
                external_id=first.external_id,
                annotations=stored,
                task_type="ner",
                from_name="label",
                to_name="text",
            )
        )
        assert again.data == first.data
        assert again.external_id == first.external_id
        assert again.annotations == first.annotations


@pytest.mark.parametrize("external_id", ["42", "task-7", "007", "²"])
def test_external_id_round_trips(external_id: str) -> None:
    task = to_task(
        data={"text": "x"},
        external_id=external_id,
        annotations=[],
        task_type="text-classification",
        from_name="label",
        to_name="text",
    )
    assert LabelStudioParser("text-classification").parse(task).external_id == external_id


_label = st.text(min_size=1, max_size=10)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.lists(_label, min_size=1, max_size=4, unique=True).map(sorted), max_size=5),
    lead=st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False)),
)
def test_multi_label_round_trip_property(values: list[list[str]], lead: float | None) -> None:
    stored: list[dict[str, Any]] = [
        {
            "annotator": f"user{i}@x.org",
            "value": v,
            "source": "import",
            "lead_time": lead,
            "ground_truth": i == 0,
            "meta": {},
        }
        for i, v in enumerate(values)
    ]
    task = json.loads(
        json.dumps(
            to_task(
                data={"text": "t"},
                external_id=None,
                annotations=stored,
                task_type="multi-label",
                from_name="l",
                to_name="text",
            )
        )
    )
    parsed = LabelStudioParser("multi-label").parse(task)
    assert [(a.annotator, a.value, a.lead_time, a.ground_truth) for a in parsed.annotations] == [
        (s["annotator"], s["value"], s["lead_time"], s["ground_truth"]) for s in stored
    ]


@settings(max_examples=60, deadline=None)
@given(
    spans=st.lists(
        st.tuples(st.integers(0, 100), st.integers(1, 20), st.sampled_from(["PER", "ORG", "LOC"])),
        max_size=8,
    )
)
def test_ner_round_trip_property(spans: list[tuple[int, int, str]]) -> None:
    value = sorted(
        ({"start": s, "end": s + n, "label": lab} for s, n, lab in set(spans)),
        key=lambda d: (d["start"], d["end"], d["label"]),
    )
    stored = [{"annotator": "a", "value": value, "source": "import", "meta": {}}]
    task = to_task(
        data={"text": "t"},
        external_id=None,
        annotations=stored,
        task_type="ner",
        from_name="label",
        to_name="text",
    )
    # shuffle the results: the parser sorts spans, whatever the export order
    task["annotations"][0]["result"].reverse()
    [a] = LabelStudioParser("ner").parse(task).annotations
    assert a.value == value
