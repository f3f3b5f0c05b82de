"""China time (UTC+8, no daylight saving): the clock of every 1688 date, day and quota."""

from __future__ import annotations

from datetime import timedelta, timezone

CHINA_TIME = timezone(timedelta(hours=8))
CHINA_UTC_OFFSET = 8 * 3600
DAY_SECONDS = 86400


def china_day(timestamp: float) -> int:
    """The number of the China calendar day of *timestamp* (days since 1970-01-01 UTC+8)."""
    return int((timestamp + CHINA_UTC_OFFSET) // DAY_SECONDS)
