"""Helpers shared by the report views: chart numbering, count lists, example tables.

Why a module of its own: every report turns "label -> count" data, item examples and
free-form row lists into the same few shapes, and numbers its charts so their SVG ids are
unique on the page and the same on every run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from markupsafe import Markup

from truthset.core.errors import InvalidInput
from truthset.reports._format import as_records, plain

#: Examples shown per finding or problem; the rest are counted ("... and 12 more").
MAX_EXAMPLES = 10


class Figures:
    """Draws a page's charts, giving each an id ``<page>-fig<N>`` in drawing order.

    The order is fixed by the code, so the ids (and the hash-salted ids inside each SVG) are
    the same on every run, and no two charts on a page share one.
    """

    def __init__(self, page: str) -> None:
        self.page = page
        self.n = 0

    def __call__(self, draw: Callable[..., str], *args: Any, **kwargs: Any) -> Markup:
        self.n += 1
        kwargs["ident"] = f"{self.page}-fig{self.n}"
        return Markup(draw(*args, **kwargs))  # drawn by plots.py, which escapes all text


def counts(value: Any, key: str = "label") -> list[tuple[str, float]]:
    """``(name, count)`` pairs from ``{name: count}``, ``[{key: name, "count": n}]``,
    ``[(name, n)]`` or a Series, in the order given."""
    value = plain(value)
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [(str(k), v) for k, v in value.items()]
    out = []
    for row in value:
        if isinstance(row, Mapping):
            name = row.get(key, row.get("value", row.get("name")))
            if "count" not in row:
                raise InvalidInput(f"a count row needs 'count' (and {key!r}); got {row!r}.")
            out.append((str(name), row["count"]))
        elif isinstance(row, (list, tuple)) and len(row) == 2:
            out.append((str(row[0]), row[1]))
        else:
            raise InvalidInput(f"counts must be {{name: count}} or rows with {key!r} and 'count'; got {row!r}.")
    return out


def imbalance(pairs: list[tuple[str, float]]) -> float | None:
    """Class imbalance ratio: the largest count over the smallest non-zero one (1 = balanced)."""
    values = [float(v) for _, v in pairs if v]
    return max(values) / min(values) if len(values) >= 2 else None


def examples(rows: Any, total: int | None = None) -> dict[str, Any]:
    """Up to :data:`MAX_EXAMPLES` item examples (``id``, ``text`` and any of ``label``,
    ``score``, ``detail``), which optional columns to show, and how many were left out."""
    recs = as_records(rows)
    shown = recs[:MAX_EXAMPLES]
    extra = [c for c in ("label", "score", "detail") if any(c in r for r in shown)]
    more = max(len(recs), total or 0) - len(shown)
    return {"rows": shown, "extra": extra, "more": max(more, 0)}


def columns_of(rows: list[dict[str, Any]], skip: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
    """Table columns for free-form rows: every key in first-seen order, numbers right-aligned,
    and ``<key>_ci_low`` / ``<key>_ci_high`` folded into ``<key>`` shown as ``v [lo, hi]``."""
    keys: dict[str, str] = {}
    for r in rows:
        for k, v in r.items():
            if k in skip or k.endswith(("_ci_low", "_ci_high")):
                continue
            if f"{k}_ci_low" in r:
                keys[k] = "ci"
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                keys.setdefault(k, "num")
            elif v is not None:
                keys[k] = "text" if keys.get(k) != "ci" else "ci"
            else:
                keys.setdefault(k, "num")
    return [(k, k.replace("_", " "), kind) for k, kind in keys.items()]


def items_of(value: Any) -> list[Any]:
    """A list of strings or dicts from a list, a single string, or ``None``."""
    value = plain(value)
    if value is None:
        return []
    if isinstance(value, (str, Mapping)):
        return [value]
    return list(value)
