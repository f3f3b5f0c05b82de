"""What the sandbox counts for ``/sandbox/stats``: calls per API, errors per code, faults, peaks."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ali1688spider.sandbox.ratelimit import PeakMeter


class Stats:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.peak = PeakMeter()
        self.total_calls = 0

    def call(self, api: str) -> None:
        self.calls[api] += 1
        self.total_calls += 1

    def error(self, code: str) -> None:
        self.errors[code] += 1

    def fault(self, name: str) -> None:
        self.faults[name] += 1

    def snapshot(self, quota_used: dict[str, int]) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "errors": dict(self.errors),
            "faults": dict(self.faults),
            "peak_qps": dict(self.peak.peaks),
            "quota_used": dict(quota_used),
            "total_calls": self.total_calls,
        }

    def reset(self) -> None:
        self.calls.clear()
        self.errors.clear()
        self.faults.clear()
        self.peak.reset()
        self.total_calls = 0
