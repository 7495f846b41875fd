"""The organisation's single sign-on page. The form with the client secret posts to an HTTP route, so the
secret never enters the websocket."""

import reflex as rx

from pkcrm_app.ui.components.auth_card import field
from pkcrm_app.ui.components.settings_frame import settings_frame
from pkcrm_app.ui.pages.sso.state import FORMS, SsoState

SETTINGS_FORM, DISABLE_FORM = FORMS


def _settings_form() -> rx.Component:
    locked = ~SsoState.can_change
    return rx.el.form(
        rx.vstack(
            field("Issuer URL", rx.input(name="issuer", default_value=SsoState.issuer, required=True, width="100%",
                                         placeholder="https://login.example.com", id="sso-issuer", disabled=locked),
                  hint="Discovery is read from <issuer>/.well-known/openid-configuration; its endpoints must be "
                       "https on the issuer's host."),
            field("Client ID", rx.input(name="client_id", default_value=SsoState.client_id, required=True,
                                        width="100%", id="sso-client-id", disabled=locked)),
            field("Client secret", rx.input(
                name="client_secret", type="password", width="100%", id="sso-client-secret", auto_complete="off",
                disabled=locked,
                placeholder=rx.cond(SsoState.secret_set, "A secret is stored; leave empty to keep it",
                                    "No secret stored yet: paste the client secret"))),
            rx.hstack(rx.el.input(type="checkbox", name="enabled", default_checked=SsoState.enabled,
                                  id="sso-enabled", disabled=locked),
                      rx.el.label("Members who linked their account may sign in with single sign-on",
                                  html_for="sso-enabled"),
                      align="center", spacing="2"),
            rx.cond(SsoState.can_change, rx.button("Save", type="submit", id="sso-save")),
            spacing="3", width="100%",
        ),
        id=SETTINGS_FORM, key=SsoState.form_key, on_submit=lambda _data: SsoState.save(SETTINGS_FORM),
    )


def sso_page() -> rx.Component:
    owner_only = rx.callout("Only an owner can change single sign-on. Each change asks for a code from their "
                            "authenticator app and is emailed to every owner.", size="1", color_scheme="gray",
                            id="sso-owner-only")
    return settings_frame(
        SsoState, "Single sign-on",
        rx.card(
            rx.vstack(
                rx.hstack(rx.text("Status:", size="2", weight="medium"),
                          rx.cond(SsoState.enabled, rx.badge("enabled", color_scheme="green", id="sso-status"),
                                  rx.badge("off", color_scheme="gray", id="sso-status")),
                          rx.text("Client secret:", size="2", weight="medium", margin_left="12px"),
                          rx.cond(SsoState.secret_set, rx.badge("set", color_scheme="green"),
                                  rx.badge("not set", color_scheme="orange")),
                          align="center"),
                field("Redirect URI to register at the provider",
                      rx.code(SsoState.redirect_uri, id="sso-redirect-uri")),
                _settings_form(),
                rx.hstack(
                    rx.button("Test discovery", variant="soft", on_click=SsoState.test_discovery, id="sso-test"),
                    rx.cond(SsoState.enabled & SsoState.can_change,
                            rx.button("Disable single sign-on", variant="soft", color_scheme="red",
                                      id="sso-disable", on_click=SsoState.save(DISABLE_FORM))),
                    spacing="3",
                ),
                rx.el.form(rx.el.input(type="hidden", name="action", value="disable"), id=DISABLE_FORM),
                spacing="4", width="100%",
            ),
            width="100%", max_width="640px",
        ),
        description=rx.fragment(
            rx.text("Let members sign in through your organisation's OpenID Connect provider. It signs in only a "
                    "member who linked their provider account on their profile, and an owner only after they "
                    "turned that on for themselves.", size="2", color_scheme="gray"),
            rx.cond(~SsoState.can_change, owner_only),
        ),
        notice_id="sso-notice",
    )
