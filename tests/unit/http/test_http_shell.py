"""The HTTP shell: every state-changing route sits behind the one same-origin check, route modules hold no copy
of it (nor of the session look-up), and the one DomainError handler answers in the shape each caller reads."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from pkcrm_app import http as http_package
from pkcrm_app.core.errors import DomainError, InvalidInput, NotFound, StepUpRequired
from pkcrm_app.http import build_api
from pkcrm_app.http.deps import SignedOut
from pkcrm_app.http.refusals import answer_refusal
from pkcrm_app.http.routing import JSON_ONLY, back_to, fetch_or_back_to, get, post

HTTP = Path(http_package.__file__).parent
SIGNED_BY_META = {"/webhooks/whatsapp"}


def test_every_post_route_refuses_another_origin() -> None:
    posts = [route.path for route in build_api().routes
             if isinstance(route, Route) and "POST" in (route.methods or set())]
    assert len(posts) > 15
    with TestClient(build_api(), base_url="http://testserver") as client:
        for path in posts:
            if path in SIGNED_BY_META:
                continue
            answer = client.post(path.replace("{token}", "x"), headers={"origin": "https://evil.test"})
            assert (answer.status_code, answer.text) == (403, "cross-site request refused"), path


def _calls(path: Path, names: set[str]) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    return [f"{path.name}:{node.lineno}" for node in ast.walk(tree) if isinstance(node, ast.Call)
            and (getattr(node.func, "id", None) in names or getattr(node.func, "attr", None) in names)]


def test_route_modules_hold_no_copy_of_the_shared_checks() -> None:
    """Only routing.py checks the origin, only deps.py looks up the session, only refusals.py maps errors."""
    owners = {"routing.py": {"same_origin", "cross_site_refused"}, "deps.py": {"resolve_session"},
              "refusals.py": {"code_for"}}
    found = [call for path in sorted(HTTP.glob("*.py")) for call in
             _calls(path, set().union(*(names for owner, names in owners.items() if owner != path.name)))]
    assert found == []


def _raising(error: DomainError):  # type: ignore[no-untyped-def]
    async def endpoint(_request: Request) -> Response:
        raise error
    return endpoint


def _app(*routes: Route) -> TestClient:
    app = Starlette(routes=list(routes), exception_handlers={DomainError: answer_refusal})
    return TestClient(app, base_url="http://testserver", follow_redirects=False)


@pytest.mark.parametrize(("error", "status"), [(InvalidInput("bad"), 400), (StepUpRequired(), 403),
                                               (NotFound("gone"), 404), (SignedOut(), 401)])
def test_fetch_routes_answer_json(error: DomainError, status: int) -> None:
    with _app(post("/x", _raising(error), refusals=JSON_ONLY)) as client:
        answer = client.post("/x")
    body = answer.json()
    assert answer.status_code == status and body["ok"] is False and body["error"] == str(error)
    assert body["step_up"] is isinstance(error, StepUpRequired)
    assert body.get("next") == ("/login" if status == 401 else None)
    assert answer.headers["cache-control"] == "no-store"


def test_form_routes_go_back_to_their_page_with_a_code() -> None:
    with _app(post("/x", _raising(InvalidInput("The two passwords differ.")), refusals=back_to("/reset")),
              post("/out", _raising(SignedOut()), refusals=back_to("/reset")),
              post("/both", _raising(InvalidInput("x")), refusals=fetch_or_back_to("/settings/sso"))) as client:
        assert client.post("/x").headers["location"] == "/reset?error=passwords-differ"
        assert client.post("/x", headers={"accept": "application/json"}).json() == {
            "next": "/reset?error=passwords-differ"}
        assert client.post("/out").headers["location"] == "/login"
        assert client.post("/both").headers["location"] == "/settings/sso?error=failed"
        fetched = client.post("/both", headers={"accept": "application/json"})
        assert fetched.status_code == 400 and fetched.json()["error"] == "x"


def test_links_answer_plain_text() -> None:
    with _app(get("/file", _raising(NotFound("not found")))) as client:
        answer = client.get("/file")
    assert (answer.status_code, answer.text) == (404, "not found")
