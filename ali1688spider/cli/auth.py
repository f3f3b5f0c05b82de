"""``ali1688 auth url|exchange|refresh|status``: get a seller's authorization and keep it fresh.

Tokens go to the token store (``ALI1688_TOKEN_STORE``: a JSON file written with mode 0600, or
Redis) that every crawl reads. No token or secret is ever printed: the commands say where the
tokens are and when they expire.
"""

from __future__ import annotations

import argparse
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from ali1688spider.cli.errors import CommandError
from ali1688spider.redact import redact

if TYPE_CHECKING:
    from ali1688spider.api.oauth import TokenSet
    from ali1688spider.gateway.client import Ali1688Client
    from ali1688spider.gateway.tokenstore import TokenStore

HELP = "OAuth: print the authorization URL, exchange a code, refresh or show the stored tokens"
NO_STORE = (
    "set ALI1688_TOKEN_STORE to a file path (written with mode 0600) or ALI1688_REDIS_URL, "
    "or pass --store, so the tokens are kept where the crawler reads them"
)


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by the commands that talk to the gateway (the secret: environment only)."""
    parser.add_argument("--gateway", metavar="URL", help="gateway URL (default ALI1688_GATEWAY_URL, else 1688's)")
    parser.add_argument(
        "--app-key", metavar="KEY",
        help="app key (default ALI1688_APP_KEY; its secret is read from ALI1688_APP_SECRET only)",
    )
    parser.add_argument(
        "--store", metavar="PATH|URL",
        help="token store: a JSON file or redis:// URL (default ALI1688_TOKEN_STORE, else ALI1688_REDIS_URL)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    url = actions.add_parser("url", help="print the URL where the seller grants access", description=(
        "Print the authorization URL for the app: the seller opens it, grants access, and 1688 "
        "redirects to --redirect-uri with a code for `ali1688 auth exchange`."))
    _add_redirect_uri(url)
    url.add_argument("--state", help="opaque value 1688 sends back (default: random)")
    url.add_argument("--site", default="1688", help="site parameter (default 1688)")
    url.add_argument("--authorize-url", metavar="URL", help="authorize page (default: the gateway's)")
    exchange = actions.add_parser("exchange", help="trade an authorization code for tokens and store them", description=(
        "Trade the code 1688 redirected with (or the whole redirect URL) for an access and a "
        "refresh token, and keep them in the token store (ALI1688_TOKEN_STORE)."))
    exchange.add_argument("code", metavar="CODE", help="the code, or the whole URL 1688 redirected to")
    _add_redirect_uri(exchange)
    exchange.add_argument("--state", help="reject a redirect URL whose state differs")
    actions.add_parser("refresh", help="get a new access token with the stored refresh token", description=(
        "Get a new access token with the stored refresh token and store both; crawls refresh on "
        "their own, this is for scripts and for checking a refresh token still works."))
    actions.add_parser("status", help="show which tokens are stored and when they expire", description=(
        "Show which tokens the token store holds for the app key: the account they are for and "
        "when each expires, never the tokens themselves."))
    for action in actions.choices.values():
        add_connection_arguments(action)


def _add_redirect_uri(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redirect-uri", metavar="URI",
        help="the redirect URI registered for the app (default ALI1688_REDIRECT_URI)",
    )


@dataclass
class Connection:
    """A client, the token store (if any) and the app key's current tokens."""

    client: Ali1688Client
    store: TokenStore | None
    tokens: TokenSet | None
    from_store: bool

    def secrets(self) -> list[str]:
        values = list(self.client.secrets())
        if self.tokens is not None:
            values += [self.tokens.access_token, self.tokens.refresh_token or ""]
        return [v for v in values if v]

    def fail(self, message: str) -> CommandError:
        """A CommandError whose text cannot carry one of this connection's secrets."""
        return CommandError(redact(message, self.secrets()))

    def require_store(self) -> TokenStore:
        if self.store is None:
            raise CommandError(NO_STORE)
        return self.store


def connect(args: argparse.Namespace) -> Connection:
    """The connection the flags and ``ALI1688_*`` variables describe; stored tokens win."""
    from ali1688spider.config import ConfigError
    from ali1688spider.gateway.client import client_from_settings
    from ali1688spider.gateway.tokenstore import (
        TokenStoreError,
        open_token_store,
        parse_mode,
        token_store_from_settings,
    )

    settings: dict[str, str] = {}  # the environment, through the config getters
    try:
        client, configured = client_from_settings(settings, gateway_url=args.gateway, app_key=args.app_key)
        if args.store:
            from ali1688spider.config import get_str

            store = open_token_store(args.store, mode=parse_mode(get_str(settings, "ALI1688_TOKEN_STORE_MODE")))
        else:
            store = token_store_from_settings(settings)
        stored = store.load(client.app_key) if store is not None else None
    except (ConfigError, TokenStoreError) as exc:
        raise CommandError(str(exc)) from None
    return Connection(client, store, stored or configured, stored is not None)


def fresh_tokens(connection: Connection, margin: float) -> TokenSet | None:
    """The tokens, refreshed first (and stored) when the access token expires within *margin*."""
    from ali1688spider.gateway.tokenstore import seconds_left

    tokens = connection.tokens
    left = seconds_left(tokens)
    if tokens is None or left is None or left > margin or not tokens.refresh_token:
        return tokens
    return refresh_tokens(connection)


def refresh_tokens(connection: Connection) -> TokenSet:
    """Refresh with the current refresh token; store the result when there is a store."""
    from ali1688spider.api.errors import ApiCallError
    from ali1688spider.gateway.tokenstore import TokenStoreError, merge_tokens

    current = connection.tokens
    app_key = connection.client.app_key
    if current is None or not current.refresh_token:
        raise CommandError(
            f"no refresh token for app key {app_key}: run `ali1688 auth url` and "
            "`ali1688 auth exchange CODE`, or set ALI1688_REFRESH_TOKEN"
        )
    try:
        tokens = merge_tokens(current, connection.client.refresh(current.refresh_token))
    except ApiCallError as exc:
        raise connection.fail(f"refreshing the access token of app key {app_key} failed: {exc}") from None
    connection.tokens = tokens
    if connection.store is not None:
        try:
            connection.store.save(app_key, tokens)
        except TokenStoreError as exc:
            raise CommandError(str(exc)) from None
        connection.from_store = True
    return tokens


def describe_tokens(app_key: str, tokens: TokenSet, where: str) -> str:
    """Several lines about *tokens* without any secret in them."""
    from ali1688spider.gateway.tokenstore import describe_moment

    account = ", ".join(
        f"{label} {value}"
        for label, value in (("memberId", tokens.member_id), ("login", tokens.resource_owner), ("aliId", tokens.ali_id))
        if value
    )
    lines = [f"app key {app_key}: tokens {where}"]
    if account:
        lines.append(f"  account:       {account}")
    lines.append(f"  access token:  expires {describe_moment(tokens.expires_at)}")
    if tokens.refresh_token:
        lines.append(f"  refresh token: expires {describe_moment(tokens.refresh_expires_at)}")
    else:
        lines.append("  refresh token: none (authorize again when the access token expires)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    connection = connect(args)
    return {"url": _url, "exchange": _exchange, "refresh": _refresh, "status": _status}[args.action](
        connection, args
    )


def _redirect_uri(args: argparse.Namespace) -> str:
    from ali1688spider.config import get_str

    uri = args.redirect_uri or get_str({}, "ALI1688_REDIRECT_URI")
    if not uri:
        raise CommandError("give --redirect-uri (or set ALI1688_REDIRECT_URI): the URI registered for the app")
    return uri


def _url(connection: Connection, args: argparse.Namespace) -> int:
    import sys

    redirect_uri = _redirect_uri(args)
    state = args.state or secrets.token_urlsafe(12)
    print(connection.client.authorize_url(redirect_uri, state, base=args.authorize_url, site=args.site))
    print(
        f"Open this URL and sign in as the seller to grant access; 1688 then sends the browser to "
        f"{redirect_uri}?code=…&state={state}. Within 2 minutes run: "
        f"ali1688 auth exchange CODE --redirect-uri {redirect_uri}",
        file=sys.stderr,
    )
    return 0


def code_from(text: str, expected_state: str | None) -> str:
    """The code itself, or the ``code`` of a pasted redirect URL (its ``state`` checked)."""
    if "code=" not in text:
        return text.strip()
    query = parse_qs(urlsplit(text.strip()).query or text.strip())
    codes = query.get("code")
    if not codes or not codes[0]:
        raise CommandError("the URL has no code parameter")
    state = (query.get("state") or [None])[0]
    if expected_state is not None and state != expected_state:
        raise CommandError("the state in the redirect URL is not the one given with --state: refusing it")
    return codes[0]


def _exchange(connection: Connection, args: argparse.Namespace) -> int:
    from ali1688spider.api.errors import ApiCallError
    from ali1688spider.gateway.tokenstore import TokenStoreError

    store = connection.require_store()
    code = code_from(args.code, args.state)
    app_key = connection.client.app_key
    try:
        tokens = connection.client.exchange_code(code, _redirect_uri(args))
    except ApiCallError as exc:
        raise connection.fail(
            f"exchanging the code failed: {exc} (codes are single-use and live 2 minutes; the "
            "redirect URI must be the one of `ali1688 auth url`)"
        ) from None
    try:
        store.save(app_key, tokens)
    except TokenStoreError as exc:
        raise CommandError(str(exc)) from None
    print(describe_tokens(app_key, tokens, f"stored in {store.describe()}"))
    return 0


def _refresh(connection: Connection, args: argparse.Namespace) -> int:
    store = connection.require_store()
    tokens = refresh_tokens(connection)
    print(describe_tokens(connection.client.app_key, tokens, f"refreshed and stored in {store.describe()}"))
    return 0


def _status(connection: Connection, args: argparse.Namespace) -> int:
    store = connection.require_store()
    app_key = connection.client.app_key
    if not connection.from_store or connection.tokens is None:
        raise CommandError(f"the token store {store.describe()} has no tokens for app key {app_key}")
    print(describe_tokens(app_key, connection.tokens, f"in {store.describe()}"))
    expired = (connection.tokens.expires_at or time.time() + 1) <= time.time()
    return 1 if expired and not connection.tokens.refresh_token else 0
