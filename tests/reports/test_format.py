"""Numbers look the same in every report; inputs of every kind become plain Python."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from truthset.core.errors import InvalidInput
from truthset.quality import acceptance_decision, agreement_ci
from truthset.reports._format import as_records, fmt_ci, fmt_num, fmt_pct, plain


@pytest.mark.parametrize(
    "value, text",
    [
        (None, "—"),
        (math.nan, "—"),
        (True, "yes"),
        (12345, "12,345"),
        (np.int64(7), "7"),
        (0.96512, "0.965"),
        (1.0, "1.000"),
        (0.0, "0.000"),
        (60.0, "60"),
        (80.123, "80.12"),
        (1234.5, "1,234.5"),
        (5169.0, "5,169"),
        (-0.06, "-0.060"),
        (math.inf, "∞"),
        ("ham", "ham"),
    ],
)
def test_fmt_num(value: Any, text: str) -> None:
    assert fmt_num(plain(value)) == text


def test_fmt_ci_and_pct() -> None:
    assert fmt_ci(0.9651, 0.95, 0.9772) == "0.965 [0.950, 0.977]"
    assert fmt_ci(0.9651, None, 0.97) == "0.965"  # no half intervals
    assert fmt_ci(None, 0.1, 0.2) == "— [0.100, 0.200]"
    assert fmt_pct(0.0421) == "4.2%" and fmt_pct(None) == "—"


def test_plain_turns_library_results_into_dicts() -> None:
    df = pd.DataFrame({"item": [1, 1, 2, 2], "annotator": list("abab"), "label": list("xxyx")})
    ag = plain(agreement_ci("percent_agreement", df, n_boot=50))
    assert set(ag) == {"value", "ci_low", "ci_high", "confidence", "n_boot"}
    acc = plain(acceptance_decision(59, 0, max_error_rate=0.05))
    assert acc["accepted"] is True and isinstance(acc["upper_bound"], float)

    @dataclass
    class WithToDict:
        x: int

        def to_dict(self) -> dict[str, Any]:
            return {"as_json": self.x}

    assert plain(WithToDict(3)) == {"as_json": 3}
    frame = pd.DataFrame({"a": [1, 2], "b": [np.nan, 0.5]})
    assert plain(frame) == [{"a": 1, "b": None}, {"a": 2, "b": 0.5}]
    assert plain(pd.Series({"ham": np.int64(4)})) == {"ham": 4}
    assert plain(np.array([1.5, np.nan])) == [1.5, None]
    assert plain({np.int64(1): {3, 1}}) == {1: [1, 3]}


def test_as_records_rejects_what_is_not_rows() -> None:
    assert as_records(None) == [] and as_records({"a": 1}) == [{"a": 1}]
    with pytest.raises(InvalidInput, match="expected rows"):
        as_records([1, 2])
