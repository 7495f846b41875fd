"""The board page: pipeline columns, and the selected lead's conversation beside them."""

import reflex as rx

from pkcrm_app.ui.components.layout import page_frame
from pkcrm_app.ui.pages.board.parts import board, thread_pane
from pkcrm_app.ui.pages.board.state import BoardState


def board_page() -> rx.Component:
    return page_frame(
        BoardState,
        rx.box(
            rx.cond(BoardState.error != "", rx.callout(BoardState.error, color_scheme="red", size="1",
                                                      margin="12px 16px 0")),
            board(),
            flex="1", display="flex", flex_direction="column", overflow="hidden",
        ),
        thread_pane(),
    )
