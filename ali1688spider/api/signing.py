"""Request signatures: AOP ``param2`` (HMAC-SHA1) and TOP ``router/rest`` (md5/hmac/hmac-sha256).

The gateway recomputes the signature over the parameters it receives, so the one rule that
matters is: sign exactly the parameters that are sent. ``encode_params`` produces that set.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

AOP_SIGNATURE_PARAM = "_aop_signature"
TOP_SIGNATURE_PARAM = "sign"
TOP_SIGN_METHODS = ("md5", "hmac", "hmac-sha256")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"cannot encode a {type(value).__name__} in a JSON parameter")


def to_param_value(value: Any) -> str:
    """The wire text of one parameter value, as the official Java/PHP SDKs render it.

    Booleans are ``true``/``false`` (not Python's ``True``), nested objects compact JSON with
    UTF-8 text (no ``\\u`` escapes), numbers their decimal text. ``None`` has no wire form.
    """
    if value is None:
        raise TypeError("None has no wire form: leave the parameter out instead")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    raise TypeError(f"cannot send a {type(value).__name__} as a 1688 API parameter")


def encode_params(params: Mapping[str, Any]) -> dict[str, str]:
    """The parameters as sent and signed: ``None`` dropped, ``0``/``""``/``false`` kept."""
    return {key: to_param_value(value) for key, value in params.items() if value is not None}


def aop_url_path(namespace: str, name: str, version: int, app_key: str, protocol: str = "param2") -> str:
    """``param2/1/{namespace}/{name}/{appKey}``: the signed path (no host, no ``openapi/``)."""
    return f"{protocol}/{version}/{namespace}/{name}/{app_key}"


def _check_strings(params: Mapping[str, str]) -> None:
    for key, value in params.items():
        if not isinstance(value, str):
            # Signing a non-string would sign a text other than the one urlencode sends.
            raise TypeError(f"parameter {key!r} must already be encoded (see encode_params)")


def aop_signed_string(url_path: str, params: Mapping[str, str]) -> str:
    """The official AOP message: url path + the sorted ``key+value`` strings.

    Sorting the concatenated strings (not the keys) is what the official doc and SDKs do; it
    differs from key order only when one key is a prefix of another (``a=z, ab=1``).
    """
    _check_strings(params)
    pairs = sorted(key + value for key, value in params.items() if key != AOP_SIGNATURE_PARAM)
    return url_path + "".join(pairs)


def sign_aop(url_path: str, params: Mapping[str, str], secret: str) -> str:
    """``_aop_signature``: upper-case hex HMAC-SHA1 of ``aop_signed_string`` keyed by the secret."""
    message = aop_signed_string(url_path, params).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha1).hexdigest().upper()


def top_signed_string(params: Mapping[str, str]) -> str:
    """TOP ``key+value`` pairs sorted by key; empty keys/values skipped (the Java SDK rule)."""
    _check_strings(params)
    return "".join(
        key + params[key]
        for key in sorted(params)
        if key != TOP_SIGNATURE_PARAM and key and params[key]
    )


def sign_top(params: Mapping[str, str], secret: str, sign_method: str) -> str:
    """TOP ``sign``: md5(secret+pairs+secret), HMAC-MD5 or HMAC-SHA256, upper-case hex."""
    message = top_signed_string(params).encode("utf-8")
    key = secret.encode("utf-8")
    if sign_method == "md5":
        return hashlib.md5(key + message + key).hexdigest().upper()
    if sign_method == "hmac":
        return hmac.new(key, message, hashlib.md5).hexdigest().upper()
    if sign_method == "hmac-sha256":
        return hmac.new(key, message, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unknown TOP sign_method {sign_method!r}: use one of {', '.join(TOP_SIGN_METHODS)}")
