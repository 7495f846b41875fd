"""The frame of a settings-style page (settings, single sign-on, WhatsApp, members, reviews, audit, alerts,
account, profile, imports): the top bar, then a heading, a line saying what the page is for, the page's notice
line and its cards, one under another."""

import reflex as rx

from pkcrm_app.ui.components.layout import page_frame
from pkcrm_app.ui.session import ActionPageMixin, SessionMixin

COLUMN = {"padding": "20px", "width": "100%", "spacing": "4", "overflow_y": "auto"}


def settings_frame(
    state: type[SessionMixin],
    title: str,
    *cards: rx.Component,
    description: str | rx.Component = "",
    notice_id: str = "",
    beside_title: rx.Component | None = None,
    **column: str,
) -> rx.Component:
    """`notice_id` names the callout of the state's notice line (none without it); `description` is a line of
    text or a component of its own; `column` overrides the column's layout (padding, width, spacing...)."""
    heading = rx.heading(title, size="5")
    top = [rx.hstack(heading, beside_title, align="center") if beside_title is not None else heading]
    if isinstance(description, rx.Component):
        top.append(description)
    elif description:
        top.append(rx.text(description, size="2", color_scheme="gray"))
    if notice_id:
        if not issubclass(state, ActionPageMixin):
            raise TypeError(f"{state.__name__} has no notice line")
        top.append(rx.cond(state.notice != "", rx.callout(state.notice, size="1", id=notice_id)))
    return page_frame(state, rx.vstack(*top, *cards, **(COLUMN | column)))
