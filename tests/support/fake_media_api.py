"""A small fake of the Cloud API's media endpoints (GET /{version}/{media-id}, then the file URL), served by
uvicorn in a thread on a free port. Files, failures and slowness are set per media id by the test."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "test-access-token"


@dataclass
class FakeFile:
    data: bytes
    mime_type: str
    sha256: str = ""  # default: the right hex digest
    declared_size: int | None = None  # default: the real size
    fail_lookups: list[int] = field(default_factory=list)  # HTTP statuses answered to the next lookups, in order


@dataclass
class FakeMediaApi:
    files: dict[str, FakeFile] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    hold: threading.Event = field(default_factory=threading.Event)  # cleared: file downloads wait for it
    url: str = ""

    def __post_init__(self) -> None:
        self.hold.set()

    def app(self) -> Starlette:
        async def lookup(request: Request) -> Response:
            media_id = request.path_params["media_id"]
            self.calls.append(f"lookup {media_id}")
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return JSONResponse({"error": {"message": "Invalid OAuth access token", "code": 190}}, 401)
            item = self.files.get(media_id)
            if item is None:
                return JSONResponse({"error": {"message": "Unsupported get request", "code": 100}}, 400)
            if item.fail_lookups:
                return JSONResponse({"error": {"message": "try later", "code": 1}}, item.fail_lookups.pop(0))
            return JSONResponse({
                "messaging_product": "whatsapp", "id": media_id, "url": f"{self.url}/files/{media_id}",
                "mime_type": item.mime_type, "sha256": item.sha256 or hashlib.sha256(item.data).hexdigest(),
                "file_size": item.declared_size if item.declared_size is not None else len(item.data),
            })

        def download(request: Request) -> Response:  # sync: runs in a thread, so waiting does not block the loop
            media_id = request.path_params["media_id"]
            self.calls.append(f"download {media_id}")
            self.hold.wait(10)
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return Response(status_code=401)
            return Response(self.files[media_id].data, media_type=self.files[media_id].mime_type)

        return Starlette(routes=[Route("/v21.0/{media_id}", lookup), Route("/files/{media_id}", download)])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_media_api() -> Iterator[FakeMediaApi]:
    api = FakeMediaApi()
    port = free_port()
    api.url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(api.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield api
    finally:
        api.hold.set()
        server.should_exit = True
        thread.join(5)
