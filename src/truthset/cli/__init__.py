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
- ``issues``: the data-issue tracker
- ``watch``: anomalies, drift
- ``reports``: the report group, model-card; ``report_quality``: report quality, report data-card
- ``sql``: read-only SQL for analysts
- ``check``: check (rules and data checks, findings), profile
- ``models``: train, evaluate, compare, curve, errors, runs, prelabel
"""

from __future__ import annotations

from truthset.cli import (  # noqa: F401  (registers the commands)
    check,
    doctor,
    imports,
    issues,
    media,
    models,
    project,
    qc,
    report_quality,
    reports,
    schema,
    serve,
    sql,
    users,
    watch,
)
from truthset.cli._common import main

__all__ = ["main"]
