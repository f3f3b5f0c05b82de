"""OAuth 2.0 on 1688 (reference §5): the authorize URL, getToken grants, token answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from ali1688spider.api.errors import ApiCallError, ApiError, ErrorKind
from ali1688spider.api.normalize import parse_1688_timestamp

AUTHORIZE_URL = "https://auth.1688.com/oauth/authorize"


def authorize_url(
    app_key: str, redirect_uri: str, state: str, base: str = AUTHORIZE_URL, site: str = "1688"
) -> str:
    """Where to send the user to grant access; 1688 comes back to *redirect_uri* with ``code``."""
    query = urlencode(
        {"client_id": app_key, "site": site, "redirect_uri": redirect_uri, "state": state}
    )
    return f"{base}?{query}"


def token_url_path(app_key: str, protocol: str = "http") -> str:
    """``http/1/system.oauth2/getToken/{appKey}`` (the official Python SDK uses ``param2``)."""
    return f"{protocol}/1/system.oauth2/getToken/{app_key}"


def token_url(gateway_url: str, app_key: str, protocol: str = "http") -> str:
    """The getToken URL under *gateway_url* (``…/openapi``); POST only, no signature."""
    return f"{gateway_url.rstrip('/')}/{token_url_path(app_key, protocol)}"


def code_grant_params(app_key: str, app_secret: str, code: str, redirect_uri: str) -> dict[str, str]:
    """getToken form for the ``authorization_code`` grant (the code lives 2 minutes)."""
    return {
        "grant_type": "authorization_code",
        "need_refresh_token": "true",
        "client_id": app_key,
        "client_secret": app_secret,
        "redirect_uri": redirect_uri,
        "code": code,
    }


def refresh_grant_params(app_key: str, app_secret: str, refresh_token: str) -> dict[str, str]:
    """getToken form for the ``refresh_token`` grant (documented name ``refresh_token``)."""
    return {
        "grant_type": "refresh_token",
        "client_id": app_key,
        "client_secret": app_secret,
        "refresh_token": refresh_token,
    }


def _mask(token: str | None) -> str:
    return "None" if token is None else f"<{len(token)} chars, hidden>"


@dataclass(frozen=True)
class TokenSet:
    """The tokens of one authorization; times are epoch seconds (None: no expiry given)."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    refresh_expires_at: float | None = None
    member_id: str | None = None
    resource_owner: str | None = None
    ali_id: str | None = None

    def __repr__(self) -> str:
        return (
            f"TokenSet(access_token={_mask(self.access_token)}, "
            f"refresh_token={_mask(self.refresh_token)}, expires_at={self.expires_at!r}, "
            f"refresh_expires_at={self.refresh_expires_at!r}, member_id={self.member_id!r}, "
            f"resource_owner={self.resource_owner!r}, ali_id={self.ali_id!r})"
        )


def _text(value: Any) -> str | None:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value).strip() or None
    return None


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def parse_token_response(data: Any, now: float) -> TokenSet:
    """A ``TokenSet`` from a getToken answer received at *now* (epoch seconds).

    ``expires_in`` comes as a string of seconds; ``refresh_token_timeout`` as
    ``20170126094556000+0800`` or ``20121222222222+0800``. Raises ``ApiCallError``
    (INVALID_RESPONSE) when the answer holds no access token.
    """
    data = data if isinstance(data, dict) else {}
    access_token = _text(data.get("access_token"))
    if access_token is None:
        raise ApiCallError(
            ApiError(
                ErrorKind.INVALID_RESPONSE, "no_access_token", "getToken answer has no access_token", 200
            )
        )
    lifetime = _seconds(data.get("expires_in"))
    refresh_deadline = parse_1688_timestamp(data.get("refresh_token_timeout"))
    return TokenSet(
        access_token=access_token,
        refresh_token=_text(data.get("refresh_token")),
        expires_at=now + lifetime if lifetime is not None else None,
        refresh_expires_at=refresh_deadline.timestamp() if refresh_deadline else None,
        member_id=_text(data.get("memberId")),
        resource_owner=_text(data.get("resource_owner")),
        ali_id=_text(data.get("aliId")),
    )


def oauth_root(gateway_url: str, protocol: str) -> str:
    """The AOP ``…/openapi`` root that serves getToken, for calls made with *protocol*.

    getToken lives under the AOP root even when calls go to a TOP ``router/rest`` URL.
    """
    if protocol == "aop":
        return gateway_url
    parts = urlsplit(gateway_url)
    return f"{parts.scheme}://{parts.netloc}/openapi"
