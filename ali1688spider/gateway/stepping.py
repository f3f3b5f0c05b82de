"""Work on the event loop in short steps, so that the pacer's grants come on time.

Scrapy runs a response's items through the pipelines and feeds in one turn of the event loop:
a listing page of 50 products is about 10 ms of work, during which no timer fires, and a
database batch that commits wakes its hundreds of waiting items in one turn too. The pacer's
grants are timers, and an answer tends to arrive just before the next grant is due (a round
trip is often close to a whole number of intervals), so late grants cost the rate a few
percent. Here that work goes on in steps of about ``STEP`` seconds, the loop running its due
timers between them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from scrapy.http import Response

_T = TypeVar("_T")

#: The event loop's longest turn spent on one step (seconds): under the pacer's grant slack,
#: so a grant that waits for a step is still booked on time.
STEP = 0.001


class StepSize:
    """How many units of work fit in one step, from what the last step cost. The cost is
    measured from one step to the next, which includes the work the step's units caused
    in the turn of the loop in between (their pipelines, their feed)."""

    def __init__(self) -> None:
        self.size = 1
        self._since = time.perf_counter()

    def measure(self, done: int) -> None:
        now = time.perf_counter()
        self.size = max(1, int(STEP * done / max(now - self._since, 1e-9)))
        self._since = now


class SteppedOutputMiddleware:
    """Hands a callback's output on a step at a time, yielding to the event loop between steps."""

    async def process_spider_output(self, response: Response, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        step, count = StepSize(), 0
        async for output in result:
            yield output
            count += 1
            if count >= step.size:
                # The step's items go through the pipelines while this waits for its turn.
                await asyncio.sleep(0)
                step.measure(count)
                count = 0


def release_in_steps(waiters: Iterable[asyncio.Future[_T]], result: _T) -> None:
    """Set *result* on *waiters* a step at a time, each step in a turn of the loop of its own."""
    loop = asyncio.get_running_loop()
    pending, step = deque(waiters), StepSize()

    def release(done: int) -> None:
        if done:
            step.measure(done)
        count = 0
        while pending and count < step.size:
            waiter = pending.popleft()
            if not waiter.done():
                waiter.set_result(result)
            count += 1
        if pending:
            loop.call_soon(release, count)

    release(0)
