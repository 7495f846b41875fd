"""The security alerts page: what looked unusual, when, and whether an admin has looked at it."""

import reflex as rx

from pkcrm_app.ui.components.settings_frame import settings_frame
from pkcrm_app.ui.pages.alerts.state import AlertLine, AlertsState


def _kind_icon(kind: str) -> rx.Component:
    return rx.match(
        kind,
        ("new_device", rx.icon("monitor-smartphone", size=18, color="var(--blue-9)")),
        ("failed_logins", rx.icon("key-round", size=18, color="var(--red-9)")),
        ("export_volume", rx.icon("file-down", size=18, color="var(--orange-9)")),
        rx.icon("shield-alert", size=18),
    )


def _alert(line: AlertLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(_kind_icon(line.kind), title=line.kind),
        rx.table.cell(rx.text(line.when, size="1", white_space="nowrap")),
        rx.table.cell(rx.text(line.message, size="2")),
        rx.table.cell(rx.cond(
            line.acknowledged,
            rx.text("Acknowledged by ", line.acknowledged_by, size="1", color_scheme="gray"),
            rx.button("Acknowledge", size="1", variant="soft", on_click=AlertsState.acknowledge(line.alert_id)),
        )),
        class_name=rx.cond(line.acknowledged, "alert-row acknowledged", "alert-row open"),
    )


def alerts_page() -> rx.Component:
    pane = AlertsState.pane
    return settings_frame(
        AlertsState, "Security alerts",
        rx.cond(
            pane.total > 0,
            rx.card(rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in ("", "Time", "What", "")])),
                rx.table.body(rx.foreach(pane.lines, _alert)),
                size="1", width="100%",
            ), width="100%"),
            rx.text("No alerts.", size="2", color_scheme="gray", id="alerts-empty"),
        ),
        rx.hstack(
            rx.button("Newer", size="1", variant="soft", on_click=AlertsState.newer, disabled=AlertsState.page <= 1),
            rx.text("Page ", AlertsState.page, " of ", pane.pages, size="1"),
            rx.button("Older", size="1", variant="soft", on_click=AlertsState.older,
                      disabled=AlertsState.page >= pane.pages),
            align="center", spacing="3",
        ),
        description="Sign-ins from a new device, bursts of failed sign-ins, unusual numbers of exports.",
        notice_id="alerts-notice",
    )
