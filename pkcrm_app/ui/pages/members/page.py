"""The members page: who can reach the organisation's data, and switching them off."""

import reflex as rx

from pkcrm_app.ui.components.settings_frame import settings_frame
from pkcrm_app.ui.pages.members.state import InviteLine, MemberLine, MembersState

ROLES = ("agent", "manager", "admin")


def _role_picker(line: MemberLine) -> rx.Component:
    """A native select (cheap with many rows); changing it is a sensitive action that asks for step-up."""
    options = [rx.el.option(role.title(), value=role) for role in ROLES]
    return rx.el.select(
        *options, rx.cond(MembersState.can_invite_owner | (line.role == "owner"), rx.el.option("Owner", value="owner")),
        value=line.role, class_name="role-picker", aria_label="Role",
        on_change=lambda role: MembersState.change_role(line.user_id, role),
        style={"padding": "3px 6px", "borderRadius": "6px", "border": "1px solid var(--gray-6)",
               "background": "var(--color-panel-solid)", "fontSize": "13px"},
    )


def _member(line: MemberLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(line.name, weight="medium"), rx.text(line.email, size="1", color_scheme="gray"),
                                spacing="0")),
        rx.table.cell(_role_picker(line)),
        rx.table.cell(rx.cond(line.active, rx.badge("active", color_scheme="green"),
                              rx.badge("deactivated", color_scheme="gray"))),
        rx.table.cell(line.last_login),
        rx.table.cell(rx.cond(
            line.mfa,
            rx.hstack(rx.badge("on", color_scheme="green"),
                      rx.button("Reset", size="1", variant="ghost", color_scheme="gray", class_name="reset-mfa",
                                title="Lost phone: remove their second factor", on_click=MembersState.reset_factor(
                                    line.user_id)), align="center", spacing="2"),
            rx.badge("off", color_scheme="orange"))),
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


def _invite_form() -> rx.Component:
    return rx.card(
        rx.el.form(
            rx.hstack(
                rx.vstack(rx.text("Email", size="2", weight="medium"),
                          rx.input(name="email", type="email", placeholder="colleague@company.com", required=True,
                                   size="2", width="100%", id="invite-email"),
                          spacing="1", flex="1", min_width="220px"),
                rx.vstack(rx.text("Role", size="2", weight="medium"),
                          rx.select.root(
                              rx.select.trigger(id="invite-role", min_width="130px"),
                              rx.select.content(
                                  *[rx.select.item(role.title(), value=role) for role in ROLES],
                                  rx.cond(MembersState.can_invite_owner, rx.select.item("Owner", value="owner")),
                              ),
                              value=MembersState.invite_role, on_change=MembersState.set_invite_role, size="2"),
                          spacing="1"),
                rx.button(rx.icon("send", size=14), "Invite member", type="submit", size="2", id="invite-submit"),
                align="end", spacing="3", width="100%", wrap="wrap",
            ),
            on_submit=MembersState.invite, reset_on_submit=True, id="invite-form",
        ),
        width="100%",
    )


def _invitation(line: InviteLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(line.email, weight="medium")),
        rx.table.cell(rx.badge(line.role, variant="surface")),
        rx.table.cell(line.invited_by),
        rx.table.cell(line.sent),
        rx.table.cell(line.expires),
        rx.table.cell(rx.hstack(
            rx.button("Resend", size="1", variant="soft", on_click=MembersState.resend(line.invitation_id)),
            rx.button("Revoke", size="1", variant="soft", color_scheme="red",
                      on_click=MembersState.revoke(line.invitation_id)),
            spacing="2",
        )),
        class_name="invitation-row",
    )


def _pending() -> rx.Component:
    return rx.cond(
        MembersState.pending.length() > 0,  # type: ignore[attr-defined]
        rx.card(
            rx.vstack(
                rx.heading("Pending invitations", size="3"),
                rx.table.root(
                    rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                        "Email", "Role", "Invited by", "Sent", "Expires", "")])),
                    rx.table.body(rx.foreach(MembersState.pending, _invitation)),
                    size="1", width="100%",
                ),
                spacing="2", width="100%",
            ),
            width="100%", id="pending-invitations",
        ),
    )


def members_page() -> rx.Component:
    return settings_frame(
        MembersState, "Members",
        _invite_form(),
        _pending(),
        rx.card(
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                    "Member", "Role", "Status", "Last sign-in", "MFA", "")])),
                rx.table.body(rx.foreach(MembersState.people, _member)),
                size="1", width="100%",
            ),
            width="100%",
        ),
        notice_id="members-notice",
    )
