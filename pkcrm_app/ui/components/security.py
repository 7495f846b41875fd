"""Top-bar signals for admins: the alert bell with its count and the 'access review overdue' badge (both live)."""

import reflex as rx

from pkcrm_app.ui.states.session import SessionMixin


def security_signals(session: type[SessionMixin]) -> rx.Component:
    bell = rx.link(
        rx.hstack(
            rx.icon("bell", size=18),
            rx.cond(session.open_alerts > 0,
                    rx.badge(session.open_alerts, color_scheme="red", variant="solid", radius="full",
                             id="alert-count")),
            spacing="1", align="center",
        ),
        href="/alerts", id="nav-alerts", title="Security alerts", color="inherit",
    )
    overdue = rx.link(rx.badge("Access review overdue", color_scheme="orange", variant="soft",
                               id="review-overdue-badge"), href="/reviews")
    return rx.hstack(
        rx.cond(session.can_manage_members, rx.link("Reviews", href="/reviews", size="2", id="nav-reviews")),
        rx.cond(session.review_overdue, overdue),
        rx.cond(session.can_audit | session.can_manage_members, bell),
        spacing="3", align="center",
    )
