"""The 1688 Open Platform protocol in pure Python (no Scrapy here).

``signing`` (AOP and TOP signatures), ``catalogue`` (which API lives where), ``errors`` (what an
answer means), ``normalize`` (answers -> Product/Category dicts), ``urls`` (offer and shop URLs),
``oauth`` (authorization and token exchange), ``wire`` (one signed call).
"""
