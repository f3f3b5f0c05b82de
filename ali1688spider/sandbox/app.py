"""The sandbox application: routes each HTTP request to the gateway, OAuth or ground truth.

API calls (AOP and TOP) are counted on arrival, then get the injected faults and latency,
then the gateway's checks and answer. OAuth and ``/sandbox/`` requests get neither.
"""

from __future__ import annotations

import asyncio
import time

from ali1688spider.sandbox.catalog import Catalog
from ali1688spider.sandbox.drift import Drift
from ali1688spider.sandbox.errors import qps_limited
from ali1688spider.sandbox.faults import Faults, truncate
from ali1688spider.sandbox.gateway import Call, Gateway, aop_call, top_call
from ali1688spider.sandbox.groundtruth import GroundTruth
from ali1688spider.sandbox.messages import BadRequest, Reply, Request, json_reply
from ali1688spider.sandbox.oauth import OAuth
from ali1688spider.sandbox.options import FAULT_NAMES, SandboxOptions
from ali1688spider.sandbox.tokens import TokenStore

OAUTH_SEGMENTS = ("system.oauth2", "getToken")


class SandboxApp:
    def __init__(self, options: SandboxOptions):
        self.options = options
        self.catalog = Catalog(options.seed, options.shops)
        apps = options.credentials
        self.tokens = TokenStore(apps, self.catalog.owner.index, options.token_ttl, time.time())
        self.gateway = Gateway(options, self.catalog, self.tokens)
        self.faults = Faults(options.seed, {n: getattr(options, n) for n in FAULT_NAMES},
                             options.latency_ms)
        self.oauth = OAuth({a.app_key: a for a in apps}, self.tokens, self.catalog,
                           self.gateway.stats)
        drift = Drift(self.catalog, sales_move_modified=options.sales_move_modified)
        self.truth = GroundTruth(options, self.catalog, self.gateway, self.faults, drift)

    async def handle(self, request: Request) -> Reply:
        path = request.path
        try:
            if path.startswith("/openapi/"):
                segments = path[len("/openapi/"):].split("/")
                if len(segments) == 5 and tuple(segments[2:4]) == OAUTH_SEGMENTS \
                        and segments[0] in ("http", "param2"):
                    return self.oauth.get_token(request, segments[4])
                call = aop_call(segments, request.pairs())
                if call is not None:
                    return await self.api_call(call)
            elif path == "/router/rest":
                return await self.api_call(top_call(request.pairs()))
            elif path == "/oauth/authorize":
                return self.oauth.authorize(request)
            elif path.startswith("/sandbox/"):
                return self.truth.handle(request)
        except BadRequest as exc:
            return json_reply({"error_code": "gw.BadRequest", "error_message": str(exc)}, 400)
        return json_reply({"error_code": "gw.NotFound", "error_message": f"no such path: {path}"}, 404)

    async def api_call(self, call: Call) -> Reply:
        self.gateway.arrived(call)
        fault = self.faults.draw()
        if self.faults.latency:
            await asyncio.sleep(self.faults.latency)
        if fault is not None:
            self.gateway.stats.fault(fault)
        if fault == "drop":
            return Reply(0, drop=True)
        if fault == "5xx":
            return self.faults.server_error()
        if fault == "qps":
            return self.gateway.reject(call, qps_limited())
        reply = self.gateway.execute(call)
        return truncate(reply) if fault == "truncate" else reply
