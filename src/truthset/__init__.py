"""truthset: raw, messy data in; reliable training data and an evaluated baseline out.

The public API is re-exported here lazily, so ``import truthset`` (and the CLI) start fast
and heavy layers load only when used.
"""

from __future__ import annotations

import importlib
from typing import Any

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
)

__version__ = "0.1.0"

#: public name -> module that defines it (loaded on first access)
_LAZY: dict[str, str] = {
    "encode_annotations": "truthset.core.codes",
    "AnnotationCodes": "truthset.core.codes",
    "LabelSchema": "truthset.core.schema",
    "Label": "truthset.core.schema",
    "ProjectConfig": "truthset.core.config",
    "render_guide": "truthset.core.guide",
    "Project": "truthset.services.projects",
    "init_project": "truthset.services.projects",
    "open_project": "truthset.services.projects",
    "import_file": "truthset.services.imports",
    "ImportOptions": "truthset.services.imports",
    "export_project": "truthset.services.exports",
    "quality": "truthset.quality",
}

__all__ = [
    "Conflict",
    "ConfigError",
    "EncodingProblem",
    "ImportFailed",
    "InvalidInput",
    "MissingDependency",
    "NotFittedError",
    "NotFound",
    "ProjectNotFound",
    "SchemaError",
    "TruthsetError",
    "__version__",
    "encode_annotations",
    "AnnotationCodes",
    "LabelSchema",
    "Label",
    "ProjectConfig",
    "render_guide",
    "Project",
    "init_project",
    "open_project",
    "import_file",
    "ImportOptions",
    "export_project",
    "quality",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'truthset' has no attribute {name!r}")
    mod = importlib.import_module(module)
    return mod if module.endswith("." + name) else getattr(mod, name)
