"""What admins and agents are shown of a failed call to the Cloud API is fixed words and numbers: never the
hosts, addresses and ports the server talks to, the API's own text, or an exception's text (those go to the log)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from pkcrm_app.channels.whatsapp import connection, templates
from pkcrm_app.channels.whatsapp.client import CloudClient
from pkcrm_app.channels.whatsapp.media import MediaError, fetch
from pkcrm_app.core.errors import InvalidInput
from pkcrm_app.ui.pages.whatsapp_settings.state import cloud_api_label
from tests.support.outbox import make_shop

INTERNAL = "http://10.20.30.40:8443"
LEAKS = re.compile(r"10\.20\.30\.40|8443|internal-proxy|ConnectError|Traceback|httpx", re.IGNORECASE)


def _answer(status: int) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"message": "upstream internal-proxy 10.20.30.40:8443 refused"}})
    return handler


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError(f"All connection attempts failed to {request.url}", request=request)


def _factory(handler: Callable[[httpx.Request], httpx.Response]) -> Callable[[str], CloudClient]:
    return lambda token: CloudClient(access_token=token, base=INTERNAL, http=httpx.Client(
        transport=httpx.MockTransport(handler)))


@pytest.mark.parametrize("handler", [_unreachable, _answer(500), _answer(502), _answer(403)],
                         ids=["unreachable", "500", "502", "403"])
def test_test_connection_and_template_sync_never_show_internal_addresses(database, handler, caplog) -> None:  # type: ignore[no-untyped-def]
    shop = make_shop(database)
    with database.session() as db:
        said = connection.check_connection(db, shop.admin(), shop.number_id, client_factory=_factory(handler))
        with pytest.raises(InvalidInput) as refused:
            templates.sync_templates(db, shop.admin(), shop.number_id, client_factory=_factory(handler))
    assert said.startswith("Connection failed: WhatsApp") and not LEAKS.search(said), said
    assert str(refused.value).startswith("Templates were not read") and not LEAKS.search(str(refused.value))
    assert any(LEAKS.search(record.getMessage()) for record in caplog.records)  # the detail is in the log


@pytest.mark.parametrize("handler", [_unreachable, _answer(403), _answer(404)], ids=["unreachable", "403", "404"])
def test_media_errors_name_the_step_and_status_only(handler) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(transport=httpx.MockTransport(handler)) as client, pytest.raises(MediaError) as failed:
        fetch(client, base_url=INTERNAL, version="v21.0", token="t", media_id="1", kind="image")
    assert failed.value.reason.startswith("WhatsApp") and not LEAKS.search(failed.value.reason), failed.value.reason


def test_the_settings_page_names_the_cloud_api_without_its_address() -> None:
    assert cloud_api_label("https://graph.facebook.com", "v21.0") == "Meta WhatsApp Cloud API v21.0"
    assert not LEAKS.search(cloud_api_label(INTERNAL, "v21.0"))
