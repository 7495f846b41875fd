"""Signed-out pages: create an organisation and confirm it, forgot password, choose a new password, accept an
invitation.

Every form is posted by the browser to our HTTP routes (post_and_follow), so passwords and link tokens
never travel through the websocket."""

import reflex as rx

from pkcrm_app.ui.browser import post_and_follow
from pkcrm_app.ui.components.auth_card import auth_card, brand, error_callout, field, footer_link, text_input
from pkcrm_app.ui.pages.onboarding.state import (
    ForgotPageState,
    InvitePageState,
    ResetPageState,
    SignupConfirmState,
    SignupPageState,
)

PASSWORD_HINT = "At least 10 characters; not a common password and not your email name."


def _form(form_id: str, url: str, *children: rx.Component) -> rx.Component:
    return rx.el.form(rx.vstack(*children, spacing="3", width="100%"), id=form_id, action=url, method="post",
                      on_submit=post_and_follow(url, form_id))


LinkState = type[SignupConfirmState] | type[ResetPageState] | type[InvitePageState]


def _confirmed(state: LinkState) -> rx.Component:
    """The account the person confirmed, posted with the form ('' when the link's own browser needs no confirming)."""
    return rx.el.input(type="hidden", name="confirmed_email", value=state.confirmed_email)


def _confirm_account(state: LinkState, title: str, form: rx.Component, element_id: str) -> rx.Component:
    """Away from the browser that asked for the link (and for every invitation), the account's email comes first,
    with a button the person presses only if it is theirs; then the form."""
    ask = rx.vstack(
        brand(title),
        rx.callout(
            rx.text("This link is for the account ", rx.text.strong(state.email, id=f"{element_id}-email"),
                    ". Go on only if this email address is yours: if someone sent you this link, close this page."),
            icon="shield-alert", color_scheme="amber", size="1", width="100%"),
        rx.button("Yes, this is my email address", type="button", size="3", width="100%",
                  on_click=state.confirm_account, id=f"{element_id}-yes"),
        rx.link("Back to sign in", href="/login", size="2"),
        spacing="3", width="100%", id=element_id,
    )
    return rx.cond(state.must_confirm & ~state.account_confirmed, ask, form)


def _check_email(title: str, text: str, element_id: str) -> rx.Component:
    return rx.vstack(
        rx.center(rx.icon("mail-check", size=40, color="var(--green-9)"), width="100%", padding_y="8px"),
        rx.heading(title, size="4", align="center", width="100%"),
        rx.text(text, size="2", color_scheme="gray", align="center"),
        rx.link("Back to sign in", href="/login", size="2", align="center", width="100%"),
        spacing="3", width="100%", id=element_id,
    )


def signup_page() -> rx.Component:
    form = _form(
        "signup-form", "/auth/signup",
        brand("Create an organisation for your team"),
        error_callout(SignupPageState.error, "signup-error"),
        field("Organisation name", text_input("org_name", complete="organization", placeholder="Karachi Kites")),
        field("Your name", text_input("name", complete="name", placeholder="Sana Malik")),
        field("Email", text_input("email", "email", "username", "you@company.com")),
        field("Password", text_input("password", "password", "new-password"), hint=PASSWORD_HINT),
        rx.button("Create organisation", type="submit", size="3", width="100%", id="signup-submit"),
        rx.text("We email you a link to confirm the address; nothing is created before you follow it.", size="1",
                color_scheme="gray"),
        footer_link("Already have an account?", "Sign in", "/login"),
    )
    sent = _check_email("Check your email",
                        "We sent a message to the address you entered. Follow its link within 24 hours to finish "
                        "creating your organisation.", "signup-sent")
    return auth_card(rx.cond(SignupPageState.sent, sent, form), width="420px")


def _detail(label: str, value: rx.Var[str] | str, element_id: str) -> rx.Component:
    return rx.hstack(rx.text(label, size="2", color_scheme="gray"), rx.spacer(),
                     rx.text(value, size="2", weight="bold", id=element_id), width="100%")


def signup_confirm_page() -> rx.Component:
    """Where the emailed sign-up link leads: nothing exists until the button is pressed."""
    form = _form(
        "signup-confirm-form", "/auth/signup/confirm",
        brand("Confirm your organisation"),
        rx.card(rx.vstack(_detail("Organisation", SignupConfirmState.org_name, "signup-confirm-org"),
                          _detail("Email", SignupConfirmState.email, "signup-confirm-email"),
                          spacing="2", width="100%"), variant="surface", width="100%"),
        error_callout(SignupConfirmState.error, "signup-confirm-error"),
        _confirmed(SignupConfirmState),
        rx.text("You become the owner of the organisation and are signed in.", size="1", color_scheme="gray"),
        rx.button("Create my organisation", type="submit", size="3", width="100%", id="signup-confirm-submit"),
    )
    form = _confirm_account(SignupConfirmState, "Confirm your organisation", form, "signup-confirm-account")
    return auth_card(rx.cond(SignupConfirmState.link_ok, form,
                             _link_gone("Create an organisation", "Sign up again", "/signup", "signup-confirm-gone")),
                     width="420px")


def forgot_page() -> rx.Component:
    form = _form(
        "forgot-form", "/auth/forgot",
        brand("Reset your password"),
        rx.text("Enter the email you sign in with. If it belongs to an account, we email you a link to choose a "
                "new password.", size="2", color_scheme="gray"),
        field("Email", text_input("email", "email", "username", "you@company.com")),
        rx.button("Email me a reset link", type="submit", size="3", width="100%", id="forgot-submit"),
        footer_link("Remembered it?", "Sign in", "/login"),
    )
    sent = _check_email("Check your email",
                        "If an account uses that address, a reset link is on its way. It works once, within one "
                        "hour.", "forgot-sent")
    return auth_card(rx.cond(ForgotPageState.sent, sent, form))


def _link_gone(what: str, retry_label: str, retry_href: str, element_id: str) -> rx.Component:
    return rx.vstack(
        brand(what),
        rx.callout("This link is invalid, expired or already used.", icon="link-2-off", color_scheme="orange",
                   size="1", width="100%"),
        rx.link(retry_label, href=retry_href, size="2"),
        rx.link("Back to sign in", href="/login", size="2"),
        spacing="3", width="100%", id=element_id,
    )


def reset_page() -> rx.Component:
    form = _form(
        "reset-form", "/auth/reset",
        brand("Choose a new password"),
        rx.text("For ", rx.text.strong(ResetPageState.email, id="reset-email"), size="2"),
        error_callout(ResetPageState.error, "reset-error"),
        _confirmed(ResetPageState),
        field("New password", text_input("password", "password", "new-password"), hint=PASSWORD_HINT),
        field("New password again", text_input("password_again", "password", "new-password")),
        rx.text("Every device signed in to your account will be signed out.", size="1", color_scheme="gray"),
        rx.button("Set new password", type="submit", size="3", width="100%", id="reset-submit"),
    )
    form = _confirm_account(ResetPageState, "Choose a new password", form, "reset-account")
    return auth_card(rx.cond(ResetPageState.link_ok, form,
                             _link_gone("Reset your password", "Ask for a new link", "/forgot", "reset-gone")))


def invite_page() -> rx.Component:
    details = rx.card(
        rx.vstack(
            rx.hstack(rx.text("Organisation", size="2", color_scheme="gray"), rx.spacer(),
                      rx.text(InvitePageState.org_name, size="2", weight="bold", id="invite-org"), width="100%"),
            rx.hstack(rx.text("Role", size="2", color_scheme="gray"), rx.spacer(),
                      rx.badge(InvitePageState.role, variant="surface", id="invite-role"), width="100%"),
            rx.hstack(rx.text("Email", size="2", color_scheme="gray"), rx.spacer(),
                      rx.text(InvitePageState.email, size="2", id="invite-email"), width="100%"),
            spacing="2", width="100%",
        ),
        variant="surface", width="100%",
    )
    form = _form(
        "invite-form", "/auth/invite/accept",
        brand("You have been invited"),
        details,
        error_callout(InvitePageState.error, "invite-error"),
        _confirmed(InvitePageState),
        rx.cond(
            InvitePageState.existing_account,
            rx.vstack(
                rx.text("This email already has an account: enter its password to join.", size="2",
                        color_scheme="gray"),
                field("Your password", text_input("password", "password", "current-password")),
                footer_link("Forgot it?", "Reset your password", "/forgot"),
                spacing="3", width="100%",
            ),
            rx.vstack(
                field("Your name", text_input("name", complete="name")),
                field("Choose a password", text_input("password", "password", "new-password"), hint=PASSWORD_HINT),
                spacing="3", width="100%",
            ),
        ),
        rx.button("Join ", InvitePageState.org_name, type="submit", size="3", width="100%", id="invite-submit"),
    )
    form = _confirm_account(InvitePageState, "You have been invited", form, "invite-account")
    return auth_card(rx.cond(InvitePageState.link_ok, form,
                             _link_gone("Invitation", "Ask your administrator for a new invitation", "/login",
                                        "invite-gone")), width="420px")
