"""A hostile websocket client: speaks Reflex's protocol (Engine.IO 4 + Socket.IO 5 on /_event) directly.

It connects with any client token, cookie and Origin, sends any event with any payload, answers pings,
and keeps every delta and frontend event the server sends, so tests can prove what a socket could read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import reflex as rx
import websockets
from websockets.asyncio.client import ClientConnection

NAMESPACE = "/_event"
ROOT = rx.State.get_full_name()
HYDRATE = f"{ROOT}.hydrate_and_load"


def new_client_token() -> str:
    return str(uuid.uuid4())


def event_name(state_cls: type[rx.State], handler: str) -> str:
    """The wire name of a handler, as the compiled frontend sends it."""
    return f"{state_cls.get_full_name()}.{handler}"


def router_data(path: str) -> dict[str, Any]:
    return {"pathname": path, "asPath": path, "query": {}}


@dataclass
class ReflexSocket:
    """One websocket; `received` holds every update ({"delta": ..., "events": ...}) in order."""

    connection: ClientConnection
    client_token: str
    received: list[dict[str, Any]] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)  # other socket events, e.g. "new_token" for a duplicate tab
    closed: bool = False
    _reader: asyncio.Task[None] | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def open(cls, base_url: str, *, client_token: str | None = None, cookie: str | None = None,
                   origin: str | None = None, boot_path: str | None = "/board") -> ReflexSocket:
        """Connect like a tab would (the hydrate of `boot_path` rides in the CONNECT packet; None sends none)."""
        token = client_token if client_token is not None else new_client_token()
        url = base_url.replace("http", "ws", 1) + f"/_event/?EIO=4&transport=websocket&token={token}"
        headers = {"Cookie": cookie} if cookie else {}
        connection = await websockets.connect(url, additional_headers=headers, origin=origin,  # type: ignore[arg-type]
                                              open_timeout=10, max_size=None)
        opened = await asyncio.wait_for(connection.recv(), 10)
        assert str(opened).startswith("0"), opened
        auth = {"event": {"name": HYDRATE, "payload": {}, "router_data": router_data(boot_path)}} if boot_path else {}
        await connection.send(f"40{NAMESPACE}," + json.dumps(auth))
        sock = cls(connection, token)
        sock._reader = asyncio.get_running_loop().create_task(sock._read())
        return sock

    async def _read(self) -> None:
        try:
            async for frame in self.connection:
                text = str(frame)
                if text == "2":
                    await self.connection.send("3")
                elif text.startswith(f"42{NAMESPACE},"):
                    name, *args = json.loads(text[len(f"42{NAMESPACE},"):])
                    if name == "event" and args:
                        self.received.append(args[0])
                    else:
                        self.signals.append(name)
                    self._arrived.set()
                elif text.startswith(f"44{NAMESPACE}") or text.startswith(f"41{NAMESPACE}"):
                    break
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._arrived.set()

    async def emit(self, name: str, payload: dict[str, Any] | None = None, *, path: str = "/board") -> None:
        event = {"name": name, "payload": payload or {}, "router_data": router_data(path)}
        await self.connection.send(f"42{NAMESPACE}," + json.dumps(["event", event]))

    async def settle(self, quiet: float = 0.4, limit: float = 10.0) -> list[dict[str, Any]]:
        """Wait until nothing arrived for `quiet` seconds; returns what arrived meanwhile."""
        start = len(self.received)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline and not self.closed:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), quiet)
            except TimeoutError:
                break
        return self.received[start:]

    async def shows(self, text: str, *, within: float) -> bool:
        """Whether `text` arrives (or already did) within `within` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while text not in self.text() and loop.time() < deadline and not self.closed:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), max(0.0, deadline - loop.time()))
        return text in self.text()

    async def call(self, name: str, payload: dict[str, Any] | None = None, *, path: str = "/board",
                   quiet: float = 0.4) -> list[dict[str, Any]]:
        """Send one event and return every update it (and its chained events) caused."""
        start = len(self.received)
        await self.emit(name, payload, path=path)
        await self.settle(quiet)
        return self.received[start:]

    def text(self, since: int = 0) -> str:
        """Everything received (from update `since` on) as one string, to search for data that must not leak."""
        return json.dumps(self.received[since:], ensure_ascii=False)

    def redirects(self, since: int = 0) -> list[str]:
        """Paths the server told the tab to go to."""
        found = []
        for update in self.received[since:]:
            for event in update.get("events") or []:
                if event.get("name") == "_redirect":
                    found.append(str(event.get("payload", {}).get("path", "")))
        return found

    def var(self, state_cls: type[rx.State], name: str) -> Any:
        """The newest value the server sent for a var of a state (KeyError when it never sent one)."""
        key, wanted = state_cls.get_full_name(), f"{name}_rx_state_"
        for update in reversed(self.received):
            values = (update.get("delta") or {}).get(key) or {}
            for sent_name, value in values.items():
                if sent_name == name or sent_name.startswith(wanted):
                    return value
        raise KeyError(f"{key}.{name} was never sent")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.connection.close()
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await self._reader
