"""The account page: two-factor authentication and the devices this user is signed in on."""

import reflex as rx

from pkcrm_app.ui.components.settings_frame import settings_frame
from pkcrm_app.ui.pages.account.state import AccountState, DeviceLine


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


def _two_factor_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("shield-check", size=20, color=rx.cond(AccountState.mfa_enabled, "var(--green-9)",
                                                                "var(--orange-9)")),
                rx.heading("Two-factor authentication", size="3"),
                rx.cond(AccountState.mfa_enabled, rx.badge("on", color_scheme="green", id="mfa-status"),
                        rx.badge("off", color_scheme="orange", id="mfa-status")),
                rx.cond(AccountState.mfa_required, rx.badge("required by your organisation", variant="surface")),
                align="center", spacing="2",
            ),
            rx.cond(
                AccountState.mfa_enabled,
                rx.vstack(
                    rx.text("Signing in asks for a code from your authenticator app. ",
                            AccountState.recovery_codes_left, " recovery codes left.", size="2", color_scheme="gray"),
                    rx.el.pre("", id="new-recovery-codes", style={
                        "display": "none", "background": "var(--gray-3)", "padding": "12px 16px",
                        "borderRadius": "8px", "columns": "2", "lineHeight": "1.8", "margin": "0"}),
                    rx.hstack(
                        rx.button("New recovery codes", size="2", variant="soft", id="new-recovery-codes-button",
                                  on_click=AccountState.new_recovery_codes),
                        rx.cond(~AccountState.mfa_required,
                                rx.button("Turn off", size="2", variant="soft", color_scheme="red", id="mfa-off",
                                          on_click=AccountState.turn_off_mfa)),
                        spacing="3",
                    ),
                    spacing="3", width="100%",
                ),
                rx.hstack(
                    rx.text("Protect your account with a code from your phone in addition to your password.",
                            size="2", color_scheme="gray"),
                    rx.button(rx.el.a("Set up", href="/mfa/setup", id="mfa-setup-link",
                                      custom_attrs={"reloadDocument": True}), as_child=True, size="2"),
                    align="center", spacing="4",
                ),
            ),
            spacing="3", width="100%",
        ),
        width="100%",
    )


def account_page() -> rx.Component:
    return settings_frame(
        AccountState, "Security",
        _two_factor_card(),
        rx.heading("Your sessions", size="4", margin_top="8px"),
        rx.text("Everywhere you are signed in. Sign out any device you do not recognise.", size="2",
                color_scheme="gray"),
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
        notice_id="account-notice",
    )
