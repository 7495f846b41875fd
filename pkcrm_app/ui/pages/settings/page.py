"""The organisation settings page (admins): who must use two-factor, what agents see, review cadence."""

import reflex as rx

from pkcrm_app.ui.components.settings_frame import settings_frame
from pkcrm_app.ui.pages.settings.state import SettingsState, time_zones

POLICIES = (("off", "Optional for everyone"), ("admins", "Required for owners and admins"),
            ("everyone", "Required for everyone"))


def _field(label: str, hint: str, control: rx.Component) -> rx.Component:
    return rx.hstack(
        rx.vstack(rx.text(label, size="2", weight="medium"), rx.text(hint, size="1", color_scheme="gray"),
                  spacing="1", width="280px", flex_shrink="0"),
        control, spacing="5", align="start", width="100%", padding_y="10px",
        border_bottom="1px solid var(--gray-4)",
    )


def _select(name: str, value: rx.Var[str] | str, options: list[tuple[str, str]], element_id: str) -> rx.Component:
    return rx.el.select(*[rx.el.option(text, value=key) for key, text in options], name=name, id=element_id,
                        default_value=value,
                        style={"padding": "6px 8px", "borderRadius": "6px", "border": "1px solid var(--gray-7)",
                               "minWidth": "280px", "background": "var(--color-panel-solid)"})


def _danger_zone() -> rx.Component:
    return rx.card(
        rx.el.form(
            rx.vstack(
                rx.hstack(rx.icon("triangle-alert", size=18, color="var(--red-9)"),
                          rx.text("Delete this organisation", size="2", weight="medium", color="var(--red-11)"),
                          align="center", spacing="2"),
                rx.text("Every lead, contact, conversation, WhatsApp number and member session goes at once and "
                        "cannot be restored; members of no other organisation lose their accounts. The audit log "
                        "is kept. Type the organisation's name to confirm.", size="1", color_scheme="gray"),
                rx.hstack(
                    rx.input(name="confirm_name", placeholder=SettingsState.name, width="280px",
                             id="delete-confirm-name", auto_complete="off"),
                    rx.button("Delete organisation", type="submit", color_scheme="red", id="delete-organisation"),
                    spacing="3",
                ),
                spacing="2", width="100%",
            ),
            on_submit=SettingsState.delete_organisation, reset_on_submit=True,
        ),
        width="100%", max_width="820px", border="1px solid var(--red-6)",
    )


def _link_card(icon: str, title: str, text: str, href: str, element_id: str) -> rx.Component:
    """A card that names a settings page of its own and links to it."""
    return rx.card(
        rx.hstack(
            rx.icon(icon, size=20, color="var(--green-9)"),
            rx.vstack(rx.text(title, size="2", weight="medium"), rx.text(text, size="1", color_scheme="gray"),
                      spacing="1"),
            rx.spacer(),
            rx.button(rx.el.a("Configure", href=href, id=element_id), as_child=True, variant="soft"),
            align="center", spacing="3", width="100%",
        ),
        width="100%", max_width="820px",
    )


def settings_page() -> rx.Component:
    return settings_frame(
        SettingsState, "Organisation settings",
        rx.card(
            rx.el.form(
                _field("Name", "Shown to every member.",
                       rx.input(name="name", default_value=SettingsState.name, width="280px")),
                _field("Time zone", "Times on the board, audit log and reports.",
                       _select("time_zone", SettingsState.time_zone, [(z, z) for z in time_zones()],
                               "settings-time-zone")),
                _field("Two-factor authentication", "Members it covers set it up at their next sign-in.",
                       _select("mfa_policy", SettingsState.mfa_policy, list(POLICIES), "settings-mfa-policy")),
                _field("Agents see all leads", "Off: agents see their own and unassigned leads only.",
                       rx.switch(name="agents_see_all", default_checked=SettingsState.agents_see_all)),
                _field("Access review every", "Admins are reminded when a review is overdue.",
                       _select("access_review_interval_days", SettingsState.review_interval,
                               [("30", "30 days"), ("90", "90 days (quarterly)"), ("180", "180 days"),
                                ("365", "365 days")], "settings-review-interval")),
                rx.hstack(rx.button("Save settings", type="submit", id="settings-save"), justify="end",
                          width="100%", padding_top="12px"),
                on_submit=SettingsState.save, width="100%", key=SettingsState.form_version,
            ),
            width="100%", max_width="820px",
        ),
        _link_card("key-round", "Single sign-on", "Let members sign in with your identity provider (OpenID Connect).",
                   "/settings/sso", "settings-sso-link"),
        _link_card("message-circle", "WhatsApp", "Connected numbers, access tokens, templates and a connection test.",
                   "/settings/whatsapp", "settings-whatsapp-link"),
        rx.cond(SettingsState.can_delete_organisation, _danger_zone()),
        notice_id="settings-notice",
    )
