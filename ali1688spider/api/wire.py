"""What goes on the wire for one call: system parameters, signature, URL and form body.

Shared by the Scrapy download handler and the requests-based client, so both sign exactly
the parameters they send.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from ali1688spider.api.china_time import CHINA_TIME
from ali1688spider.api.signing import TOP_SIGN_METHODS, aop_url_path, sign_aop, sign_top

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ali1688spider.api.catalogue import ApiSpec


@dataclass(frozen=True)
class WireCall:
    """A signed call ready to POST: the body holds every token, so it is never logged."""

    url: str
    body: str

    def __repr__(self) -> str:
        return f"WireCall(url={self.url!r}, body=<{len(self.body)} chars, not shown>)"


def aop_call(
    gateway_url: str,
    spec: ApiSpec,
    params: Mapping[str, str],
    *,
    app_key: str,
    app_secret: str,
    access_token: str | None,
    timestamp_ms: int | None = None,
) -> WireCall:
    """An AOP ``param2`` call: ``_aop_timestamp``, ``access_token`` and ``_aop_signature`` added."""
    path = aop_url_path(spec.namespace, spec.name, spec.version, app_key)
    sent = dict(params)
    sent["_aop_timestamp"] = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    if spec.needs_token and access_token:
        sent["access_token"] = access_token
    sent["_aop_signature"] = sign_aop(path, sent, app_secret)
    return WireCall(url=f"{gateway_url.rstrip('/')}/{path}", body=urlencode(sent))


def top_call(
    router_url: str,
    spec: ApiSpec,
    params: Mapping[str, str],
    *,
    app_key: str,
    app_secret: str,
    session: str | None,
    sign_method: str = "hmac-sha256",
    now: datetime | None = None,
) -> WireCall:
    """A TOP ``router/rest`` call; the API is named by ``method`` (its 1688 API name)."""
    if sign_method not in TOP_SIGN_METHODS:
        raise ValueError(f"TOP sign method must be one of {', '.join(TOP_SIGN_METHODS)}")
    moment = (now or datetime.now(CHINA_TIME)).astimezone(CHINA_TIME)
    sent = dict(params)
    sent.update(
        method=spec.name,
        app_key=app_key,
        timestamp=moment.strftime("%Y-%m-%d %H:%M:%S"),
        format="json",
        v="2.0",
        sign_method=sign_method,
    )
    if spec.needs_token and session:
        sent["session"] = session
    sent["sign"] = sign_top(sent, app_secret, sign_method)
    return WireCall(url=router_url, body=urlencode(sent))


def signed_call(
    protocol: str,
    gateway_url: str,
    spec: ApiSpec,
    params: Mapping[str, str],
    *,
    app_key: str,
    app_secret: str,
    access_token: str | None,
    top_sign_method: str = "hmac-sha256",
) -> WireCall:
    """One call in *protocol* (``aop`` or ``top``), with a fresh timestamp and signature."""
    if protocol == "top":
        return top_call(
            gateway_url, spec, params, app_key=app_key, app_secret=app_secret,
            session=access_token, sign_method=top_sign_method,
        )
    return aop_call(
        gateway_url, spec, params, app_key=app_key, app_secret=app_secret, access_token=access_token
    )
