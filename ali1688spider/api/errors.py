"""What a gateway answer means: success, or which kind of error (reference §3.3, §4).

Errors come in many shapes: gateway rejections (HTTP >= 400, ``error_code``), TOP
``error_response``, and business errors inside HTTP 200 in each API family's own envelope.
``classify_response`` maps all of them to one ``ApiError``; anything unrecognised is an error,
never a success. Only the answer is looked at, so request parameters (and tokens) never end up
in a message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ali1688spider.redact import redact

MAX_MESSAGE_CHARS = 300
# Business codes that some envelopes put in ``code``/``errorCode`` on success.
OK_CODES = frozenset({"", "0", "200", "S0000", "success", "SUCCESS"})
TOKEN_MESSAGES = ("request need user authorized", "user authorization is required")
#: A body with one of these top-level fields set is an error whatever its HTTP status (gateway
#: and OAuth errors); ``errorCode`` is one too unless it holds a success code (OK_CODES).
ERROR_FIELDS = ("error_code", "error")
NOT_FOUND_MESSAGES = ("不存在", "does not exist", "not exist", "not found")
#: How TOP-style gateways state a ban: "This ban will last for 12 more seconds".
BAN_SECONDS = re.compile(r"ban will last for (\d+(?:\.\d+)?) more second", re.IGNORECASE)
#: TOP code 7 sub-code of the app's daily call quota; its other code-7 sub-codes
#: (``…limited-by-api-access-count``, ``…limited-by-app-api-access-count``,
#: ``…limited-by-dynamic-access-count``) are short bans to wait out and retry.
TOP_DAILY_QUOTA_SUB_CODE = "limited-by-app-access-count"


class ErrorKind(str, Enum):
    QPS_LIMIT = "qps_limit"
    QUOTA_EXHAUSTED = "quota_exhausted"
    TOKEN_INVALID = "token_invalid"
    SIGNATURE_INVALID = "signature_invalid"
    ACL_DENIED = "acl_denied"
    BAD_PARAMETER = "bad_parameter"
    NOT_FOUND = "not_found"
    SERVER_ERROR = "server_error"
    INVALID_RESPONSE = "invalid_response"


RETRYABLE_KINDS = frozenset({ErrorKind.QPS_LIMIT, ErrorKind.SERVER_ERROR, ErrorKind.INVALID_RESPONSE})
CREDENTIAL_KINDS = frozenset({ErrorKind.SIGNATURE_INVALID, ErrorKind.ACL_DENIED})

GATEWAY_CODES = {
    "gw.QosAppFrequencyLimit": ErrorKind.QPS_LIMIT,
    "gw.NoUsageLeftError": ErrorKind.QUOTA_EXHAUSTED,
    "gw.SignatureInvalid": ErrorKind.SIGNATURE_INVALID,
    # An unknown app key is as fatal as a wrong secret: fix the credentials.
    "gw.AppKeyNotFound": ErrorKind.SIGNATURE_INVALID,
    "gw.APIACLDecline": ErrorKind.ACL_DENIED,
    "gw.ParamMissing": ErrorKind.BAD_PARAMETER,
    "gw.APIUnsupported": ErrorKind.BAD_PARAMETER,
    "401": ErrorKind.TOKEN_INVALID,
}
TOP_CODES = {
    "7": ErrorKind.QPS_LIMIT,
    # 11 "Insufficient isv permissions" is widely quoted but not verified (reference §3.3).
    "11": ErrorKind.ACL_DENIED,
    "25": ErrorKind.SIGNATURE_INVALID,
    "27": ErrorKind.TOKEN_INVALID,
    "29": ErrorKind.SIGNATURE_INVALID,
    "40": ErrorKind.BAD_PARAMETER,
    "41": ErrorKind.BAD_PARAMETER,
}


@dataclass(frozen=True)
class ApiError:
    """One classified error answer (a value, not an exception: see ``ApiCallError``)."""

    kind: ErrorKind
    code: str
    message: str
    http_status: int
    request_id: str | None = None
    #: Seconds the gateway says to wait before calling again (a stated ban), if it says.
    retry_after: float | None = None

    def __post_init__(self) -> None:
        # A gateway may quote the request back (access_token=…, a signature): never keep it.
        object.__setattr__(self, "message", redact(self.message))

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS

    @property
    def proves_absence(self) -> bool:
        """The API itself answered that the thing asked for does not exist: a business error in
        an HTTP 200 body (reference §4.2). A "not found" from the gateway (``gw.*``), a proxy or
        a failing server (any other status) proves nothing about the offer."""
        return self.kind is ErrorKind.NOT_FOUND and self.http_status == 200 and not self.code.startswith("gw.")

    @property
    def fatal_credentials(self) -> bool:
        """The app key/secret or its permissions are wrong: retrying cannot help."""
        return self.kind in CREDENTIAL_KINDS

    def describe(self) -> str:
        """One line, e.g. ``gw.APIACLDecline (HTTP 400): AppKey is not allowed(acl)``."""
        text = f"{self.code} (HTTP {self.http_status}): {_one_line(self.message)}"
        if self.request_id:
            text += f" [request_id {_one_line(self.request_id)}]"
        return text


class ApiCallError(Exception):
    """Raised where an error answer ends a call; ``.error`` is the ``ApiError``."""

    def __init__(self, error: ApiError):
        super().__init__(error)
        self.error = error

    def __str__(self) -> str:
        return self.error.describe()


def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    if len(line) > MAX_MESSAGE_CHARS:
        line = line[: MAX_MESSAGE_CHARS - 1] + "…"
    return line


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _first_text(data: dict, *keys: str) -> str:
    for key in keys:
        text = _text(data.get(key))
        if text:
            return text
    return ""


def _flag(value: Any) -> bool | None:
    """A success flag as sent (bool or "true"/"false"); None when absent or unreadable."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _invalid_body(status: int, body: bytes, why: str) -> ApiError:
    # The body's text is left out: an error page may echo the request, tokens included.
    stripped = body.lstrip()
    if not stripped:
        shape = "empty body"
    elif stripped[:1] == b"<":
        shape = f"HTML/XML page of {len(body)} bytes"
    else:
        shape = f"{len(body)} bytes"
    if status >= 500:
        return ApiError(ErrorKind.SERVER_ERROR, f"http.{status}", f"server error, {shape}", status)
    return ApiError(ErrorKind.INVALID_RESPONSE, "invalid_response", f"{why} ({shape})", status)


def redirect_error(status: int, location: str | None) -> ApiError:
    """A call the gateway redirected: 1688 never redirects an API call, so the gateway URL
    (or a proxy in front of it) is wrong; following it would send the signed call elsewhere."""
    where = f"to {location}" if location else "without a Location"
    return ApiError(
        ErrorKind.INVALID_RESPONSE, f"http.{status}",
        f"the call was redirected {where}: check ALI1688_GATEWAY_URL", status,
    )


def parse_json_body(body: bytes, status: int = 200) -> Any:
    """The decoded JSON of *body*; ``ApiCallError`` (INVALID_RESPONSE/SERVER_ERROR) if it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiCallError(_invalid_body(status, body, "body is not valid JSON (truncated?)")) from None


def _kind_for(code: str, message: str, status: int, default: ErrorKind) -> ErrorKind:
    if code in GATEWAY_CODES:
        return GATEWAY_CODES[code]
    lowered = message.lower()
    if status == 401 or any(m in lowered for m in TOKEN_MESSAGES):
        return ErrorKind.TOKEN_INVALID
    if status == 429 or "limited frequency" in lowered:
        return ErrorKind.QPS_LIMIT
    if any(m in lowered for m in NOT_FOUND_MESSAGES):
        return ErrorKind.NOT_FOUND
    if status >= 500:
        return ErrorKind.SERVER_ERROR
    return default


def _top_error(status: int, error: dict) -> ApiError:
    code = _text(error.get("code"))
    sub_code = _text(error.get("sub_code"))
    message = _first_text(error, "msg") or "TOP error"
    sub_message = _text(error.get("sub_msg"))
    if sub_message:
        message = f"{message}: {sub_message}"
    if code == "7" and sub_code.endswith(TOP_DAILY_QUOTA_SUB_CODE):
        kind = ErrorKind.QUOTA_EXHAUSTED
    elif code in TOP_CODES:
        kind = TOP_CODES[code]
    elif "not-exist" in sub_code or "not-found" in sub_code:
        kind = ErrorKind.NOT_FOUND
    elif sub_code.startswith("isp."):
        # isp.* sub-codes are the platform's own failures, not the caller's.
        kind = ErrorKind.SERVER_ERROR
    else:
        kind = _kind_for("", message, status, ErrorKind.BAD_PARAMETER)
    full_code = f"{code}:{sub_code}" if sub_code else code or "top_error"
    return ApiError(
        kind, full_code, message, status, _text(error.get("request_id")) or None, stated_ban(message)
    )


def _gateway_error(status: int, data: dict) -> ApiError:
    message = _first_text(
        data, "error_message", "exception", "errorMessage", "error_description", "message"
    )
    code = _first_text(data, "error_code", "errorCode")
    if not message and isinstance(data.get("error"), str):
        # {"error": "Request need user authorized"}: the field is the message when no other
        # field holds one (OAuth's {"error": "invalid_grant", "error_description": …} has one).
        message = _text(data["error"])
    elif not code:
        code = _text(data.get("error"))
    code = code or f"http.{status}"
    kind = _kind_for(code, f"{message} {_text(data.get('exception'))}", status, ErrorKind.BAD_PARAMETER)
    return ApiError(
        kind, code, message or "gateway error", status, _text(data.get("request_id")) or None,
        stated_ban(message),
    )


def stated_ban(message: str) -> float | None:
    """The seconds of a ban an error message states, or None."""
    found = BAN_SECONDS.search(message)
    return float(found.group(1)) if found else None


def _business_error(status: int, code: str, message: str) -> ApiError:
    code = code or "business_error"
    message = message or "the API reported a failure"
    return ApiError(_kind_for(code, message, status, ErrorKind.BAD_PARAMETER), code, message, status)


def _envelope_error(status: int, data: dict) -> ApiError | None:
    """Business errors inside a 2xx answer, in every envelope style of reference §4.2."""
    inner = data.get("result")
    if isinstance(inner, dict) and _flag(inner.get("success")) is not None:
        if _flag(inner["success"]):
            return None
        code = _first_text(inner, "errorCode", "code", "subCode")
        message = _first_text(inner, "errorMessage", "message", "errorMsg", "subMessage")
        return _business_error(status, code, message)
    # "succes" (sic) is how the category.get documentation spells it.
    flag = _flag(data.get("success", data.get("succes")))
    if flag is not None:
        if flag:
            return None
        code = _first_text(data, "errorCode", "code", "subCode")
        message = _first_text(data, "errorMessage", "message", "errorMsg", "subMessage", "errMsg")
        return _business_error(status, code, message)
    code = _text(data.get("errorCode"))
    message = _first_text(data, "errorMsg", "errMsg", "errorMessage")
    if message or code not in OK_CODES:
        return _business_error(status, code, message)
    return None


def classify_response(status: int, body: bytes) -> ApiError | None:
    """``None`` for a successful answer, else the ``ApiError`` it carries."""
    try:
        data = parse_json_body(body, status)
    except ApiCallError as exc:
        return exc.error
    return classify_decoded(status, data, body)


def classify_decoded(status: int, data: Any, body: bytes) -> ApiError | None:
    """``classify_response`` for a *body* already decoded into *data* (decode once, use twice)."""
    if isinstance(data, dict) and isinstance(data.get("error_response"), dict):
        return _top_error(status, data["error_response"])
    if isinstance(data, dict) and (any(data.get(f) not in (None, "") for f in ERROR_FIELDS) or status >= 400):
        return _gateway_error(status, data)
    if status >= 400:
        return _invalid_body(status, body, "error answer is not a JSON object")
    if not isinstance(data, dict):
        return _invalid_body(status, body, "answer is not a JSON object")
    return _envelope_error(status, _open_top(data))


def _open_top(payload: dict) -> dict:
    """The inside of a TOP success answer ``{"<method>_response": {...}}``; else *payload*."""
    if len(payload) == 1:
        ((key, value),) = payload.items()
        if key.endswith("_response") and key != "error_response" and isinstance(value, dict):
            return value
    return payload


def unwrap_result(payload: Any) -> Any:
    """The business payload of a successful answer, whatever its envelope.

    TOP ``{"<method>_response": {...}}`` is opened first; then ``result.result`` for the
    wrapper style (cross-border search/detail), ``result`` for flat-flag answers; answers
    without a ``result`` (classic product/category APIs, getToken) are their own payload.
    Idempotent on payloads that carry no envelope.
    """
    if not isinstance(payload, dict):
        return payload
    payload = _open_top(payload)
    if "result" not in payload:
        return payload
    inner = payload["result"]
    if isinstance(inner, dict) and "success" in inner and "result" in inner:
        return inner["result"]
    return inner
