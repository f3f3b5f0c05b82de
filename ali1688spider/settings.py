"""Scrapy settings of the ali1688spider project.

The ``ALI1688_*`` settings are not set here: each is read from the Scrapy settings or, when
unset, from the environment variable of the same name (see ``ali1688spider.config``).
"""

BOT_NAME = "ali1688spider"
SPIDER_MODULES = ["ali1688spider.spiders"]
NEWSPIDER_MODULE = "ali1688spider.spiders"
COMMANDS_MODULE = "ali1688spider.commands"

ROBOTSTXT_OBEY = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
USER_AGENT = "ali1688spider (+Ocean-SDK-Client compatible)"

# Pacing is the pacer's job (ALI1688_QPS, gateway/pacing.py); the downloader only needs enough
# slots to keep calls in flight while earlier ones wait for their answers (the pacer raises
# this floor for slow gateways).
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 32
DOWNLOAD_DELAY = 0
AUTOTHROTTLE_ENABLED = False
DOWNLOAD_TIMEOUT = 60
# API answers are a few MB at most: a larger one (or a gzip bomb, whose decompressed size
# HttpCompressionMiddleware checks against the same limits) is refused, not held in memory.
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
# Scrapy starts CONCURRENT_ITEMS tasks for every callback output; ours yield one item per
# detail answer and at most a page (50) per listing answer, so 100 only costs CPU.
CONCURRENT_ITEMS = 32

DOWNLOAD_HANDLERS = {
    "http": "ali1688spider.gateway.handler.SigningDownloadHandler",
    "https": "ali1688spider.gateway.handler.SigningDownloadHandler",
}
DOWNLOADER_MIDDLEWARES = {
    # After HttpCompression (590) has decoded the body, before Scrapy's RetryMiddleware (550).
    "ali1688spider.gateway.middleware.ApiErrorMiddleware": 560,
    # HTTPCACHE_ENABLED: the cache sits between the two, where answers are decoded and every
    # one of them, errors included, passes through it before the error middleware retries.
    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware": None,
    "ali1688spider.gateway.cache.ApiCacheMiddleware": 565,
}
# Only successful answers of API calls are cached, each kind for ALI1688_CACHE_EXPIRY.
HTTPCACHE_POLICY = "ali1688spider.gateway.cache.ApiCachePolicy"
# A full disk under JOBDIR closes the crawl (ali1688_jobdir_failed) instead of stalling it; the
# distributed add-on replaces it with the Redis scheduler.
SCHEDULER = "ali1688spider.jobdir.GuardedScheduler"
EXTENSIONS = {
    # A failed feed write closes the crawl (ali1688_feed_failed) instead of a log line per item.
    "scrapy.extensions.feedexport.FeedExporter": None,
    "ali1688spider.extensions.feeds.CheckedFeedExporter": 0,
    "ali1688spider.reporting.progress.Progress": 120,
    # Off (NotConfigured) unless ALI1688_ALERT_RULES or ALI1688_ALERT_WEBHOOK is set, or the
    # spider declares per-target alert_rules.
    "ali1688spider.extensions.alerts.Alerts": 800,
    "ali1688spider.extensions.statsfile.StatsFile": 900,
    # Off (NotConfigured) without JOBDIR. After SpiderState (0): its marker goes on a clean
    # close only once spider.state has been written.
    "ali1688spider.extensions.crashguard.CrashGuard": 950,
}
ITEM_PIPELINES = {
    "ali1688spider.pipelines.validate.ValidationPipeline": 100,
    "ali1688spider.pipelines.dedupe.DedupePipeline": 200,
    "ali1688spider.reporting.pipeline.CompletenessPipeline": 300,
    # Off (NotConfigured) unless ALI1688_DB_URL is set.
    "ali1688spider.pipelines.sql.SqlPipeline": 400,
}
# Distributed mode (scrapy-redis scheduler, Redis seeds) when ALI1688_REDIS_URL is set.
ADDONS = {
    "ali1688spider.distributed.addon.DistributedAddon": 0,
}

FEED_EXPORT_ENCODING = "utf-8"
# CSV cells hold nested fields (skus, price_tiers, images) as JSON text.
FEED_EXPORTERS = {"csv": "ali1688spider.exporters.JsonCellCsvItemExporter"}
LOG_LEVEL = "INFO"
