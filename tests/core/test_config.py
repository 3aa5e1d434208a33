"""Settings (``TRUTHSET_*``) and the project file ``truthset.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from truthset.core.config import (
    PROJECT_FILE,
    SETTINGS,
    ProjectConfig,
    load_settings,
    parse_project_config,
    read_project_config,
    write_project_config,
)
from truthset.core.errors import ConfigError, InvalidInput, TruthsetError
from truthset.core.schema import TASK_TYPES, Label, LabelSchema, name_key

SOURCE = "projects/demo/truthset.yaml"


def minimal(**extra: Any) -> dict[str, Any]:
    return {"name": "demo", "task": "text-classification", **extra}


def config_error(data: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse_project_config(data, source=SOURCE)
    return str(info.value)


# --- parse_project_config: valid input -----------------------------------------------------


def test_minimal_config_gets_documented_defaults() -> None:
    cfg = parse_project_config(minimal())
    assert cfg.name == "demo"
    assert cfg.task == "text-classification"
    assert cfg.text_field == "text"
    assert cfg.schema.labels == []
    assert cfg.schema.span_overlap == "forbid"
    assert cfg.quality.gold_threshold == 0.8
    assert cfg.queue.overlap == 1
    assert cfg.queue.lease_minutes == 30
    assert (cfg.labelstudio.from_name, cfg.labelstudio.to_name) == ("label", "text")


@pytest.mark.parametrize("task", TASK_TYPES)
def test_every_declared_task_type_is_accepted(task: str) -> None:
    assert parse_project_config(minimal(task=task)).task == task


def test_schema_key_is_read_by_its_yaml_name() -> None:
    cfg = parse_project_config(
        minimal(schema={"labels": [{"name": "spam", "definition": "Unsolicited ads", "hotkey": "1"}]})
    )
    assert cfg.schema.names == ["spam"]
    assert cfg.schema.labels[0].definition == "Unsolicited ads"


# --- parse_project_config: errors name file, key, found and allowed ------------------------


@pytest.mark.parametrize(
    ("data", "key", "must_mention"),
    [
        # a bad task value: what was found and the allowed values
        (
            minimal(task="sentiment"),
            "task",
            ["'sentiment'", "text-classification", "multi-label", "ner"],
        ),
        # a missing required key
        ({"task": "ner"}, "name", ["missing"]),
        # a nested key inside the label list
        (
            minimal(schema={"labels": [{"name": "a", "color": "red"}]}),
            "schema.labels.0.color",
            ["'red'", "#"],
        ),
        # a number out of its range: found value and the bound
        (minimal(queue={"overlap": 0}), "queue.overlap", ["found 0", "1"]),
        (minimal(quality={"gold_threshold": 1.5}), "quality.gold_threshold", ["1.5", "1"]),
        (minimal(name=""), "name", ["found ''"]),
        (
            minimal(schema={"span_overlap": "sometimes"}),
            "schema.span_overlap",
            ["'sometimes'", "forbid", "allow"],
        ),
    ],
    ids=[
        "bad-task",
        "missing-name",
        "nested-color",
        "overlap-range",
        "gold-range",
        "empty-name",
        "span-overlap",
    ],
)
def test_invalid_value_error_names_source_key_found_and_allowed(
    data: dict[str, Any], key: str, must_mention: list[str]
) -> None:
    message = config_error(data)
    assert message.startswith(SOURCE + ":")
    assert f"key '{key}'" in message
    for text in must_mention:
        assert text in message


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (minimal(colour="red"), "colour"),
        (minimal(schema={"lables": []}), "schema.lables"),
        (
            minimal(schema={"labels": [{"name": "a", "colour": "#000000"}]}),
            "schema.labels.0.colour",
        ),
        (minimal(queue={"overlapp": 2}), "queue.overlapp"),
    ],
)
def test_unknown_key_error_names_source_and_key(data: dict[str, Any], key: str) -> None:
    message = config_error(data)
    assert message.startswith(SOURCE + ":")
    assert f"key '{key}'" in message
    assert "unknown key" in message


@pytest.mark.parametrize(
    ("data", "allowed"),
    [
        (
            minimal(colour="red"),
            ["name", "task", "text_field", "schema", "quality", "queue", "review", "labelstudio"],
        ),
        (
            minimal(schema={"labels": [{"name": "a", "colour": "#000000"}]}),
            ["name", "definition", "include", "exclude", "tie_break", "hotkey", "color"],
        ),
    ],
    ids=["top-level", "label"],
)
def test_unknown_key_error_names_the_allowed_keys(data: dict[str, Any], allowed: list[str]) -> None:
    # The module promises "an error names the file, the key, what was found and what is
    # allowed"; for a misspelt key the allowed thing is the set of valid keys at that level.
    message = config_error(data)
    after_key = message.split("unknown key", 1)[1]
    for name in allowed:
        assert name in after_key, f"allowed key {name!r} not named in: {message}"


def test_all_problems_are_reported_at_once() -> None:
    message = config_error({"task": "sentiment", "colour": 1})
    assert "key 'name'" in message
    assert "key 'task'" in message
    assert "key 'colour'" in message


@pytest.mark.parametrize("data", [None, [], ["name", "demo"], "name: demo", 3])
def test_non_mapping_is_rejected_naming_what_was_found(data: Any) -> None:
    message = config_error(data)
    assert message.startswith(SOURCE + ":")
    assert type(data).__name__ in message
    assert "mapping" in message


def test_config_error_is_invalid_input_and_value_error_with_status_422() -> None:
    with pytest.raises(ConfigError) as info:
        parse_project_config({"task": "nope"})
    err = info.value
    assert isinstance(err, InvalidInput)
    assert isinstance(err, TruthsetError)
    assert isinstance(err, ValueError)
    assert err.status == 422
    # the pydantic error is translated at the boundary, not swallowed
    assert err.__cause__ is not None


def test_default_source_is_the_project_file_name() -> None:
    with pytest.raises(ConfigError, match=rf"^{PROJECT_FILE}: "):
        parse_project_config({"task": "ner"})


# --- read_project_config --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("name: demo\ntask: ner\nschema:\n  labels: [a, b\n", 5),  # unclosed flow sequence
        ("name: demo\ntask: ner\n  bad: indent\n", 3),
        ("name: demo\n\ttask: ner\n", 2),  # a tab cannot start a token
        ('name: "demo\ntask: ner\n', 3),  # unclosed quote runs to end of file
    ],
)
def test_invalid_yaml_error_names_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / PROJECT_FILE
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_project_config(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert "not valid YAML" in message
    assert f"line {line}," in message
    assert isinstance(info.value.__cause__, yaml.YAMLError)


def test_read_validation_error_names_the_real_path(tmp_path: Path) -> None:
    path = tmp_path / PROJECT_FILE
    path.write_text("name: demo\ntask: sentiment\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_project_config(path)
    assert str(info.value).startswith(f"{path}: key 'task': found 'sentiment'")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a\n- b\n"])
def test_read_empty_or_list_file_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / PROJECT_FILE
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping"):
        read_project_config(path)


def test_read_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    path = tmp_path / PROJECT_FILE
    with pytest.raises(ConfigError) as info:
        read_project_config(path)
    assert str(path) in str(info.value)
    assert "truthset init" in str(info.value)


def test_read_valid_file(tmp_path: Path) -> None:
    path = tmp_path / PROJECT_FILE
    path.write_text(
        "name: sms\ntask: text-classification\ntext_field: SMS\n"
        "schema:\n  labels:\n    - name: spam\n      definition: Café ads ☕\n    - name: ham\n",
        encoding="utf-8",
    )
    cfg = read_project_config(path)
    assert cfg.text_field == "SMS"
    assert cfg.schema.names == ["spam", "ham"]
    assert cfg.schema.labels[0].definition == "Café ads ☕"


# --- write_project_config / to_yaml ---------------------------------------------------------


def full_config() -> ProjectConfig:
    return parse_project_config(
        {
            "name": "Ünïcode — project",
            "task": "ner",
            "text_field": "body",
            "schema": {
                "instructions": "Read the whole text first.\nThen label: carefully.",
                "span_overlap": "allow",
                "labels": [
                    {
                        "name": "PER",
                        "definition": "A person: 'quoted' and \"double\"",
                        "include": ["Ada Lovelace", "- not a list item"],
                        "exclude": ["# not a comment", "yes"],
                        "tie_break": "Prefer ORG when: unsure",
                        "hotkey": "p",
                        "color": "#0072B2",
                    },
                    {"name": "null", "definition": ""},
                    {"name": "123"},
                ],
            },
            "quality": {"gold_threshold": 0.95, "agreement_level": "nominal"},
            "queue": {"overlap": 3, "gold_rate": 0.1, "order": "sequential", "lease_minutes": 5},
            "labelstudio": {"from_name": "ents", "to_name": "doc", "data_key": "body"},
        }
    )


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    cfg = full_config()
    path = tmp_path / PROJECT_FILE
    write_project_config(path, cfg)
    back = read_project_config(path)
    assert back == cfg
    # names that look like YAML scalars stay strings
    assert back.schema.names == ["PER", "null", "123"]
    assert not (tmp_path / (PROJECT_FILE + ".tmp")).exists()


def test_write_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / PROJECT_FILE
    path.write_text("garbage: [", encoding="utf-8")
    cfg = parse_project_config(minimal())
    write_project_config(path, cfg)
    assert read_project_config(path) == cfg


def test_to_yaml_uses_schema_key_and_readable_unicode() -> None:
    text = full_config().to_yaml()
    data = yaml.safe_load(text)
    assert "schema" in data and "schema_" not in data
    assert "Ünïcode" in text  # allow_unicode: not \u escapes
    assert list(data) == [
        "name",
        "task",
        "text_field",
        "schema",
        "quality",
        "queue",
        "review",
        "labelstudio",
        "media",
        "anomalies",
        "drift",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "\x85",
        "ellipsis\x85 from cp1252",
        "\u2028",
        "a\rb",
        "\t lead",
        "trail \n",
        "\ufeff",
        "'",
        '"',
        ": x",
    ],
)
def test_write_read_keeps_unusual_text_exactly(tmp_path: Path, text: str) -> None:
    # U+0085 (NEL) is what cp1252's "..." becomes when mis-decoded as latin-1; a definition
    # pasted from such text must survive a save, or its schema hash changes on re-read.
    cfg = parse_project_config(minimal(schema={"instructions": text, "labels": [{"name": "a", "definition": text}]}))
    path = tmp_path / PROJECT_FILE
    write_project_config(path, cfg)
    back = read_project_config(path)
    assert back.schema.instructions == text
    assert back.schema.labels[0].definition == text


_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)  # no lone surrogates (not encodable as UTF-8)
_label: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    name=_text.filter(lambda s: s != ""),
    definition=_text,
    include=st.lists(_text, max_size=3),
    tie_break=_text,
    hotkey=st.sampled_from(["", "1", "a", "Z"]),
    color=st.sampled_from(["", "#000000", "#aBcDeF"]),
)


@settings(max_examples=60, deadline=None)
@given(
    name=_text.filter(lambda s: s != ""),
    task=st.sampled_from(TASK_TYPES),
    labels=st.lists(_label, max_size=4, unique_by=lambda lab: name_key(lab["name"])),
    instructions=_text,
    gold=st.floats(0, 1),
)
def test_to_yaml_round_trips_any_config(
    name: str, task: str, labels: list[dict[str, Any]], instructions: str, gold: float
) -> None:
    cfg = parse_project_config(
        {
            "name": name,
            "task": task,
            "schema": {"instructions": instructions, "labels": labels},
            "quality": {"gold_threshold": gold},
        }
    )
    assert parse_project_config(yaml.safe_load(cfg.to_yaml())) == cfg


# --- duplicate label names are refused on load and on save -------------------------------


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        (["negative", "positive", "Negative"], ["'negative' (labels[0])", "'Negative' (labels[2])"]),
        (["caf\u00e9", "cafe\u0301"], ["'caf\u00e9' (labels[0])", "'cafe\u0301' (labels[1])"]),
        (["PER", "\uff30\uff25\uff32"], ["'PER' (labels[0])", "'\uff30\uff25\uff32' (labels[1])"]),
        (["spam", "spam"], ["label 'spam' is defined 2 times"]),
    ],
)
def test_duplicate_label_names_are_refused_on_load(tmp_path: Path, names: list[str], shown: list[str]) -> None:
    """Before issue 11 such a schema loaded (and was saved) without a word."""
    path = tmp_path / PROJECT_FILE
    data = minimal(schema={"labels": [{"name": n} for n in names]})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_project_config(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: key 'schema.labels': ")
    for part in shown:
        assert part in msg
    assert "delete the other(s) from schema.labels in truthset.yaml" in msg
    if len(set(names)) > 1:  # the fix for annotations already using the other spelling
        assert f"truthset schema merge {names[-1]!r} --into {names[0]!r}" in msg


def test_duplicate_label_names_are_refused_on_save_and_nothing_is_written(tmp_path: Path) -> None:
    from truthset.core.errors import SchemaError

    path = tmp_path / PROJECT_FILE
    good = parse_project_config(minimal(schema={"labels": [{"name": "negative"}]}))
    write_project_config(path, good)
    before = path.read_bytes()
    labels = [*good.schema.labels, Label(name="Negative")]
    bad = good.model_copy(update={"schema_": good.schema.model_copy(update={"labels": labels})})
    with pytest.raises(SchemaError, match="'negative' \\(labels\\[0\\]\\) and 'Negative' \\(labels\\[1\\]\\)"):
        write_project_config(path, bad)
    assert path.read_bytes() == before
    assert not (tmp_path / (PROJECT_FILE + ".tmp")).exists()


# --- load_settings --------------------------------------------------------------------------


def test_settings_defaults_from_an_empty_mapping() -> None:
    assert load_settings({}).model_dump() == {s.name: s.default for s in SETTINGS}
    assert load_settings({}).import_chunk_rows == 20000
    assert load_settings({}).database_url is None


def test_settings_read_from_the_given_mapping_not_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRUTHSET_IMPORT_CHUNK_ROWS", "7")
    monkeypatch.setenv("TRUTHSET_DATABASE_URL", "sqlite:///from-os.db")
    values = load_settings({"TRUTHSET_IMPORT_CHUNK_ROWS": "500"})
    assert values.import_chunk_rows == 500
    assert values.database_url is None
    # without a mapping, the process environment is used (read at call time)
    assert load_settings().import_chunk_rows == 7
    assert load_settings().database_url == "sqlite:///from-os.db"


@pytest.mark.parametrize(
    ("env", "name", "expected"),
    [
        (
            {"TRUTHSET_DATABASE_URL": "postgresql+psycopg://u@h/db"},
            "database_url",
            "postgresql+psycopg://u@h/db",
        ),
        ({"TRUTHSET_IMPORT_CHUNK_ROWS": "123"}, "import_chunk_rows", 123),
        ({"TRUTHSET_IMPORT_CHUNK_ROWS": " 42 "}, "import_chunk_rows", 42),
        ({"TRUTHSET_SQLITE_BUSY_TIMEOUT_MS": "0"}, "sqlite_busy_timeout_ms", 0),
        ({"TRUTHSET_IMPORT_CHUNK_ROWS": ""}, "import_chunk_rows", 20000),  # empty means unset
        ({"truthset_import_chunk_rows": "5"}, "import_chunk_rows", 20000),  # names are upper case
    ],
)
def test_settings_values(env: dict[str, str], name: str, expected: Any) -> None:
    assert getattr(load_settings(env), name) == expected


@pytest.mark.parametrize("raw", ["many", "1.5", "1e3", "20_000x", "0x10"])
@pytest.mark.parametrize("var", ["TRUTHSET_IMPORT_CHUNK_ROWS", "TRUTHSET_SQLITE_BUSY_TIMEOUT_MS"])
def test_non_integer_for_an_int_setting_is_rejected(var: str, raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({var: raw})
    message = str(info.value)
    assert var in message
    assert repr(raw) in message
    assert "whole number" in message
    assert isinstance(info.value.__cause__, ValueError)


def test_every_setting_has_an_env_name_and_help() -> None:
    names = [s.name for s in SETTINGS]
    assert len(set(names)) == len(names)
    for s in SETTINGS:
        assert s.env == "TRUTHSET_" + s.name.upper()
        assert s.help.strip()


def test_label_schema_default_is_empty_and_independent_per_config() -> None:
    a = parse_project_config(minimal())
    b = parse_project_config(minimal())
    a.schema.labels.append(LabelSchema.from_names(["x"]).labels[0])
    assert b.schema.labels == []
