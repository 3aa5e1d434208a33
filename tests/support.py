"""Helpers shared by test modules (builders of real projects, files and arrays).

Test modules import these from here rather than from one another, so a test module never
depends on another test module's internals.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from click.testing import Result

from tests.conftest import SMS
from truthset.services import users
from truthset.services.imports import ImportReport, import_file
from truthset.services.projects import Project
from truthset.services.queue import Task


class NewProject(Protocol):
    """The ``new_project`` fixture: makes a project with a unique name on the test's store."""

    def __call__(self, task: str = ..., labels: list[str] | None = ..., folder: str | None = ...) -> Project: ...


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid PNG of one colour (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def project_with_items(
    new_project: NewProject, tmp_path: Path, n: int = 10, *, task: str = "text-classification", **queue_cfg: Any
) -> Project:
    """A project with ``n`` imported texts and the given queue settings (overlap, order, ...)."""
    p = new_project(task=task, labels=["pos", "neg", "PER"] if task == "ner" else ["pos", "neg"])
    f = tmp_path / f"items-{p.config.name}.jsonl"
    f.write_text("".join(json.dumps({"text": f"item number {i} Ann"}) + "\n" for i in range(n)), encoding="utf-8")
    import_file(p, f)
    p.config = p.config.model_copy(update={"queue": p.config.queue.model_copy(update=queue_cfg)})
    return p


def group1(pattern: str, text: str) -> str:
    """The first group of ``pattern``'s first match in ``text`` (a CSRF token in a page, say);
    fails the test when there is none."""
    m = re.search(pattern, text)
    assert m is not None, f"no match for {pattern!r}"
    return m.group(1)


def batch_of(report: ImportReport) -> int:
    """The batch an import wrote (``None`` only on a report still being filled in)."""
    assert report.batch is not None, f"the import of {report.source} recorded no batch"
    return report.batch


def add_annotator(p: Project, name: str) -> int:
    """An annotator's id; users are shared by all projects of a store (the PostgreSQL test
    database is shared), so the name carries the project's."""
    return users.add_user(p, f"{name}-{p.config.name}", role="annotator", password="correct horse").id


def noisy(n: int, k: int, noise: float, seed: int, sharp: float = 4.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels with ``noise`` of them flipped, probabilities (n, k) that point at the truth, and
    the boolean mask of the flipped ones."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    flip = rng.random(n) < noise
    given_ = np.where(flip, (truth + rng.integers(1, k, n)) % k, truth)
    logits = rng.normal(size=(n, k)) + sharp * (np.arange(k) == truth[:, None])
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return given_, p / p.sum(axis=1, keepdims=True), given_ != truth


def sms() -> tuple[list[str], list[str]]:
    """(labels, texts) of the SMS Spam Collection, read as its SOURCE.md says (no quoting)."""
    lines = SMS.read_text(encoding="utf-8").split("\n")[1:]
    rows = [line.split("\t", 1) for line in lines if line]
    return [r[0] for r in rows], [r[1] for r in rows]


def active_project(new_project: NewProject, tmp_path: Path, every: int) -> tuple[Project, dict[str, str]]:
    """600 labelled SMS messages, 40 unlabelled ones (their true labels returned by text),
    queue ordered by uncertainty, a retrain every ``every`` new labels, and a first run pre-labelling."""
    import csv

    from truthset.core.config import ActiveConfig
    from truthset.services.demo import demo_file
    from truthset.services.imports import ImportOptions
    from truthset.services.model_loop import prelabel
    from truthset.services.training import train

    p = new_project(labels=["ham", "spam"])
    p.save_config(
        p.config.model_copy(
            update={
                "queue": p.config.queue.model_copy(update={"order": "uncertainty"}),
                "active": ActiveConfig(retrain_every=every, n_boot=0),
            }
        )
    )
    lines = demo_file().read_text(encoding="utf-8").splitlines()
    labelled = tmp_path / "sms.tsv"
    labelled.write_text("\n".join(lines[:601]) + "\n", encoding="utf-8")
    import_file(p, labelled, ImportOptions(annotator="uci-original"))
    truth = {}
    fresh = tmp_path / "fresh.csv"
    with fresh.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text"])
        for line in lines[3000:3040]:
            label, text = line.split("\t", 1)
            truth[text] = label
            w.writerow([text])
    import_file(p, fresh, ImportOptions(text_col="text"))
    first = train(p, seed=0, n_boot=0)
    prelabel(p, first["run"])
    return p, truth


def unjudged(p: Project) -> list[int]:
    """Items with no human or imported judgement, in id order."""
    from truthset.store.repo import runs as repo_runs

    with p.store.read() as tx:
        return repo_runs.item_ids_without_judgement(tx, p.id, ("human", "import"))


def most_uncertain(p: Project, run_id: int) -> int:
    """The unjudged item the run's model is least sure of, recomputed from the saved model."""
    from truthset.modeling import entropy
    from truthset.services import runs
    from truthset.services.training import full_proba, load_model
    from truthset.services.training_data import final_labels, resolve

    ids = unjudged(p)
    rows = final_labels(p, resolve(p, "latest"), ids)
    proba = full_proba(load_model(p, runs.get_run(p, run_id)), [r.data["text"] for r in rows], ["ham", "spam"])
    return rows[int(np.argmax(entropy(proba)))].item_id


def next_task(p: Project, user_id: int, *, now: datetime | None = None) -> Task:
    """``queue.next_task`` where the test expects a task: fails, saying so, if the queue has none."""
    from truthset.services import queue

    task = queue.next_task(p, user_id, now=now)
    assert task is not None, f"the queue had no task for user {user_id}"
    return task


class RunCli(Protocol):
    """The ``run`` fixture of the CLI tests: invokes ``truthset`` and checks its exit code."""

    def __call__(self, *args: str, code: int = ...) -> Result: ...
