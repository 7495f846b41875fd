"""The access review page: when the organisation was last reviewed, the review under way, past reviews."""

import reflex as rx

from pkcrm_app.ui.components.settings_frame import settings_frame
from pkcrm_app.ui.pages.reviews.state import PastLine, ReviewLine, ReviewsState

ROLES = ["owner", "admin", "manager", "agent"]


def _status() -> rx.Component:
    pane = ReviewsState.pane
    return rx.hstack(
        rx.vstack(rx.text("Last review", size="1", color_scheme="gray"),
                  rx.text(pane.last_review, weight="medium", id="review-last"), spacing="0"),
        rx.vstack(rx.text("Next due", size="1", color_scheme="gray"),
                  rx.text(pane.next_due, weight="medium", id="review-next-due"), spacing="0"),
        rx.cond(pane.overdue, rx.badge("overdue", color_scheme="red", size="2", id="review-overdue")),
        rx.spacer(),
        rx.cond(pane.review_id == 0,
                rx.button("Start review", on_click=ReviewsState.start, id="review-start")),
        spacing="6", align="center", width="100%",
    )


def _decision_controls(line: ReviewLine) -> rx.Component:
    review_id = ReviewsState.pane.review_id
    return rx.cond(
        line.decision != "",
        rx.badge(line.outcome, color_scheme=rx.match(line.decision, ("keep", "green"), ("change", "blue"), "red"),
                 class_name="review-outcome"),
        rx.hstack(
            rx.button("Keep", size="1", variant="soft", color_scheme="green",
                      on_click=ReviewsState.keep(review_id, line.user_id)),
            rx.select(ROLES, placeholder="Change role", size="1",
                      on_change=lambda role: ReviewsState.change(review_id, line.user_id, role)),
            rx.button("Revoke", size="1", variant="soft", color_scheme="red",
                      on_click=ReviewsState.revoke(review_id, line.user_id)),
            spacing="2", align="center",
        ),
    )


def _member(line: ReviewLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(line.name, weight="medium"), rx.text(line.email, size="1", color_scheme="gray"),
                                spacing="0")),
        rx.table.cell(rx.hstack(rx.badge(line.role, variant="surface"),
                                rx.cond(line.active, rx.fragment(), rx.badge("deactivated", color_scheme="gray")),
                                spacing="1")),
        rx.table.cell(line.last_login),
        rx.table.cell(rx.cond(line.mfa, rx.badge("on", color_scheme="green"), rx.badge("off", color_scheme="orange"))),
        rx.table.cell(rx.text(line.reach, size="1"), max_width="320px"),
        rx.table.cell(_decision_controls(line)),
        class_name="review-row",
    )


def _current() -> rx.Component:
    pane = ReviewsState.pane
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Review under way", size="3"),
                rx.text("started ", pane.started, size="1", color_scheme="gray"),
                rx.spacer(),
                rx.text(pane.decided, " of ", pane.total, " decided", size="2", id="review-progress"),
                rx.button("Complete review", on_click=ReviewsState.complete(pane.review_id), id="review-complete",
                          disabled=pane.decided < pane.total),
                align="center", width="100%", spacing="3",
            ),
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                    "Member", "Role", "Last sign-in", "MFA", "Can reach", "Decision")])),
                rx.table.body(rx.foreach(pane.lines, _member)),
                size="1", width="100%",
            ),
            spacing="3", width="100%",
        ),
        width="100%",
    )


def _past(line: PastLine) -> rx.Component:
    return rx.table.row(rx.table.cell(line.completed), rx.table.cell(line.completed_by), rx.table.cell(line.summary),
                        class_name="past-review")


def reviews_page() -> rx.Component:
    pane = ReviewsState.pane
    return settings_frame(
        ReviewsState, "Access reviews",
        rx.card(_status(), width="100%"),
        rx.cond(pane.review_id != 0, _current()),
        rx.heading("Past reviews", size="3"),
        rx.cond(
            pane.past.length() > 0,
            rx.card(rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                    "Completed", "By", "Decisions")])),
                rx.table.body(rx.foreach(pane.past, _past)),
                size="1", width="100%",
            ), width="100%"),
            rx.text("No completed review yet.", size="2", color_scheme="gray"),
        ),
        description="Every member, what they can reach, and a decision for each: keep, change role or revoke.",
        notice_id="reviews-notice",
    )
