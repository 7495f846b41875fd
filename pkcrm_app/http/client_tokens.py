"""Refuses, at the websocket handshake, any client token that is not a tab's own v4 UUID.

Reflex takes the token from the `?token=` of `/_event`; a socket that named an organisation's shared-state
token would receive that organisation's live counters. The event guard (`ui/guard.py`) refuses the same
tokens again for every event, so neither check alone is load-bearing."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from pkcrm_app.live.tokens import is_client_token

log = logging.getLogger(__name__)
EVENT_PATH = "/_event"


def refuse_foreign_client_tokens(app: ASGIApp) -> ASGIApp:
    """Wrap the whole app: a websocket to /_event with a missing or malformed token is closed unopened."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("websocket", "http") and scope.get("path", "").startswith(EVENT_PATH):
            tokens = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [])
            if len(tokens) != 1 or not is_client_token(tokens[0]):
                log.warning("websocket handshake refused: the client token is not a tab's own (v4 UUID)")
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                else:
                    await send({"type": "http.response.start", "status": 403, "headers": []})
                    await send({"type": "http.response.body", "body": b""})
                return
        await app(scope, receive, send)

    return guarded
