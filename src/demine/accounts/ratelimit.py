"""Login rate limiting: a token bucket per (username, client address), in process memory.

Each key may try ``capacity`` logins at once, then one every ``refill_seconds``; a successful
login empties nothing but resets the key. The buckets live in the server process: with
``demine serve --workers N`` each worker keeps its own, so the effective limit is N times
higher, and a restart forgets them. That is enough to stop online password guessing at scale
without an external store; put a reverse proxy limit in front for more.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class LoginRateLimiter:
    """Token buckets keyed by (username, address)."""

    def __init__(
        self,
        capacity: int = 5,
        refill_seconds: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.capacity = capacity
        self.refill_seconds = refill_seconds
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        return min(self.capacity, bucket.tokens + (now - bucket.updated) / self.refill_seconds)

    def attempt(self, username: str, address: str) -> float:
        """Take one attempt: 0.0 when allowed, else the seconds to wait before the next one."""
        key = (username.lower(), address)
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._prune(now)
                bucket = self._buckets[key] = _Bucket(float(self.capacity), now)
            bucket.tokens = self._refilled(bucket, now)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) * self.refill_seconds

    def reset(self, username: str, address: str) -> None:
        """Forget a key (after a successful login)."""
        with self._lock:
            self._buckets.pop((username.lower(), address), None)

    def _prune(self, now: float) -> None:
        # Full buckets carry no information; drop them (and, if still too many, the oldest).
        full = [k for k, b in self._buckets.items() if self._refilled(b, now) >= self.capacity]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self.max_keys:
            for k in sorted(self._buckets, key=lambda k: self._buckets[k].updated)[: self.max_keys // 10]:
                del self._buckets[k]
