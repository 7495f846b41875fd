"""The audit log page: who did what, filterable, exportable."""

import reflex as rx

from pkcrm_app.ui.components.settings_frame import settings_frame
from pkcrm_app.ui.pages.audit.state import AuditLine, AuditState


def _line(line: AuditLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(line.when, white_space="nowrap"),
        rx.table.cell(line.actor),
        rx.table.cell(rx.code(line.action, variant="ghost")),
        rx.table.cell(line.target),
        rx.table.cell(line.ip_address),
        rx.table.cell(rx.text(line.details, size="1", color_scheme="gray")),
        class_name="audit-row",
    )


def _filters() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(name="action", placeholder="Action, e.g. login", default_value=AuditState.action),
            rx.input(name="actor", placeholder="Actor email", default_value=AuditState.actor_email),
            rx.input(name="since", type="date", default_value=AuditState.since),
            rx.input(name="until", type="date", default_value=AuditState.until),
            rx.button("Filter", type="submit"),
            rx.spacer(),
            # A plain anchor: the browser itself fetches the file (a router link would stay in the app).
            # Reflex renders anchors as router links; reloadDocument makes the browser fetch the file itself.
            rx.button(rx.icon("download", size=14), "Export CSV", id="audit-export", variant="soft",
                      on_click=AuditState.export),
            spacing="2", width="100%", align="center",
        ),
        on_submit=AuditState.apply, width="100%",
    )


def audit_page() -> rx.Component:
    return settings_frame(
        AuditState, "Audit log",
        _filters(),
        rx.card(
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                               ("Time", "Actor", "Action", "Target", "IP", "Details")])),
                rx.table.body(rx.foreach(AuditState.lines, _line)),
                size="1", width="100%",
            ),
            width="100%", overflow_x="auto",
        ),
        rx.hstack(
            rx.button("Newer", on_click=AuditState.turn(-1), disabled=AuditState.page <= 1, variant="soft"),
            rx.text("Page ", AuditState.page, " of ", AuditState.pages, size="2"),
            rx.button("Older", on_click=AuditState.turn(1), disabled=AuditState.page >= AuditState.pages,
                      variant="soft"),
            align="center", spacing="3",
        ),
        beside_title=rx.badge(AuditState.total, " events", variant="soft"),
    )
