"""The frame of every signed-in page: top bar with organisation, the navigation, user, role and logout."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import reflex as rx

from pkcrm_app.ui.browser import post_and_follow
from pkcrm_app.ui.components.security import security_signals
from pkcrm_app.ui.components.step_up import step_up_dialog
from pkcrm_app.ui.session import ActionPageMixin, SessionMixin

if TYPE_CHECKING:
    from pkcrm_app.ui.routes import Route


class Nav(enum.Enum):
    """Where a page's link sits in the top bar."""

    MAIN = "main"  # after the organisation's name
    ADMIN = "admin"  # on the right, beside the security alerts bell
    SELF = "self"  # on the right, beside the signed-in person's name


def logout_button() -> rx.Component:
    return rx.button("Log out", variant="soft", color_scheme="gray", size="1", id="logout",
                     on_click=post_and_follow("/auth/logout"))


def nav_link(session: type[SessionMixin], route: Route, **style: str) -> rx.Component:
    """The route's link, shown only to roles with its permission."""
    link = rx.link(route.nav_label, href=route.path, size="2", id=route.nav_id, **style)
    return link if route.permission is None else rx.cond(session.permissions.contains(route.permission.value), link)


def nav_links(session: type[SessionMixin], place: Nav) -> list[rx.Component]:
    """The links of one place of the top bar, from the route table (imported here: the table imports every
    page, and every signed-in page this frame)."""
    from pkcrm_app.ui.routes import navigation

    links = navigation(place)
    return [nav_link(session, route, **({"margin_left": "12px"} if i == 0 and place is Nav.MAIN else {}))
            for i, route in enumerate(links)]


def top_bar(session: type[SessionMixin]) -> rx.Component:
    return rx.hstack(
        rx.hstack(
            rx.box(rx.icon("message-circle", size=18, color="white"), background="var(--green-9)",
                   border_radius="8px", padding="6px", display="flex"),
            rx.text("PK WhatsApp CRM", weight="bold", size="3"),
            rx.separator(orientation="vertical", size="1"),
            rx.text(session.org_name, size="2", color_scheme="gray", id="org-name"),
            *nav_links(session, Nav.MAIN),
            align="center", spacing="3",
        ),
        rx.spacer(),
        rx.hstack(
            security_signals(session, nav_links(session, Nav.ADMIN)),
            rx.link(session.user_name, href="/account", size="2", id="user-name", title="Your sessions"),
            *nav_links(session, Nav.SELF),
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
