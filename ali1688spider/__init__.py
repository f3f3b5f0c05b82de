"""ali1688spider: a Scrapy framework for the 1688.com Open Platform API.

The public API (see the docs' "Spider API" page): ``Addon``, the one line a Scrapy project adds
(``ADDONS = {"ali1688spider.Addon": 500}``); ``Ali1688Spider``, the base of a spider of one's
own; the shipped spiders to build on: ``ShopSpider`` (a whole shop past the paging cap, with its
completeness report), ``ProductDetails`` and ``SearchResults``; the items
``Product``, ``Category``, ``CrawlReport`` and ``ProductChange``; ``Argument``, the declaration
of a spider argument, and ``SpiderArgumentError``, how a spider refuses its arguments. Everything else may change between releases.

Names are imported on first use, so that ``import ali1688spider`` (the sandbox, the protocol
code) does not load Scrapy.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.2.0"

_PUBLIC = {
    "Addon": "ali1688spider.addon",
    "Ali1688Spider": "ali1688spider.spiders.base",
    "Argument": "ali1688spider.spiders.arguments",
    "SpiderArgumentError": "ali1688spider.spiders.arguments",
    "ShopSpider": "ali1688spider.spiders.shop.spider",
    "ProductDetails": "ali1688spider.spiders.product",
    "SearchResults": "ali1688spider.spiders.search",
    "Product": "ali1688spider.items",
    "Category": "ali1688spider.items",
    "CrawlReport": "ali1688spider.items",
    "ProductChange": "ali1688spider.items",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'ali1688spider' has no attribute {name!r}")
    return getattr(import_module(_PUBLIC[name]), name)
