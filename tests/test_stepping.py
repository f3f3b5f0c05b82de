"""Work handed on in steps while the crawl is paced: the pacer's timers run between a
response's items and between the items a committed database batch wakes, instead of after
all of them. A crawl that is not paced (an unlimited gateway) gets no steps, which would only
cost it turns of the loop."""

from __future__ import annotations

import asyncio
import time

import pytest
from helpers import run_async

from ali1688spider.gateway.pacing import LocalPacer
from ali1688spider.gateway.stepping import SteppedOutputMiddleware, release_in_steps

ITEMS = 60
#: What one item's work costs here (seconds): a grant timer falls due among them.
ITEM_WORK = 0.0005
TIMER_AT = 0.005


@pytest.mark.parametrize("paced", [True, False])
def test_a_timer_runs_among_a_callbacks_items_while_paced(paced):
    produced = 0

    async def callback_output():
        nonlocal produced
        for number in range(ITEMS):
            time.sleep(ITEM_WORK)  # noqa: ASYNC251 - one item's work, holding the loop as real work does
            produced += 1
            yield number

    async def crawl() -> tuple[list[int], list[int]]:
        fired_after: list[int] = []
        asyncio.get_running_loop().call_later(TIMER_AT, lambda: fired_after.append(produced))
        output = [item async for item in SteppedOutputMiddleware(lambda: paced).process_spider_output(None, callback_output())]
        return output, fired_after

    output, fired_after = run_async(crawl())
    assert output == list(range(ITEMS))
    assert fired_after and (fired_after[0] < ITEMS / 2 if paced else fired_after[0] == ITEMS)


@pytest.mark.parametrize("paced", [True, False])
def test_a_committed_batch_wakes_its_items_a_step_at_a_time_while_paced_and_every_one_of_them(paced):
    processed = 0

    async def item(waiter: asyncio.Future[str | None]) -> str | None:
        nonlocal processed
        result = await waiter
        time.sleep(ITEM_WORK)  # noqa: ASYNC251 - the item's way on to the feed, holding the loop
        processed += 1
        return result

    async def batch() -> tuple[list[str | None], list[int]]:
        loop = asyncio.get_running_loop()
        waiters = [loop.create_future() for _ in range(ITEMS)]
        tasks = [asyncio.ensure_future(item(waiter)) for waiter in waiters]
        await asyncio.sleep(0)
        fired_after: list[int] = []
        loop.call_later(TIMER_AT, lambda: fired_after.append(processed))
        release_in_steps(waiters, "committed", paced=lambda: paced)
        return list(await asyncio.gather(*tasks)), fired_after

    results, fired_after = run_async(batch())
    assert results == ["committed"] * ITEMS
    assert fired_after and (fired_after[0] < ITEMS / 2 if paced else fired_after[0] == ITEMS)


def test_a_pacer_counts_the_calls_asleep_until_their_grant():
    async def two_calls() -> tuple[int, int, int]:
        pacer = LocalPacer(10.0)
        await pacer.acquire("8688001")
        before = pacer.grant_waits.count
        second = asyncio.ensure_future(pacer.acquire("8688001"))  # due one interval later
        await asyncio.sleep(0.02)
        during = pacer.grant_waits.count
        await second
        return before, during, pacer.grant_waits.count

    assert run_async(two_calls()) == (0, 1, 0)
