"""One exception hierarchy for truthset.

Every error says what was received, what was expected and what to do next. Each subclass
also inherits the matching builtin (``InvalidInput`` is a ``ValueError``) so callers that
only know the standard library can still catch it, and carries the HTTP ``status`` the
server will answer with. The CLI prints ``str(error)`` on one line and exits non-zero.
"""

from __future__ import annotations

from typing import Any


class TruthsetError(Exception):
    """Base of every error truthset raises on purpose."""

    status: int = 500


class InvalidInput(TruthsetError, ValueError):
    """The caller passed data or options that cannot be used as given."""

    status = 422


class ConfigError(InvalidInput):
    """A configuration file or setting is invalid; the message names the file and the key."""


class SchemaError(InvalidInput):
    """A label schema is inconsistent or a label migration cannot be applied."""


class ImportFailed(InvalidInput):
    """A file could not be imported; nothing was written."""


class EncodingProblem(ImportFailed, UnicodeError):
    """A file is not in the expected text encoding; the message names the byte offset."""


class NotFound(TruthsetError, LookupError):
    """Something that was asked for does not exist."""

    status = 404


class ProjectNotFound(NotFound):
    """No truthset project in the folder given (or the current one)."""


class Conflict(TruthsetError, RuntimeError):
    """The request conflicts with the current state (e.g. a name already taken)."""

    status = 409


class Unstorable(InvalidInput):
    """A value the store cannot hold (an integer past its range, a NUL character in text)."""


class StoreBusy(TruthsetError, TimeoutError):
    """The store stayed locked by another writer for the whole busy timeout; try again."""

    status = 503


class StoreUnavailable(TruthsetError, ConnectionError):
    """The database refused or dropped the work (a PostgreSQL server down, a broken file)."""

    status = 503


class NotFittedError(TruthsetError, AttributeError):
    """An estimator was used before ``fit``. Same role as scikit-learn's NotFittedError."""

    status = 400


class MissingDependency(TruthsetError, ImportError):
    """An optional dependency is needed; the message names the ``pip install`` to run."""

    status = 500


def missing_extra(module: str, extra: str) -> MissingDependency:
    """Build the error for an optional dependency that is not installed."""
    return MissingDependency(
        f"this feature needs the '{module}' package, which is not installed; run: pip install 'truthset[{extra}]'"
    )


def excerpt(value: Any, limit: int = 60, *, quote: bool = True) -> str:
    """``value`` for an error message: its repr (or str, with ``quote=False``), cut to about
    ``limit`` characters with the full length said, so a message never echoes a huge input."""
    text = repr(value) if quote else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"
