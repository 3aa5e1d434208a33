"""Shared fixtures: real datasets, and projects on real SQLite and PostgreSQL stores."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SMS = DATASETS / "text" / "sms_spam_collection" / "SMSSpamCollection.tsv"
LS = DATASETS / "labelstudio"
LEOKA = LS / "leoka_ner" / "LEOKA_team_2_pseudonymized.json"
PG_ADMIN_URL = os.environ.get("TRUTHSET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def datasets() -> Path:
    if not DATASETS.is_dir():
        pytest.fail(f"test data not found at {DATASETS}; the repo expects ../shared/datasets beside it")
    return DATASETS


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped afterwards)."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except Exception as exc:  # the server is not there
        if os.environ.get("CI") or os.environ.get("TRUTHSET_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL} (set TRUTHSET_TEST_POSTGRES_URL): {exc}")
    name = f"truthset_test_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once on SQLite (the default store) and once on PostgreSQL."""
    if request.param == "postgres":
        monkeypatch.setenv("TRUTHSET_DATABASE_URL", request.getfixturevalue("pg_url"))
    else:
        monkeypatch.delenv("TRUTHSET_DATABASE_URL", raising=False)
    return str(request.param)


@pytest.fixture
def new_project(tmp_path: Path, backend: str):  # type: ignore[no-untyped-def]
    """Factory: ``new_project(task, labels=...)`` creates a project with a unique name."""
    from truthset.services.projects import init_project

    made = []

    def make(task: str = "text-classification", labels: list[str] | None = None, folder: str | None = None):  # type: ignore[no-untyped-def]
        root = tmp_path / (folder or f"p{len(made)}")
        project = init_project(root, task=task, labels=labels, name=f"t-{uuid.uuid4().hex[:12]}")
        made.append(project)
        return project

    yield make
    for p in made:
        p.close()
