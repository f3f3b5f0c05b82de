"""OAuth on the sandbox: the authorize page (``/oauth/authorize``) and ``system.oauth2/getToken``.

getToken is POST only and unsigned (reference §5). Its answers copy the reference samples,
``expires_in`` as a string included. The reference has no sample of a getToken *error*; the
sandbox answers RFC 6749 errors (``error``/``error_description``) and repeats them as
``error_code``/``error_message`` so gateway-style error parsing sees them too.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from ali1688spider.sandbox.messages import html_reply, json_reply, redirect
from ali1688spider.sandbox.timefmt import classic_date

if TYPE_CHECKING:
    from ali1688spider.sandbox.catalog import Catalog
    from ali1688spider.sandbox.messages import Reply, Request
    from ali1688spider.sandbox.options import AppCredentials
    from ali1688spider.sandbox.stats import Stats
    from ali1688spider.sandbox.tokens import TokenStore

GET_TOKEN = "getToken"


class OAuth:
    def __init__(self, apps: dict[str, AppCredentials], tokens: TokenStore, catalog: Catalog,
                 stats: Stats):
        self.apps, self.tokens, self.catalog, self.stats = apps, tokens, catalog, stats

    def authorize(self, request: Request) -> Reply:
        """Authorize at once (no login page) and redirect back with a one-time code.

        ``login_id`` (sandbox extra) picks the authorizing seller; default: the owner shop.
        """
        query = dict(parse_qsl(request.query, keep_blank_values=True))
        client_id, redirect_uri = query.get("client_id", ""), query.get("redirect_uri", "")
        if client_id not in self.apps:
            return html_reply(400, "400 Bad Request", "Unknown client_id (app key).")
        if not redirect_uri.startswith(("http://", "https://")):
            return html_reply(400, "400 Bad Request", "redirect_uri must be an http(s) URL.")
        owner = self.catalog.owner
        if query.get("login_id"):
            owner = next((s for s in self.catalog.shops if s.login_id == query["login_id"]), None)
            if owner is None:
                return html_reply(400, "400 Bad Request", "Unknown login_id.")
        code = self.tokens.new_code(client_id, owner.index, redirect_uri, time.time())
        back = {"code": code}
        if "state" in query:
            back["state"] = query["state"]
        separator = "&" if "?" in redirect_uri else "?"
        return redirect(f"{redirect_uri}{separator}{urlencode(back)}")

    def get_token(self, request: Request, path_app_key: str) -> Reply:
        self.stats.call(GET_TOKEN)
        if request.method != "POST":
            return self._error(405, "invalid_request", "getToken must be called with POST")
        params = dict(request.pairs())
        app = self.apps.get(params.get("client_id", ""))
        if app is None or app.app_key != path_app_key or params.get("client_secret") != app.app_secret:
            return self._error(401, "invalid_client", "client_id or client_secret is wrong")
        now = time.time()
        grant_type = params.get("grant_type")
        if grant_type == "authorization_code":
            if not params.get("code"):
                return self._error(400, "invalid_request", "code is required")
            code = self.tokens.redeem_code(params["code"], app.app_key, params.get("redirect_uri"), now)
            if code is None:
                return self._error(400, "invalid_grant", "code is invalid, used or expired")
            issued = self.tokens.issue(app.app_key, code.owner, now, refresh=None,
                                       want_refresh=params.get("need_refresh_token") == "true")
        elif grant_type == "refresh_token":
            refresh = self.tokens.refresh_grant(params.get("refresh_token", ""), app.app_key, now)
            if refresh is None:
                return self._error(400, "invalid_grant", "refresh_token is invalid or expired")
            issued = self.tokens.issue(app.app_key, refresh[0].owner, now, refresh=refresh,
                                       want_refresh=True)
        else:
            return self._error(400, "unsupported_grant_type",
                               "grant_type must be authorization_code or refresh_token")
        owner = self.catalog.shops[issued.owner]
        body: dict[str, Any] = {
            "aliId": owner.user_id,
            "resource_owner": owner.login_id,
            "memberId": owner.member_id,
            "expires_in": str(issued.expires_in),
            "access_token": issued.access_token,
        }
        if issued.refresh_token is not None and issued.refresh_expires_at is not None:
            body["refresh_token"] = issued.refresh_token
            body["refresh_token_timeout"] = classic_date(issued.refresh_expires_at)
        return json_reply(body)

    def _error(self, status: int, error: str, description: str) -> Reply:
        self.stats.error(f"oauth.{error}")
        return json_reply({"error": error, "error_description": description,
                           "error_code": error, "error_message": description}, status)
