"""Access tokens of a crawl: the current token per app key, its refresh and its store.

A refresh happens at most once per token generation however many calls saw the token fail:
the first caller refreshes, the others wait for it and retry with the new token. With a token
store (``ALI1688_TOKEN_STORE``, or Redis when ``ALI1688_REDIS_URL`` is set) the crawl starts
from the stored tokens, writes every refreshed token back, and adopts a token that another
process refreshed meanwhile. A token that expires within ``refresh_margin`` seconds is
refreshed in the background before a call can fail on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ali1688spider.api.errors import ApiCallError
from ali1688spider.api.oauth import TokenSet
from ali1688spider.gateway.client import Ali1688Client
from ali1688spider.gateway.tokenstore import (
    TokenStoreError,
    describe_moment,
    merge_tokens,
    seconds_left,
)
from ali1688spider.redact import remember_secrets

if TYPE_CHECKING:
    from scrapy.statscollectors import StatsCollector

    from ali1688spider.gateway.credentials import Credentials
    from ali1688spider.gateway.tokenstore import TokenStore

logger = logging.getLogger(__name__)

REFRESH_TIMEOUT = 30
#: Refresh this many seconds before the access token expires.
REFRESH_MARGIN = 300.0
#: After a failed early refresh, wait this long before trying early again.
EARLY_RETRY_PAUSE = 30.0
#: Warn at start when the refresh token has less than this left (re-authorization needed).
REFRESH_TOKEN_WARNING = 30 * 86400.0


@dataclass
class TokenState:
    access_token: str | None
    refresh_token: str | None
    generation: int = 0
    expires_at: float | None = None

    def __repr__(self) -> str:
        return f"TokenState(generation={self.generation}, expires_at={self.expires_at!r}, tokens=***)"


class TokenManager:
    """Holds, refreshes and persists the access token of each app key."""

    def __init__(
        self,
        gateway_url: str,
        credentials: list[Credentials],
        *,
        store: TokenStore | None = None,
        refresh_margin: float = REFRESH_MARGIN,
        stats: StatsCollector | None = None,
    ):
        self._gateway_url = gateway_url
        self._credentials = {c.app_key: c for c in credentials}
        self._states = {
            c.app_key: TokenState(c.access_token, c.refresh_token) for c in credentials
        }
        # The full token sets (refresh deadline, account ids) of tokens adopted or refreshed.
        self._sets: dict[str, TokenSet] = {}
        self._clients: dict[str, Ali1688Client] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._early: dict[str, asyncio.Task] = {}
        self._early_paused_until: dict[str, float] = {}
        # When each app key's current token was obtained by a refresh here (lifetime known).
        self._obtained_at: dict[str, float] = {}
        self._store: TokenStore | None = None
        self._stats = stats
        self.refresh_margin = refresh_margin
        if store is not None:
            self._load_from(store)

    def _load_from(self, store: TokenStore) -> None:
        """Start from the tokens *store* holds for each app key; persist refreshes there."""
        self._store = store
        for app_key, state in self._states.items():
            try:
                stored = store.load(app_key)
            except TokenStoreError as exc:
                logger.error("%s; app key %s keeps the tokens of its settings", exc, app_key)
                continue
            if stored is None:
                logger.info(
                    "The token store %s has no tokens for app key %s: using the settings' tokens; "
                    "refreshed tokens will be stored there", store.describe(), app_key,
                )
                continue
            self._adopt(app_key, state, stored)
            self._inc("ali1688/tokens/loaded")
            logger.info(
                "Using the tokens of app key %s from the token store %s (access token expires %s)",
                app_key, store.describe(), describe_moment(stored.expires_at),
            )
            deadline = stored.refresh_expires_at
            if deadline is not None and deadline - time.time() < REFRESH_TOKEN_WARNING:
                logger.warning(
                    "The refresh token of app key %s expires %s: authorize again soon "
                    "(`ali1688 auth url`)", app_key, describe_moment(stored.refresh_expires_at),
                )

    def secrets(self) -> list[str]:
        """Every app secret and every token held now (refreshed ones too), for redaction."""
        values = [c.app_secret for c in self._credentials.values()]
        for state in self._states.values():
            values += [state.access_token or "", state.refresh_token or ""]
        return [v for v in values if v]

    def current(self, app_key: str) -> TokenState:
        """The token to send now; starts a background refresh when it is about to expire."""
        state = self._states[app_key]
        if self._expiring(app_key, state):
            self._refresh_early(app_key, state)
        return state

    async def refresh(self, app_key: str, seen_generation: int) -> bool:
        """Refresh *app_key*'s token unless someone already did since *seen_generation*.

        Returns whether a token newer than *seen_generation* is now available.
        """
        state = self._states[app_key]
        lock = self._locks.setdefault(app_key, asyncio.Lock())
        async with lock:
            if state.generation != seen_generation:
                return True
            if self._store is not None:
                newer = await asyncio.to_thread(self._newer_in_store, app_key, state)
                if newer is not None:
                    self._adopt(app_key, state, newer)
                    self._inc("ali1688/tokens/adopted")
                    logger.info("Took the access token of app key %s that another process refreshed", app_key)
                    return True
            if not state.refresh_token:
                return False
            current = self._sets.get(app_key) or TokenSet(
                state.access_token or "", state.refresh_token, state.expires_at
            )
            try:
                answer = await asyncio.to_thread(self._client(app_key).refresh, state.refresh_token)
            except ApiCallError as exc:
                self._inc("ali1688/tokens/refresh_failed")
                logger.error("Refreshing the access token of app key %s failed: %s", app_key, exc)
                return False
            tokens = merge_tokens(current, answer)
            self._adopt(app_key, state, tokens)
            self._obtained_at[app_key] = time.time()
            self._inc("ali1688/tokens/refreshed")
            logger.info(
                "Refreshed the access token of app key %s (expires %s)",
                app_key, describe_moment(tokens.expires_at),
            )
            if self._store is not None:
                try:
                    await asyncio.to_thread(self._store.save, app_key, tokens)
                except TokenStoreError as exc:
                    logger.error("%s: the refreshed token is only kept in memory", exc)
            return True

    def _adopt(self, app_key: str, state: TokenState, tokens: TokenSet) -> None:
        remember_secrets(tokens.access_token, tokens.refresh_token)
        self._sets[app_key] = tokens
        state.access_token = tokens.access_token
        state.refresh_token = tokens.refresh_token or state.refresh_token
        state.expires_at = tokens.expires_at
        state.generation += 1

    def _newer_in_store(self, app_key: str, state: TokenState) -> TokenSet | None:
        """The stored token when it differs from ours and is not itself about to expire."""
        try:
            stored = self._store.load(app_key) if self._store is not None else None
        except TokenStoreError as exc:
            logger.error("%s", exc)
            return None
        if stored is None or stored.access_token == state.access_token:
            return None
        left = seconds_left(stored)
        return stored if left is None or left > self.refresh_margin else None

    def _expiring(self, app_key: str, state: TokenState) -> bool:
        if state.expires_at is None or not state.refresh_token or app_key in self._early:
            return False
        now = time.time()
        margin = self.refresh_margin
        obtained = self._obtained_at.get(app_key)
        if obtained is not None:
            # A token that lives less than the margin (a short sandbox --token-ttl) would
            # otherwise be refreshed again on every call: wait for half its life at least.
            margin = min(margin, (state.expires_at - obtained) / 2)
        return state.expires_at - now < margin and now >= self._early_paused_until.get(app_key, 0.0)

    def _refresh_early(self, app_key: str, state: TokenState) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        logger.info(
            "The access token of app key %s expires %s: refreshing it now",
            app_key, describe_moment(state.expires_at),
        )
        task = loop.create_task(self._early_refresh(app_key, state.generation))
        self._early[app_key] = task

    async def _early_refresh(self, app_key: str, generation: int) -> None:
        try:
            if not await self.refresh(app_key, generation):
                self._early_paused_until[app_key] = time.time() + EARLY_RETRY_PAUSE
        finally:
            self._early.pop(app_key, None)

    def _client(self, app_key: str) -> Ali1688Client:
        client = self._clients.get(app_key)
        if client is None:
            credentials = self._credentials[app_key]
            client = Ali1688Client(
                self._gateway_url, credentials.app_key, credentials.app_secret, timeout=REFRESH_TIMEOUT
            )
            self._clients[app_key] = client
        return client

    def _inc(self, key: str) -> None:
        if self._stats is not None:
            self._stats.inc_value(key)

