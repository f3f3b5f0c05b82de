"""A small requests-based client of the 1688 gateway, for the CLI and token refreshes.

It signs and classifies exactly like the crawl does (``api.wire``, ``api.errors``,
``api.oauth``); only the transport differs. Errors are raised as ``ApiCallError`` whose text
never holds a secret: request parameters are never quoted, only the gateway's answer.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from ali1688spider.api.catalogue import CATALOGUE, ApiSpec, get_api, permission_advice
from ali1688spider.api.errors import (
    ApiCallError,
    ApiError,
    ErrorKind,
    classify_response,
    parse_json_body,
)
from ali1688spider.api.oauth import (
    AUTHORIZE_URL,
    TokenSet,
    authorize_url,
    code_grant_params,
    oauth_root,
    parse_token_response,
    refresh_grant_params,
    token_url,
)
from ali1688spider.api.signing import encode_params
from ali1688spider.api.wire import WireCall, signed_call
from ali1688spider.config import DEFAULT_GATEWAY_URL
from ali1688spider.gateway.endpoint import resolve_endpoint

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_TIMEOUT = 30.0
USER_AGENT = "ali1688spider-client (+Ocean-SDK-Client compatible)"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded;charset=UTF-8"

def resolve_api(name: str) -> ApiSpec:
    """A catalogue API by name, or any API as ``namespace:name[-version]`` (token assumed).

    The second form lets ``ali1688 call`` probe APIs the crawler does not use, which is what
    checking an app's permissions needs.
    """
    if ":" not in name:
        return get_api(name)
    namespace, _, rest = name.partition(":")
    api_name, dash, version = rest.rpartition("-")
    if not dash or not version.isdigit():
        api_name, version = rest, "1"
    if not namespace or not api_name:
        raise KeyError(f"API {name!r} is not NAME or NAMESPACE:NAME[-VERSION]")
    known = CATALOGUE.get(api_name)
    if known is not None and (known.namespace, known.version) == (namespace, int(version)):
        return known
    return ApiSpec(api_name, namespace, int(version))


def explain_error(spec: ApiSpec, error: ApiError, app_key: str) -> str:
    """One plain paragraph for a person: what failed, the classified error, what to do."""
    what = f"{spec.name} ({spec.doc_id})"
    if error.kind is ErrorKind.ACL_DENIED:
        return (
            f"The gateway refused app key {app_key} permission to call {what}: "
            f"{error.describe()}. {permission_advice(spec)}"
        )
    hints = {
        ErrorKind.SIGNATURE_INVALID: "check ALI1688_APP_KEY and ALI1688_APP_SECRET",
        ErrorKind.TOKEN_INVALID: "the access token was refused: run `ali1688 auth refresh`, or "
        "authorize again with `ali1688 auth url`",
        ErrorKind.QUOTA_EXHAUSTED: "the app's call quota is used up",
        ErrorKind.QPS_LIMIT: "too many calls per second for this app key: wait and retry",
    }
    text = f"{what} failed [{error.kind.value}]: {error.describe()}"
    hint = hints.get(error.kind)
    return f"{text} — {hint}" if hint else text


def authorize_base_for(gateway_url: str) -> str:
    """The authorize page that belongs to *gateway_url* (a sandbox serves its own)."""
    if gateway_url.rstrip("/") == DEFAULT_GATEWAY_URL:
        return AUTHORIZE_URL
    parts = urlsplit(gateway_url)
    return f"{parts.scheme}://{parts.netloc}/oauth/authorize"


class Ali1688Client:
    """Signed calls and OAuth grants of one app key against one gateway."""

    def __init__(
        self,
        gateway_url: str,
        app_key: str,
        app_secret: str,
        *,
        protocol: str = "aop",
        top_sign_method: str = "hmac-sha256",
        oauth_url: str | None = None,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        self.gateway_url = gateway_url
        self.app_key = app_key
        self._app_secret = app_secret
        self.protocol = protocol
        self.top_sign_method = top_sign_method
        self.oauth_url = oauth_url or gateway_url
        self.session = session or requests.Session()
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Ali1688Client(gateway_url={self.gateway_url!r}, app_key={self.app_key!r}, app_secret=***)"

    def secrets(self) -> tuple[str, ...]:
        """The values no output may show (for redaction)."""
        return (self._app_secret,)

    def wire_call(self, spec: ApiSpec, params: Mapping[str, Any], access_token: str | None) -> WireCall:
        """The signed form of one call (fresh timestamp and signature)."""
        return signed_call(
            self.protocol, self.gateway_url, spec, encode_params(params), app_key=self.app_key,
            app_secret=self._app_secret, access_token=access_token, top_sign_method=self.top_sign_method,
        )

    def call(self, api: str | ApiSpec, params: Mapping[str, Any], *, access_token: str | None = None) -> Any:
        """The decoded JSON answer of one signed call; ``ApiCallError`` for an error answer."""
        spec = api if isinstance(api, ApiSpec) else resolve_api(api)
        call = self.wire_call(spec, params, access_token)
        return self._post(call.url, call.body)

    def authorize_url(self, redirect_uri: str, state: str, *, base: str | None = None, site: str = "1688") -> str:
        return authorize_url(
            self.app_key, redirect_uri, state, base=base or authorize_base_for(self.gateway_url), site=site
        )

    def exchange_code(self, code: str, redirect_uri: str) -> TokenSet:
        """Tokens for an authorization code (one-time, valid 2 minutes)."""
        return self._get_token(code_grant_params(self.app_key, self._app_secret, code, redirect_uri))

    def refresh(self, refresh_token: str) -> TokenSet:
        """A new access token (the refresh token stays valid until its own deadline)."""
        return self._get_token(refresh_grant_params(self.app_key, self._app_secret, refresh_token))

    def _get_token(self, form: dict[str, str]) -> TokenSet:
        answer = self._post(token_url(self.oauth_url, self.app_key), form)
        return parse_token_response(answer, now=time.time())

    def _post(self, url: str, body: str | dict[str, str]) -> Any:
        try:
            response = self.session.post(
                url,
                data=body,
                headers={"Content-Type": FORM_CONTENT_TYPE, "Accept": "application/json", "User-Agent": USER_AGENT},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            # requests never puts the form body in its messages; the URL holds no secret.
            raise ApiCallError(
                ApiError(ErrorKind.SERVER_ERROR, type(exc).__name__, f"no answer from {_origin(url)}{_reason(exc)}", 0)
            ) from None
        error = classify_response(response.status_code, response.content)
        if error is not None:
            raise ApiCallError(error)
        return parse_json_body(response.content, response.status_code)


def _reason(exc: Exception) -> str:
    """`` ([Errno 111] Connection refused)`` from requests' long nested message, if present."""
    errno = re.search(r"\[Errno -?\d+\][^'\")]*", str(exc))
    return f" ({errno.group(0).strip()})" if errno else ""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def client_from_settings(
    settings: Any,
    *,
    gateway_url: str | None = None,
    app_key: str | None = None,
    session: requests.Session | None = None,
) -> tuple[Ali1688Client, TokenSet | None]:
    """The client for the ``ALI1688_*`` settings, and the tokens they give (no store involved).

    The gateway and credentials are read as the crawler reads them (``resolve_endpoint``):
    with no app key and a gateway that is not 1688's, a running sandbox and its public
    credentials. ConfigError when no gateway can be called.
    """
    endpoint = resolve_endpoint(settings, gateway_url=gateway_url, app_key=app_key, embedded_allowed=False)
    assert endpoint.url is not None
    credentials = endpoint.credentials[0]
    client = Ali1688Client(
        endpoint.url, credentials.app_key, credentials.app_secret, protocol=endpoint.protocol,
        top_sign_method=endpoint.top_sign_method, oauth_url=oauth_root(endpoint.url, endpoint.protocol),
        session=session,
    )
    access, refresh = credentials.access_token, credentials.refresh_token
    tokens = TokenSet(access_token=access, refresh_token=refresh) if access else None
    if tokens is None and refresh:
        tokens = TokenSet(access_token="", refresh_token=refresh, expires_at=0.0)
    return client, tokens
