"""The errors the sandbox answers, in the gateway's shape and in TOP's.

Gateway errors (before the API runs) are HTTP 4xx with ``error_code``/``error_message``
(+ ``exception`` where the reference sample has it); the same conditions on the TOP router are
HTTP 200 ``error_response`` bodies with TOP's numeric codes. Business errors (HTTP 200 inside
the API's own envelope) are raised by the APIs as ``BusinessError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

QOS_CODE = "gw.QosAppFrequencyLimit"


@dataclass
class TopCode:
    code: int
    msg: str
    sub_code: str | None = None
    sub_msg: str | None = None


class GatewayError(Exception):
    """A rejection by the gateway itself: error code, message, HTTP status, TOP equivalent."""

    def __init__(self, code: str, message: str, status: int, top: TopCode, *, exception: bool = False):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status, self.top = code, message, status, top
        self.with_exception = exception

    def aop_body(self, request_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {"error_code": self.code, "error_message": self.message}
        if self.with_exception:
            body["exception"] = self.message
        body["request_id"] = request_id
        return body

    def top_body(self, request_id: str) -> dict[str, Any]:
        return top_error(self.top, request_id)


def top_error(top: TopCode, request_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {"code": top.code, "msg": top.msg}
    if top.sub_code:
        body["sub_code"] = top.sub_code
    if top.sub_msg:
        body["sub_msg"] = top.sub_msg
    body["request_id"] = request_id
    return {"error_response": body}


class BusinessError(Exception):
    """An API-level error answered with HTTP 200 in that API's envelope (*body*)."""

    def __init__(self, kind: str, message: str, body: dict[str, Any]):
        super().__init__(message)
        self.kind, self.message, self.body = kind, message, body

    @property
    def stats_key(self) -> str:
        return f"business.{self.kind}"

    def top_code(self) -> TopCode:
        sub = "isv.item-not-exist" if self.kind == "not_found" else "isv.invalid-parameter"
        return TopCode(15, "Remote service error", sub, self.message)


def app_key_not_found() -> GatewayError:
    return GatewayError("gw.AppKeyNotFound", "AppKey not found", 400, TopCode(29, "Invalid app Key"))


def api_unsupported(api: str) -> GatewayError:
    return GatewayError("gw.APIUnsupported", f"API is not supported: {api}", 400,
                        TopCode(22, "Invalid method", "isv.invalid-method", api))


def signature_invalid() -> GatewayError:
    return GatewayError("gw.SignatureInvalid", "Signature is invalid", 400,
                        TopCode(25, "Invalid signature"))


def acl_decline() -> GatewayError:
    return GatewayError("gw.APIACLDecline", "AppKey is not allowed(acl)", 400,
                        TopCode(11, "Insufficient isv permissions",
                                "isv.permission-api-package-limit", "AppKey is not allowed(acl)"))


def token_required() -> GatewayError:
    return GatewayError("401", "Request need user authorized", 401,
                        TopCode(27, "Invalid session", "invalid-sessionkey",
                                "Request need user authorized"))


def param_missing(name: str) -> GatewayError:
    return GatewayError("gw.ParamMissing", f"Required parameter is missing: {name}", 400,
                        TopCode(40, f"Missing required arguments:{name}"))


def param_invalid(name: str, why: str) -> GatewayError:
    return GatewayError("gw.ParamInvalid", f"Parameter {name} is invalid: {why}", 400,
                        TopCode(41, f"Invalid arguments:{name}", None, why))


def quota_exhausted(seconds_left: int) -> GatewayError:
    return GatewayError("gw.NoUsageLeftError", "SLA bill has no usage left", 400,
                        TopCode(7, "App Call Limited", "accesscontrol.limited-by-app-access-count",
                                f"This ban will last for {seconds_left} more seconds"),
                        exception=True)


def qps_limited() -> GatewayError:
    return GatewayError(QOS_CODE, "App call exceeds limited frequency", 400,
                        TopCode(7, "App Call Limited", "accesscontrol.limited-by-dynamic-access-count",
                                "This ban will last for 1 more seconds"))
