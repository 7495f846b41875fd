"""The conversation pane of the selected lead: messages in order with delivery ticks."""

import reflex as rx

from pkcrm_app.ui.states.board import BoardState
from pkcrm_app.ui.states.views import MessageRow


def bubble(message: MessageRow) -> rx.Component:
    body = rx.cond(
        message.supported,
        rx.text(message.text, size="2", white_space="pre-wrap", class_name="message-text"),
        rx.text(message.text, size="2", style={"font-style": "italic"}, color_scheme="gray",
                class_name="message-text"),
    )
    return rx.box(
        rx.box(
            body,
            rx.hstack(
                rx.cond(message.error != "", rx.text(message.error, size="1", color_scheme="red")),
                rx.text(message.when, size="1", color_scheme="gray"),
                rx.text(message.ticks, size="1", color=message.tick_color, class_name="ticks"),
                spacing="1", justify="end",
            ),
            background=rx.cond(message.inbound, "var(--color-panel-solid)", "var(--green-3)"),
            padding="8px 10px", border_radius="10px", max_width="80%",
            box_shadow="0 1px 1px rgba(0,0,0,0.06)",
        ),
        display="flex", justify_content=rx.cond(message.inbound, "flex-start", "flex-end"), width="100%",
        class_name=rx.cond(message.inbound, "message inbound", "message outbound"),
    )


def thread_pane() -> rx.Component:
    thread = BoardState.thread
    return rx.cond(
        BoardState.selected_lead_id > 0,
        rx.vstack(
            rx.hstack(
                rx.avatar(fallback=thread.contact_name.to(str)[:1], size="3", radius="full", color_scheme="green"),
                rx.vstack(
                    rx.text(thread.contact_name, weight="bold", size="3", id="thread-contact"),
                    rx.text(thread.phone, " · ", thread.stage_name, size="1", color_scheme="gray"),
                    spacing="0",
                ),
                rx.spacer(),
                rx.icon_button(rx.icon("x"), variant="ghost", color_scheme="gray", on_click=BoardState.close_lead,
                               aria_label="Close conversation"),
                width="100%", align="center", padding="12px 16px",
                border_bottom="1px solid var(--gray-5)", background="var(--color-panel-solid)",
            ),
            rx.vstack(
                rx.cond(thread.earlier > 0, rx.button(f"Load {thread.earlier} earlier messages", size="1",
                                                      variant="soft", on_click=BoardState.load_earlier)),
                rx.foreach(thread.messages, bubble),
                rx.cond(thread.messages.length() == 0,
                        rx.text("No messages yet.", size="2", color_scheme="gray")),
                spacing="2", padding="16px", overflow_y="auto", flex="1", width="100%",
                background="var(--sand-3)",
            ),
            width="420px", min_width="420px", height="100%", spacing="0",
            border_left="1px solid var(--gray-5)", id="thread",
        ),
    )
