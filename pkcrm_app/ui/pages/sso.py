"""The single sign-on settings page. The form posts to /settings/sso/save, so the secret never enters the websocket."""

import reflex as rx

from pkcrm_app.ui.components.forms import post_and_follow
from pkcrm_app.ui.components.layout import page_frame
from pkcrm_app.ui.states.sso import SsoState

SAVE_URL = "/settings/sso/save"


def _field(label: str, control: rx.Component, hint: str = "") -> rx.Component:
    hints = [rx.text(hint, size="1", color_scheme="gray")] if hint else []
    return rx.vstack(rx.text(label, size="2", weight="medium"), control, *hints, spacing="1", width="100%")


def _settings_form() -> rx.Component:
    return rx.el.form(
        rx.vstack(
            _field("Issuer URL", rx.input(name="issuer", default_value=SsoState.issuer, required=True, width="100%",
                                          placeholder="https://login.example.com", id="sso-issuer"),
                   "Discovery is read from <issuer>/.well-known/openid-configuration."),
            _field("Client ID", rx.input(name="client_id", default_value=SsoState.client_id, required=True,
                                         width="100%", id="sso-client-id")),
            _field("Client secret", rx.input(
                name="client_secret", type="password", width="100%", id="sso-client-secret", auto_complete="off",
                placeholder=rx.cond(SsoState.secret_set, "A secret is stored; leave empty to keep it",
                                    "No secret stored yet: paste the client secret"))),
            rx.hstack(rx.el.input(type="checkbox", name="enabled", default_checked=SsoState.enabled,
                                  id="sso-enabled"),
                      rx.el.label("Members may sign in with single sign-on", html_for="sso-enabled"),
                      align="center", spacing="2"),
            rx.button("Save", type="submit", id="sso-save"),
            spacing="3", width="100%",
        ),
        id="sso-settings-form", key=SsoState.form_key,
        on_submit=post_and_follow(SAVE_URL, "sso-settings-form"),
    )


def sso_page() -> rx.Component:
    return page_frame(
        SsoState,
        rx.vstack(
            rx.heading("Single sign-on", size="5"),
            rx.text("Let members sign in through your organisation's OpenID Connect provider. An account is linked "
                    "only by an email the provider marks as verified, and only to an active member of this "
                    "organisation.", size="2", color_scheme="gray"),
            rx.cond(SsoState.notice != "", rx.callout(SsoState.notice, size="1", id="sso-notice")),
            rx.card(
                rx.vstack(
                    rx.hstack(rx.text("Status:", size="2", weight="medium"),
                              rx.cond(SsoState.enabled, rx.badge("enabled", color_scheme="green", id="sso-status"),
                                      rx.badge("off", color_scheme="gray", id="sso-status")),
                              rx.text("Client secret:", size="2", weight="medium", margin_left="12px"),
                              rx.cond(SsoState.secret_set, rx.badge("set", color_scheme="green"),
                                      rx.badge("not set", color_scheme="orange")),
                              align="center"),
                    _field("Redirect URI to register at the provider",
                           rx.code(SsoState.redirect_uri, id="sso-redirect-uri")),
                    _settings_form(),
                    rx.hstack(
                        rx.button("Test discovery", variant="soft", on_click=SsoState.test_discovery,
                                  id="sso-test"),
                        rx.cond(SsoState.enabled,
                                rx.button("Disable single sign-on", variant="soft", color_scheme="red",
                                          id="sso-disable",
                                          on_click=post_and_follow(SAVE_URL, "sso-disable-form"))),
                        spacing="3",
                    ),
                    rx.el.form(rx.el.input(type="hidden", name="action", value="disable"), id="sso-disable-form"),
                    spacing="4", width="100%",
                ),
                width="100%", max_width="640px",
            ),
            padding="20px", width="100%", spacing="4", overflow_y="auto",
        ),
    )
