"""Scrapy settings of the ali1688spider project: the add-on and the project's basics.

Everything an API crawl needs is wired by the add-on (``ali1688spider.addon``), the same line
a user's own project adds. The ``ALI1688_*`` settings are not set here: each is read from the
Scrapy settings or, when unset, from the environment variable of the same name (see
``ali1688spider.config``).
"""

BOT_NAME = "ali1688spider"
SPIDER_MODULES = ["ali1688spider.spiders"]
NEWSPIDER_MODULE = "ali1688spider.spiders"
COMMANDS_MODULE = "ali1688spider.commands"

ADDONS = {"ali1688spider.Addon": 500}

ROBOTSTXT_OBEY = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy's remote-control HTTP server runs code inside a process that holds the app secret and
# tokens; like the telnet console, it stays off (and its aiohttp server costs every crawl's start).
REMOTE_CONTROL_ENABLED = False
USER_AGENT = "ali1688spider (+Ocean-SDK-Client compatible)"
LOG_LEVEL = "INFO"
