"""Access tokens of a crawl: the current token per app key and its refresh.

A refresh happens at most once per token generation however many calls saw the token fail:
the first caller refreshes, the others wait for it and retry with the new token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests

from ali1688spider.api.errors import ApiCallError, classify_response
from ali1688spider.api.oauth import parse_token_response, refresh_grant_params, token_url

if TYPE_CHECKING:
    from ali1688spider.crawl.config import Credentials

logger = logging.getLogger(__name__)

REFRESH_TIMEOUT = 30


@dataclass
class TokenState:
    access_token: str | None
    refresh_token: str | None
    generation: int = 0
    expires_at: float | None = None


class TokenManager:
    """Holds and refreshes the access token of each app key."""

    def __init__(self, gateway_url: str, credentials: list[Credentials]):
        self._gateway_url = gateway_url
        self._credentials = {c.app_key: c for c in credentials}
        self._states = {
            c.app_key: TokenState(c.access_token, c.refresh_token) for c in credentials
        }
        self._locks: dict[str, asyncio.Lock] = {}

    def current(self, app_key: str) -> TokenState:
        return self._states[app_key]

    def can_refresh(self, app_key: str) -> bool:
        return bool(self._states[app_key].refresh_token)

    async def refresh(self, app_key: str, seen_generation: int) -> bool:
        """Refresh *app_key*'s token unless someone already did since *seen_generation*.

        Returns whether a token newer than *seen_generation* is now available.
        """
        state = self._states[app_key]
        lock = self._locks.setdefault(app_key, asyncio.Lock())
        async with lock:
            if state.generation != seen_generation:
                return True
            if not state.refresh_token:
                return False
            try:
                tokens = await asyncio.to_thread(self._request_refresh, app_key, state.refresh_token)
            except (ApiCallError, requests.RequestException) as exc:
                logger.error("Refreshing the access token of app key %s failed: %s", app_key, exc)
                return False
            state.access_token = tokens.access_token
            state.refresh_token = tokens.refresh_token or state.refresh_token
            state.expires_at = tokens.expires_at
            state.generation += 1
            logger.info("Refreshed the access token of app key %s", app_key)
            return True

    def _request_refresh(self, app_key: str, refresh_token: str):
        credentials = self._credentials[app_key]
        response = requests.post(
            token_url(self._gateway_url, app_key),
            data=refresh_grant_params(credentials.app_key, credentials.app_secret, refresh_token),
            timeout=REFRESH_TIMEOUT,
        )
        error = classify_response(response.status_code, response.content)
        if error is not None:
            raise ApiCallError(error)
        return parse_token_response(response.json(), now=time.time())
