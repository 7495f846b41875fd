"""The reply box under the conversation: free-form while the 24-hour window is open, templates once it closed."""

import reflex as rx

from pkcrm_app.ui.states.reply import ReplyState, TemplateOption

ACCEPT = ("image/jpeg,image/png,video/mp4,video/3gpp,audio/aac,audio/amr,audio/mpeg,audio/mp4,audio/ogg,"
          "application/pdf,text/plain,application/msword,application/vnd.ms-excel,application/vnd.ms-powerpoint,"
          "application/vnd.openxmlformats-officedocument.wordprocessingml.document,"
          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,"
          "application/vnd.openxmlformats-officedocument.presentationml.presentation")


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
                id="reply-file-form", on_submit=ReplyState.send_file, width="100%")),
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
