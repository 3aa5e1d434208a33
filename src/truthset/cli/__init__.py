"""The ``truthset`` command line: parse options, call a service, render the result.

Every command that reports numbers takes ``--json``. A user error prints one line saying
what is wrong and how to fix it, and exits with status 1 — never a traceback.

``main`` (the root group, in ``_common``) is the console entry point. Each module of this
package holds one group of commands and registers them on ``main`` when imported:

- ``project``: init, status, guide
- ``imports``: import, findings, export, batch
- ``schema``: the schema group
- ``users``: the user group
- ``qc``: the qc group
- ``serve``: serve, demo
- ``media``: the media group (images of image projects)
- ``models``: train, evaluate, compare, curve, errors, runs, prelabel
- ``reports``: the report group (model-card)
"""

from __future__ import annotations

from truthset.cli import imports, media, models, project, qc, reports, schema, serve, users  # noqa: F401  (registers the commands)
from truthset.cli._common import main

__all__ = ["main"]
