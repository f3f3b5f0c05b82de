"""Two public client libraries that nobody here wrote, driven the way their own users drive them,
as witnesses of what a real client sends and how it reads the answers.

- ``open-1688`` (import name ``aop``): an AOP ``param2`` client. Its API classes subclass
  ``aop.api.base.BaseApi``, business parameters are instance attributes, and it raises
  ``aop.exceptions.ApiError`` for an HTTP error answer.
- ``py-taobao-open`` (import name ``taobao_open``): the official Python TOP SDK ported to
  Python 3. Its requests subclass ``taobao_open.api.base.RestApi`` and it raises ``TopException``
  for an ``error_response``. It signs empty values (reference vector T5b), as the official
  Python 2 SDK it was ported from does.

Both ship classes for other APIs only (orders and logistics; Taobao's), so the classes for the
APIs the sandbox answers are written here in each library's own pattern. Both are test-only
dependencies (the ``dev`` extra), pinned: neither has had a release since 2022.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import taobao_open
from aop.api.base import BaseApi
from aop.structure import AppInfo
from taobao_open.api.base import RestApi

if TYPE_CHECKING:
    from ali1688spider.api.catalogue import ApiSpec


@dataclass(frozen=True)
class Gateway:
    """Where a sandbox listens and its app's credentials."""

    base_url: str
    app_key: str
    app_secret: str

    @classmethod
    def of(cls, sandbox: Any, *, app_secret: str | None = None) -> Gateway:
        creds = sandbox.credentials
        return cls(sandbox.base_url, creds["app_key"], app_secret or creds["app_secret"])

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.base_url).port or 80

    @property
    def domain(self) -> str:
        """``host:port``: what open-1688 takes as its gateway's domain."""
        return f"{self.host}:{self.port}"


@cache
def open1688_class(spec: ApiSpec) -> type[BaseApi]:
    """An open-1688 API class for *spec*, written as the library writes its own (aop/api/*)."""

    class Api(BaseApi):
        def get_api_uri(self) -> str:
            return f"{spec.version}/{spec.namespace}/{spec.name}"

        def need_sign(self) -> bool:
            return True

        def need_auth(self) -> bool:
            return spec.needs_token

        def need_timestamp(self) -> bool:
            return True

    return Api


def open1688_call(gateway: Gateway, spec: ApiSpec, params: dict[str, str], token: str | None) -> Any:
    """The decoded answer open-1688 returns for one call (it raises its own errors).

    Every value is passed as text: the library signs ``k + v`` (a TypeError for an int) and
    silently drops any falsy attribute (an int 0, False, ""), so the caller encodes first.
    """
    api = open1688_class(spec)(AppInfo(gateway.app_key, gateway.app_secret), domain=gateway.domain)
    for name, value in params.items():
        setattr(api, name, value)
    # With need_timestamp the library calls its own _gen_timestamp with an argument it does
    # not take (a TypeError); it skips that when the caller gives the timestamp.
    system = {"_aop_timestamp": str(int(time.time() * 1000))}
    if token is not None:
        system["access_token"] = token
    return api.get_response(timeout=30, **system)


@cache
def top_sdk_class(api_name: str) -> type[RestApi]:
    """A py-taobao-open request class for *api_name*, as the SDK's own (api/rest/*)."""

    class Request(RestApi):
        def getapiname(self) -> str:
            return api_name

    return Request


def top_sdk_call(
    gateway: Gateway, request_class: type[RestApi], params: dict[str, str], session: str | None
) -> Any:
    """The decoded answer py-taobao-open returns for one call (it raises its own errors)."""
    request = request_class(domain=gateway.host, port=gateway.port)
    request.set_app_info(taobao_open.appinfo(gateway.app_key, gateway.app_secret))
    for name, value in params.items():
        setattr(request, name, value)
    return request.getResponse(authrize=session, timeout=30)
