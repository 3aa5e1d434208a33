"""Hyper-parameter constraints of the aggregators, checked in ``fit`` (scikit-learn's style).

Each aggregator declares ``_parameter_constraints``: name -> list of accepted constraints; a
value is valid when any of them accepts it, and the error names them all.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A real (or integer, with ``integer=True``) range; ``None`` ends are unbounded."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right", "neither"
    integer: bool = False

    def accepts(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.integer and not isinstance(value, numbers.Integral):
            return False
        v = float(value)
        if np.isnan(v):
            return False
        open_low = self.closed in ("right", "neither")
        open_high = self.closed in ("left", "neither")
        below = self.low is not None and (v < self.low or (open_low and v == self.low))
        above = self.high is not None and (v > self.high or (open_high and v == self.high))
        return not (below or above)

    def __str__(self) -> str:
        kind = "an integer" if self.integer else "a number"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        return f"{kind} in {left}{lo}, {hi}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple[object, ...]

    def accepts(self, value: object) -> bool:
        return any(value is v or (type(value) is type(v) and value == v) for v in self.values)

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class InstanceOf:
    """An instance of one of the given types (``None`` is spelled ``type(None)``)."""

    types: tuple[type, ...]
    description: str = ""

    def accepts(self, value: object) -> bool:
        return isinstance(value, self.types) and not (isinstance(value, bool) and bool not in self.types)

    def __str__(self) -> str:
        return self.description or " or ".join(t.__name__ for t in self.types)


Constraint = Interval | Options | InstanceOf
NONE = InstanceOf((type(None),), "None")
SEED = InstanceOf((int, type(None)), "an int seed or None")
