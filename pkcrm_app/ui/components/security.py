"""Top-bar signals for admins: the alert bell with its count and the 'access review overdue' badge (both live)."""

import functools
import operator

import reflex as rx

from pkcrm_app.ui.badges import ALERT_READERS
from pkcrm_app.ui.session import SessionMixin


def security_signals(session: type[SessionMixin], admin_links: list[rx.Component]) -> rx.Component:
    """`admin_links` (the route table's, e.g. access reviews) come first, then the overdue badge and the bell."""
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
    reads_alerts = functools.reduce(operator.or_, [session.permissions.contains(p.value) for p in ALERT_READERS])
    return rx.hstack(
        *admin_links,
        rx.cond(session.review_overdue, overdue),
        rx.cond(reads_alerts, bell),
        spacing="3", align="center",
    )
