"""Credential sets: ``ALI1688_APP_KEY``… and several sets in ``ALI1688_CREDENTIALS``.

``ALI1688_CREDENTIALS`` is a JSON list of ``{"app_key", "app_secret", "access_token",
"refresh_token"}`` objects, or the path of a file holding such a list. Each app key keeps its
own rate limit and daily quota. Error messages name the entry, never a secret (nor the JSON
text, which holds them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ali1688spider.config import ConfigError, get_str

if TYPE_CHECKING:
    from collections.abc import Mapping

FIELDS = ("app_key", "app_secret", "access_token", "refresh_token")


@dataclass(frozen=True)
class Credentials:
    """One app key with its secret and user tokens; the repr never shows a secret."""

    app_key: str
    app_secret: str
    access_token: str | None = None
    refresh_token: str | None = None
    #: Where it was configured, for messages: ``ALI1688_APP_KEY`` or ``ALI1688_CREDENTIALS entry 2``.
    origin: str = "ALI1688_APP_KEY"

    def __repr__(self) -> str:
        return f"Credentials(app_key={self.app_key!r}, app_secret=***, tokens=***)"

    __str__ = __repr__

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for redaction."""
        return tuple(v for v in (self.app_secret, self.access_token, self.refresh_token) if v)


def credentials_from_settings(settings: Mapping[str, Any]) -> Credentials | None:
    """The single credential set of ``ALI1688_APP_KEY``…, or None when no app key is set."""
    app_key = get_str(settings, "ALI1688_APP_KEY")
    if app_key is None:
        return None
    app_secret = get_str(settings, "ALI1688_APP_SECRET")
    if app_secret is None:
        raise ConfigError("ALI1688_APP_KEY is set but ALI1688_APP_SECRET is not: set both")
    return Credentials(
        app_key=app_key,
        app_secret=app_secret,
        access_token=get_str(settings, "ALI1688_ACCESS_TOKEN"),
        refresh_token=get_str(settings, "ALI1688_REFRESH_TOKEN"),
    )


def _load(raw: str) -> Any:
    text = raw
    if raw.lstrip().startswith("{"):
        # Never echoed: the text holds secrets.
        raise ConfigError(
            "ALI1688_CREDENTIALS must be a JSON list of credential objects: put the object in [ ]"
        )
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
    return Credentials(**values, origin=f"ALI1688_CREDENTIALS entry {number}")


def credential_sets_from_settings(settings: Mapping[str, Any]) -> list[Credentials]:
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
