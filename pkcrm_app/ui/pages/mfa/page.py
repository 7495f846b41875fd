"""Second-factor pages: the code step of a login (/login/verify) and enrolment by QR code (/mfa/setup)."""

import reflex as rx

from pkcrm_app.ui.browser import enrolment_script, post_and_follow
from pkcrm_app.ui.components.step_up import code_input
from pkcrm_app.ui.pages.mfa.state import MfaSetupState, VerifyCodeState

ENROL_CODE_ID = "enrol-code"


def _card(*children: rx.Component, width: str = "400px") -> rx.Component:
    return rx.center(
        rx.card(rx.vstack(
            rx.hstack(rx.box(rx.icon("shield-check", size=22, color="white"), background="var(--green-9)",
                             border_radius="10px", padding="8px", display="flex"),
                      rx.heading("Two-factor authentication", size="5"), align="center", spacing="3"),
            *children, spacing="3", width="100%"), width=width, size="4"),
        min_height="100vh", padding="24px", background="linear-gradient(160deg, var(--green-3), var(--gray-2))",
    )


def verify_code_page() -> rx.Component:
    return _card(
        rx.text("Enter the 6-digit code from your authenticator app to finish signing in.", size="2",
                color_scheme="gray"),
        rx.cond(VerifyCodeState.error != "", rx.callout(VerifyCodeState.error, icon="triangle-alert",
                                                        color_scheme="red", size="1", width="100%", id="verify-error")),
        rx.el.form(
            rx.vstack(code_input("login-code"),
                      rx.button("Verify", type="submit", size="3", width="100%", id="verify-code"),
                      spacing="3", width="100%"),
            id="verify-form", action="/auth/mfa/verify", method="post",
            on_submit=post_and_follow("/auth/mfa/verify", "verify-form"), width="100%",
        ),
        rx.text("Lost your phone? Type one of your recovery codes instead. After five wrong codes in a row, "
                "two-factor sign-in to your account locks for a while.", size="1", color_scheme="gray"),
        rx.cond(VerifyCodeState.notice != "", rx.callout(VerifyCodeState.notice, icon="mail", color_scheme="green",
                                                         size="1", width="100%", id="verify-notice")),
        rx.cond(VerifyCodeState.confirm_reset, _confirm_reset_form(), _lost_authenticator_form()),
        rx.link("Back to sign in", href="/login", size="2"),
    )


def _lost_authenticator_form() -> rx.Component:
    """No app and no recovery codes: a link by email resets one's own factor (confirmed on this page)."""
    return rx.el.form(
        rx.vstack(
            rx.text("Lost your authenticator app and your recovery codes?", size="1", color_scheme="gray"),
            rx.button("Email me a link to reset two-factor authentication", type="submit", size="1",
                      variant="soft", id="lost-authenticator"),
            spacing="1", width="100%"),
        id="lost-form", action="/auth/mfa/lost", method="post",
        on_submit=post_and_follow("/auth/mfa/lost", "lost-form"), width="100%",
    )


def _confirm_reset_form() -> rx.Component:
    """The emailed link has led here, to the browser where the password was just typed: the person confirms."""
    return rx.el.form(
        rx.callout(
            rx.vstack(
                rx.text("Reset two-factor authentication on your account? Your authenticator app and recovery codes "
                        "stop working, you are signed out everywhere and sign in again; if your organisation "
                        "requires two-factor authentication you set it up again then. Your organisations' "
                        "administrators are told.", size="2"),
                rx.button("Reset two-factor authentication", type="submit", color_scheme="red", size="2",
                          id="confirm-factor-reset"),
                spacing="2"),
            icon="shield-alert", color_scheme="amber", size="1", width="100%"),
        id="factor-reset-form", action="/auth/mfa/reset", method="post",
        on_submit=post_and_follow("/auth/mfa/reset", "factor-reset-form"), width="100%",
    )


def _enrol_step() -> rx.Component:
    return rx.vstack(
        rx.cond(MfaSetupState.required,
                rx.callout("Your organisation requires two-factor authentication. Set it up to finish signing in.",
                           icon="info", size="1", width="100%")),
        rx.text("1. Scan this code with an authenticator app (Google Authenticator, Microsoft Authenticator, "
                "1Password...). Can't scan? Type the key under it.", size="2"),
        rx.center(rx.cond(MfaSetupState.qr_version > 0,
                          rx.image(src=MfaSetupState.qr_url, width="240px", height="277px", id="mfa-qr",
                                   alt="QR code of your two-factor key")), width="100%"),
        rx.text("2. Enter the 6-digit code the app shows.", size="2"),
        rx.el.div("", id="enrol-error", role="alert",
                  style={"display": "none", "color": "var(--red-11)", "fontSize": "14px"}),
        rx.el.form(
            rx.vstack(code_input(ENROL_CODE_ID),
                      rx.button("Turn on two-factor authentication", type="submit", size="3", width="100%",
                                id="enrol-confirm"),
                      spacing="3", width="100%"),
            on_submit=rx.call_script(enrolment_script(ENROL_CODE_ID)), width="100%",
        ),
        id="enrol-step", spacing="3", width="100%",
    )


def _recovery_panel() -> rx.Component:
    return rx.el.div(
        rx.callout("Two-factor authentication is on.", icon="circle-check", color_scheme="green", size="1",
                   width="100%"),
        rx.text("Save these recovery codes somewhere safe. Each works once if you lose your phone. "
                "They are shown only now.", size="2"),
        rx.el.pre("", id="recovery-codes", style={
            "background": "var(--gray-3)", "padding": "12px 16px", "borderRadius": "8px", "fontSize": "15px",
            "columns": "2", "lineHeight": "1.8", "width": "100%", "margin": "0"}),
        rx.button(rx.el.a("I have saved them, continue", href="/board", id="enrol-continue",
                          custom_attrs={"reloadDocument": True}), as_child=True, size="3", width="100%"),
        id="recovery-panel",
        style={"display": "none", "flexDirection": "column", "gap": "12px", "width": "100%"},
    )


def mfa_setup_page() -> rx.Component:
    return _card(_enrol_step(), _recovery_panel(), width="440px")
