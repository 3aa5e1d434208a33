"""What the queue needs to know about a project (its policy), and what one process remembers.

:class:`QueuePolicy` is the project's queue settings and identity, read from its config for
each request. :class:`QueueState` is per process and per open project: when each periodic job
(expired leases, due batches, re-annotations, planner statistics) is next due, and the due
batches last looked up. It replaces a string-keyed dictionary, so a misspelt job is a type
error, not a job that never runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

#: expired leases are looked for at most this often per process (leases last minutes)
SWEEP_EVERY = timedelta(seconds=1)
#: how often the queue looks for stale planner statistics on PostgreSQL (statements.STALE_TABLES)
STATS_EVERY = timedelta(seconds=10)


@dataclass(frozen=True)
class QueuePolicy:
    """A project's queue settings, as the store's queue functions take them."""

    project_id: int
    overlap: int
    order: str
    lease_minutes: int
    max_per_annotator: int | None
    schema_version: int

    @property
    def lease(self) -> timedelta:
        return timedelta(minutes=self.lease_minutes)


@dataclass
class QueueState:
    """One process's memory of the queue of one project (times in UTC).

    Each ``*_due`` field is when that periodic job is next due (None: due now). A job is due
    when never done, when its interval has passed, or when ``now`` went back (a caller's
    clock). Setting a field to None makes the job due at once.
    """

    #: expired leases: next sweep
    lease_sweep_due: datetime | None = None
    #: PostgreSQL planner statistics: next look for stale tables
    stats_due: datetime | None = None
    #: items waiting for re-annotation: next look (None while some wait: look every time)
    reannotations_due: datetime | None = None
    #: batches with a due date: next look-up
    due_batches_due: datetime | None = None
    #: batches with a due date and open items, soonest first (None: not looked up yet)
    due_batches: list[int] | None = None
    #: tables whose statistics the last refresh updated (for tests and diagnostics)
    analyzed: list[str] = field(default_factory=list)

    PERIODIC = {
        "lease_sweep_due": SWEEP_EVERY,
        "stats_due": STATS_EVERY,
        "reannotations_due": SWEEP_EVERY,
        "due_batches_due": SWEEP_EVERY,
    }

    def is_due(self, job: str, now: datetime) -> bool:
        """Whether periodic ``job`` (a ``*_due`` field) is due at ``now``."""
        nxt: datetime | None = getattr(self, job)
        every = self.PERIODIC[job]
        return nxt is None or not nxt - every <= now < nxt

    def take(self, job: str, now: datetime) -> bool:
        """:meth:`is_due`; if it is, the next time is noted (the caller does the work now)."""
        if not self.is_due(job, now):
            return False
        setattr(self, job, now + self.PERIODIC[job])
        return True

    def any_due(self, now: datetime) -> bool:
        """Whether any periodic work is due (the general path does it)."""
        return self.due_batches is None or any(self.is_due(job, now) for job in self.PERIODIC)

    def batches_changed(self) -> None:
        """A batch's due date changed here: look the due batches up again at the next request."""
        self.due_batches = None

    def reannotations_changed(self) -> None:
        """Items were queued for re-annotation here: the queue looks at once."""
        self.reannotations_due = None

    def reset(self) -> None:
        """Forget everything: every job due at once (a new process would start so)."""
        for f in fields(self):
            setattr(self, f.name, [] if f.name == "analyzed" else None)
