"""The conversation pane of the selected lead: messages in order with delivery ticks."""

import reflex as rx

from pkcrm_app.ui.components.reply_box import reply_box
from pkcrm_app.ui.states.board import BoardState
from pkcrm_app.ui.states.reply import ReplyState
from pkcrm_app.ui.states.views import MessageRow


def _media(message: MessageRow) -> rx.Component:
    """The stored file: a thumbnail that opens the image, players, a download link; or why it is missing."""
    url = message.media_url
    return rx.cond(
        url != "",
        rx.match(
            message.kind,
            ("image", rx.link(rx.image(src=url, alt="Photo", loading="lazy", max_width="240px", max_height="240px",
                                       border_radius="6px", class_name="message-image"),
                              href=url, is_external=True)),
            ("sticker", rx.image(src=url, alt="Sticker", width="96px", height="96px", class_name="message-sticker")),
            ("video", rx.el.video(src=url, controls=True, preload="metadata", class_name="message-video",
                                  style={"max_width": "260px", "border_radius": "6px"})),
            ("audio", rx.el.audio(src=url, controls=True, preload="metadata", class_name="message-audio")),
            ("document", rx.link("⬇ ", message.file_label, href=url, size="2", class_name="message-document")),
            rx.fragment(),
        ),
        rx.cond(message.media_note != "", rx.text(message.media_note, size="1", color_scheme="gray",
                                                  class_name="message-media-note")),
    )


def _quote(message: MessageRow) -> rx.Component:
    return rx.cond(message.quote != "", rx.box(
        rx.text(message.quote, size="1", color_scheme="gray", white_space="pre-wrap"),
        border_left="3px solid var(--green-8)", background="var(--gray-a3)", padding="4px 8px",
        border_radius="6px", margin_bottom="4px", class_name="message-quote",
    ))


def bubble(message: MessageRow) -> rx.Component:
    body = rx.cond(
        message.supported,
        rx.text(message.text, size="2", white_space="pre-wrap", class_name="message-text"),
        rx.text(message.text, size="2", style={"font-style": "italic"}, color_scheme="gray",
                class_name="message-text"),
    )
    return rx.box(
        rx.box(
            rx.cond(message.forwarded != "", rx.text(message.forwarded, size="1", color_scheme="gray",
                                                     style={"font-style": "italic"}, class_name="message-forwarded")),
            _quote(message),
            _media(message),
            body,
            rx.cond(message.map_url != "", rx.link("Open in map", href=message.map_url, is_external=True, size="1",
                                                   class_name="message-map")),
            rx.cond(message.referral != "", rx.text(message.referral, size="1", color_scheme="blue",
                                                    class_name="message-referral")),
            rx.cond(message.error != "", rx.text(message.error, size="1", color_scheme="red", margin_top="4px",
                                                 class_name="message-error")),
            rx.cond(message.failed, rx.button("Send again", size="1", variant="soft", color_scheme="red",
                                              class_name="message-resend", margin_top="4px",
                                              on_click=ReplyState.resend(message.message_id))),
            rx.hstack(
                rx.text(message.when, size="1", color_scheme="gray"),
                rx.text(message.ticks, size="1", color=message.tick_color, class_name="ticks"),
                spacing="1", justify="end",
            ),
            rx.cond(message.reactions != "", rx.box(
                message.reactions, position="absolute", bottom="-12px", right="8px", padding="0 6px",
                background="var(--color-panel-solid)", border_radius="10px", border="1px solid var(--gray-5)",
                font_size="14px", class_name="message-reactions",
            )),
            background=rx.cond(message.inbound, "var(--color-panel-solid)", "var(--green-3)"),
            padding="8px 10px", border_radius="10px", max_width="80%", position="relative",
            margin_bottom=rx.cond(message.reactions != "", "12px", "0"),
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
            reply_box(),
            width="420px", min_width="420px", height="100%", spacing="0",
            border_left="1px solid var(--gray-5)", id="thread",
        ),
    )
