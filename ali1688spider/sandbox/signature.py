"""The sandbox's own signature verifiers (independent of the client's signer on purpose).

AOP ``param2``: HMAC-SHA1(appSecret, urlPath + sorted ``key+value`` strings), upper-case hex,
over every parameter received except ``_aop_signature`` (reference §2.3).
TOP ``router/rest``: md5 / hmac (HMAC-MD5) / hmac-sha256 over the ``key+value`` pairs sorted
by key, ``sign`` excluded (reference §3.2). Parameters with an empty value are skipped by the
Java SDK (vector T5a) and signed by the Python SDKs (T5b); the reference does not say which
the router wants, so either is accepted, and nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

AOP_SIGNATURE = "_aop_signature"
TOP_SIGNATURE = "sign"
TOP_SIGN_METHODS = ("md5", "hmac", "hmac-sha256")


def aop_expected(url_path: str, pairs: Iterable[tuple[str, str]], secret: str) -> str:
    """The ``_aop_signature`` the gateway expects for the received *pairs*."""
    pieces = sorted(key + value for key, value in pairs if key != AOP_SIGNATURE)
    message = (url_path + "".join(pieces)).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha1).hexdigest().upper()


def aop_valid(url_path: str, pairs: list[tuple[str, str]], secret: str) -> bool:
    given = [value for key, value in pairs if key == AOP_SIGNATURE]
    if len(given) != 1:
        return False
    return hmac.compare_digest(given[0], aop_expected(url_path, pairs, secret))


def top_signed_texts(pairs: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The ``key+value`` texts a TOP client may have signed for the received *pairs*.

    One text when no key or value is empty; otherwise the Java SDK's (empty ones skipped) and
    the Python SDK's (every pair signed as received).
    """
    ordered = sorted((k, v) for k, v in pairs if k != TOP_SIGNATURE)
    skipped = "".join(k + v for k, v in ordered if k and v)
    signed = "".join(k + v for k, v in ordered)
    return (skipped,) if signed == skipped else (skipped, signed)


def top_digest(text: str, secret: str, sign_method: str) -> str:
    """The TOP ``sign`` of one signed *text*; ValueError for an unknown sign method."""
    key = secret.encode("utf-8")
    if sign_method == "md5":
        return hashlib.md5((secret + text + secret).encode("utf-8")).hexdigest().upper()
    if sign_method == "hmac":
        return hmac.new(key, text.encode("utf-8"), hashlib.md5).hexdigest().upper()
    if sign_method == "hmac-sha256":
        return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unknown sign_method {sign_method!r}")


def top_valid(pairs: list[tuple[str, str]], secret: str, sign_method: str) -> bool:
    given = [value for key, value in pairs if key == TOP_SIGNATURE]
    if len(given) != 1:
        return False
    # Every candidate is compared, so the time taken says nothing about which one matched.
    matches = [hmac.compare_digest(given[0], top_digest(text, secret, sign_method))
               for text in top_signed_texts(pairs)]
    return any(matches)
