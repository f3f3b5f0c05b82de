"""Per-app-key call pacing inside one process.

The gateway counts calls per app key in a sliding one-second window, so a bucket that allows
bursts would overshoot it: calls are spaced evenly instead, each at least ``1/qps`` (plus a
small headroom for network jitter) after the previous *actual* release.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

#: Calls reach the gateway a few milliseconds apart from when they leave; pacing 2 % below the
#: limit keeps those jitters from pushing two calls into the same window slot.
JITTER_HEADROOM = 0.02


class LocalRateLimiter:
    """Spaces calls of each app key evenly at no more than ``qps`` per second."""

    def __init__(self, qps: float):
        self.qps = qps
        self._interval = (1.0 + JITTER_HEADROOM) / qps if qps > 0 else 0.0
        self._last: dict[str, float] = defaultdict(lambda: float("-inf"))
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def acquire(self, app_key: str) -> None:
        """Wait until *app_key* may make its next call."""
        if not self._interval:
            return
        async with self._locks[app_key]:
            wait = self._last[app_key] + self._interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last[app_key] = time.monotonic()

    def penalize(self, app_key: str, seconds: float) -> None:
        """Hold every caller of *app_key* back for *seconds* (the gateway said: too fast)."""
        self._last[app_key] = max(self._last[app_key], time.monotonic() + seconds - self._interval)

    async def close(self) -> None:
        """Nothing to release locally; the Redis limiter closes its connection."""
