"""Fault injection and added latency on API calls, from a seeded RNG so a run can be repeated.

``drop`` closes the connection without an answer, ``5xx`` answers 502/503 with an HTML page,
``qps`` answers the gateway's QoS error, ``truncate`` answers 200 with the JSON cut in half.
"""

from __future__ import annotations

import random

from ali1688spider.sandbox.messages import Reply, html_reply
from ali1688spider.sandbox.options import FAULT_NAMES, check_rate

# Checked in this order; the first that fires wins.
ORDER = ("fail_drop", "fail_5xx", "fail_qps", "fail_truncate")


class Faults:
    def __init__(self, seed: int, rates: dict[str, float], latency_ms: float = 0.0):
        self._rnd = random.Random(f"{seed}:faults")
        self.rates = {name: 0.0 for name in FAULT_NAMES}
        self.latency = 0.0          # seconds added before every API answer
        self.update({**rates, "latency_ms": latency_ms})

    def update(self, settings: dict[str, float]) -> None:
        """Set fault rates and/or ``latency_ms`` (the CLI names with underscores)."""
        for name, value in settings.items():
            if name == "latency_ms":
                if float(value) < 0:
                    raise ValueError("latency_ms must be >= 0")
                self.latency = float(value) / 1000.0
            elif name in self.rates:
                self.rates[name] = check_rate(name, float(value))
            else:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}, latency_ms")

    def settings(self) -> dict[str, float]:
        return {**self.rates, "latency_ms": self.latency * 1000.0}

    def draw(self) -> str | None:
        """The fault for the next call (``"drop"``, ``"5xx"``, ``"qps"``, ``"truncate"``) or None."""
        if not any(self.rates.values()):
            return None
        rolls = [self._rnd.random() for _ in ORDER]
        for name, roll in zip(ORDER, rolls):
            if roll < self.rates[name]:
                return name.removeprefix("fail_")
        return None

    def server_error(self) -> Reply:
        if self._rnd.random() < 0.5:
            return html_reply(502, "502 Bad Gateway", "The upstream server did not answer.")
        return html_reply(503, "503 Service Temporarily Unavailable", "Please try again later.")


def truncate(reply: Reply) -> Reply:
    """The same answer with its body cut in half (Content-Length is the cut length)."""
    return Reply(reply.status, reply.body[: len(reply.body) // 2], reply.content_type, reply.headers)
