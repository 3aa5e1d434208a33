"""The label schema: consistency checks, content hash and the starter schema."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from truthset.core.errors import SchemaError
from truthset.core.schema import (
    HOTKEYS,
    PALETTE,
    RESERVED_HOTKEYS,
    Finding,
    Label,
    LabelSchema,
    check_schema,
    duplicate_names,
    name_key,
    require_unique_names,
    schema_hash,
)


def schema(*labels: dict[str, Any], **kw: Any) -> LabelSchema:
    return LabelSchema(labels=[Label(**lab) for lab in labels], **kw)


_keys = itertools.count(1)


def defined(name: str, **kw: Any) -> dict[str, Any]:
    """A label with a definition and, unless given, a hotkey of its own (F1, F2, ...)."""
    return {"name": name, "definition": f"what {name} means", "hotkey": f"F{next(_keys)}", **kw}


def codes(findings: list[Finding]) -> list[tuple[str, str]]:
    return sorted((f.severity, f.code) for f in findings)


# --- check_schema ---------------------------------------------------------------------------


def test_clean_schema_has_no_findings() -> None:
    s = schema(defined("spam", hotkey="1"), defined("ham", hotkey="2"))
    assert check_schema(s, data_labels=["spam", "ham", "spam"]) == []


def test_duplicate_name_is_an_error_naming_label_and_count() -> None:
    s = schema(defined("spam"), defined("ham"), defined("spam"), defined("spam"))
    findings = check_schema(s)
    assert codes(findings) == [("error", "duplicate-name")]
    assert "'spam'" in findings[0].message
    assert "3 times" in findings[0].message


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("negative", "Negative"),  # case
        ("NEGATIVE", "negative"),
        ("Stra\u00dfe", "STRASSE"),  # casefold: sharp s
        ("caf\u00e9", "cafe\u0301"),  # composed vs combining accent (NFC vs NFD)
        ("PER", "\uff30\uff25\uff32"),  # full-width letters (NFKC)
        ("New York", "new  york"),  # runs of spaces
        (" ORG", "ORG"),
    ],
)
def test_names_differing_in_case_or_unicode_form_are_duplicates(a: str, b: str) -> None:
    """Before issue 11 'negative' and 'Negative' passed the check as two labels."""
    assert name_key(a) == name_key(b)
    s = schema(defined(a), defined("other"), defined(b))
    assert duplicate_names(s) == [[0, 2]]
    findings = check_schema(s)
    assert codes(findings) == [("error", "duplicate-name")]
    assert f"{a!r} (labels[0])" in findings[0].message
    assert f"{b!r} (labels[2])" in findings[0].message


@pytest.mark.parametrize(("a", "b"), [("PER", "PERS"), ("e", "\u00e9"), ("ORG", "0RG"), ("a-b", "a b")])
def test_distinct_names_are_not_duplicates(a: str, b: str) -> None:
    assert name_key(a) != name_key(b)
    assert check_schema(schema(defined(a), defined(b))) == []
    require_unique_names(schema(defined(a), defined(b)))


def test_require_unique_names_names_both_and_the_fix() -> None:
    s = schema(defined("negative"), defined("positive"), defined("Negative"), defined("NEGATIVE"))
    with pytest.raises(SchemaError) as info:
        require_unique_names(s)
    msg = str(info.value)
    assert "'negative' (labels[0]) and 'Negative' (labels[2]) and 'NEGATIVE' (labels[3])" in msg
    assert "delete the other(s) from schema.labels in truthset.yaml" in msg
    assert "truthset schema merge 'Negative' --into 'negative'" in msg
    assert "truthset schema merge 'NEGATIVE' --into 'negative'" in msg


@pytest.mark.parametrize(
    ("keys", "clash"),
    [
        (["1", "1"], "'1'"),
        (["a", "A"], "'a'"),  # hotkeys are case-insensitive
        (["x", "y", "x"], "'x'"),
    ],
)
def test_hotkey_clash_is_an_error_naming_key_and_labels(keys: list[str], clash: str) -> None:
    s = schema(*[defined(f"L{i}", hotkey=k) for i, k in enumerate(keys)])
    findings = check_schema(s)
    assert codes(findings) == [("error", "hotkey-clash")]
    assert clash in findings[0].message
    clashing = [f"L{i}" for i, k in enumerate(keys) if k.lower() == clash.strip("'")]
    for name in clashing:
        assert name in findings[0].message


def test_labels_without_hotkeys_do_not_clash_but_each_is_reported() -> None:
    """Before issue 11 a label without a hotkey passed the check in silence."""
    s = schema(defined("a", hotkey=""), defined("b", hotkey=""), defined("c", hotkey="1"))
    findings = check_schema(s)
    assert codes(findings) == [("warning", "missing-hotkey")] * 2
    # each names its label and suggests a key nobody uses (1 is c's, so 2 and 3)
    assert ["'a'" in findings[0].message, "'b'" in findings[1].message] == [True, True]
    assert "hotkey: '2'" in findings[0].message and "hotkey: '3'" in findings[1].message


def test_missing_hotkey_suggestion_skips_reserved_and_used_keys() -> None:
    used = [defined(f"L{k}", hotkey=k) for k in HOTKEYS[:-1]]
    findings = check_schema(schema(*used, defined("late", hotkey="")))
    assert codes(findings) == [("warning", "missing-hotkey")]
    assert f"hotkey: '{HOTKEYS[-1]}'" in findings[0].message
    full = check_schema(schema(*used, defined("last", hotkey=HOTKEYS[-1]), defined("extra", hotkey="")))
    assert codes(full) == [("warning", "missing-hotkey")]
    assert "every key is taken" in full[0].message


@pytest.mark.parametrize(("key", "action"), sorted(RESERVED_HOTKEYS.items()))
def test_reserved_hotkey_is_an_error_naming_its_action(key: str, action: str) -> None:
    s = schema(defined("spam", hotkey=key), defined("ham", hotkey="1"))
    findings = check_schema(s)
    assert codes(findings) == [("error", "hotkey-reserved")]
    assert repr(key) in findings[0].message
    assert "spam" in findings[0].message
    assert action in findings[0].message


@pytest.mark.parametrize("key", ["S", "U", "ENTER", "Enter"])
def test_reserved_hotkey_check_ignores_case(key: str) -> None:
    findings = check_schema(schema(defined("spam", hotkey=key)))
    assert codes(findings) == [("error", "hotkey-reserved")]


@pytest.mark.parametrize("definition", ["", "   ", "\n\t"])
def test_missing_definition_is_a_warning(definition: str) -> None:
    s = schema(defined("spam"), {"name": "ham", "definition": definition, "hotkey": "h"})
    findings = check_schema(s)
    assert codes(findings) == [("warning", "missing-definition")]
    assert "'ham'" in findings[0].message


def test_label_in_data_but_not_in_schema_is_an_error_with_the_fix() -> None:
    s = schema(defined("spam"), defined("ham"))
    findings = check_schema(s, data_labels=["spam", "eggs", "ham", "eggs", "bacon"])
    assert codes(findings) == [("error", "unknown-label"), ("error", "unknown-label")]
    # one finding per unknown label, in name order
    assert "'bacon'" in findings[0].message
    assert "'eggs'" in findings[1].message
    assert "truthset.yaml" in findings[0].message
    assert "rename" in findings[0].message or "merge" in findings[0].message


def test_pending_label_is_a_warning_not_an_error() -> None:
    s = schema(defined("spam"), defined("ham"))
    findings = check_schema(s, data_labels=["spam", "old", "eggs"], pending=["old"])
    assert codes(findings) == [("error", "unknown-label"), ("warning", "awaiting-reannotation")]
    by_code = {f.code: f for f in findings}
    assert "'old'" in by_code["awaiting-reannotation"].message
    assert "'eggs'" in by_code["unknown-label"].message


def test_pending_label_absent_from_data_is_not_reported() -> None:
    s = schema(defined("spam"))
    assert check_schema(s, data_labels=["spam"], pending=["old"]) == []


def test_pending_label_still_in_schema_is_not_reported() -> None:
    s = schema(defined("spam"), defined("old"))
    assert check_schema(s, data_labels=["old"], pending=["old"]) == []


def test_data_labels_and_pending_accept_any_iterable() -> None:
    s = schema(defined("spam"))
    findings = check_schema(s, data_labels=iter(["x", "y"]), pending=(n for n in ["y"]))
    assert codes(findings) == [("error", "unknown-label"), ("warning", "awaiting-reannotation")]


def test_several_problems_reported_together() -> None:
    s = schema(
        defined("a", hotkey="1"),
        {"name": "a", "hotkey": "1"},
        {"name": "b", "hotkey": "s"},
    )
    found = codes(check_schema(s, data_labels=["zzz"]))
    assert ("error", "duplicate-name") in found
    assert ("error", "hotkey-clash") in found
    assert ("error", "hotkey-reserved") in found
    assert ("error", "unknown-label") in found
    assert found.count(("warning", "missing-definition")) == 2


# --- Label validation -----------------------------------------------------------------------


@pytest.mark.parametrize("color", ["#0072B2", "#abcdef", ""])
def test_valid_colours(color: str) -> None:
    assert Label(name="x", color=color).color == color


@pytest.mark.parametrize("color", ["red", "#12345", "#1234567", "0072B2", "#GGGGGG", "#0072B2\n"])
def test_invalid_colour_is_rejected_naming_the_value(color: str) -> None:
    with pytest.raises(ValidationError) as info:
        Label(name="x", color=color)
    assert repr(color) in str(info.value)


@pytest.mark.parametrize("bad", [{"name": ""}, {"name": "x", "colour": "#000000"}, {}])
def test_label_rejects_empty_name_and_unknown_keys(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Label(**bad)


def test_schema_lookup_by_name() -> None:
    s = schema(defined("spam"), defined("ham"))
    assert s.names == ["spam", "ham"]
    found = s.label("ham")
    assert found is not None and found.definition == "what ham means"
    assert s.label("eggs") is None


# --- schema_hash ----------------------------------------------------------------------------


def base() -> LabelSchema:
    return schema(
        defined(
            "spam",
            hotkey="1",
            color="#0072B2",
            include=["WIN A PRIZE"],
            exclude=["a bill"],
            tie_break="spam wins",
        ),
        defined("ham", hotkey="2", color="#E69F00"),
        instructions="Read carefully.",
    )


def test_hash_is_sha256_hex_and_stable() -> None:
    h = schema_hash(base())
    assert len(h) == 64 and int(h, 16) >= 0
    assert schema_hash(base()) == h
    # a copy made from a dump/load hashes the same
    assert schema_hash(LabelSchema.model_validate(base().model_dump())) == h


def _edit(path: str, value: Any) -> LabelSchema:
    data = base().model_dump()
    target: Any = data
    parts = path.split(".")
    for p in parts[:-1]:
        target = target[int(p)] if p.isdigit() else target[p]
    target[parts[-1]] = value
    return LabelSchema.model_validate(data)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("labels.0.definition", "what spam means."),
        ("labels.1.definition", "what ham means "),
        ("labels.0.include", ["WIN A PRIZE", "FREE"]),
        ("labels.0.exclude", []),
        ("labels.0.tie_break", "ham wins"),
        ("labels.0.hotkey", "3"),
        ("labels.0.color", "#0072b2"),
        ("labels.1.name", "Ham"),
        ("instructions", "Read carefully!"),
        ("span_overlap", "allow"),
    ],
)
def test_hash_changes_when_any_content_changes(path: str, value: Any) -> None:
    assert schema_hash(_edit(path, value)) != schema_hash(base())


def test_hash_ignores_how_the_schema_was_built() -> None:
    # the same content given with explicit defaults and via keyword order gives the same hash
    explicit = LabelSchema(
        span_overlap="forbid",
        instructions="",
        labels=[Label(color="", hotkey="", tie_break="", exclude=[], include=[], definition="d", name="a")],
    )
    implicit = LabelSchema(labels=[Label(name="a", definition="d")])
    assert schema_hash(explicit) == schema_hash(implicit)


_names = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6)


@settings(max_examples=80, deadline=None)
@given(names=_names, defs=st.data())
def test_hash_equal_iff_content_equal(names: list[str], defs: st.DataObject) -> None:
    a = LabelSchema(labels=[Label(name=n, definition=defs.draw(st.text(max_size=20))) for n in names])
    b = LabelSchema.model_validate(a.model_dump())
    assert schema_hash(a) == schema_hash(b)
    i = defs.draw(st.integers(0, len(names) - 1))
    new_def = defs.draw(st.text(max_size=20).filter(lambda t: t != a.labels[i].definition))
    b.labels[i] = Label(name=names[i], definition=new_def)
    assert schema_hash(a) != schema_hash(b)


# --- LabelSchema.from_names -----------------------------------------------------------------


def test_from_names_gives_hotkeys_and_palette_colours() -> None:
    s = LabelSchema.from_names(["spam", "ham", "eggs"])
    assert s.names == ["spam", "ham", "eggs"]
    assert [lab.hotkey for lab in s.labels] == ["1", "2", "3"]
    assert [lab.color for lab in s.labels] == list(PALETTE[:3])
    assert all(lab.definition == "" for lab in s.labels)


def test_from_names_gives_keys_beyond_nine_then_reports_the_rest() -> None:
    """Before issue 11 the tenth label got no hotkey and ``schema check`` said nothing."""
    names = [f"l{i}" for i in range(40)]
    s = LabelSchema.from_names(names)
    keys = [lab.hotkey for lab in s.labels]
    assert keys[:10] == [*"1234567890"]
    assert keys[10:13] == ["a", "b", "c"]
    assert keys[:33] == list(HOTKEYS) and keys[33:] == [""] * 7
    assert not set(keys) & set(RESERVED_HOTKEYS)
    assert s.labels[len(PALETTE)].color == PALETTE[0]
    assert s.labels[11].color == PALETTE[11 % len(PALETTE)]
    findings = check_schema(s)
    assert sorted({f.code for f in findings}) == ["missing-definition", "missing-hotkey"]
    assert sorted(f.message.split("'")[1] for f in findings if f.code == "missing-hotkey") == sorted(names[33:])


def test_hotkey_order_is_digits_then_unreserved_letters() -> None:
    assert len(HOTKEYS) == len(set(HOTKEYS)) == 33
    assert {k for k in HOTKEYS if k.isalpha()} == set("abcdefghijklmnopqrstuvwxyz") - {"s", "u", "n"}


def test_from_names_accepts_a_generator_and_empty_input() -> None:
    assert LabelSchema.from_names(n for n in ["a", "b"]).names == ["a", "b"]
    assert LabelSchema.from_names([]).labels == []


@settings(max_examples=60, deadline=None)
@given(names=st.lists(st.text(min_size=1, max_size=10), unique_by=name_key, max_size=20))
def test_from_names_starter_schema_passes_its_own_checks_except_definitions(
    names: list[str],
) -> None:
    s = LabelSchema.from_names(names)
    findings = check_schema(s, data_labels=names)
    # only the expected warnings: no definition yet; never a clash or reserved key
    assert {f.code for f in findings} <= {"missing-definition"}
    assert len(findings) == len(names)


def test_from_names_rejects_an_empty_name() -> None:
    with pytest.raises(ValidationError):
        LabelSchema.from_names(["ok", ""])
