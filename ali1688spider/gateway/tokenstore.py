"""Where OAuth tokens live between runs: a JSON file (owner-only) or Redis.

``ali1688 auth exchange``/``refresh`` write here and every crawl reads from here, so a token
refreshed by one process is the one the next process starts with. Entries are keyed by app
key. Nothing in this module ever logs, prints or raises with a token in the text.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import stat
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ali1688spider.api.oauth import TokenSet
from ali1688spider.config import ConfigError, get_str, in_data_dir
from ali1688spider.distributed.keys import DEFAULT_PREFIX, is_redis_url, tokens_key
from ali1688spider.files import write_json_atomically
from ali1688spider.redact import url_without_password

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

logger = logging.getLogger(__name__)

FORMAT = "ali1688-tokens/1"
DEFAULT_FILE_MODE = 0o600


class TokenStoreError(Exception):
    """The store cannot be read or written; the message names the store, never a token."""


class TokenStore(Protocol):
    def load(self, app_key: str) -> TokenSet | None: ...

    def save(self, app_key: str, tokens: TokenSet) -> None: ...

    def describe(self) -> str: ...


def tokens_to_dict(tokens: TokenSet) -> dict[str, Any]:
    data = dataclasses.asdict(tokens)
    data["updated_at"] = time.time()
    return data


def tokens_from_dict(data: Any) -> TokenSet | None:
    """A TokenSet from a stored entry; None for an entry without an access token."""
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
        return None
    fields = {f.name for f in dataclasses.fields(TokenSet)}
    return TokenSet(**{k: v for k, v in data.items() if k in fields})


def merge_tokens(old: TokenSet | None, new: TokenSet) -> TokenSet:
    """*new* completed by *old*: a refresh answer may omit the refresh token and account ids."""
    if old is None:
        return new
    kept = {
        name: getattr(old, name)
        for name in ("refresh_token", "refresh_expires_at", "member_id", "resource_owner", "ali_id")
        if getattr(new, name) is None
    }
    if "refresh_token" not in kept:
        # A new refresh token comes with its own deadline (or none known): never the old one's.
        kept.pop("refresh_expires_at", None)
    return dataclasses.replace(new, **kept)


def seconds_left(tokens: TokenSet | None, now: float | None = None) -> float | None:
    """Seconds until the access token expires (negative: expired); None when unknown."""
    if tokens is None or tokens.expires_at is None:
        return None
    return tokens.expires_at - (time.time() if now is None else now)


def describe_moment(epoch: float | None) -> str:
    """``2025-01-02 03:04:05+08:00 (in 9h 59m)`` in local time; ``no expiry given`` for None."""
    if epoch is None:
        return "no expiry given"
    left = epoch - time.time()
    moment = datetime.fromtimestamp(epoch).astimezone().isoformat(sep=" ", timespec="seconds")
    span = abs(int(left))
    days, rest = divmod(span, 86400)
    if days:
        text = f"{days}d {rest // 3600}h"
    elif rest >= 3600:
        text = f"{rest // 3600}h {rest % 3600 // 60}m"
    else:
        text = f"{rest // 60}m {rest % 60}s"
    return f"{moment} ({'in ' + text if left >= 0 else text + ' ago'})"


class FileTokenStore:
    """A JSON file replaced atomically on every save, with owner-only permissions by default."""

    def __init__(self, path: str | os.PathLike[str], mode: int = DEFAULT_FILE_MODE):
        self.path = Path(path).expanduser()
        self.mode = mode
        self._warned_mode = False

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r}, mode={self.mode:#o})"

    def describe(self) -> str:
        return str(self.path)

    def load(self, app_key: str) -> TokenSet | None:
        return tokens_from_dict(self._read().get(app_key))

    def save(self, app_key: str, tokens: TokenSet) -> None:
        with self._locked():
            entries = self._read()
            entries[app_key] = tokens_to_dict(tokens)
            self._write({"format": FORMAT, "tokens": entries})

    def _read(self) -> dict[str, Any]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                self._check_mode(os.fstat(handle.fileno()).st_mode)
                data = json.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            # The text of a JSON error quotes the file, tokens included: name the kind only.
            raise TokenStoreError(
                f"cannot read the token store {self.path}: {type(exc).__name__}"
                + (f" ({exc.strerror})" if isinstance(exc, OSError) else " (not valid JSON)")
            ) from None
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, dict):
            raise TokenStoreError(f"the token store {self.path} is not an ali1688 token file")
        return tokens

    def _write(self, data: dict[str, Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_json_atomically(self.path, data, mode=self.mode)
        except OSError as exc:
            raise TokenStoreError(f"cannot write the token store {self.path}: {exc.strerror}") from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialize read-modify-write between processes sharing the file (one per app key)."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise TokenStoreError(f"cannot lock the token store {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _check_mode(self, st_mode: int) -> None:
        loose = stat.S_IMODE(st_mode) & ~self.mode & 0o077
        if loose and not self._warned_mode:
            self._warned_mode = True
            logger.warning(
                "The token store %s is readable by other users (mode %#o): "
                "run `chmod 600 %s`; it holds OAuth tokens",
                self.path, stat.S_IMODE(st_mode), self.path,
            )


class RedisTokenStore:
    """One JSON string per app key in Redis, shared by every worker of a distributed crawl."""

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX, client: Any = None):
        self.url = url
        self.prefix = prefix
        if client is None:
            import redis

            client = redis.Redis.from_url(url)
        self._redis = client

    def __repr__(self) -> str:
        return f"RedisTokenStore({self.describe()!r})"

    def describe(self) -> str:
        return f"{url_without_password(self.url)} (keys {tokens_key(self.prefix, '*')})"

    def load(self, app_key: str) -> TokenSet | None:
        raw = self._call("read", self._redis.get, tokens_key(self.prefix, app_key))
        if raw is None:
            return None
        try:
            return tokens_from_dict(json.loads(raw))
        except ValueError:
            raise TokenStoreError(f"the token entry of app key {app_key} in {self.describe()} is not JSON") from None

    def save(self, app_key: str, tokens: TokenSet) -> None:
        self._call("write", self._redis.set, tokens_key(self.prefix, app_key), json.dumps(tokens_to_dict(tokens)))

    def _call(self, what: str, method: Any, *args: Any) -> Any:
        import redis

        try:
            return method(*args)
        except redis.RedisError as exc:
            raise TokenStoreError(f"cannot {what} the token store {self.describe()}: {type(exc).__name__}") from None


def open_token_store(
    location: str | None,
    *,
    redis_url: str | None = None,
    mode: int = DEFAULT_FILE_MODE,
    redis_prefix: str = DEFAULT_PREFIX,
) -> TokenStore | None:
    """The store at *location* (a path, or a redis:// URL); else Redis at *redis_url*; else None."""
    if location:
        if is_redis_url(location):
            return RedisTokenStore(location, redis_prefix)
        return FileTokenStore(location, mode)
    if redis_url:
        return RedisTokenStore(redis_url, redis_prefix)
    return None


def parse_mode(text: str | None) -> int:
    """An octal file mode such as ``600``/``0600``/``0o640`` (owner must keep read+write)."""
    raw = (text or "").strip().lower().removeprefix("0o") or "600"
    try:
        mode = int(raw, 8)
    except ValueError:
        raise ConfigError(f"ALI1688_TOKEN_STORE_MODE must be an octal mode like 600, got {text!r}") from None
    if mode & ~0o777 or mode & 0o600 != 0o600:
        raise ConfigError(f"ALI1688_TOKEN_STORE_MODE must give the owner read and write (6xx), got {text!r}")
    return mode


def token_store_from_settings(settings: Mapping[str, Any]) -> TokenStore | None:
    """The store named by ``ALI1688_TOKEN_STORE`` (else ``ALI1688_REDIS_URL``), or None."""
    location = get_str(settings, "ALI1688_TOKEN_STORE")
    if location and not is_redis_url(location):
        location = str(in_data_dir(settings, location))
    return open_token_store(
        location,
        redis_url=get_str(settings, "ALI1688_REDIS_URL"),
        mode=parse_mode(get_str(settings, "ALI1688_TOKEN_STORE_MODE")),
        redis_prefix=get_str(settings, "ALI1688_REDIS_PREFIX") or DEFAULT_PREFIX,
    )
