"""Work on the event loop in short steps, so that the pacer's grants come on time.

Scrapy runs a response's items through the pipelines and feeds in one turn of the event loop:
a listing page of 50 products is about 10 ms of work, during which no timer fires, and a
database batch that commits wakes its hundreds of waiting items in one turn too. The pacer's
grants are timers, and an answer tends to arrive just before the next grant is due (a round
trip is often close to a whole number of intervals), so late grants cost the rate a few
percent. While a call waits for its grant (the crawl is paced, not CPU-bound), that work goes
on in steps of about ``STEP`` seconds, the loop running its due timers between them; otherwise
in one go, as Scrapy does (each step costs a turn of the loop).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING, Any, TypeVar

from ali1688spider.gateway.session import waiting_for_grant

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from typing_extensions import Self

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
    """Hands a callback's output on a step at a time, yielding to the event loop between
    steps, while the crawl is *paced*."""

    def __init__(self, paced: Callable[[], bool]):
        self.paced = paced

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(lambda: waiting_for_grant(crawler))

    async def process_spider_output(self, response: Response, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        step, count = StepSize(), 0
        async for output in result:
            yield output
            count += 1
            if count >= step.size and self.paced():
                # The step's items go through the pipelines while this waits for its turn.
                await asyncio.sleep(0)
                step.measure(count)
                count = 0


def release_in_steps(waiters: Iterable[asyncio.Future[_T]], result: _T, *, paced: Callable[[], bool]) -> None:
    """Set *result* on *waiters*: while the crawl is *paced*, a step at a time, each step in
    a turn of the loop of its own."""
    loop = asyncio.get_running_loop()
    pending, step = deque(waiters), StepSize()

    def release(done: int) -> None:
        if done:
            step.measure(done)
        count = 0
        while pending and (count < step.size or not paced()):
            waiter = pending.popleft()
            if not waiter.done():
                waiter.set_result(result)
            count += 1
        if pending:
            loop.call_soon(release, count)

    release(0)
