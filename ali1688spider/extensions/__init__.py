"""Scrapy extensions of ali1688spider."""
