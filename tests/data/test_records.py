"""The canonical JSON of a payload: its text decides the content hash, so no path may change it."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from truthset.data.records import canonical_json

#: the general encoder, as canonical_json's docstring defines its output
GENERAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)
scalars = st.one_of(texts, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False, allow_infinity=False))


@settings(max_examples=300, deadline=None)
@given(obj=st.one_of(st.dictionaries(texts, texts, max_size=6), st.dictionaries(texts, scalars, max_size=6)))
def test_the_fast_path_writes_what_the_general_encoder_writes(obj: dict[str, Any]) -> None:
    """Flat objects of strings take the fast path; every other object the general encoder."""
    assert canonical_json(obj) == GENERAL.encode(obj)
    assert json.loads(canonical_json(obj)) == obj


def test_escapes_and_order_are_the_encoders() -> None:
    obj = {"b": 'quote " backslash \\ newline \n', "a": "é \u2028 \x01", "": "empty key"}
    assert canonical_json(obj) == GENERAL.encode(obj)
    assert canonical_json(obj).startswith('{"":"empty key","a":"é \u2028 \\u0001"')
    assert canonical_json({}) == "{}"
    assert canonical_json({"a": ["x"], "b": "y"}) == '{"a":["x"],"b":"y"}'
