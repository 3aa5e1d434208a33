"""The annotation queue's store side: both paths, each rule defined once.

* :mod:`.statements` — the SQL parts (eligible items, gold choice, pre-label, progress, how an
  answer is stored) and the general path's prebuilt statements;
* :mod:`.general` — the general path: several statements in one transaction, SQLite and
  PostgreSQL;
* :mod:`.at_once` — PostgreSQL's one statement per usual request, composed from the same parts;
* :mod:`.upkeep` — the periodic work (expired leases, due batches, re-annotations, statistics);
* :mod:`.state` — the project's queue policy and one process's memory of the queue.

``services.queue`` decides which path serves a request and checks answers against the schema.
"""

from truthset.store.queue.general import MAX_LEAD_TIME, UNKNOWN, AnswerCheck, Lease
from truthset.store.queue.state import STATS_EVERY, SWEEP_EVERY, QueuePolicy, QueueState

__all__ = [
    "MAX_LEAD_TIME",
    "STATS_EVERY",
    "SWEEP_EVERY",
    "UNKNOWN",
    "AnswerCheck",
    "Lease",
    "QueuePolicy",
    "QueueState",
]
