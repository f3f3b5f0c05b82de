"""The leased Redis scheduler keeps scrapy-redis's contract (0.9.1's documented behaviour).

Against a real redis-server, the scheduler used on its own as scrapy-redis's tests use theirs:
``DUPEFILTER_CLASS`` is the dupefilter asked (``request_seen``) for every request not marked
``dont_filter``; ``SCHEDULER_QUEUE_CLASS`` sets the order requests come out in (priority, FIFO,
LIFO), leases included; a queue or dupefilter class it cannot share is refused at start with
one line; ``close()`` works outside a running engine.
"""

from __future__ import annotations

import pytest
from scrapy import Request, Spider
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler
from scrapy_redis.dupefilter import RFPDupeFilter

from ali1688spider.config import ConfigError
from ali1688spider.distributed.addon import check_redis
from ali1688spider.distributed.scheduler import RedisScheduler


class CountingDupeFilter(RFPDupeFilter):
    """scrapy-redis's dupefilter that counts the requests it is asked about."""

    asked: list[str] = []

    def request_seen(self, request):
        CountingDupeFilter.asked.append(request.url)
        return super().request_seen(request)


class NeverFilter(RFPDupeFilter):
    """A dupefilter that lets every request through (a user's choice: no deduplication)."""

    def request_seen(self, request):
        return False


@pytest.fixture
def scheduler(redis_url):
    """``scheduler(**settings)``: a RedisScheduler opened for a spider, outside any engine;
    closed after the test."""
    made = []

    def make(**settings) -> RedisScheduler:
        crawler = get_crawler(Spider, {
            "REDIS_URL": redis_url, "SCHEDULER_PERSIST": True,
            "SCHEDULER_QUEUE_KEY": "%(spider)s:requests", "SCHEDULER_DUPEFILTER_KEY": "%(spider)s:dupefilter",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter", **settings,
        })
        crawler.spider = crawler._create_spider("contract")
        made.append(RedisScheduler.from_crawler(crawler))
        made[-1].open(crawler.spider)
        return made[-1]

    yield make
    for opened in made:
        if opened.tending.running:
            opened.close("finished")


def urls(scheduler: RedisScheduler) -> list[str]:
    taken = []
    while (request := scheduler.next_request()) is not None:
        taken.append(request.url)
    return taken


def test_the_dupefilter_class_is_asked_for_each_request(scheduler):
    CountingDupeFilter.asked = []
    queue = scheduler(DUPEFILTER_CLASS=f"{__name__}.CountingDupeFilter")
    assert queue.enqueue_request(Request("http://example.test/a"))
    assert not queue.enqueue_request(Request("http://example.test/a"))
    assert queue.enqueue_request(Request("http://example.test/a", dont_filter=True))
    assert CountingDupeFilter.asked == ["http://example.test/a"] * 2
    assert urls(queue) == ["http://example.test/a"] * 2


@pytest.mark.parametrize("queue_class", ["scrapy_redis.queue.FifoQueue", "scrapy_redis.queue.LifoQueue"])
def test_a_dupefilter_that_never_filters_keeps_duplicates(scheduler, queue_class):
    # In a list-based queue; scrapy-redis's PriorityQueue, a sorted set, keeps equal requests once.
    queue = scheduler(DUPEFILTER_CLASS=f"{__name__}.NeverFilter", SCHEDULER_QUEUE_CLASS=queue_class)
    for _ in range(3):
        assert queue.enqueue_request(Request("http://example.test/a"))
    assert urls(queue) == ["http://example.test/a"] * 3


@pytest.mark.parametrize(
    ("queue_class", "expected"),
    [
        ("scrapy_redis.queue.FifoQueue", ["a", "b", "c"]),
        ("scrapy_redis.queue.LifoQueue", ["c", "b", "a"]),
        ("scrapy_redis.queue.PriorityQueue", ["b", "a", "c"]),
    ],
)
def test_the_queue_class_sets_the_order_leases_included(scheduler, queue_class, expected):
    queue = scheduler(SCHEDULER_QUEUE_CLASS=queue_class)
    for name, priority in (("a", 0), ("b", 5), ("c", -5)):
        queue.enqueue_request(Request(f"http://example.test/{name}", priority=priority))
    first = queue.next_request()
    assert first.url.endswith(expected[0])
    # Closed before the request was processed: its lease goes back, to its own place.
    queue.close("shutdown")
    again = scheduler(SCHEDULER_QUEUE_CLASS=queue_class)
    assert [url.rsplit("/", 1)[1] for url in urls(again)] == expected


def test_close_outside_a_running_engine_gives_back_what_it_took(scheduler):
    queue = scheduler()
    queue.enqueue_request(Request("http://example.test/a"))
    assert queue.next_request() is not None
    queue.close("finished")
    assert len(queue) == 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"SCHEDULER_QUEUE_CLASS": "myproject.queues.BloomQueue"},
         "SCHEDULER_QUEUE_CLASS='myproject.queues.BloomQueue': distributed mode keeps its queue in Redis with leases"),
        ({"DUPEFILTER_CLASS": "scrapy.dupefilters.RFPDupeFilter"},
         "DUPEFILTER_CLASS='scrapy.dupefilters.RFPDupeFilter': distributed mode shares one dupefilter in Redis"),
    ],
)
def test_a_class_it_cannot_share_is_refused_in_one_line(redis_url, settings, message):
    project = Settings({"ALI1688_REDIS_URL": redis_url})
    project.setdict(settings, priority="project")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_redis(project)


def test_a_dupefilter_key_of_another_kind_closes_with_a_line_that_says_so(sandbox, crawl, redis_url, redis_server):
    # A Bloom filter (or anything but a set) left in the key scrapy-redis's dupefilter uses.
    client = redis_server.client()
    client.set("ali1688:product:dupefilter", b"\x00bloom-bits")
    client.close()
    ids = sandbox.ids(sandbox.shop(60))[:2]
    result = crawl("product", args={"ids": ",".join(ids)},
                   env=sandbox.env(ALI1688_REDIS_URL=redis_url, ALI1688_REDIS_IDLE_TIMEOUT="2"))
    assert result.returncode == 1
    assert result.stats["finish_reason"] == "ali1688_redis_key_conflict"
    assert "unreachable" not in result.log and "Traceback" not in result.log
    (line,) = [line for line in result.log.splitlines() if "WRONGTYPE" in line]
    assert "DUPEFILTER_CLASS" in line and "ali1688:product:dupefilter" in line
    assert result.stats.get("ali1688/calls", 0) == 0


def test_a_custom_queue_class_stops_the_crawl_before_any_call(sandbox, crawl, redis_url):
    result = crawl("product", args={"ids": "1"}, settings={"SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.Base"},
                   env=sandbox.env(ALI1688_REDIS_URL=redis_url))
    assert result.returncode == 2
    assert "SCHEDULER_QUEUE_CLASS='scrapy_redis.queue.Base': distributed mode keeps its queue" in result.log
    assert "Traceback" not in result.log and not result.stats_path.exists()
