"""Offer and shop references from what users paste: ids, detail URLs, shop URLs (reference §8)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

_OFFER_ID = re.compile(r"[1-9]\d{0,19}")
_OFFER_PATH = re.compile(r"/offer/([1-9]\d{0,19})\.html?")
_MEMBER_ID = re.compile(r"b2b-[0-9a-z]+", re.IGNORECASE)
_WINPORT_PATH = re.compile(r"/winport/(b2b-[0-9a-z]+)\.html?", re.IGNORECASE)
_SHOP_LABEL = re.compile(r"[0-9a-z][0-9a-z-]*")
# One-label 1688.com hosts that are the platform's own sites, not shop domains.
_PLATFORM_HOSTS = frozenset(
    "www detail m s sale winport login passport work trade cart air page open gw auth "
    "offer search go member club".split()
)


def _quoted(text: str) -> str:
    shown = text if len(text) <= 80 else text[:79] + "…"
    return repr(shown)


def _split_1688_url(text: str) -> tuple[str, str, dict[str, str]] | None:
    """(lower-case host, path, query) when *text* is a URL on 1688.com, with or without scheme."""
    url = text if "://" in text else f"https://{text}"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if host != "1688.com" and not host.endswith(".1688.com"):
        return None
    query = {key.lower(): value for key, value in parse_qsl(parts.query)}
    return host, parts.path, query


def parse_offer_id(text: str) -> str:
    """The offer id in *text*: a bare id or a detail.1688.com / m.1688.com offer URL.

    Raises ValueError with a one-line reason otherwise.
    """
    cleaned = text.strip() if isinstance(text, str) else ""
    if _OFFER_ID.fullmatch(cleaned):
        return cleaned
    url = _split_1688_url(cleaned) if cleaned else None
    if url is not None:
        _, path, query = url
        match = _OFFER_PATH.fullmatch(path)
        if match:
            return match.group(1)
        if _OFFER_ID.fullmatch(query.get("offerid", "")):
            return query["offerid"]
    raise ValueError(
        f"not a 1688 offer id or offer URL: {_quoted(str(text))} (expected digits or "
        "https://detail.1688.com/offer/ID.html)"
    )


@dataclass(frozen=True)
class ShopRef:
    """What a shop URL tells: its 旺铺 domain and/or its memberId (opaque strings)."""

    domain: str | None = None
    member_id: str | None = None


def parse_shop_ref(text: str) -> ShopRef:
    """The shop a URL or id points at.

    ``NAME.1688.com`` / ``shopNNN.1688.com`` give the domain; ``b2b-….1688.com`` gives the
    domain and the memberId; ``memberId=`` queries and ``/winport/b2b-….html`` paths the memberId;
    a bare ``b2b-…`` is a memberId. Raises ValueError with a one-line reason otherwise.
    """
    cleaned = text.strip() if isinstance(text, str) else ""
    if _MEMBER_ID.fullmatch(cleaned):
        return ShopRef(member_id=cleaned)
    url = _split_1688_url(cleaned) if cleaned else None
    if url is not None:
        host, path, query = url
        member_id = query.get("memberid", "").strip()
        if member_id:
            return ShopRef(member_id=member_id)
        winport = _WINPORT_PATH.fullmatch(path)
        if winport:
            return ShopRef(member_id=winport.group(1))
        label = host.removesuffix(".1688.com")
        if "." not in label and label not in _PLATFORM_HOSTS and _SHOP_LABEL.fullmatch(label):
            member = label if _MEMBER_ID.fullmatch(label) else None
            return ShopRef(domain=host, member_id=member)
    raise ValueError(
        f"not a 1688 shop URL or member id: {_quoted(str(text))} (expected https://NAME.1688.com/, "
        "a URL with memberId=…, or a b2b-… member id)"
    )
