"""Run the simulator for the app's connected numbers (the `cloud-simulator` command)."""

from __future__ import annotations

import logging
import secrets

from sqlalchemy import select

from pkcrm_app.channels.whatsapp.models import WhatsAppNumber
from pkcrm_app.core.db import Database
from pkcrm_app.dev.cloud_simulator.app import build_simulator
from pkcrm_app.dev.cloud_simulator.state import SimNumber, SimulatorState
from pkcrm_app.dev.cloud_simulator.webhooks import Customers

DEMO_WABA = "100000000000009"


def provision_demo_number(database: Database) -> None:
    """Give the demo number (seeded without one) an access token and business account, so the app can send."""
    from pkcrm_app.dev.demo import DEMO_PHONE_NUMBER_ID

    with database.session() as db:
        number = db.scalar(select(WhatsAppNumber).where(WhatsAppNumber.phone_number_id == DEMO_PHONE_NUMBER_ID))
        if number is not None and not number.access_token:
            number.access_token = "SIM-" + secrets.token_urlsafe(24)
            number.business_account_id = number.business_account_id or DEMO_WABA


def state_from_database(database: Database, rate_per_second: float = 0.0) -> SimulatorState:
    """Every connected number with an access token, with its secrets, so webhooks are signed as Meta would."""
    state = SimulatorState(rate_per_second=rate_per_second)
    with database.session() as db:
        for n in db.scalars(select(WhatsAppNumber).order_by(WhatsAppNumber.id)):
            if n.access_token:
                state.add_number(SimNumber(n.phone_number_id, n.access_token, n.app_secret,
                                           n.business_account_id or "WABA-SIMULATOR",
                                           n.display_phone_number or "+1 555 000 0000"))
    return state


def serve(database: Database, *, host: str, port: int, webhook: str, rate_per_second: float = 0.0) -> None:
    import uvicorn

    provision_demo_number(database)
    state = state_from_database(database, rate_per_second)
    if not state.numbers:
        logging.getLogger("pkcrm.cloud_simulator").warning("no connected number has an access token yet")
    customers = Customers(webhook)
    print(f"Cloud API simulator on http://{host}:{port} for {len(state.numbers)} number(s); webhooks to {webhook}",
          flush=True)
    try:
        uvicorn.run(build_simulator(state, customers), host=host, port=port, log_level="warning")
    finally:
        customers.close()
