"""Turning report inputs into plain Python and numbers into text.

Why: the services hand the reports dataclasses (``AcceptanceDecision``, ``AgreementCI``),
DataFrames (per-class tables, reliability diagrams) and numpy scalars; the templates want
dicts, lists, ``str``, ``int``, ``float`` and ``None``. :func:`plain` converts once, at the
door, so the templates stay simple and the HTML does not depend on where a number came from.
The formatters make every number look the same in every report: ``0.965``, ``0.965 [0.950,
0.977]``, ``12,345``, ``4.2%``, and an em dash for a value that is missing.

Nothing here imports pandas or numpy: objects are recognised by their methods, so
``import truthset.reports`` stays fast.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from truthset.core.errors import InvalidInput

__all__ = ["as_records", "fmt_ci", "fmt_num", "fmt_pct", "plain", "require"]

#: Shown for a value that is missing (None or NaN).
MISSING = "—"


def plain(value: Any) -> Any:
    """``value`` as dicts, lists and Python scalars: dataclasses (through their ``to_dict()``
    when they have one), named tuples and mappings become dicts,
    DataFrames their row dicts, Series dicts, numpy scalars and arrays Python values and
    lists, NaN ``None``. Strings are left as they are (escaping is the template's job)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict):  # Evaluation, ErrorBuckets: their JSON form
            return plain(to_dict())
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a DataFrame
        return [plain(r) for r in value.to_dict(orient="records")]
    if hasattr(value, "to_dict") and hasattr(value, "index"):  # a Series
        return {plain(k): plain(v) for k, v in value.to_dict().items()}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # a NamedTuple: AgreementCI
        return plain(value._asdict())
    if isinstance(value, Mapping):
        return {(k if isinstance(k, str) else plain(k)): plain(v) for k, v in value.items()}
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return plain(value.tolist())
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [plain(v) for v in items]
    return value


def as_records(value: Any) -> list[dict[str, Any]]:
    """Row dicts from a DataFrame, a list of dicts or dataclasses, or ``None`` (no rows)."""
    if value is None:
        return []
    rows = plain(value)
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InvalidInput(f"expected rows (a DataFrame or a list of dicts); got {type(value).__name__}.")
    return rows


def require(data: Mapping[str, Any], keys: tuple[str, ...], what: str) -> None:
    """Raise a clear error when ``data`` lacks any of ``keys`` (what a report cannot do without)."""
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{what} must be a dict (see docs/reports.md); got {type(data).__name__}.")
    missing = [k for k in keys if k not in data]
    if missing:
        raise InvalidInput(
            f"{what} is missing {', '.join(repr(k) for k in missing)}; the expected shape is "
            "described in docs/reports.md."
        )


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def fmt_num(v: Any, digits: int = 3) -> str:
    """``12,345`` for integers, ``0.965`` (``digits`` decimals) for other numbers, the text
    itself for anything else, an em dash when missing."""
    if _missing(v):
        return MISSING
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        if v.is_integer() and abs(v) >= 2:
            return f"{int(v):,}"
        # a metric in [0, 1] keeps its digits; a length or a score in points needs fewer
        places = digits if abs(v) < 10 else min(digits, 2 if abs(v) < 100 else 1)
        return f"{v:,.{places}f}"
    return str(v)


def fmt_ci(v: Any, low: Any = None, high: Any = None, digits: int = 3) -> str:
    """``0.965 [0.950, 0.977]``; the bracket is left out when the interval is unknown."""
    text = fmt_num(v, digits)
    if _missing(low) or _missing(high):
        return text
    return f"{text} [{fmt_num(low, digits)}, {fmt_num(high, digits)}]"


def fmt_pct(v: Any, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage, ``0.042`` -> ``4.2%``."""
    if _missing(v):
        return MISSING
    return f"{float(v) * 100:.{digits}f}%"
