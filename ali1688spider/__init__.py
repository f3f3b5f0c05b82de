"""ali1688spider: a Scrapy framework for the 1688.com Open Platform API."""

__version__ = "0.1.0"
