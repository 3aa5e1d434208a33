"""Login protection: a back-off per name and per client address, and a bound on argon2 work.

A password check costs tens of milliseconds of CPU and 64 MiB of memory (argon2id's
defaults), on purpose. Unbounded, 40 parallel clients took a server from 110 MB to 1 GB and
its other requests to 20 s; unthrottled, a script could try passwords for ever. So:

* at most ``login_concurrency`` checks run at once in a server process (the others wait
  their turn, up to ``LOGIN_QUEUE_SECONDS``, then get 503 with ``Retry-After``);
* after ``login_free_failures`` failed logins for a name (or ``login_free_failures_per_address``
  from one client address), each further attempt must wait 1 s, then 2, 4, ... up to
  ``login_backoff_max_seconds``; earlier attempts get 429 with ``Retry-After`` and no password
  check at all. A successful login clears its name's count; the counts are forgotten
  ``FORGET_AFTER`` seconds after the last failure.

The counts live in the server process (each worker keeps its own), which bounds an attacker
at one guess per back-off step per worker; they are not meant to survive a restart.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

#: how long a login waits for a free password-check slot before it is told to come back
LOGIN_QUEUE_SECONDS = 10.0
#: seconds after its last failure that a name's or address's count is forgotten
FORGET_AFTER = 3600.0


@dataclass
class _Failures:
    count: int
    last: float


class LoginThrottle:
    """Failed-login counts by name and by address, and the semaphore bounding argon2 work."""

    def __init__(
        self,
        *,
        free_per_name: int = 5,
        free_per_address: int = 20,
        max_delay: float = 300.0,
        concurrency: int = 2,
        max_keys: int = 100_000,
    ) -> None:
        self.free = {"name": free_per_name, "address": free_per_address}
        self.max_delay, self.max_keys, self.concurrency = max_delay, max_keys, max(1, concurrency)
        self._failures: dict[tuple[str, str], _Failures] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore = asyncio.Semaphore(self.concurrency)

    def semaphore(self) -> asyncio.Semaphore:
        """The slots for password checks (one set per event loop: a server has one; tests, more)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._semaphore = loop, asyncio.Semaphore(self.concurrency)
        return self._semaphore

    def _delay(self, key: tuple[str, str], now: float) -> float:
        """Seconds ``key`` must still wait before its next attempt (0: it may try now)."""
        f = self._failures.get(key)
        if f is None:
            return 0.0
        if now - f.last > FORGET_AFTER:
            del self._failures[key]
            return 0.0
        over = f.count - self.free[key[0]]
        if over < 0:
            return 0.0
        return max(0.0, f.last + min(self.max_delay, 2.0**over) - now)

    def retry_after(self, name: str, address: str) -> float:
        """Seconds until a login for ``name`` from ``address`` may be tried (0: now)."""
        now = time.monotonic()
        return max(self._delay(("name", name), now), self._delay(("address", address), now))

    def failed(self, name: str, address: str) -> None:
        now = time.monotonic()
        if len(self._failures) >= self.max_keys:  # a flood of names: keep the memory bounded
            self._failures = {k: f for k, f in self._failures.items() if now - f.last <= self.max_delay}
        for key in (("name", name), ("address", address)):
            f = self._failures.get(key)
            if f is None or now - f.last > FORGET_AFTER:
                self._failures[key] = _Failures(1, now)
            else:
                f.count, f.last = f.count + 1, now

    def succeeded(self, name: str) -> None:
        self._failures.pop(("name", name), None)
