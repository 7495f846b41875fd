"""The frame of every signed-in page: top bar with organisation, user, role and logout."""

import reflex as rx

from pkcrm_app.ui.components.forms import post_and_follow
from pkcrm_app.ui.components.security import security_signals
from pkcrm_app.ui.components.step_up import step_up_dialog
from pkcrm_app.ui.states.session import ActionPageMixin, SessionMixin


def logout_button() -> rx.Component:
    return rx.button("Log out", variant="soft", color_scheme="gray", size="1", id="logout",
                     on_click=post_and_follow("/auth/logout"))


def top_bar(session: type[SessionMixin]) -> rx.Component:
    return rx.hstack(
        rx.hstack(
            rx.box(rx.icon("message-circle", size=18, color="white"), background="var(--green-9)",
                   border_radius="8px", padding="6px", display="flex"),
            rx.text("PK WhatsApp CRM", weight="bold", size="3"),
            rx.separator(orientation="vertical", size="1"),
            rx.text(session.org_name, size="2", color_scheme="gray", id="org-name"),
            rx.link("Board", href="/board", size="2", margin_left="12px"),
            rx.link("Import chats", href="/import", size="2", id="nav-import"),  # every role views conversations
            rx.cond(session.can_manage_members, rx.link("Members", href="/members", size="2", id="nav-members")),
            rx.cond(session.can_audit, rx.link("Audit log", href="/audit", size="2", id="nav-audit")),
            rx.cond(session.can_manage_settings, rx.link("Settings", href="/settings", size="2", id="nav-settings")),
            align="center", spacing="3",
        ),
        rx.spacer(),
        rx.hstack(
            security_signals(session),
            rx.link(session.user_name, href="/account", size="2", id="user-name", title="Your sessions"),
            rx.link("Profile", href="/profile", size="2", id="nav-profile"),
            rx.badge(session.role, variant="surface", color_scheme="green"),
            logout_button(),
            align="center", spacing="3",
        ),
        padding_x="20px", height="56px", align="center", width="100%",
        border_bottom="1px solid var(--gray-5)", background="var(--color-panel-solid)",
    )


def session_ended_notice() -> rx.Component:
    """Covers the page once this tab's session was ended elsewhere; nothing behind it stays usable."""
    return rx.center(
        rx.card(
            rx.vstack(
                rx.heading("You have been signed out", size="4"),
                rx.text("This session was ended (signed out elsewhere, revoked, or timed out).", size="2",
                        color_scheme="gray"),
                rx.button(rx.el.a("Sign in again", href="/login", custom_attrs={"reloadDocument": True}),
                          as_child=True),
                spacing="3", align="center",
            ),
            size="3",
        ),
        position="fixed", inset="0", z_index="1000", background="rgba(0, 0, 0, 0.45)", id="session-ended",
    )


def page_frame(session: type[SessionMixin], *children: rx.Component) -> rx.Component:
    dialogs = [step_up_dialog(session)] if issubclass(session, ActionPageMixin) else []
    return rx.box(
        rx.cond(session.signed_out, session_ended_notice()),
        *dialogs,
        top_bar(session),
        rx.box(*children, flex="1", overflow="hidden", display="flex"),
        display="flex", flex_direction="column", height="100vh", background="var(--gray-2)",
    )
