"""``ali1688 call API key=value…``: one signed call, for debugging credentials and permissions.

Prints the JSON answer. On an error answer it prints the classified error and exits 1; when
the gateway refuses the app permission (``gw.APIACLDecline``) it says which solution
(permission package) to add. Every required parameter missing is named in one line (exit 2)
before any call; ``country`` defaults to ``ALI1688_COUNTRY``. The access token comes from the token store, else from
``ALI1688_ACCESS_TOKEN``; an expiring or refused token is refreshed once (and stored).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TYPE_CHECKING, Any

from ali1688spider.cli.auth import (
    add_connection_arguments,
    connect,
    fresh_tokens,
    refresh_tokens,
)
from ali1688spider.cli.errors import CommandError

if TYPE_CHECKING:
    from ali1688spider.api.catalogue import ApiSpec

HELP = "make one signed API call and print the JSON answer (or the classified error)"
#: Refresh before the call when the access token has less than this left.
REFRESH_MARGIN = 60.0
_JSON_SCALAR = re.compile(r"-?\d+(\.\d+)?|true|false|null")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "api", metavar="API",
        help="API name from the catalogue (e.g. product.search.queryProductDetail) or "
        "NAMESPACE:NAME[-VERSION] for any other API",
    )
    parser.add_argument(
        "params", metavar="KEY=VALUE", nargs="*",
        help="business parameters; a value starting with { or [ is JSON. For APIs with one JSON "
        "parameter (offerDetailParam…) plain KEY=VALUE pairs are put inside it, numbers and "
        "true/false as JSON (quote a value as '\"123\"' to send a string)",
    )
    parser.add_argument("--result", action="store_true", help="print only the business payload")
    parser.add_argument("--no-token", action="store_true", help="send no access token")
    add_connection_arguments(parser)


def parse_params(pairs: list[str], spec: ApiSpec, *, country: str | None = None) -> dict[str, Any]:
    """``KEY=VALUE`` words as call parameters (see the ``params`` help), with *country* where the
    API requires one and none was given; a CommandError naming every required one missing."""
    items = []
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"parameter {pair!r} is not KEY=VALUE")
        items.append((key, text))
    wrapper = spec.wrapper_param
    if wrapper and wrapper in dict(items):
        return {key: _value(key, text, nested=False) for key, text in items}
    params = {key: _value(key, text, nested=bool(wrapper)) for key, text in items}
    if country and "country" in spec.required:
        params.setdefault("country", country)
    missing = [name for name in spec.required if params.get(name) in (None, "")]
    if missing:
        raise CommandError(f"{spec.name} needs {', '.join(missing)}: add "
                           + " ".join(f"{name}=…" for name in missing), status=2)
    return {wrapper: params} if wrapper else params


def _value(key: str, text: str, *, nested: bool) -> Any:
    if text[:1] in ("{", "[") or (nested and (_JSON_SCALAR.fullmatch(text) or text[:1] == '"')):
        try:
            return json.loads(text)
        except ValueError:
            raise CommandError(f"the value of {key} is not valid JSON") from None
    return text


def run(args: argparse.Namespace) -> int:
    from ali1688spider.api.errors import ApiCallError, ErrorKind, unwrap_result
    from ali1688spider.config import get_str
    from ali1688spider.gateway.client import explain_error, resolve_api

    try:
        spec = resolve_api(args.api)
    except KeyError as exc:
        raise CommandError(exc.args[0]) from None
    params = parse_params(args.params, spec, country=get_str({}, "ALI1688_COUNTRY"))
    connection = connect(args)
    client = connection.client
    use_token = spec.needs_token and not args.no_token
    tokens = fresh_tokens(connection, REFRESH_MARGIN) if use_token else None
    if use_token and tokens is None:
        print(f"ali1688 call: no access token for app key {client.app_key}: calling without one", file=sys.stderr)
    try:
        try:
            answer = client.call(spec, params, access_token=tokens.access_token if tokens else None)
        except ApiCallError as exc:
            if exc.error.kind is not ErrorKind.TOKEN_INVALID or not (tokens and tokens.refresh_token):
                raise
            print("ali1688 call: the access token was refused; refreshing it and calling again", file=sys.stderr)
            tokens = refresh_tokens(connection)
            answer = client.call(spec, params, access_token=tokens.access_token)
    except ApiCallError as exc:
        raise connection.fail(explain_error(spec, exc.error, client.app_key)) from None
    payload = unwrap_result(answer) if args.result else answer
    print(json.dumps(payload, ensure_ascii=False, indent=2))
    return 0
