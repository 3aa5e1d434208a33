"""Foundation shared by every layer: errors, settings, label schema, guide, integer codes.

``core`` imports nothing else of truthset.
"""

from truthset.core.errors import (
    ConfigError,
    Conflict,
    EncodingProblem,
    ImportFailed,
    InvalidInput,
    MissingDependency,
    NotFittedError,
    NotFound,
    ProjectNotFound,
    SchemaError,
    TruthsetError,
    excerpt,
)

__all__ = [
    "ConfigError",
    "Conflict",
    "EncodingProblem",
    "ImportFailed",
    "InvalidInput",
    "MissingDependency",
    "NotFittedError",
    "NotFound",
    "ProjectNotFound",
    "SchemaError",
    "TruthsetError",
    "excerpt",
]
