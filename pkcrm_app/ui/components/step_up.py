"""The "confirm it's you" dialog a sensitive action opens when the session has no fresh second factor."""

import reflex as rx

from pkcrm_app.ui.session import STEP_UP_INPUT_ID, ActionPageMixin


def code_input(input_id: str, name: str = "code") -> rx.Component:
    """A one-time-code field: digits from an authenticator app, or a recovery code."""
    return rx.input(id=input_id, name=name, placeholder="123 456 or a recovery code", auto_complete="one-time-code",
                    input_mode="text", size="3", width="100%", required=True, auto_focus=True)


def step_up_dialog(page: type[ActionPageMixin]) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.hstack(rx.icon("shield-check", size=20, color="var(--green-9)"),
                                      rx.text("Confirm it's you"), align="center", spacing="2")),
            rx.dialog.description(page.step_up_message, size="2", margin_bottom="12px"),
            rx.el.form(
                rx.vstack(
                    code_input(STEP_UP_INPUT_ID),
                    rx.cond(page.step_up_error != "",
                            rx.callout(page.step_up_error, icon="triangle-alert", color_scheme="red", size="1",
                                       width="100%", id="step-up-error")),
                    rx.text("No authenticator app yet? ",
                            rx.link("Set up two-factor authentication", href="/mfa/setup"), " first.",
                            size="1", color_scheme="gray"),
                    rx.hstack(
                        rx.button("Cancel", type="button", variant="soft", color_scheme="gray",
                                  on_click=page.close_step_up),
                        rx.button("Confirm", type="submit", id="step-up-confirm"),
                        justify="end", width="100%", spacing="3",
                    ),
                    spacing="3", width="100%",
                ),
                on_submit=page.submit_step_up,
            ),
            max_width="420px",
        ),
        open=page.step_up_open,
        on_open_change=lambda _open: page.close_step_up(),
    )
