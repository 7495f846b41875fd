"""The members page: who can reach the organisation's data, and switching them off."""

import reflex as rx

from pkcrm_app.ui.components.layout import page_frame
from pkcrm_app.ui.states.members import MemberLine, MembersState


def _member(line: MemberLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(line.name, weight="medium"), rx.text(line.email, size="1", color_scheme="gray"),
                                spacing="0")),
        rx.table.cell(rx.badge(line.role, variant="surface")),
        rx.table.cell(rx.cond(line.active, rx.badge("active", color_scheme="green"),
                              rx.badge("deactivated", color_scheme="gray"))),
        rx.table.cell(line.last_login),
        rx.table.cell(rx.cond(line.mfa, rx.badge("on", color_scheme="green"), rx.badge("off", color_scheme="orange"))),
        rx.table.cell(rx.hstack(
            rx.cond(line.active,
                    rx.button("Deactivate", size="1", variant="soft", color_scheme="red",
                              on_click=MembersState.set_active(line.user_id, False)),
                    rx.button("Reactivate", size="1", variant="soft",
                              on_click=MembersState.set_active(line.user_id, True))),
            rx.button("Sign out everywhere", size="1", variant="soft", color_scheme="gray",
                      on_click=MembersState.sign_out(line.user_id)),
            spacing="2",
        )),
        class_name="member-row",
    )


def members_page() -> rx.Component:
    return page_frame(
        MembersState,
        rx.vstack(
            rx.heading("Members", size="5"),
            rx.cond(MembersState.notice != "", rx.callout(MembersState.notice, size="1", id="members-notice")),
            rx.card(
                rx.table.root(
                    rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                        "Member", "Role", "Status", "Last sign-in", "MFA", "")])),
                    rx.table.body(rx.foreach(MembersState.people, _member)),
                    size="1", width="100%",
                ),
                width="100%",
            ),
            padding="20px", width="100%", spacing="4", overflow_y="auto",
        ),
    )
