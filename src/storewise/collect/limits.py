"""Rate limits of the browser door: token buckets kept in memory, per worker process.

Each publishable key has a bucket (a shop's whole audience shares it: it caps what one leaked
or abused key can cost) and each client address has a smaller one (one visitor, or one script
hammering the endpoint). A bucket holds up to ``burst`` tokens, refills at ``rate`` tokens a
second, and every request takes one. The state lives in the worker's memory: with ``N``
uvicorn workers the effective limits are up to ``N`` times these (a request goes to any
worker), which is fine for what they are for (absorbing abuse, not billing). Buckets of
addresses not seen for a while are forgotten, so memory stays bounded under a flood of
addresses.

>>> clock = iter([0.0, 0.0, 0.0, 1.0]).__next__
>>> bucket = Buckets(rate=1.0, burst=2, clock=clock)
>>> [bucket.take("a"), bucket.take("a"), bucket.take("a"), bucket.take("a")]
[0.0, 0.0, 1.0, 0.0]
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

#: Most buckets one limiter keeps (the least recently used are dropped past it).
MAX_BUCKETS = 100_000


@dataclass(frozen=True)
class CollectLimits:
    """The browser door's limits (per worker process; see the module docstring).

    The defaults fit a shop whose visitors each send a batch every second or two: a key takes
    500 requests a second per worker (bursts of 1,000), one address 20 a second (bursts of
    60, enough for a household or an office behind one address).
    """

    key_rate: float = 500.0
    key_burst: int = 1_000
    ip_rate: float = 20.0
    ip_burst: int = 60
    #: Largest request body, in bytes, and most rows in one batch.
    max_body_bytes: int = 64 * 1024
    max_batch: int = 100


class Buckets:
    """Token buckets by name: ``take(name)`` spends a token, or says how long to wait."""

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a bucket needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.max_buckets = max_buckets
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, name: str) -> float:
        """Spend one token of ``name``'s bucket: 0.0 when allowed, else the seconds until a
        token is back (the request is refused and nothing is spent)."""
        now = self.clock()
        with self._lock:
            tokens, then = self._state.pop(name, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._state[name] = (tokens, now)
            if len(self._state) > self.max_buckets:
                self._state.popitem(last=False)
            return wait


class RateLimiter:
    """Both limits of the browser door: per key, then per client address."""

    def __init__(self, limits: CollectLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.keys = Buckets(rate=limits.key_rate, burst=limits.key_burst, clock=clock)
        self.addresses = Buckets(rate=limits.ip_rate, burst=limits.ip_burst, clock=clock)

    def admit(self, key_id: str, address: str | None) -> float:
        """0.0 when the request may go on, else the seconds to wait (for ``Retry-After``)."""
        wait = self.addresses.take(address) if address else 0.0
        if wait:
            return wait
        return self.keys.take(key_id)
