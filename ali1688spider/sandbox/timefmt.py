"""China time (+08:00) and the date formats of the 1688 answers (reference §2.7)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8))


def fenxiao_date(epoch: float) -> str:
    """``yyyy-MM-dd HH:mm:ss`` (cross-border search/detail APIs)."""
    return datetime.fromtimestamp(epoch, CHINA).strftime("%Y-%m-%d %H:%M:%S")


def classic_date(epoch: float) -> str:
    """``yyyyMMddHHmmssSSS+0800`` (classic product model, token timeouts)."""
    moment = datetime.fromtimestamp(epoch, CHINA)
    return moment.strftime("%Y%m%d%H%M%S") + f"{moment.microsecond // 1000:03d}+0800"


def parse_day(text: str) -> datetime:
    """Start of the day (China time) of ``yyyy-MM-dd[ HH:mm:ss]``; ValueError otherwise."""
    text = text.strip()
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            moment = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return moment.replace(hour=0, minute=0, second=0, tzinfo=CHINA)
    raise ValueError(f"not a yyyy-MM-dd HH:mm:ss date: {text!r}")


def parse_top_timestamp(text: str) -> float:
    """TOP ``timestamp``: ``yyyy-MM-dd HH:mm:ss`` in China time, or epoch milliseconds."""
    text = text.strip()
    if text.isdigit():
        return int(text) / 1000.0
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA).timestamp()
