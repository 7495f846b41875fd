"""The profile's single sign-on card, where a member links their own provider account and an owner lets single
sign-on sign them in. The password confirming a link posts to an HTTP route, never the websocket."""

import reflex as rx

from pkcrm_app.ui.browser import post_and_follow
from pkcrm_app.ui.components.auth_card import field
from pkcrm_app.ui.components.step_up import step_up_dialog
from pkcrm_app.ui.pages.sso.state import SsoLinkState

LINK_FORM = "sso-link-form"


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
