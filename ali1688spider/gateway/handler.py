"""The signing download handler: every attempt of an API call is admitted, signed and sent here.

Signing below the downloader middlewares gives each retry a fresh timestamp, the current
access token and a new signature, and keeps every secret out of the scheduler queue, JOBDIR
and Redis. When an attempt may go is ``gateway.pacing.Admission``'s decision. Requests without
``ali1688_api`` meta go to the handler the project had for their scheme before the add-on took
its place (``ALI1688_FALLBACK_HTTP_HANDLER``/``…_HTTPS_HANDLER``; Scrapy's HTTP/1.1 handler
by default), built when the first such request comes.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler, load_object

from twisted.internet.defer import Deferred

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
        self._crawler = crawler
        self._http = build_from_crawler(HTTP11DownloadHandler, crawler)
        self._session = GatewaySession.of(crawler)
        self._stats = crawler.stats
        self._fallbacks: dict[str, BaseDownloadHandler] = {}

    def _fallback(self, scheme: str) -> BaseDownloadHandler:
        """The project's own handler of *scheme*, for requests that are not API calls."""
        handler = self._fallbacks.get(scheme)
        if handler is None:
            path = self._crawler.settings.get(f"ALI1688_FALLBACK_{scheme.upper()}_HANDLER")
            cls = load_object(path) if path else HTTP11DownloadHandler
            handler = self._http if cls is HTTP11DownloadHandler else build_from_crawler(cls, self._crawler)
            self._fallbacks[scheme] = handler
        return handler

    async def download_request(self, request: Request) -> Response:
        api_name = request.meta.get(API_META_KEY)
        if api_name is None:
            handler = self._fallback(urlparse_cached(request).scheme)
            if inspect.iscoroutinefunction(handler.download_request):
                return await handler.download_request(request)
            # A handler of the older, Deferred-based kind, as Scrapy still accepts them.
            return await maybe_deferred_to_future(handler.download_request(request, self._crawler.spider))
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
        for handler in {id(h): h for h in (self._http, *self._fallbacks.values())}.values():
            closing = handler.close() if hasattr(handler, "close") else None
            if closing is not None:
                await (closing if inspect.isawaitable(closing) and not isinstance(closing, Deferred)
                       else maybe_deferred_to_future(closing))
        await self._session.admission.close()
