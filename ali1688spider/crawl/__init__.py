"""Scrapy glue for the 1688 protocol: requests, signing handler, middleware, rate limits."""
