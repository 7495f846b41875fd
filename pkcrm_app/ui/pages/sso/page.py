"""Single sign-on pages: the organisation's settings, and the profile's card where a member links their own
provider account. Forms with secrets post to HTTP routes, so the secret never enters the websocket."""

import reflex as rx

from pkcrm_app.ui.components.auth_card import field
from pkcrm_app.ui.components.forms import post_and_follow
from pkcrm_app.ui.components.layout import page_frame
from pkcrm_app.ui.components.step_up import step_up_dialog
from pkcrm_app.ui.states.sso import FORMS, SsoLinkState, SsoState

(SETTINGS_FORM, DISABLE_FORM), LINK_FORM = FORMS, "sso-link-form"


def _field(label: str, control: rx.Component, hint: str = "") -> rx.Component:
    hints = [rx.text(hint, size="1", color_scheme="gray")] if hint else []
    return rx.vstack(rx.text(label, size="2", weight="medium"), control, *hints, spacing="1", width="100%")


def _settings_form() -> rx.Component:
    locked = ~SsoState.can_change
    return rx.el.form(
        rx.vstack(
            _field("Issuer URL", rx.input(name="issuer", default_value=SsoState.issuer, required=True, width="100%",
                                          placeholder="https://login.example.com", id="sso-issuer", disabled=locked),
                   "Discovery is read from <issuer>/.well-known/openid-configuration; its endpoints must be https "
                   "on the issuer's host."),
            _field("Client ID", rx.input(name="client_id", default_value=SsoState.client_id, required=True,
                                         width="100%", id="sso-client-id", disabled=locked)),
            _field("Client secret", rx.input(
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
    return page_frame(
        SsoState,
        rx.vstack(
            rx.heading("Single sign-on", size="5"),
            rx.text("Let members sign in through your organisation's OpenID Connect provider. It signs in only a "
                    "member who linked their provider account on their profile, and an owner only after they "
                    "turned that on for themselves.", size="2", color_scheme="gray"),
            rx.cond(~SsoState.can_change,
                    rx.callout("Only an owner can change single sign-on. Each change asks for a code from their "
                               "authenticator app and is emailed to every owner.", size="1", color_scheme="gray",
                               id="sso-owner-only")),
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
            padding="20px", width="100%", spacing="4", overflow_y="auto",
        ),
    )


def _link_form() -> rx.Component:
    return rx.el.form(
        rx.vstack(
            field("Your password", rx.input(name="password", type="password", required=True, size="3",
                                            width="100%", auto_complete="current-password", id="sso-link-password"),
                  hint="Linking asks for your password, then for your account at the provider."),
            rx.button(rx.cond(SsoLinkState.linked, "Link another single sign-on account", "Link single sign-on"),
                      type="submit", size="3", variant="outline", id="sso-link"),
            spacing="3", width="100%",
        ),
        id=LINK_FORM, on_submit=post_and_follow("/auth/sso/link", LINK_FORM),
    )


def _owner_opt_in() -> rx.Component:
    return rx.hstack(
        rx.checkbox(checked=SsoLinkState.owner_sign_in, on_change=SsoLinkState.set_owner_sign_in,
                    id="sso-owner-sign-in"),
        rx.text("Let single sign-on sign me in. Owners are signed in by it only after turning this on; it asks "
                "for a code from your authenticator app.", size="2"),
        align="start", spacing="2",
    )


def sso_link_card() -> rx.Component:
    """The profile's card: shown when the organisation has single sign-on switched on."""
    return rx.box(
        rx.cond(
            SsoLinkState.available,
            rx.card(
                rx.vstack(
                    rx.heading("Single sign-on", size="3"),
                    rx.cond(SsoLinkState.notice != "",
                            rx.callout(SsoLinkState.notice, size="1", width="100%", id="sso-link-notice")),
                    rx.cond(SsoLinkState.linked,
                            rx.text("Linked to your account at ", rx.code(SsoLinkState.issuer), " since ",
                                    SsoLinkState.linked_on, ".", size="2", id="sso-link-status"),
                            rx.text("Not linked: single sign-on cannot sign you in until you link your account "
                                    "at the provider here.", size="2", id="sso-link-status")),
                    _link_form(),
                    rx.cond(SsoLinkState.is_owner & SsoLinkState.linked, _owner_opt_in()),
                    spacing="3", width="100%",
                ),
                width="100%",
            ),
        ),
        step_up_dialog(SsoLinkState),
        width="100%", on_mount=SsoLinkState.load,
    )
