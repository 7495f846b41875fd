"""Security headers on every HTTP answer of the app: pages, static files and routes.

An ASGI wrapper (not a Starlette route middleware) because Reflex serves the built pages and static files
from a mount below the routes: only a wrapper around the whole app sees them all. Websocket and lifespan
traffic pass through untouched (the socket server checks the websocket's Origin itself).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pkcrm_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

HSTS = "max-age=31536000; includeSubDomains"


class _InlineScripts(HTMLParser):
    """Collects the text of every <script> without a src: what a hash in script-src must match."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not any(name == "src" for name, _ in attrs):
            self._current = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._current is not None:
            self.scripts.append("".join(self._current))
            self._current = None


def inline_script_hashes(static_dir: Path) -> tuple[str, ...]:
    """CSP sources ('sha256-...') for the inline scripts of every built HTML page, sorted, without repeats.

    The pages are prerendered at build time, so their inline scripts (router context, module bootstrap, colour
    mode) are known before the first request; hashing them keeps 'unsafe-inline' out of script-src.
    """
    found: set[str] = set()
    for page in sorted(static_dir.rglob("*.html")):
        parser = _InlineScripts()
        parser.feed(page.read_text(encoding="utf-8"))
        parser.close()
        for script in parser.scripts:
            digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
            found.add(f"'sha256-{digest}'")
    return tuple(sorted(found))


def built_pages_dir() -> Path:
    """Where `reflex run --env prod` puts the static build that the backend serves (.web/build/client)."""
    from reflex.utils import prerequisites
    from reflex_base import constants
    from reflex_base.config import get_config

    return (prerequisites.get_web_dir() / constants.Dirs.STATIC / get_config().frontend_path.strip("/")).resolve()


def _socket_origin(origin: str) -> str:
    parts = urlsplit(origin)
    return f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"


def content_security_policy(settings: Settings, script_hashes: Iterable[str]) -> str:
    """The page policy: scripts only from the app (plus its build's inline scripts), nothing framed, no plugins.

    - script-src 'unsafe-eval': Reflex runs `rx.call_script` code and event callbacks through eval().
    - style-src 'unsafe-inline': Radix Themes writes style="..." attributes (CSS variables) on its components and
      emotion injects <style> elements at run time; neither takes a nonce from Reflex. Styles cannot run
      script, and the usual CSS exfiltration path (url() to another host) is closed by img-src, font-src and
      connect-src being limited to the app.
    - connect-src: the app's own origin(s) and their websocket form (the /_event socket).
    """
    origins = settings.allowed_origins
    connect = ["'self'", *origins, *(_socket_origin(origin) for origin in origins)]
    directives = [
        "default-src 'self'",
        " ".join(["script-src 'self' 'unsafe-eval'", *script_hashes]),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src " + " ".join(dict.fromkeys(connect)),
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


def security_headers(settings: Settings, script_hashes: Iterable[str]) -> dict[str, str]:
    """Headers every answer carries; HSTS only when the app is published over https."""
    headers = {
        "Content-Security-Policy": content_security_policy(settings, script_hashes),
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }
    if urlsplit(settings.public_url).scheme == "https":
        headers["Strict-Transport-Security"] = HSTS
    return headers


def with_security_headers(app: ASGIApp, *, static_dir: Path | None = None) -> ASGIApp:
    """Wrap `app` so each HTTP response carries the security headers; a header the route set itself is kept
    (e.g. the emailed-link hop's stricter Referrer-Policy: no-referrer).

    Called once per worker at start-up (Reflex applies its api_transformer list when it builds the ASGI app,
    after `reflex run --env prod` has built the pages), so the inline-script hashes are read from disk once.
    """
    pages = static_dir if static_dir is not None else built_pages_dir()
    hashes = inline_script_hashes(pages) if pages.is_dir() else ()
    log.info("content security policy: %d inline script hashes from %s", len(hashes), pages)
    extra = [(name.lower().encode("latin-1"), value.encode("latin-1"))
             for name, value in security_headers(get_settings(), hashes).items()]

    async def secured(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in extra if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_headers)

    return secured
