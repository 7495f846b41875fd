"""The account page: the devices this user is signed in on."""

import reflex as rx

from pkcrm_app.ui.components.layout import page_frame
from pkcrm_app.ui.states.account import AccountState, DeviceLine


def _device(line: DeviceLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.hstack(rx.text(line.device, weight="medium"),
                                rx.cond(line.current, rx.badge("this device", color_scheme="green")))),
        rx.table.cell(line.ip_address),
        rx.table.cell(line.screen),
        rx.table.cell(line.language),
        rx.table.cell(line.signed_in),
        rx.table.cell(line.last_active),
        rx.table.cell(rx.cond(line.current, rx.fragment(),
                              rx.button("Sign out", size="1", variant="soft", color_scheme="red",
                                        on_click=AccountState.end_one(line.handle)))),
        class_name="device-row",
    )


def account_page() -> rx.Component:
    return page_frame(
        AccountState,
        rx.vstack(
            rx.heading("Your sessions", size="5"),
            rx.text("Everywhere you are signed in. Sign out any device you do not recognise.", size="2",
                    color_scheme="gray"),
            rx.cond(AccountState.notice != "", rx.callout(AccountState.notice, size="1", id="account-notice")),
            rx.card(
                rx.table.root(
                    rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                        "Device", "IP address", "Screen", "Language", "Signed in", "Last active", "")])),
                    rx.table.body(rx.foreach(AccountState.devices, _device)),
                    size="1", width="100%",
                ),
                width="100%",
            ),
            rx.button("Sign out all other sessions", on_click=AccountState.end_others, variant="soft",
                      id="end-other-sessions"),
            padding="20px", width="100%", spacing="4", overflow_y="auto",
        ),
    )
