"""A local Starlette server speaking enough of the WhatsApp Cloud API for the app, the demo and the tests."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pkcrm_app.dev.cloud_simulator.state import SimNumber, SimulatorState
from pkcrm_app.dev.cloud_simulator.webhooks import Customers
from pkcrm_app.dev.customer_simulator import Customer


def graph_error(code: int, message: str, status: int = 400, details: str = "") -> JSONResponse:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": secrets.token_hex(8)}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return JSONResponse({"error": error}, status_code=status)


def build_simulator(state: SimulatorState, customers: Customers | None = None) -> Starlette:
    def caller(request: Request) -> SimNumber | None:
        header = request.headers.get("authorization", "")
        return state.number_for_token(header[7:]) if header.startswith("Bearer ") else None

    def unauthorised() -> JSONResponse:
        return graph_error(190, "Error validating access token: the session is invalid.", 401)

    async def send(request: Request) -> Response:
        number, phone_id = caller(request), request.path_params["phone_id"]
        if number is None or number.phone_number_id != phone_id:
            return unauthorised()
        payload: dict[str, Any] = await request.json()
        to, key = str(payload.get("to") or ""), payload.get("biz_opaque_callback_data")
        if payload.get("messaging_product") != "whatsapp" or not to or payload.get("type") not in payload:
            return graph_error(100, "(#100) Invalid parameter")
        tag = f"{key or to}"
        if state.over_rate(phone_id):
            return graph_error(130429, "Rate limit hit", details="Cloud API message throughput has been reached.")
        if to.endswith("00026"):
            state.refuse(to)
            return graph_error(131026, "Message undeliverable")
        if to.endswith("00047"):
            return graph_error(131047, "Re-engagement message")
        if to.endswith("00429") and state.first_time(tag):
            return graph_error(130429, "Rate limit hit")
        if to.endswith("00500") and state.first_time(tag):
            return JSONResponse({"error": {"message": "Service unavailable", "code": 2}}, status_code=500)
        if to.endswith("00408") and state.first_time(tag):
            await asyncio.sleep(state.slow_seconds)
        wamid = state.accept(phone_id, payload)
        if customers is not None:
            customers.after_send(number, wamid=wamid, to=to, key=key if isinstance(key, str) else None)
        return JSONResponse({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                             "messages": [{"id": wamid}]})

    async def upload(request: Request) -> Response:
        number = caller(request)
        if number is None or number.phone_number_id != request.path_params["phone_id"]:
            return unauthorised()
        form = await request.form()
        file = form.get("file")
        if file is None or isinstance(file, str):
            return graph_error(100, "(#100) The parameter file is required.")
        data = await file.read()
        mime = str(form.get("type") or file.content_type or "")
        if not data or len(data) > 100 * 1024 * 1024:
            return graph_error(131053, "Media upload error")
        return JSONResponse({"id": state.store_media(data, mime)})

    async def node(request: Request) -> Response:
        """GET /{v}/{id}: a phone number, or a media object's metadata and download URL."""
        number, node_id = caller(request), request.path_params["node_id"]
        if number is None:
            return unauthorised()
        if node_id in state.media:
            data, mime, sha = state.media[node_id]
            url = str(request.base_url).rstrip("/") + f"/media-download/{node_id}"
            return JSONResponse({"messaging_product": "whatsapp", "url": url, "mime_type": mime, "sha256": sha,
                                 "file_size": len(data), "id": node_id})
        if node_id == number.phone_number_id:
            return JSONResponse({"id": node_id, "display_phone_number": number.display_phone_number,
                                 "verified_name": number.verified_name, "quality_rating": "GREEN",
                                 "code_verification_status": "VERIFIED", "platform_type": "CLOUD_API"})
        return graph_error(100, f"Unsupported get request. Object with ID '{node_id}' does not exist", 400)

    async def download(request: Request) -> Response:
        if caller(request) is None:
            return unauthorised()
        found = state.media.get(request.path_params["media_id"])
        if found is None:
            return Response(status_code=404)
        return Response(found[0], media_type=found[1])

    async def templates(request: Request) -> Response:
        number = caller(request)
        if number is None or number.business_account_id != request.path_params["waba_id"]:
            return unauthorised()
        return JSONResponse({"data": state.templates, "paging": {"cursors": {"before": "", "after": ""}}})

    async def customer_says(request: Request) -> Response:
        """Simulator only: POST {"from": wa_id, "name": ..., "text": ...} makes a customer write to the number."""
        number = state.numbers.get(request.path_params["phone_id"])
        body = await request.json()
        if number is None or customers is None:
            return JSONResponse({"error": "unknown number or no webhook configured"}, status_code=404)
        customer = Customer(str(body.get("from") or "923001234567"), str(body.get("name") or "Customer"))
        envelope = await asyncio.to_thread(customers.say, number, customer, str(body.get("text") or "Hi"))
        return JSONResponse(envelope)

    async def sent(_request: Request) -> Response:
        """Simulator only: every message accepted so far (tests and benchmarks read it)."""
        with state.lock:
            return JSONResponse([{k: m[k] for k in ("wamid", "phone_number_id", "to", "type", "key", "at")}
                                 for m in state.messages])

    return Starlette(routes=[
        Route("/_sim/sent", sent, methods=["GET"]),
        Route("/_sim/{phone_id}/customer", customer_says, methods=["POST"]),
        Route("/media-download/{media_id}", download, methods=["GET"]),
        Route("/{version}/{phone_id}/messages", send, methods=["POST"]),
        Route("/{version}/{phone_id}/media", upload, methods=["POST"]),
        Route("/{version}/{waba_id}/message_templates", templates, methods=["GET"]),
        Route("/{version}/{node_id}", node, methods=["GET"]),
    ])


@contextmanager
def serving(asgi_app: Any, port: int = 0) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 in a thread (tests, benchmarks); yields its base URL."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP proto: asyncio sets NODELAY
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(asgi_app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


@contextmanager
def running(state: SimulatorState, customers: Customers | None = None, port: int = 0) -> Iterator[str]:
    """Serve the simulator on 127.0.0.1 in a thread (tests, benchmarks); yields its base URL."""
    try:
        with serving(build_simulator(state, customers), port) as url:
            yield url
    finally:
        if customers is not None:
            customers.close()
