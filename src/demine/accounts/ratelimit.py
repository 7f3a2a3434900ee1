"""Login rate limiting: token buckets per (username, address), per address and for the server.

Three limits, each a token bucket in process memory, all checked before a password is:

* **per (username, client address)**: ``capacity`` attempts at once, then one every
  ``refill_seconds`` (5, then one per 20 s) — online guessing of one account;
* **per client address**: 20 at once, then one every 3 s, whatever user names are tried —
  a flood of made-up names from one place;
* **for the whole server**: 50 at once, then 5 a second — a flood from many addresses. Each
  allowed attempt costs an argon2 hash (64 MiB, tens of milliseconds of both cores); this
  bounds what logins can take from everyone else.

A successful login resets its (username, address) bucket and gives back its address and
server tokens, so an office behind one NAT address is never limited by its own good logins:
only failures use up the budget. User names are normalised as the password check normalises
them (:func:`normalise_username`), so ``"\\u3000\\u3000QA"`` and ``"qa"`` share one bucket.

The buckets live in the server process: with ``demine serve --workers N`` each worker keeps
its own, so the effective limit is N times higher, and a restart forgets them. That is
enough to stop online password guessing at scale without an external store; put a reverse
proxy limit in front for more.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True)
class Limit:
    """A bucket's size and how fast it refills."""

    capacity: int
    refill_seconds: float


class _Buckets:
    """Token buckets of one limit, by key (not thread-safe: the limiter holds the lock)."""

    def __init__(self, limit: Limit, max_keys: int) -> None:
        self.limit = limit
        self.max_keys = max_keys
        self.buckets: dict[object, _Bucket] = {}

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        return min(self.limit.capacity, bucket.tokens + (now - bucket.updated) / self.limit.refill_seconds)

    def wait(self, key: object, now: float) -> float:
        """Seconds until ``key`` has a token (0.0: it has one now)."""
        bucket = self.buckets.get(key)
        tokens = self.limit.capacity if bucket is None else self._refilled(bucket, now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) * self.limit.refill_seconds

    def take(self, key: object, now: float) -> None:
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= self.max_keys:
                self._prune(now)
            bucket = self.buckets[key] = _Bucket(float(self.limit.capacity), now)
        bucket.tokens = self._refilled(bucket, now) - 1.0
        bucket.updated = now

    def give_back(self, key: object, now: float) -> None:
        bucket = self.buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(self.limit.capacity, self._refilled(bucket, now) + 1.0)
            bucket.updated = now

    def forget(self, key: object) -> None:
        self.buckets.pop(key, None)

    def _prune(self, now: float) -> None:
        # Full buckets carry no information; drop them (and, if still too many, the oldest).
        full = [k for k, b in self.buckets.items() if self._refilled(b, now) >= self.limit.capacity]
        for k in full:
            del self.buckets[k]
        if len(self.buckets) >= self.max_keys:
            for k in sorted(self.buckets, key=lambda k: self.buckets[k].updated)[: self.max_keys // 10]:
                del self.buckets[k]


GLOBAL = "*"


def normalise_username(username: str) -> str:
    """A user name as stored and looked up: NFKC, no surrounding (Unicode) spaces, lower case."""
    return unicodedata.normalize("NFKC", username).strip().lower()


class LoginRateLimiter:
    """The three login limits of the module docstring."""

    def __init__(
        self,
        capacity: int = 5,
        refill_seconds: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
        per_address: Limit = Limit(20, 3.0),
        per_server: Limit = Limit(50, 0.2),
    ) -> None:
        self.capacity = capacity
        self.refill_seconds = refill_seconds
        self.clock = clock
        self._user = _Buckets(Limit(capacity, refill_seconds), max_keys)
        self._address = _Buckets(per_address, max_keys)
        self._server = _Buckets(per_server, 1)
        self._lock = threading.Lock()

    def attempt(self, username: str, address: str) -> float:
        """Take one attempt: 0.0 when allowed, else the seconds to wait before the next one.

        A refused attempt takes nothing, so waiting as told is always enough.
        """
        now = self.clock()
        username = normalise_username(username)
        keys = ((self._user, (username, address)), (self._address, address), (self._server, GLOBAL))
        with self._lock:
            wait = max(buckets.wait(key, now) for buckets, key in keys)
            if wait > 0:
                return wait
            for buckets, key in keys:
                buckets.take(key, now)
            return 0.0

    def blocked(self, address: str) -> float:
        """Seconds before ``address`` may try again whatever the user name (0.0: it may now).

        Needs no user name, so a server can refuse a flood before reading a request's body.
        Takes nothing: :meth:`attempt` does, once the name is known.
        """
        now = self.clock()
        with self._lock:
            return max(self._address.wait(address, now), self._server.wait(GLOBAL, now))

    def reset(self, username: str, address: str) -> None:
        """After a successful login: forget the user's bucket, give back the shared tokens."""
        now = self.clock()
        with self._lock:
            self._user.forget((normalise_username(username), address))
            self._address.give_back(address, now)
            self._server.give_back(GLOBAL, now)
