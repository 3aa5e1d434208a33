"""Where the annotation queue's transactions run: a small, dedicated thread pool per process.

FastAPI runs plain ``def`` routes in a shared pool of 40 threads. For the queue that is the
wrong shape: on SQLite every transaction takes the one write lock, so 40 threads only queue on
it, and each hand-over also fights the event loop for the GIL (measured with 50 annotators:
201 annotations/s with 40 threads, 299/s with one). One thread on SQLite serves the requests in
arrival order with no lock hand-over; PostgreSQL takes a few at once, since its transactions
wait on the network rather than on one lock.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from fastapi import Request

from truthset.services.projects import Project

T = TypeVar("T")


def db_threads(project: Project) -> int:
    """How many threads run queue transactions: the ``server_db_threads`` setting, or by store."""
    configured = int(project.settings.get("server_db_threads") or 0)
    if configured > 0:
        return configured
    return 1 if project.engine.dialect.name == "sqlite" else 4


def make_executor(project: Project) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=db_threads(project), thread_name_prefix="truthset-db")


async def run_db(request: Request, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` on the app's queue threads; its exceptions propagate as raised."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(request.app.state.db_executor, functools.partial(fn, *args, **kwargs))
