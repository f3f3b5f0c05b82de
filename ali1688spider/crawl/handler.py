"""The signing download handler: every attempt of an API call is paced, signed and sent here.

Signing below the downloader middlewares gives each retry a fresh timestamp, the current
access token and a new signature, and keeps every secret out of the scheduler queue, JOBDIR
and Redis. Requests without ``ali1688_api`` meta go straight to Scrapy's HTTP handler.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.utils.misc import build_from_crawler

from ali1688spider.api.catalogue import get_api
from ali1688spider.api.wire import WireCall, aop_call, top_call
from ali1688spider.crawl.quota import QuotaStop
from ali1688spider.crawl.request import API_META_KEY, PARAMS_META_KEY
from ali1688spider.crawl.runtime import runtime_for

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from ali1688spider.crawl.runtime import Runtime

#: Set by the middleware on a retry: do not send this attempt before this wall-clock time.
NOT_BEFORE_META_KEY = "ali1688_not_before"
#: Set here for the middleware: which app key and token generation this attempt used.
APP_KEY_META_KEY = "ali1688_app_key"
TOKEN_GENERATION_META_KEY = "ali1688_token_generation"


class SigningDownloadHandler(BaseDownloadHandler):
    """Adds ``access_token``, timestamp and signature to API calls, at the configured rate."""

    lazy = False

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self._http = build_from_crawler(HTTP11DownloadHandler, crawler)
        self._runtime: Runtime = runtime_for(crawler)
        self._stats = crawler.stats
        self._quota_stop = QuotaStop(crawler)

    async def download_request(self, request: Request) -> Response:
        api_name = request.meta.get(API_META_KEY)
        if api_name is None:
            return await self._http.download_request(request)
        not_before = request.meta.get(NOT_BEFORE_META_KEY)
        if not_before and not_before > time.time():
            await asyncio.sleep(not_before - time.time())
        credentials = await self._runtime.take_call()
        if credentials is None:
            raise self._quota_stop(request, self._runtime.quota.per_day)
        await self._runtime.limiter.acquire(credentials.app_key)
        token = self._runtime.tokens.current(credentials.app_key)
        request.meta[APP_KEY_META_KEY] = credentials.app_key
        request.meta[TOKEN_GENERATION_META_KEY] = token.generation
        call = self._wire_call(api_name, request.meta[PARAMS_META_KEY], credentials, token.access_token)
        self._stats.inc_value("ali1688/calls")
        self._stats.inc_value(f"ali1688/calls/{api_name}")
        sent = request.replace(url=call.url, body=call.body)
        response = await self._http.download_request(sent)
        # Callbacks, logs and feeds see the unsigned request, never the signed one.
        return response.replace(url=request.url, request=request)

    def _wire_call(self, api_name: str, params: dict[str, str], credentials, access_token) -> WireCall:
        spec = get_api(api_name)
        runtime = self._runtime
        if runtime.protocol == "top":
            return top_call(
                runtime.gateway_url,
                spec,
                params,
                app_key=credentials.app_key,
                app_secret=credentials.app_secret,
                session=access_token,
                sign_method=runtime.top_sign_method,
            )
        return aop_call(
            runtime.gateway_url,
            spec,
            params,
            app_key=credentials.app_key,
            app_secret=credentials.app_secret,
            access_token=access_token,
        )

    async def close(self) -> None:
        await self._http.close()
        await self._runtime.close_connections()
