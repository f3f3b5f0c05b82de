"""OAuth state of the sandbox: access tokens, refresh tokens and authorization codes.

Tokens are bound to the app key they were issued to and to the shop whose seller authorized
them. Tokens issued after start are random (uuid4), like 1688's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ali1688spider.sandbox.options import AppCredentials

CODE_LIFETIME = 120.0                     # seconds (reference §5: one-time, 2 minutes)
REFRESH_LIFETIME = 180 * 86400.0          # about half a year


@dataclass
class Grant:
    app_key: str
    owner: int                             # shop index of the authorizing seller
    expires_at: float

    def __repr__(self) -> str:
        return f"Grant(app_key={self.app_key!r}, owner={self.owner}, expires_at={self.expires_at})"


@dataclass
class Code:
    app_key: str
    owner: int
    redirect_uri: str
    expires_at: float


@dataclass
class Issued:
    access_token: str
    expires_in: int
    owner: int
    refresh_token: str | None
    refresh_expires_at: float | None


class TokenStore:
    def __init__(self, apps: list[AppCredentials], owner: int, ttl: float, now: float):
        self.ttl = ttl
        self._access: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}
        self._codes: dict[str, Code] = {}
        for app in apps:
            self._access[app.access_token] = Grant(app.app_key, owner, now + ttl)
            self._refresh[app.refresh_token] = Grant(app.app_key, owner, now + REFRESH_LIFETIME)

    def check(self, access_token: str | None, app_key: str, now: float) -> Grant | None:
        """The grant behind a valid, unexpired token of *app_key*, else None."""
        grant = self._access.get(access_token or "")
        if grant is None or grant.app_key != app_key or grant.expires_at <= now:
            return None
        return grant

    def expire_all(self, now: float) -> int:
        for grant in self._access.values():
            grant.expires_at = min(grant.expires_at, now)
        return len(self._access)

    def new_code(self, app_key: str, owner: int, redirect_uri: str, now: float) -> str:
        code = uuid.uuid4().hex
        self._codes[code] = Code(app_key, owner, redirect_uri, now + CODE_LIFETIME)
        return code

    def redeem_code(self, code: str, app_key: str, redirect_uri: str | None, now: float) -> Code | None:
        """Single use: a code is gone after the first attempt, whatever its outcome."""
        grant = self._codes.pop(code, None)
        if grant is None or grant.app_key != app_key or grant.expires_at <= now:
            return None
        if redirect_uri is not None and redirect_uri != grant.redirect_uri:
            return None
        return grant

    def refresh_grant(self, refresh_token: str, app_key: str, now: float) -> tuple[Grant, str] | None:
        grant = self._refresh.get(refresh_token)
        if grant is None or grant.app_key != app_key or grant.expires_at <= now:
            return None
        return grant, refresh_token

    def issue(self, app_key: str, owner: int, now: float, *, refresh: tuple[Grant, str] | None,
              want_refresh: bool) -> Issued:
        """A new access token; a refresh token too when asked (the old one stays valid)."""
        access = str(uuid.uuid4())
        self._access[access] = Grant(app_key, owner, now + self.ttl)
        refresh_token, refresh_expires = None, None
        if refresh is not None:
            refresh_token, refresh_expires = refresh[1], refresh[0].expires_at
        elif want_refresh:
            refresh_token = str(uuid.uuid4())
            refresh_expires = now + REFRESH_LIFETIME
            self._refresh[refresh_token] = Grant(app_key, owner, refresh_expires)
        return Issued(access, int(self.ttl), owner, refresh_token, refresh_expires)
