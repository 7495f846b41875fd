"""Kanban columns and lead cards."""

import reflex as rx

from pkcrm_app.ui.states.board import BoardState
from pkcrm_app.ui.states.views import CardView, ColumnView

OUTCOME_COLORS = {"won": "green", "lost": "tomato", "open": "gray"}


def stage_picker(card: CardView) -> rx.Component:
    """A native select: a board renders a hundred of these, so each must be cheap to draw."""
    return rx.el.select(
        rx.foreach(BoardState.columns, lambda col: rx.el.option(col.name, value=col.stage_id)),
        value=card.stage_id,
        on_change=lambda stage_id: BoardState.move_lead(card.lead_id, stage_id),
        aria_label="Move to stage",
        class_name="stage-picker",
        style={"font-size": "12px", "color": "var(--gray-11)", "background": "transparent", "border": "none",
               "cursor": "pointer", "text-align": "right"},
    )


def lead_card(card: CardView) -> rx.Component:
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
                rx.box(stage_picker(card), on_click=rx.stop_propagation),
                width="100%", align="center",
            ),
            spacing="2", width="100%",
        ),
        on_click=BoardState.open_lead(card.lead_id),
        cursor="pointer", width="100%", flex_shrink="0", class_name="lead-card",
        custom_attrs={"data-lead-id": card.lead_id},
    )


def board_column(column: ColumnView) -> rx.Component:
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
            rx.foreach(column.cards, lead_card),
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
        rx.foreach(BoardState.columns, board_column),
        spacing="3", padding="16px", overflow_x="auto", height="100%", flex="1", align="start",
        id="board",
    )
