"""The signing download handler: every attempt of an API call is admitted, signed and sent here.

Signing below the downloader middlewares gives each retry a fresh timestamp, the current
access token and a new signature, and keeps every secret out of the scheduler queue, JOBDIR
and Redis. When an attempt may go is ``gateway.pacing.Admission``'s decision. Requests without
``ali1688_api`` meta go straight to Scrapy's HTTP handler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.utils.misc import build_from_crawler

from ali1688spider.api.catalogue import get_api
from ali1688spider.api.wire import signed_call
from ali1688spider.gateway.request import (
    API_META_KEY,
    PARAMS_META_KEY,
    TOKEN_GENERATION_META_KEY,
)
from ali1688spider.gateway.session import GatewaySession

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


class SigningDownloadHandler(BaseDownloadHandler):
    """Adds ``access_token``, timestamp and signature to API calls, at the configured rate."""

    lazy = False

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self._http = build_from_crawler(HTTP11DownloadHandler, crawler)
        self._session = GatewaySession.of(crawler)
        self._stats = crawler.stats

    async def download_request(self, request: Request) -> Response:
        api_name = request.meta.get(API_META_KEY)
        if api_name is None:
            return await self._http.download_request(request)
        session = self._session
        credentials = await session.admission.admit(request)
        token = session.tokens.current(credentials.app_key)
        request.meta[TOKEN_GENERATION_META_KEY] = token.generation
        endpoint = session.endpoint
        assert endpoint.url is not None
        call = signed_call(
            endpoint.protocol,
            endpoint.url,
            get_api(api_name),
            request.meta[PARAMS_META_KEY],
            app_key=credentials.app_key,
            app_secret=credentials.app_secret,
            access_token=token.access_token,
            top_sign_method=endpoint.top_sign_method,
        )
        self._stats.inc_value("ali1688/calls")
        self._stats.inc_value(f"ali1688/calls/{api_name}")
        sent = request.replace(url=call.url, body=call.body)
        response = await self._http.download_request(sent)
        # Callbacks, logs and feeds see the unsigned request, never the signed one.
        return response.replace(url=request.url, request=request)

    async def close(self) -> None:
        await self._http.close()
        await self._session.admission.close()
