"""Client tokens and live-channel tokens: what a socket may connect as, and what it cannot guess."""

from __future__ import annotations

import uuid

import pytest

from pkcrm_app.core.crypto import MasterKeys
from pkcrm_app.http.client_tokens import refuse_foreign_client_tokens
from pkcrm_app.live.tokens import is_client_token


@pytest.mark.parametrize("token", [str(uuid.uuid4()) for _ in range(5)])
def test_a_tabs_own_token_is_accepted(token: str) -> None:
    assert is_client_token(token)


def test_the_frontends_own_generator_is_accepted() -> None:
    """Reflex's generateUUID sets the variant nibble with (r & 0x7) | 0x8: 8 to f, all of them real tabs."""
    for nibble in "89abcdef":
        assert is_client_token(f"1b4e28ba-2fa1-41d2-{nibble}83f-0242ac130003")


@pytest.mark.parametrize("token", [
    "", None, "org-1", "org-5f3a9c", str(uuid.uuid1()), str(uuid.uuid4()).upper(), str(uuid.uuid4()) + "x",
    "x" + str(uuid.uuid4()), str(uuid.uuid4()).replace("-", ""), "00000000-0000-4000-7000-000000000000",
    "00000000-0000-3000-8000-000000000000",
])
def test_every_other_token_is_refused(token: str | None) -> None:
    assert not is_client_token(token)


def test_channel_secrets_depend_on_the_master_key() -> None:
    one = MasterKeys.parse("k1:" + "A" * 43).derive("live-channel")
    other = MasterKeys.parse("k1:" + "B" * 43).derive("live-channel")
    assert len(one) == 32 and one != other
    assert MasterKeys.parse("k1:" + "A" * 43).derive("another purpose") != one


def _handshake(query: str) -> list[dict[str, object]]:
    import asyncio

    sent: list[dict[str, object]] = []
    reached: list[bool] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        reached.append(True)

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    async def receive():  # type: ignore[no-untyped-def]
        return {"type": "websocket.connect"}

    scope = {"type": "websocket", "path": "/_event/", "query_string": query.encode()}
    asyncio.run(refuse_foreign_client_tokens(app)(scope, receive, send))
    return sent if not reached else [{"type": "reached"}]


def test_the_handshake_refuses_a_shared_state_token() -> None:
    assert _handshake("EIO=4&transport=websocket&token=org-1") == [{"type": "websocket.close", "code": 1008}]
    assert _handshake("EIO=4&transport=websocket") == [{"type": "websocket.close", "code": 1008}]
    assert _handshake(f"EIO=4&transport=websocket&token={uuid.uuid4()}") == [{"type": "reached"}]
