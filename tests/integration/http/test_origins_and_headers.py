"""Only the public URL's origin may read the app (CORS, the /_event websocket), and every answer carries the
security headers: first the header wrapper over the routes, then the real Reflex ASGI app (pages served from a
build, routes, the socket server) in a separate process, as `reflex run --env prod` composes it."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import runpy
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pkcrm_app.http import build_api
from pkcrm_app.http.security_headers import inline_script_hashes, with_security_headers
from pkcrm_app.settings import PROJECT_ROOT, get_settings

PUBLIC = "https://crm.example.com"
FOREIGN = ("https://evil.example", "https://other.example.com", "http://crm.example.com",
           "https://crm.example.com:8443")
PAGE_SCRIPT = 'window.__reactRouterContext = {"basename": "/"};'
PAGE = ('<!DOCTYPE html><html><head><script type="module" src="/assets/entry.js"></script></head>'
        f'<body><div id="root"></div><script>{PAGE_SCRIPT}</script></body></html>')


def sha256_source(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app published at an https URL (production)."""
    monkeypatch.setenv("PKCRM_PUBLIC_URL", PUBLIC)
    monkeypatch.delenv("PKCRM_COOKIE_SECURE", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def built_pages(tmp_path: Path) -> Path:
    """A stand-in for the static build: one prerendered page with an inline script and a module script."""
    pages = tmp_path / "web" / "build" / "client"
    (pages / "login").mkdir(parents=True)
    (pages / "login" / "index.html").write_text(PAGE)
    (pages / "index.html").write_text(PAGE.replace(PAGE_SCRIPT, PAGE_SCRIPT + "\n"))
    return pages


# The header wrapper over the routes ---------------------------------------------------------------------------

def test_every_route_answer_carries_the_security_headers(published, built_pages: Path) -> None:
    client = TestClient(with_security_headers(build_api(), static_dir=built_pages), base_url=PUBLIC)
    for response in (client.get("/healthz"), client.get("/no-such-route"),
                     client.post("/auth/login", headers={"origin": "https://evil.example"})):
        headers = response.headers
        policy = directives(headers["content-security-policy"])
        assert policy["script-src"][:2] == ["'self'", "'unsafe-eval'"]
        assert "'unsafe-inline'" not in policy["script-src"]
        assert sha256_source(PAGE_SCRIPT) in policy["script-src"]
        assert sha256_source(PAGE_SCRIPT + "\n") in policy["script-src"]
        assert policy["connect-src"] == ["'self'", PUBLIC, "wss://crm.example.com"]
        assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
        assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
        assert policy["img-src"] == ["'self'", "data:", "blob:"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert headers["x-frame-options"] == "DENY"
        assert headers["strict-transport-security"].startswith("max-age=31536000")


def test_a_header_the_route_chose_itself_is_kept(published, built_pages: Path) -> None:
    """The emailed-link hop sends no-referrer (its URL holds a token); the wrapper must not loosen that."""
    client = TestClient(with_security_headers(build_api(), static_dir=built_pages), base_url=PUBLIC)
    response = client.get("/auth/reset/some-token", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers.get_list("referrer-policy") == ["no-referrer"]
    assert "content-security-policy" in response.headers


def test_on_this_machine_over_http_no_hsts_and_both_loopback_spellings(monkeypatch: pytest.MonkeyPatch,
                                                                        built_pages: Path) -> None:
    monkeypatch.setenv("PKCRM_PUBLIC_URL", "http://127.0.0.1:3101")
    get_settings.cache_clear()
    try:
        client = TestClient(with_security_headers(build_api(), static_dir=built_pages))
        headers = client.get("/healthz").headers
    finally:
        get_settings.cache_clear()
    assert "strict-transport-security" not in headers
    assert directives(headers["content-security-policy"])["connect-src"] == [
        "'self'", "http://localhost:3101", "http://127.0.0.1:3101", "ws://localhost:3101", "ws://127.0.0.1:3101"]


def test_script_hashes_are_those_of_the_inline_scripts_of_every_built_page(built_pages: Path) -> None:
    (built_pages / "board").mkdir()
    (built_pages / "board" / "index.html").write_text(
        "<html><head><script>let a = '&amp;</div>';</script><script src='/x.js'></script></head>"
        "<body><script type='module'>import('/y.js')</script></body></html>")
    assert inline_script_hashes(built_pages) == tuple(sorted({
        sha256_source(PAGE_SCRIPT), sha256_source(PAGE_SCRIPT + "\n"),
        sha256_source("let a = '&amp;</div>';"), sha256_source("import('/y.js')")}))
    assert inline_script_hashes(built_pages / "missing") == ()


def test_every_cookie_the_app_sets_or_clears_follows_the_secure_setting() -> None:
    """Every set_cookie/delete_cookie in the app passes secure=...cookie_secure: a new cookie cannot forget it."""
    calls = []
    for path in (PROJECT_ROOT / "pkcrm_app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("set_cookie", "delete_cookie")):
                secure = next((ast.unparse(kw.value) for kw in node.keywords if kw.arg == "secure"), "")
                calls.append((f"{path.name}:{node.lineno}", "cookie_secure" in secure))
    assert len(calls) >= 6
    assert [where for where, ok in calls if not ok] == []


# The real Reflex ASGI app, in its own process ------------------------------------------------------------------

PROBE = r"""
import json
import uuid
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from pkcrm_app.pkcrm_app import app

client = TestClient(app(), base_url="https://crm.example.com")
report = {"routes": {}, "preflight": {}, "socket": {}, "pages": {}}
for origin in ORIGINS:
    answer = client.get("/healthz", headers={"origin": origin})
    report["routes"][origin] = [answer.headers.get("access-control-allow-origin"),
                                answer.headers.get("access-control-allow-credentials")]
    answer = client.options("/auth/mfa/qr.svg", headers={"origin": origin, "access-control-request-method": "GET"})
    report["preflight"][origin] = [answer.status_code, answer.headers.get("access-control-allow-origin")]
    try:
        with client.websocket_connect(f"/_event/?EIO=4&transport=websocket&token={uuid.uuid4()}",
                                      headers={"origin": origin, "upgrade": "websocket"}) as socket:
            report["socket"][origin] = socket.receive_text()[:1]  # "0": the engine.io open packet
    except WebSocketDisconnect as refused:
        report["socket"][origin] = "refused: " + str(refused.reason)
for path in ("/login", "/healthz", "/favicon.ico"):
    answer = client.get(path)
    report["pages"][path] = [answer.status_code, dict(answer.headers)]
print("REPORT " + json.dumps(report))
"""


@pytest.fixture(scope="module")
def real_app_report(tmp_path_factory: pytest.TempPathFactory,
                    migrated_sqlite_file: Path) -> dict[str, dict[str, list[object] | str]]:
    """What the real app (pkcrm_app.pkcrm_app's rx.App, as Reflex composes it) answered to the probe."""
    tmp = tmp_path_factory.mktemp("real-app")
    shutil.copyfile(migrated_sqlite_file, tmp / "app.db")
    web = tmp / ".web"
    (web / "build" / "client" / "login").mkdir(parents=True)
    (web / "build" / "client" / "login" / "index.html").write_text(PAGE)
    (web / "build" / "client" / "favicon.ico").write_bytes((PROJECT_ROOT / "assets" / "favicon.ico").read_bytes())
    env = {**os.environ, "PKCRM_PUBLIC_URL": PUBLIC, "DATABASE_URL": f"sqlite:///{tmp / 'app.db'}",
           "PKCRM_INSTANCE_DIR": str(tmp), "REFLEX_WEB_WORKDIR": str(web), "__REFLEX_SKIP_COMPILE": "true",
           "__REFLEX_MOUNT_FRONTEND_COMPILED_APP": "true", "REFLEX_TELEMETRY_ENABLED": "false"}
    for name in ("REDIS_URL", "REFLEX_REDIS_URL", "PKCRM_COOKIE_SECURE", "REFLEX_CORS_ALLOWED_ORIGINS"):
        env.pop(name, None)
    probe = PROBE.replace("ORIGINS", repr([PUBLIC, *FOREIGN]))
    done = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    line = next((line for line in done.stdout.splitlines() if line.startswith("REPORT ")), None)
    assert line is not None, f"probe failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return json.loads(line[len("REPORT "):])  # type: ignore[no-any-return]


def test_reflex_is_configured_with_the_public_origins_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for public, origins in ((PUBLIC, [PUBLIC]),
                            ("http://127.0.0.1:3101", ["http://localhost:3101", "http://127.0.0.1:3101"])):
        monkeypatch.setenv("PKCRM_PUBLIC_URL", public)
        get_settings.cache_clear()
        try:
            config = runpy.run_path(str(PROJECT_ROOT / "rxconfig.py"))["config"]
        finally:
            get_settings.cache_clear()
        assert list(config.cors_allowed_origins) == origins


def test_the_real_app_lets_only_the_public_origin_read_its_routes(real_app_report) -> None:
    assert real_app_report["routes"][PUBLIC] == [PUBLIC, "true"]
    assert real_app_report["preflight"][PUBLIC] == [200, PUBLIC]
    for origin in FOREIGN:
        assert real_app_report["routes"][origin][0] is None, origin  # no Allow-Origin: the browser hides it
        assert real_app_report["preflight"][origin] == [400, None], origin


def test_the_real_app_refuses_a_websocket_from_another_origin(real_app_report) -> None:
    assert real_app_report["socket"][PUBLIC] == "0"
    for origin in FOREIGN:
        assert real_app_report["socket"][origin] == f'refused: "{origin} is not an accepted origin."', origin


def test_the_real_app_sends_the_headers_on_pages_static_files_and_routes(real_app_report) -> None:
    for path, (status, headers) in real_app_report["pages"].items():
        assert status == 200, path
        policy = directives(headers["content-security-policy"])
        assert sha256_source(PAGE_SCRIPT) in policy["script-src"], path  # hashed from the build at start-up
        assert policy["frame-ancestors"] == ["'none'"], path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["strict-transport-security"].startswith("max-age="), path
    assert real_app_report["pages"]["/login"][1]["content-type"].startswith("text/html")
