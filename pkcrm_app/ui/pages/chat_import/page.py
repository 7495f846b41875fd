"""The /import page: a WhatsApp "Export chat" file in, its messages into the customer's conversation."""

import reflex as rx

from pkcrm_app.ui.components.settings_frame import settings_frame
from pkcrm_app.ui.pages.chat_import.state import FORM_ID, ChatImportState, JobLine, ProposalLine

HELP = ("In WhatsApp open the chat, tap ⋮ or the contact's name, then 'Export chat' (with or without media). "
        "Upload the .txt or .zip here. Importing the same file again adds nothing.")


def _field(label: str, *control: rx.Component) -> rx.Component:
    return rx.vstack(rx.text(label, size="2", weight="medium"), *control, spacing="1", min_width="220px", flex="1")


def _form() -> rx.Component:
    return rx.card(
        rx.el.form(
            rx.vstack(
                rx.text(HELP, size="2", color_scheme="gray"),
                rx.hstack(
                    _field("Export file (.txt or .zip)",
                           rx.el.input(type="file", name="file", accept=".txt,.zip,text/plain,application/zip",
                                       id="import-file")),
                    _field("Customer's phone number (optional)",
                           rx.input(name="phone", placeholder="+49 151 2345678", id="import-phone", size="2")),
                    _field("Your name in the chat (optional)",
                           rx.input(name="my_name", placeholder="as WhatsApp shows it", id="import-my-name",
                                    size="2")),
                    spacing="4", wrap="wrap", width="100%", align="end",
                ),
                rx.hstack(
                    rx.button("Import", type="button", id="import-submit", loading=ChatImportState.uploading,
                              on_click=ChatImportState.upload),
                    rx.text(ChatImportState.upload_message, size="2", id="import-message"),
                    align="center", spacing="3",
                ),
                spacing="3", width="100%",
            ),
            id=FORM_ID,
        ),
        width="100%",
    )


def _proposal(proposal: ProposalLine) -> rx.Component:
    return rx.el.label(
        rx.hstack(
            rx.el.input(type="checkbox", name=proposal.key, class_name="import-proposal"),
            rx.text(rx.text.strong(proposal.author), " is our team member ", rx.text.strong(proposal.member),
                    size="2"),
            align="center", spacing="2",
        ),
    )


def _review(line: JobLine) -> rx.Component:
    """The importer ticks which proposed authors really are team members; unticked ones write as the customer."""
    return rx.cond(
        line.mine,
        rx.el.form(
            rx.vstack(
                rx.text("Some authors have the name of a team member. Tick the ones that really are: their messages "
                        "become your team's replies. Everyone else is imported as the customer.", size="2"),
                rx.foreach(line.proposals, _proposal),
                rx.el.input(type="hidden", name="job", value=line.job_id.to(str)),  # type: ignore[attr-defined]
                rx.button("Import", type="submit", size="2", class_name="import-confirm"),
                spacing="2", width="100%",
            ),
            on_submit=ChatImportState.confirm_authors, reset_on_submit=True, width="100%",
        ),
        rx.text("Waiting for the member who uploaded it to confirm who is who.", size="2", color_scheme="gray"),
    )


def _job(line: JobLine) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(line.filename, weight="medium"),
                rx.badge(line.words, color_scheme=rx.match(line.state, ("done", "green"), ("failed", "red"),
                                                           ("review", "amber"), "blue")),
                rx.spacer(),
                rx.text(line.when, size="1", color_scheme="gray"),
                width="100%", align="center",
            ),
            rx.cond(
                (line.state == "running") | (line.state == "queued"),
                rx.vstack(rx.progress(value=line.percent, max=100, width="100%", class_name="import-progress"),
                          rx.text(line.progress, size="1", color_scheme="gray"), spacing="1", width="100%"),
            ),
            rx.cond(line.state == "review", _review(line)),
            rx.cond(line.state == "done", rx.text(line.result, size="2", class_name="import-result")),
            rx.cond(line.authors != "", rx.text("Matched — " + line.authors, size="1", color_scheme="gray")),
            rx.cond(line.error != "", rx.callout(line.error, color_scheme="red", size="1", class_name="import-error")),
            rx.cond((line.state == "done") & (line.lead_id > 0),
                    rx.link("Open the conversation on the board", href="/board", size="2")),
            spacing="2", width="100%",
        ),
        width="100%", class_name="import-job",
    )


def import_page() -> rx.Component:
    return settings_frame(
        ChatImportState, "Import WhatsApp chats",
        _form(),
        rx.heading("Recent imports", size="3", margin_top="8px"),
        rx.cond(ChatImportState.jobs.length() > 0,
                rx.vstack(rx.foreach(ChatImportState.jobs, _job), spacing="2", width="100%"),
                rx.text("No import yet.", size="2", color_scheme="gray")),
        spacing="3", padding="24px", max_width="960px", margin_x="auto",
    )
