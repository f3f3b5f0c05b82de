"""Several credential sets (``ALI1688_CREDENTIALS``): calls are spread over app keys.

The setting is a JSON list of ``{"app_key", "app_secret", "access_token", "refresh_token"}``
objects, or the path of a file holding such a list. Each app key keeps its own rate limit
and daily quota. The single set of ``ALI1688_APP_KEY``… may be given as well: it is one more
set. Error messages name the entry, never a secret (nor the JSON text, which holds them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ali1688spider.crawl.config import ConfigError, Credentials, credentials_from_settings, get_str

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

FIELDS = ("app_key", "app_secret", "access_token", "refresh_token")


def _load(raw: str) -> Any:
    text = raw
    if not raw.lstrip().startswith("["):
        path = Path(raw).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"ALI1688_CREDENTIALS must be a JSON list or the path of a JSON file; "
                f"cannot read {path}: {exc.strerror}"
            ) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        # The JSON error message quotes the text, secrets included: give the position only.
        raise ConfigError(
            f"ALI1688_CREDENTIALS is not valid JSON (line {exc.lineno}, column {exc.colno})"
            if isinstance(exc, json.JSONDecodeError)
            else "ALI1688_CREDENTIALS is not valid JSON"
        ) from None


def _entry(number: int, data: Any) -> Credentials:
    if not isinstance(data, dict):
        raise ConfigError(f"ALI1688_CREDENTIALS entry {number} must be an object with app_key and app_secret")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ConfigError(f"ALI1688_CREDENTIALS entry {number} has unknown field(s) {', '.join(unknown)}")
    values = {}
    for name in FIELDS:
        value = data.get(name)
        if value is not None and not isinstance(value, (str, int)):
            raise ConfigError(f"ALI1688_CREDENTIALS entry {number}: {name} must be a string")
        values[name] = (str(value).strip() or None) if value is not None else None
    if not values["app_key"] or not values["app_secret"]:
        raise ConfigError(f"ALI1688_CREDENTIALS entry {number} needs both app_key and app_secret")
    return Credentials(**values)


def credential_sets_from_settings(settings: BaseSettings) -> list[Credentials]:
    """Every configured credential set (``ALI1688_APP_KEY``… first); empty when none is set."""
    sets = []
    single = credentials_from_settings(settings)
    if single is not None:
        sets.append(single)
    raw = get_str(settings, "ALI1688_CREDENTIALS")
    if raw is not None:
        data = _load(raw)
        if not isinstance(data, list) or not data:
            raise ConfigError("ALI1688_CREDENTIALS must be a non-empty JSON list of credential objects")
        sets.extend(_entry(number, entry) for number, entry in enumerate(data, start=1))
    seen: set[str] = set()
    for credentials in sets:
        if credentials.app_key in seen:
            raise ConfigError(
                f"app key {credentials.app_key} is configured twice (ALI1688_APP_KEY and "
                "ALI1688_CREDENTIALS, or twice in the list): give each app key once"
            )
        seen.add(credentials.app_key)
    return sets
