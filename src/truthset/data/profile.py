"""Text health checks used while importing and profiling (pure functions).

Mojibake is text that was encoded in one encoding and decoded in another; it shows up as
tell-tale sequences such as ``Ã©`` (for ``é``) or ``â€™`` (for ``’``). Control characters
(other than tab, newline and carriage return) are invisible in most tools and break
tokenisers and CSV writers downstream. Both are counted and reported, never silently fixed.
"""

from __future__ import annotations

import re

MOJIBAKE = re.compile(r"[ÃÂ][\u0080-\u00bf]|â€[\u0080-\u00bf\u2018-\u203a™œ]|\ufffd|Ã[¡-¿]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_mojibake(text: str) -> bool:
    """True when ``text`` holds a sequence typical of UTF-8 read as Latin-1/cp1252, or U+FFFD."""
    return MOJIBAKE.search(text) is not None


def has_control_chars(text: str) -> bool:
    """True when ``text`` holds a control character other than tab, LF or CR."""
    return CONTROL.search(text) is not None


def _count(pattern: re.Pattern[str], texts: list[str]) -> int:
    # One search over the joined chunk finds the common case (no match) at C speed; only a
    # chunk with a match is checked text by text. "\n" cannot create a match across texts.
    if not texts or pattern.search("\n".join(texts)) is None:
        return 0
    return sum(1 for t in texts if pattern.search(t) is not None)


def count_mojibake_rows(texts: list[str]) -> int:
    """How many of ``texts`` hold mojibake (see :func:`has_mojibake`)."""
    return _count(MOJIBAKE, texts)


def count_control_rows(texts: list[str]) -> int:
    """How many of ``texts`` hold a control character other than tab, LF, CR."""
    return _count(CONTROL, texts)
