"""Active learning: retrain every N new labels, then refresh the pre-labels and the queue order.

With ``active: {retrain_every: N}`` in truthset.yaml a retrain is **due** when N human
labels have arrived since the last training run. "Since" is read from the store, never kept
in memory: each run records ``labels_upto``, the highest judgement id it could have seen, and
the due check counts human annotations with a higher id (one indexed count). So the state
survives restarts, several server processes agree on it, and a label is never counted twice.

Who retrains, never inside an HTTP request:

* the annotation server: after each submit the route calls :func:`poke`, which only sets an
  event (microseconds). One daemon thread per project wakes, checks whether a retrain is due
  and if so runs :func:`retrain_if_due`; pokes that arrive during a training run are folded
  into one check afterwards. ``active.in_server: false`` turns the thread off;
* ``truthset train --if-due`` (by hand or from cron) runs the same function.

:func:`retrain_if_due` holds a lock (a ``flock`` on ``.truthset/retrain.lock`` and a
process-wide lock) so two processes of one machine never train the same project at once; the
second finds the lock taken and returns. It trains with the project's defaults (frozen test
set, latest consensus run else the latest judgement), then, for single-label tasks, writes
the new run's pre-labels and (with ``queue.order: uncertainty``) re-ranks the queue by the
new run's uncertainty.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

from truthset.core.config import STATE_DIR
from truthset.core.errors import TruthsetError
from truthset.services.projects import Project
from truthset.store.repo import runs as repo_runs

__all__ = ["poke", "retrain_if_due", "status", "wait_idle"]

log = logging.getLogger(__name__)
#: the annotations that count as new labels: people answering in the app
NEW_LABEL_SOURCES = ("human",)
_LOCKS: dict[str, threading.Lock] = {}
_WORKERS: dict[str, _Worker] = {}
_REGISTRY = threading.Lock()


def status(project: Project) -> dict[str, Any]:
    """``retrain_every``, the last training run, ``new_labels`` since it, and whether a retrain is ``due``."""
    every = project.config.active.retrain_every
    with project.store.read() as tx:
        latest = repo_runs.training_run(tx, project.id, None)
        upto = 0
        if latest is not None:
            upto = int(json.loads(latest["config"] or "{}").get("labels_upto") or 0)
        new = repo_runs.annotations_after(tx, project.id, upto, NEW_LABEL_SOURCES)
    return {
        "retrain_every": every,
        "last_run": None if latest is None else latest["id"],
        "new_labels": new,
        "due": every is not None and new >= every,
    }


@contextlib.contextmanager
def _exclusive(project: Project) -> Iterator[bool]:
    """Yields True while this thread holds the project's retrain lock, False if someone else does."""
    key = str(project.root.resolve())
    with _REGISTRY:
        lock = _LOCKS.setdefault(key, threading.Lock())
    if not lock.acquire(blocking=False):
        yield False
        return
    try:
        path = project.root / STATE_DIR / "retrain.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as fh:
            try:
                import fcntl
            except ImportError:  # no flock (Windows): the process-wide lock alone
                yield True
                return
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
    finally:
        lock.release()


def retrain_if_due(
    project: Project, *, force: bool = False, seed: int = 0, n_boot: int | None = None
) -> dict[str, Any]:
    """Retrain when due (or ``force``), then refresh pre-labels and the uncertainty order.

    Returns ``retrained`` (bool), the status before, and for a retrain the new ``run``, its
    headline metrics and the pre-label counts; ``busy`` when another process holds the lock.
    """
    from truthset.services.model_loop import prelabel
    from truthset.services.training import train

    before = status(project)
    if not (before["due"] or force):
        return {"retrained": False, **before}
    with _exclusive(project) as mine:
        if not mine:
            return {"retrained": False, "busy": True, **before}
        before = status(project)  # another process may have retrained while we waited
        if not (before["due"] or force):
            return {"retrained": False, **before}
        cfg = project.config.active
        out = train(project, seed=seed, n_boot=cfg.n_boot if n_boot is None else n_boot)
        result: dict[str, Any] = {
            "retrained": True,
            **before,
            "run": out["run"],
            "metrics": {k: v for k, v in out.items() if isinstance(v, (int, float, str))},
        }
        if project.task in ("text-classification", "image-classification"):
            result["prelabel"] = prelabel(project, out["run"], uncertainty=cfg.uncertainty)
        return result


class _Worker(threading.Thread):
    """One project's background retrainer: waits for a poke, retrains if due, waits again."""

    def __init__(self, project: Project) -> None:
        super().__init__(name=f"truthset-retrain-{project.config.name}", daemon=True)
        self.project = project
        self.cond = threading.Condition()
        self.pending = 0  # pokes not yet looked at (folded into one check)
        self.busy = False
        self.last: dict[str, Any] | None = None
        #: new-label count when a retrain last failed: the next try waits for N more labels, so a
        #: project that cannot train yet (too few labels, one class) is not retried on every submit
        self.failed_at: int | None = None

    def _backing_off(self) -> bool:
        if self.failed_at is None:
            return False
        now = status(self.project)
        every = now["retrain_every"] or 1
        if now["new_labels"] >= self.failed_at and now["new_labels"] < self.failed_at + every:
            self.last = {"retrained": False, "backing_off": True, **now, "error": (self.last or {}).get("error")}
            return True
        self.failed_at = None
        return False

    def _mark_failed(self) -> None:
        try:
            self.failed_at = status(self.project)["new_labels"]
        except Exception:  # the store is unreachable: the next poke tries again
            log.exception("cannot read the retrain status of %s", self.project.config.name)

    def _nothing_since_last_retrain(self, result: dict[str, Any]) -> bool:
        """A check that finds no new label since the retrain reported last (a submit's poke
        arrives after the retrain it triggered already counted its label): the retrain stays
        the last result, so ``wait_idle`` does not hide it behind an empty check."""
        last = self.last or {}
        return (
            not result.get("retrained")
            and "error" not in result
            and result.get("new_labels") == 0
            and bool(last.get("retrained"))
            and last.get("run") == result.get("last_run")
        )

    def poke(self) -> None:
        with self.cond:
            self.pending += 1
            self.cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.pending == 0 and not self.busy, timeout)

    def run(self) -> None:
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.pending > 0)
                self.pending, self.busy = 0, True
            try:
                if self._backing_off():
                    continue
                result = retrain_if_due(self.project)
                if not self._nothing_since_last_retrain(result):
                    self.last = result
                if result.get("retrained"):
                    log.info("retrained %s: run %s", self.project.config.name, result["run"])
            except TruthsetError as exc:  # e.g. too few labels yet: try again after N more labels
                self.last = {"retrained": False, "error": str(exc)}
                self._mark_failed()
                log.warning("retrain of %s not done: %s", self.project.config.name, exc)
            except Exception:  # a failed background retrain must not end the thread
                self.last = {"retrained": False, "error": "unexpected error (see the server log)"}
                self._mark_failed()
                log.exception("retrain of %s failed", self.project.config.name)
            finally:
                with self.cond:
                    self.busy = False
                    self.cond.notify_all()


def poke(project: Project) -> None:
    """A label arrived: wake the project's background retrainer (never blocks, never trains here)."""
    cfg = project.config.active
    if cfg.retrain_every is None or not cfg.in_server:
        return
    key = str(project.root.resolve())
    with _REGISTRY:
        worker = _WORKERS.get(key)
        if worker is None or not worker.is_alive():
            worker = _WORKERS[key] = _Worker(project)
            worker.start()
    worker.poke()


def wait_idle(project: Project, timeout: float = 60.0) -> dict[str, Any] | None:
    """Wait until the project's background retrainer has nothing to do; its last result (tests, shutdown)."""
    worker = _WORKERS.get(str(project.root.resolve()))
    if worker is None:
        return None
    if not worker.wait_idle(timeout):
        raise TimeoutError(f"the background retrain of {project.config.name} took more than {timeout} s")
    return worker.last
