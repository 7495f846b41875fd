"""The profile page: one's name, phone, language and time zone, changing one's password, and linking one's
single sign-on account."""

from typing import Any

import reflex as rx

from pkcrm_app.accounts.identity.profile import LANGUAGES, time_zones
from pkcrm_app.ui.browser import post_and_follow
from pkcrm_app.ui.components.auth_card import field
from pkcrm_app.ui.components.settings_frame import settings_frame
from pkcrm_app.ui.pages.profile.state import ProfileState
from pkcrm_app.ui.pages.sso.parts import sso_link_card


def _select(value: Any, on_change: Any, options: list[tuple[str, str]],
            element_id: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width="100%", id=element_id),
        rx.select.content(*[rx.select.item(label, value=code) for code, label in options]),
        value=value, on_change=on_change, size="3",
    )


def _details() -> rx.Component:
    zones = [("org", "Organisation's time zone")] + [(tz, tz.replace("_", " ")) for tz in time_zones()]
    return rx.card(
        rx.el.form(
            rx.vstack(
                rx.heading("Your details", size="3"),
                field("Email", rx.text(ProfileState.email, size="2", color_scheme="gray", id="profile-email")),
                field("Name", rx.input(name="name", default_value=ProfileState.name, key=ProfileState.name,
                                       required=True, size="3", width="100%", id="profile-name")),
                field("Phone", rx.input(name="phone", default_value=ProfileState.phone, key=ProfileState.phone,
                                        type="tel", placeholder="+92 300 1234567", size="3", width="100%",
                                        id="profile-phone"),
                      hint="International format, starting with + and the country code."),
                field("Language", _select(ProfileState.language, ProfileState.set_language, list(LANGUAGES.items()),
                                          "profile-language")),
                field("Time zone", _select(rx.cond(ProfileState.time_zone == "", "org", ProfileState.time_zone),
                                           ProfileState.set_time_zone, zones, "profile-time-zone"),
                      hint="Times on your screens are shown in this zone."),
                rx.button("Save details", type="submit", size="3", id="profile-save"),
                spacing="3", width="100%",
            ),
            on_submit=ProfileState.save, id="profile-form",
        ),
        width="100%",
    )


def _password() -> rx.Component:
    return rx.card(
        rx.el.form(
            rx.vstack(
                rx.heading("Change password", size="3"),
                rx.cond(ProfileState.password_error != "",
                        rx.callout(ProfileState.password_error, icon="triangle-alert", color_scheme="red", size="1",
                                   width="100%", id="password-error")),
                rx.cond(ProfileState.password_notice != "",
                        rx.callout(ProfileState.password_notice, icon="check", color_scheme="green", size="1",
                                   width="100%", id="password-notice")),
                field("Current password", rx.input(name="current_password", type="password", required=True, size="3",
                                                   width="100%", auto_complete="current-password")),
                field("New password", rx.input(name="new_password", type="password", required=True, size="3",
                                               width="100%", auto_complete="new-password"),
                      hint="At least 10 characters; not a common password and not your email name."),
                field("New password again", rx.input(name="new_password_again", type="password", required=True,
                                                     size="3", width="100%", auto_complete="new-password")),
                rx.text("Your other signed-in devices will be signed out.", size="1", color_scheme="gray"),
                rx.button("Change password", type="submit", size="3", id="password-submit"),
                spacing="3", width="100%",
            ),
            id="password-form", action="/auth/password", method="post",
            on_submit=post_and_follow("/auth/password", "password-form"),
        ),
        width="100%",
    )


def profile_page() -> rx.Component:
    return settings_frame(
        ProfileState, "Your profile",
        rx.grid(_details(), _password(), columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%"),
        sso_link_card(),
        notice_id="profile-notice", max_width="1000px",
    )
