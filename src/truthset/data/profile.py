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
