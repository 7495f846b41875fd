"""The board's parts: kanban columns and lead cards, and the selected lead's conversation pane with its reply
box (free-form while the 24-hour window is open, templates once it closed)."""

from typing import Any

import reflex as rx

from pkcrm_app.crm.service import MAX_STAGES
from pkcrm_app.ui.pages.board.reply_state import FILE_FORM, ReplyState, TemplateOption
from pkcrm_app.ui.pages.board.state import BoardState
from pkcrm_app.ui.pages.board.views import CardView, MessageRow

ACCEPT = ("image/jpeg,image/png,video/mp4,video/3gpp,audio/aac,audio/amr,audio/mpeg,audio/mp4,audio/ogg,"
          "application/pdf,text/plain,application/msword,application/vnd.ms-excel,application/vnd.ms-powerpoint,"
          "application/vnd.openxmlformats-officedocument.wordprocessingml.document,"
          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,"
          "application/vnd.openxmlformats-officedocument.presentationml.presentation")


def stage_picker(card: CardView, stage_id: Any) -> rx.Component:
    """A native select: a board renders a hundred of these, so each must be cheap to draw. `stage_id` is the
    card's column (a card does not carry it: every push of a column would send it once per card)."""
    return rx.el.select(
        rx.foreach(BoardState.stages, lambda col: rx.el.option(col.name, value=col.stage_id)),
        value=stage_id,
        on_change=lambda stage_id: BoardState.move_lead(card.lead_id, stage_id),
        aria_label="Move to stage",
        class_name="stage-picker",
        style={"font-size": "12px", "color": "var(--gray-11)", "background": "transparent", "border": "none",
               "cursor": "pointer", "text-align": "right"},
    )


def lead_card(card: CardView, stage_id: Any) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(card.contact_name, weight="bold", size="2", class_name="card-name", trim="both"),
                rx.spacer(),
                rx.cond(
                    (card.unread > 0) & (card.lead_id != BoardState.selected_lead_id),  # open here: seen
                    rx.badge(card.unread, color_scheme="green", radius="full", size="1", class_name="unread-badge"),
                ),
                rx.text(card.when, size="1", color_scheme="gray"),
                width="100%", align="center",
            ),
            rx.text(card.preview, size="1", color_scheme="gray", class_name="card-preview",
                    style={"display": "-webkit-box", "-webkit-line-clamp": "2", "-webkit-box-orient": "vertical",
                           "overflow": "hidden"}),
            rx.hstack(
                rx.text(card.value, size="2", weight="medium"),
                rx.spacer(),
                rx.box(stage_picker(card, stage_id), on_click=rx.stop_propagation),
                width="100%", align="center",
            ),
            spacing="2", width="100%",
        ),
        on_click=BoardState.open_lead(card.lead_id),
        cursor="pointer", width="100%", flex_shrink="0", class_name="lead-card",
        custom_attrs={"data-lead-id": card.lead_id},
    )


def board_column(column: Any, cards: Any) -> rx.Component:
    """One column: `column` is a StageHead var, `cards` its list of CardView (Reflex vars, typed as Any)."""
    return rx.vstack(
        rx.hstack(
            rx.text(column.name, weight="bold", size="2"),
            rx.badge(column.count, variant="soft", radius="full", class_name="column-count"),
            rx.spacer(),
            width="100%", align="center", padding_x="4px",
        ),
        rx.text(column.total, size="1", color_scheme="gray", class_name="column-total", padding_x="4px",
                margin_top="-6px"),
        rx.box(
            rx.match(column.outcome, ("won", rx.box()), ("lost", rx.box()), rx.box()),
            height="3px", width="100%", border_radius="2px",
            background=rx.match(column.outcome, ("won", "var(--green-9)"), ("lost", "var(--tomato-9)"),
                                "var(--gray-6)"),
        ),
        rx.vstack(
            rx.foreach(cards, lambda card: lead_card(card, column.stage_id)),
            rx.cond(
                column.hidden > 0,
                rx.button(f"Show more ({column.hidden} not shown)", variant="ghost", size="1",
                          on_click=BoardState.show_more_cards, width="100%"),
            ),
            rx.cond(column.count == 0, rx.text("No leads here yet", size="1", color_scheme="gray",
                                               padding="12px", align="center", width="100%")),
            spacing="2", width="100%", overflow_y="auto", flex="1", padding_bottom="12px",
        ),
        width="290px", min_width="290px", height="100%", spacing="2", padding="10px",
        background="var(--gray-3)", border_radius="10px", class_name="board-column",
        custom_attrs={"data-stage": column.name},
    )


def board() -> rx.Component:
    return rx.hstack(
        *(rx.cond(BoardState.stages.length() > index,
                  board_column(BoardState.stages[index], getattr(BoardState, f"cards_{index}")))
          for index in range(MAX_STAGES)),
        spacing="3", padding="16px", overflow_x="auto", height="100%", flex="1", align="start",
        id="board",
    )


# The reply box under the conversation.
def _tab(mode: str, label: str) -> rx.Component:
    return rx.button(label, size="1", variant=rx.cond(ReplyState.mode == mode, "solid", "soft"),
                     on_click=ReplyState.set_mode(mode), type="button", id=f"reply-mode-{mode}")


def _template_form() -> rx.Component:
    def option(t: TemplateOption) -> rx.Component:
        return rx.el.option(t.label, value=t.id)
    return rx.form(
        rx.hstack(
            rx.el.select(rx.el.option("Choose an approved template…", value=""),
                         rx.foreach(ReplyState.composer.templates, option), name="template_id", id="reply-template",
                         style={"flex": "1", "padding": "6px", "borderRadius": "6px",
                                "border": "1px solid var(--gray-7)"}),
            rx.button("Send template", type="submit", id="reply-send-template"),
            width="100%",
        ),
        on_submit=ReplyState.send_template, width="100%",
    )


def _free_form() -> rx.Component:
    return rx.vstack(
        rx.hstack(_tab("text", "Message"), _tab("buttons", "Quick replies"), _tab("file", "File"),
                  _tab("template", "Template"), spacing="2"),
        rx.match(
            ReplyState.mode,
            ("buttons", rx.form(rx.vstack(
                rx.input(name="text", placeholder="Question, e.g. Shall we deliver tomorrow?", width="100%"),
                rx.hstack(rx.input(name="buttons", placeholder="Up to 3 buttons, comma separated: Yes, No",
                                   width="100%"),
                          rx.button("Send", type="submit", id="reply-send-buttons"), width="100%"),
                width="100%"), on_submit=ReplyState.send_buttons, reset_on_submit=True, width="100%")),
            ("file", rx.el.form(rx.vstack(
                rx.el.input(type="file", name="file", accept=ACCEPT, id="reply-file", required=True,
                            style={"width": "100%", "fontSize": "13px"}),
                rx.hstack(rx.input(name="caption", placeholder="Caption (optional)", width="100%"),
                          rx.button("Send file", type="submit", id="reply-send-file"), width="100%"),
                width="100%", spacing="2"),
                id=FILE_FORM, on_submit=ReplyState.send_file, width="100%")),
            ("template", _template_form()),
            rx.form(rx.hstack(
                rx.text_area(name="text", placeholder="Type a reply", rows="2", flex="1", id="reply-text"),
                rx.button("Send", type="submit", id="reply-send"), width="100%", align="end"),
                on_submit=ReplyState.send_text, reset_on_submit=True, width="100%"),
        ),
        spacing="2", width="100%",
    )


def reply_box() -> rx.Component:
    composer = ReplyState.composer
    return rx.vstack(
        rx.cond(
            composer.window_open,
            rx.text(composer.time_left, size="1", color_scheme="green", id="reply-window"),
            rx.text("The 24-hour window is closed: the customer has not written for a day, so WhatsApp only "
                    "allows an approved template.", size="1", color_scheme="orange", id="reply-window"),
        ),
        rx.cond(composer.window_open, _free_form(), _template_form()),
        rx.cond(ReplyState.reply_error != "",
                rx.text(ReplyState.reply_error, size="1", color_scheme="red", id="reply-error")),
        padding="10px 12px", spacing="2", width="100%", border_top="1px solid var(--gray-5)",
        background="var(--color-panel-solid)", id="reply-box",
    )


# The conversation pane.
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
