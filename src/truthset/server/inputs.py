"""Types for what requests carry, bounded to what the store can hold.

Every id in a path, a query or a body is at most ``MAX_ID`` (2^31 - 1: PostgreSQL's
``integer``, and well inside SQLite's 64 bits); past it the driver raised OverflowError or
"integer out of range" (500). Every text that may reach the store is refused if it holds a
character PostgreSQL text cannot store (NUL) or that is not encodable as UTF-8 (a lone
surrogate, which JSON's ``\\ud800`` escapes can produce). Both are a 422 naming the field.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, Field

MAX_ID = 2**31 - 1
#: NUL, and the UTF-16 surrogates (valid in a Python str, never in UTF-8)
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_problem(value: str) -> str | None:
    """What is wrong with ``value`` for the store, or None when it can be stored."""
    found = UNSTORABLE.search(value)
    if found is None:
        return None
    char = found.group()
    what = "a NUL character (U+0000)" if char == "\x00" else f"an unpaired surrogate (U+{ord(char):04X})"
    return f"contains {what} at position {found.start()}, which cannot be stored; remove it"


def _storable(value: str) -> str:
    problem = unstorable_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _storable_or_none(value: str | None) -> str | None:
    return None if value is None else _storable(value)


#: a text that may be stored (see the module docstring)
StoredText = Annotated[str, AfterValidator(_storable)]
#: an id in a JSON body (e.g. ``annotation_id``)
BodyId = Annotated[int, Field(ge=1, le=MAX_ID)]
#: an id in the path
PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="An id (1 to 2^31 - 1).")]
#: ``after=``: the last id of the previous page (0 for the first page)
AfterId = Annotated[int, Query(ge=0, le=MAX_ID, description="Return rows with a larger id.")]
#: an optional id in the query (e.g. ``batch=``)
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
#: an optional text in the query (e.g. ``label=``)
QueryText = Annotated[str | None, Query(max_length=200), AfterValidator(_storable_or_none)]
#: a name in the path (e.g. a user's)
PathName = Annotated[str, Path(min_length=1, max_length=200, description="A name."), AfterValidator(_storable)]
