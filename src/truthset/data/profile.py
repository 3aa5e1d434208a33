"""Text health checks used while importing (pure functions): mojibake and control characters.

Mojibake is text that was encoded in one encoding and decoded in another: ``“`` saved as
UTF-8 and read as Windows-1252 shows as ``â€œ``, read as Mac Roman as ``‚Äú``. ftfy (the
well-kept library for this) detects it (``ftfy.badness.is_bad``) and repairs it. Control
characters are C0 controls other than tab, newline and carriage return, DEL, and the C1
controls U+0080-U+009F, which in practice only appear when bytes were decoded as Latin-1
(``\\x89ÛÏ`` for a curly quote that went through Mac Roman). Both are counted on every import
and listed as findings; :func:`repair` fixes them when asked (``--fix-text``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ftfy import TextFixerConfig, fix_text
from ftfy.badness import is_bad

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: ftfy's repairs of encoding damage only: quotes stay curly, line breaks, ligatures, widths
#: and Unicode normalisation stay as they are
REPAIR = TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_encoding=True,
    restore_byte_a0=True,
    replace_lossy_sequences=True,
    decode_inconsistent_utf8=True,
    fix_c1_controls=True,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_surrogates=True,
    remove_control_chars=False,
    normalization=None,
    explain=False,
)


#: UTF-8 lead bytes of the characters that mojibake comes from in practice: Latin-1 and Latin
#: Extended letters, Greek, Cyrillic, general punctuation (curly quotes, dashes, the euro sign),
#: CJK, and emoji (four-byte sequences)
_LEAD_BYTES = (
    0xC2,
    0xC3,
    0xC4,
    0xC5,
    0xC6,
    0xCB,
    0xCE,
    0xCF,
    0xD0,
    0xD1,
    0xE2,
    0xE3,
    0xE4,
    0xE5,
    0xE6,
    0xE7,
    0xE8,
    0xE9,
    0xEF,
    0xF0,
)
#: code pages that UTF-8 is mis-read as (ftfy's "sloppy" cp1252 decodes every byte)
_MISREAD_AS = ("latin-1", "sloppy-windows-1252", "mac_roman")


def _pair_class(encodings: tuple[str, ...]) -> str:
    import ftfy.bad_codecs  # noqa: F401 - registers the sloppy-windows-* codecs

    lead = {bytes([b]).decode(e) for e in encodings for b in _LEAD_BYTES}
    cont = {bytes([b]).decode(e) for e in encodings for b in range(0x80, 0xC0)}
    return "[" + re.escape("".join(sorted(lead))) + "][" + re.escape("".join(sorted(cont))) + "]"


#: a lead byte followed by a continuation byte, each decoded as one of the code pages: every
#: mojibake of a non-ASCII character holds such a pair. A fast gate (two character classes, C
#: speed) before ftfy's detector, which is exact but runs at about 1 microsecond a character
PAIR = re.compile(_pair_class(_MISREAD_AS))
_PAIR_IN = tuple(re.compile(_pair_class((e,))) for e in _MISREAD_AS)
_C1 = re.compile(r"[\x80-\x9f]")


def _mac_continuations() -> str:
    return "".join(sorted({bytes([b]).decode("mac_roman") for b in range(0x80, 0xC0)}))


#: a four-byte UTF-8 sequence (an emoji) read as Mac Roman starts with the Apple logo (U+F8FF,
#: byte 0xF0) and three continuation characters; ftfy 6.3 neither detects nor repairs it
#: ("\uf8ffüòÄ" for 😀), so truthset does, for this one pattern
MAC_FOUR_BYTES = re.compile("\uf8ff[" + re.escape(_mac_continuations()) + "]{3}")
#: a two-byte UTF-8 letter of Latin-1 Supplement or Latin Extended-A (lead bytes 0xC2-0xC5) read as
#: Mac Roman: "¬", "√", "ƒ" or "≈" and a continuation character ("√òresund" for "Øresund"), which
#: ftfy misses for several letters; no real text puts a continuation letter right after these signs
MAC_TWO_BYTES = re.compile("[\u00ac\u221a\u0192\u2248][" + re.escape(_mac_continuations()) + "]")
#: ASCII bytes that are not control characters
_ASCII_OK = bytes([9, 10, 13, *range(0x20, 0x7F)])


def has_mojibake(text: str) -> bool:
    """True when ``text`` reads like mojibake to ftfy, or holds U+FFFD (a lossy decode).

    ftfy judges a few characters around each place that could be mojibake (a lead and a
    continuation character of one code page, or a C1 control); its detector is local.
    """
    if "\ufffd" in text or MAC_FOUR_BYTES.search(text) or MAC_TWO_BYTES.search(text):
        return True
    for pattern in (PAIR, _C1):
        for m in pattern.finditer(text):
            window = text[max(0, m.start() - 3) : m.end() + 3]
            if pattern is PAIR and not any(p.search(window) for p in _PAIR_IN):
                continue
            if is_bad(window):
                return True
    return False


def has_control_chars(text: str) -> bool:
    """True when ``text`` holds a C0 control other than tab/LF/CR, DEL, or a C1 control."""
    return CONTROL.search(text) is not None


def any_problem(texts: Sequence[str]) -> bool:
    """Whether any of ``texts`` may hold mojibake or control characters (C-speed searches).

    A search over the joined texts finds the common case (no problem) in one pass; a match
    that spans two texts is only a reason to check them one by one.
    """
    if not texts:
        return False
    joined = "\n".join(texts)
    if joined.isascii():
        # no mojibake without non-ASCII characters; controls by deleting every other byte
        return bool(joined.encode("ascii").translate(None, _ASCII_OK))
    return CONTROL.search(joined) is not None or "\ufffd" in joined or PAIR.search(joined) is not None


def problems(text: str) -> tuple[bool, bool]:
    """(mojibake, control characters) of one text."""
    return has_mojibake(text), has_control_chars(text)


def _undo_mac(m: re.Match[str]) -> str:
    try:
        return m.group().encode("mac_roman").decode("utf-8")
    except UnicodeError:
        return m.group()


def repair(text: str) -> str:
    """``text`` with mojibake and C1 controls repaired by ftfy (nothing else changed)."""
    text = fix_text(text, REPAIR)
    if MAC_FOUR_BYTES.search(text) or MAC_TWO_BYTES.search(text):  # what ftfy left, one by one
        text = fix_text(MAC_TWO_BYTES.sub(_undo_mac, MAC_FOUR_BYTES.sub(_undo_mac, text)), REPAIR)
    return text


def describe(text: str, *, width: int = 40) -> str:
    """A short excerpt around the first problem in ``text``, controls shown as ``\\x89``."""
    m = CONTROL.search(text) or PAIR.search(text)
    at = m.start() if m else text.find("\ufffd")
    start = max(0, at - width // 4)
    return escape_controls(text[start : start + width])


def escape_controls(text: str) -> str:
    """Control characters shown as ``\\x89``, so that a terminal prints them visibly."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def count_mojibake_rows(texts: Iterable[str]) -> int:
    """How many of ``texts`` hold mojibake (see :func:`has_mojibake`)."""
    items = list(texts)
    return sum(1 for t in items if has_mojibake(t)) if any_problem(items) else 0


def count_control_rows(texts: Iterable[str]) -> int:
    """How many of ``texts`` hold a control character (see :func:`has_control_chars`)."""
    items = list(texts)
    return sum(1 for t in items if has_control_chars(t)) if any_problem(items) else 0
