"""A real OpenID provider (oidc-provider-mock) on a loopback port, with hooks to play a hostile provider or network.

`rewrite_id_token` lets a test swap the ID token in the provider's token response for another one, e.g. a
genuine token the same provider issued to another client (wrong audience) or one with a broken signature.
`rewrite_discovery` changes the discovery document (endpoints on another host), and `on_request` sees every
request the provider receives (how often discovery and keys are fetched, and what the app held meanwhile).
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import oidc_provider_mock
import werkzeug.serving
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

Rewrite = Callable[[str], str]
DISCOVERY = "/.well-known/openid-configuration"


def unverified_claims(id_token: str) -> dict[str, Any]:
    payload = id_token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


class MockProvider:
    """The provider app plus a WSGI wrapper that can rewrite the ID token it hands out."""

    def __init__(self, users: Iterable[oidc_provider_mock.User]) -> None:
        self.inner = oidc_provider_mock.app(require_nonce=True, user_claims=list(users))
        self.rewrite_id_token: Rewrite | None = None
        self.rewrite_discovery: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.on_request: Callable[[str], None] | None = None
        self.issuer = ""
        self.token_requests: list[dict[str, str]] = []  # form fields of each token request (PKCE verifier...)
        self.paths: list[str] = []  # every request's path, in order

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.paths.append(request.path)
        if self.on_request is not None:
            self.on_request(request.path)
        if request.path == DISCOVERY and self.rewrite_discovery is not None:
            document = json.loads(Response.from_app(self.inner, environ).get_data())
            return Response(json.dumps(self.rewrite_discovery(document)), content_type="application/json")(
                environ, start_response)
        if request.method != "POST" or request.path != "/oauth2/token":
            return self.inner(environ, start_response)
        body = request.get_data()
        self.token_requests.append({key: values[0] for key, values in parse_qs(body.decode()).items()})
        environ["wsgi.input"] = io.BytesIO(body)
        if self.rewrite_id_token is None:
            return self.inner(environ, start_response)
        response = Response.from_app(self.inner, environ)
        answer = json.loads(response.get_data())
        if "id_token" in answer:
            answer["id_token"] = self.rewrite_id_token(answer["id_token"])
        return Response(json.dumps(answer), status=response.status_code, content_type="application/json")(
            environ, start_response)

    def id_token_for(self, client_id: str, sub: str, nonce: str) -> str:
        """A genuine ID token this provider signs for another client (authorize + token, as that client would)."""
        client = Client(self.inner)
        query = urlencode({"client_id": client_id, "redirect_uri": "http://127.0.0.1/cb", "response_type": "code",
                           "scope": "openid email profile", "nonce": nonce, "state": "x"})
        answer = client.post(f"/oauth2/authorize?{query}", data={"sub": sub}, base_url=self.issuer)
        code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
        token = client.post("/oauth2/token", base_url=self.issuer, auth=(client_id, "whatever"),
                            data={"grant_type": "authorization_code", "code": code,
                                  "redirect_uri": "http://127.0.0.1/cb"})
        return str(token.get_json()["id_token"])

    def other_audience(self, client_id: str = "someone-elses-app") -> Rewrite:
        """A rewrite that hands out a token for `client_id` instead, same subject and nonce (token substitution)."""
        def swap(id_token: str) -> str:
            claims = unverified_claims(id_token)
            return self.id_token_for(client_id, str(claims["sub"]), str(claims.get("nonce", "")))
        return swap

    @staticmethod
    def broken_signature(id_token: str) -> str:
        """Changes the claims (another email) but keeps the provider's signature, so it no longer matches."""
        header, _payload, signature = id_token.split(".")
        claims = unverified_claims(id_token) | {"email": "mallory@acme.test"}
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        return f"{header}.{forged}.{signature}"


@contextmanager
def running_provider(users: Iterable[oidc_provider_mock.User] = ()) -> Iterator[MockProvider]:
    """Serve the provider on 127.0.0.1 (a free port) in a thread for the duration of the block."""
    provider = MockProvider(users)
    server = werkzeug.serving.make_server("127.0.0.1", 0, provider, threaded=True)
    provider.issuer = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
