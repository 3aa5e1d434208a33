"""SQLite's WAL checkpoints, on a thread of their own while a server runs."""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from truthset.store.locks import writers_paused

log = logging.getLogger(__name__)


class Checkpointer:
    """Moves SQLite's WAL checkpoints off the writers, onto a thread of their own.

    By default the commit that fills the WAL past 1000 pages copies them into the database
    and syncs it, inside the request that happened to commit: with 50 annotators that was a
    pause every fraction of a second, and the p99 of the queue was those pauses (209 ms at
    250 annotations/s offered, 41 ms without them). A long-running server turns automatic
    checkpoints off on its connections; this thread runs a PASSIVE checkpoint (never blocks
    anyone) every ``interval`` seconds. Under steady writes a PASSIVE one never catches up
    with the end of the WAL, and only a caught-up WAL starts again from its beginning: left
    so, it grew by 1.1 GB in 20 s and a restart after a crash read all of it (7 s). So once
    the WAL holds ``restart_frames`` pages the thread pauses the writers (taking their
    locks, so a waiting writer waits on a thread, not on the event loop) for a RESTART
    checkpoint, which has only what came since the PASSIVE one left to copy. CLI processes
    keep SQLite's default.
    """

    def __init__(self, engine: Engine, interval: float = 0.5, restart_frames: int = 4096) -> None:
        self.engine, self.interval, self.restart_frames = engine, interval, restart_frames
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None
        self.checkpoints = 0
        self.restarts = 0
        self._listener: Any = None

    def start(self) -> None:
        if self.engine.dialect.name != "sqlite" or self.engine.url.database in (None, "", ":memory:"):
            return

        def no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

        self._listener = no_autocheckpoint
        event.listen(self.engine, "connect", no_autocheckpoint)
        self.engine.dispose()  # connections opened before this keep the default: open new ones
        self.thread = threading.Thread(target=self._run, name="truthset-checkpoint", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import sqlite3

        conn = sqlite3.connect(str(self.engine.url.database), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=2000")  # a RESTART waits this long for readers to move on
        try:
            while not self.stopped.wait(self.interval):
                try:
                    self._checkpoint(conn)
                except sqlite3.Error:
                    continue  # busy with another checkpoint: the next round will do it
                except Exception:  # never die quietly: the WAL would grow for as long as the server runs
                    log.exception("WAL checkpoint failed; trying again in %s s", self.interval)
            self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: Any) -> None:
        _busy, frames, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1
        if frames >= self.restart_frames:
            # a second PASSIVE round copies what came during the first (and syncs), so the
            # RESTART, which pauses the writers, has only milliseconds of WAL left to copy
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            with writers_paused(self.engine, timeout=5.0) as paused:
                if paused:
                    conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                    self.restarts += 1

    def stop(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
            event.remove(self.engine, "connect", self._listener)  # connections opened from now on checkpoint again
