"""Per-app-key call limits of the gateway: QPS (sliding window), peak meter, daily quota."""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta

from ali1688spider.sandbox.timefmt import CHINA


class SlidingWindow:
    """Arrival times within the last *width* seconds (half-open: (now - width, now])."""

    def __init__(self, width: float = 1.0):
        self.width = width
        self.times: deque[float] = deque()

    def count(self, now: float) -> int:
        times, edge = self.times, now - self.width
        while times and times[0] <= edge:
            times.popleft()
        return len(times)

    def add(self, now: float) -> int:
        """Record an arrival; the number of arrivals in the window including it."""
        count = self.count(now) + 1
        self.times.append(now)
        return count


class QpsLimiter:
    """At most *qps* accepted calls per app key in any one-second window (0 = no limit).

    Only accepted calls fill the window, so a client that overruns still gets *qps* calls/s
    through. Below 1 call/s the window widens to 1/qps seconds with one call in it.
    """

    def __init__(self, qps: float):
        self.enabled = qps > 0
        self.limit = max(1, math.floor(qps)) if qps >= 1 else 1
        self.width = 1.0 if qps >= 1 or qps <= 0 else 1.0 / qps
        self._windows: dict[str, SlidingWindow] = {}

    def allow(self, app_key: str, now: float) -> bool:
        if not self.enabled:
            return True
        window = self._windows.get(app_key)
        if window is None:
            window = self._windows[app_key] = SlidingWindow(self.width)
        if window.count(now) >= self.limit:
            return False
        window.add(now)
        return True


class PeakMeter:
    """The most calls that arrived within any one second, per app key (every arrival counts)."""

    def __init__(self) -> None:
        self._windows: dict[str, SlidingWindow] = {}
        self.peaks: dict[str, int] = {}

    def record(self, app_key: str, now: float) -> None:
        window = self._windows.get(app_key)
        if window is None:
            window = self._windows[app_key] = SlidingWindow(1.0)
        count = window.add(now)
        if count > self.peaks.get(app_key, 0):
            self.peaks[app_key] = count

    def reset(self) -> None:
        self._windows.clear()
        self.peaks.clear()


class DailyQuota:
    """Served calls per app key per calendar day in China time (0 = no quota)."""

    def __init__(self, per_day: int):
        self.per_day = per_day
        self._day: str | None = None
        self.used: dict[str, int] = {}

    def _roll(self, now: float) -> datetime:
        moment = datetime.fromtimestamp(now, CHINA)
        day = moment.strftime("%Y-%m-%d")
        if day != self._day:
            self._day, self.used = day, {}
        return moment

    def seconds_left(self, app_key: str, now: float) -> int | None:
        """None while *app_key* has calls left today, else seconds until midnight."""
        moment = self._roll(now)
        if not self.per_day or self.used.get(app_key, 0) < self.per_day:
            return None
        midnight = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return max(1, int((midnight - moment).total_seconds()))

    def consume(self, app_key: str, now: float) -> None:
        self._roll(now)
        self.used[app_key] = self.used.get(app_key, 0) + 1
