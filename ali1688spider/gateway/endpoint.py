"""Which gateway a crawl or a command talks to, with which credentials and protocol.

One reading of the ``ALI1688_*`` settings for the crawler and the ``ali1688`` commands:

- credentials set (``ALI1688_APP_KEY``/``ALI1688_CREDENTIALS``): ``ALI1688_GATEWAY_URL``;
- none set and ``ALI1688_GATEWAY_URL`` names another gateway than 1688's: that gateway is a
  running ``ali1688 sandbox``, called with its fixed public credentials;
- none set and no other gateway (or ``ALI1688_SANDBOX=on``): the embedded sandbox, started
  by the crawl itself (``embedded``); ``ALI1688_SANDBOX=off`` forbids both sandboxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ali1688spider.api.signing import TOP_SIGN_METHODS
from ali1688spider.config import DEFAULT_GATEWAY_URL, ConfigError, get_choice, get_str
from ali1688spider.gateway.credentials import Credentials, credential_sets_from_settings

if TYPE_CHECKING:
    from collections.abc import Mapping

PROTOCOLS = ("aop", "top")
SANDBOX_MODES = ("auto", "on", "off")
#: Where the queue says calls go when the embedded sandbox serves them: its port changes
#: with every run, so it is never part of a request's identity.
EMBEDDED_ORIGIN = "http://embedded-sandbox.ali1688.invalid/openapi"


@dataclass(frozen=True)
class Endpoint:
    """A gateway and the credential sets to call it with."""

    #: The gateway URL; None for the embedded sandbox until it is started.
    url: str | None
    protocol: str
    top_sign_method: str
    credentials: tuple[Credentials, ...]
    #: "embedded", "external" (a running ``ali1688 sandbox``) or None (a real gateway).
    sandbox: str | None = None

    @property
    def origin(self) -> str:
        """The gateway as request URLs and fingerprints name it (stable across runs)."""
        return EMBEDDED_ORIGIN if self.sandbox == "embedded" else (self.url or EMBEDDED_ORIGIN)


def sandbox_credentials() -> Credentials:
    """The fixed, public credentials of sandbox app 1 (what every sandbox accepts)."""
    from ali1688spider.sandbox.options import app_credentials

    return Credentials(**app_credentials(1).as_dict())


def resolve_endpoint(
    settings: Mapping[str, Any],
    *,
    gateway_url: str | None = None,
    app_key: str | None = None,
    embedded_allowed: bool = True,
) -> Endpoint:
    """The endpoint the settings describe (*gateway_url*/*app_key*: a command's flags).

    ConfigError (one line naming the setting) for settings that cannot be used.
    """
    mode = get_choice(settings, "ALI1688_SANDBOX", SANDBOX_MODES)
    protocol = get_choice(settings, "ALI1688_PROTOCOL", PROTOCOLS)
    sign_method = get_choice(settings, "ALI1688_TOP_SIGN_METHOD", TOP_SIGN_METHODS)
    url = gateway_url or get_str(settings, "ALI1688_GATEWAY_URL") or DEFAULT_GATEWAY_URL
    sets = credential_sets_from_settings(settings)
    if app_key is not None:
        sets = _with_app_key(settings, sets, app_key)
    sandbox = None
    if mode == "on":
        sandbox = "embedded"
    elif not sets:
        if mode == "off":
            raise ConfigError(
                "ALI1688_SANDBOX=off but neither ALI1688_APP_KEY nor ALI1688_CREDENTIALS is set: "
                "set the credentials"
            )
        sandbox = "embedded" if url.rstrip("/") == DEFAULT_GATEWAY_URL.rstrip("/") else "external"
    if sandbox == "embedded" and not embedded_allowed:
        raise ConfigError(
            "set ALI1688_APP_KEY and ALI1688_APP_SECRET, or point ALI1688_GATEWAY_URL "
            "(or --gateway) at a running `ali1688 sandbox`"
        )
    if sandbox is not None:
        public = sandbox_credentials()
        sets = [Credentials(
            public.app_key,
            public.app_secret,
            get_str(settings, "ALI1688_ACCESS_TOKEN") or public.access_token,
            get_str(settings, "ALI1688_REFRESH_TOKEN") or public.refresh_token,
        ) if sandbox == "external" else public]
    return Endpoint(
        url=None if sandbox == "embedded" else url,
        protocol=protocol,
        top_sign_method=sign_method,
        credentials=tuple(sets),
        sandbox=sandbox,
    )


def _with_app_key(settings: Mapping[str, Any], sets: list[Credentials], app_key: str) -> list[Credentials]:
    """Only the set of *app_key* (``--app-key``); its secret comes from ``ALI1688_APP_SECRET``."""
    for credentials in sets:
        if credentials.app_key == app_key:
            return [credentials]
    secret = get_str(settings, "ALI1688_APP_SECRET")
    if secret is None:
        raise ConfigError("ALI1688_APP_KEY is set but ALI1688_APP_SECRET is not: set both")
    return [Credentials(
        app_key, secret, get_str(settings, "ALI1688_ACCESS_TOKEN"), get_str(settings, "ALI1688_REFRESH_TOKEN")
    )]
