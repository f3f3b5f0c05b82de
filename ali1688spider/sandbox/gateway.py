"""The gateway's protocol checks and API dispatch, for AOP ``param2`` and TOP ``router/rest``.

Checks run in this order (CONTRACT.md): app key, API, signature, ACL, token, required
parameters, daily quota, QPS, then the API. Every rejection is counted under its error code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ali1688spider.sandbox import errors
from ali1688spider.sandbox.apis import APIS, CallContext, find_api
from ali1688spider.sandbox.errors import BusinessError, GatewayError
from ali1688spider.sandbox.messages import json_reply
from ali1688spider.sandbox.ratelimit import DailyQuota, QpsLimiter
from ali1688spider.sandbox.signature import TOP_SIGN_METHODS, aop_valid, top_valid
from ali1688spider.sandbox.stats import Stats
from ali1688spider.sandbox.timefmt import parse_top_timestamp

if TYPE_CHECKING:
    from ali1688spider.sandbox.apis import ApiSpec
    from ali1688spider.sandbox.catalog import Catalog
    from ali1688spider.sandbox.messages import Reply
    from ali1688spider.sandbox.options import SandboxOptions
    from ali1688spider.sandbox.tokens import Grant, TokenStore

TOP_TIMESTAMP_SKEW = 600.0     # seconds (reference §3.1)



@dataclass
class Call:
    """One API call as received: which protocol, app, API, and the raw parameter pairs."""

    protocol: str                   # "aop" | "top"
    app_key: str
    api: str                        # API name as sent (path segment or TOP ``method``)
    pairs: list[tuple[str, str]]
    namespace: str = ""
    version: str = ""

    @property
    def url_path(self) -> str:
        return f"param2/{self.version}/{self.namespace}/{self.api}/{self.app_key}"

    @property
    def params(self) -> dict[str, str]:
        return dict(self.pairs)


class Gateway:
    def __init__(self, options: SandboxOptions, catalog: Catalog, tokens: TokenStore):
        self.catalog = catalog
        self.tokens = tokens
        self.apps = {app.app_key: app for app in options.credentials}
        self.denied = frozenset(options.deny_api)
        self.page_cap = options.page_cap
        self.page_size_cap = options.page_size_cap
        self.qps = QpsLimiter(options.qps)
        self.quota = DailyQuota(options.daily_quota)
        self.stats = Stats()
        self._requests = 0

    def request_id(self) -> str:
        self._requests += 1
        return f"sandbox-{self._requests:010d}"

    def arrived(self, call: Call) -> None:
        """Count a call the moment it arrives (before faults and checks)."""
        self.stats.call(call.api)
        self.stats.peak.record(call.app_key, time.monotonic())

    # -- answers -----------------------------------------------------------------------------

    def execute(self, call: Call) -> Reply:
        try:
            body = self._run(call)
        except GatewayError as error:
            return self.reject(call, error)
        except BusinessError as error:
            self.stats.error(error.stats_key)
            if call.protocol == "top":
                return json_reply(errors.top_error(error.top_code(), self.request_id()))
            return json_reply(error.body)
        if call.protocol == "top":
            key = call.api.replace(".", "_") + "_response"
            return json_reply({key: {**body, "request_id": self.request_id()}})
        return json_reply(body)

    def reject(self, call: Call, error: GatewayError) -> Reply:
        self.stats.error(error.code)
        if call.protocol == "top":
            return json_reply(error.top_body(self.request_id()))
        return json_reply(error.aop_body(self.request_id()), error.status)

    def _run(self, call: Call) -> dict[str, Any]:
        app = self.apps.get(call.app_key)
        if app is None:
            raise errors.app_key_not_found()
        spec = find_api(call.namespace, call.api, call.version) if call.protocol == "aop" \
            else APIS.get(call.api)
        if spec is None:
            raise errors.api_unsupported(f"{call.namespace}:{call.api}-{call.version}"
                                         if call.protocol == "aop" else call.api)
        params = call.params
        if call.protocol == "aop":
            if not aop_valid(call.url_path, call.pairs, app.app_secret):
                raise errors.signature_invalid()
            token = params.get("access_token")
        else:
            self._check_top(call, params, app.app_secret)
            token = params.get("session")
        if spec.name in self.denied or spec.doc_id in self.denied:
            raise errors.acl_decline()
        grant = self._grant(spec, token, call.app_key)
        for name in spec.required:
            if params.get(name) in (None, ""):
                raise errors.param_missing(name)
        now = time.time()
        seconds_left = self.quota.seconds_left(call.app_key, now)
        if seconds_left is not None:
            raise errors.quota_exhausted(seconds_left)
        if not self.qps.allow(call.app_key, time.monotonic()):
            raise errors.qps_limited()
        self.quota.consume(call.app_key, now)
        owner = self.catalog.shops[grant.owner] if grant is not None else None
        context = CallContext(self.catalog, self.page_cap, self.page_size_cap, owner)
        return spec.handler(context, params)

    def _grant(self, spec: ApiSpec, token: str | None, app_key: str) -> Grant | None:
        if not spec.needs_token:
            return None
        grant = self.tokens.check(token, app_key, time.time())
        if grant is None:
            raise errors.token_required()
        return grant

    @staticmethod
    def _check_top(call: Call, params: dict[str, str], secret: str) -> None:
        sign_method = params.get("sign_method") or "md5"
        if sign_method not in TOP_SIGN_METHODS or not top_valid(call.pairs, secret, sign_method):
            raise errors.signature_invalid()
        stamp = params.get("timestamp")
        if not stamp:
            raise errors.param_missing("timestamp")
        try:
            skew = abs(time.time() - parse_top_timestamp(stamp))
        except ValueError:
            raise errors.param_invalid("timestamp", "use yyyy-MM-dd HH:mm:ss (GMT+8)") from None
        if skew > TOP_TIMESTAMP_SKEW:
            raise errors.param_invalid("timestamp", "more than 10 minutes from the server time")
        if (params.get("format") or "xml") != "json":
            raise errors.param_invalid("format", "the sandbox answers format=json only")


def aop_call(segments: list[str], pairs: list[tuple[str, str]]) -> Call | None:
    """``param2/{version}/{namespace}/{name}/{appKey}`` -> Call (None for other layouts)."""
    if len(segments) != 5 or segments[0] != "param2":
        return None
    _, version, namespace, name, app_key = segments
    return Call("aop", app_key, name, pairs, namespace, version)


def top_call(pairs: list[tuple[str, str]]) -> Call:
    params = dict(pairs)
    return Call("top", params.get("app_key", ""), params.get("method", ""), pairs)
