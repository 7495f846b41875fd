"""The WhatsApp connection page: numbers with write-only secrets, a connection test, templates."""

import reflex as rx

from pkcrm_app.ui.components.auth_card import field
from pkcrm_app.ui.components.settings_frame import settings_frame
from pkcrm_app.ui.pages.whatsapp_settings.state import NumberRow, TemplateRow, WhatsAppState


def _secret(name: str, label: str, stored: rx.Var[str] | str) -> rx.Component:
    control = rx.input(name=name, type="password", width="100%", auto_complete="off",
                       placeholder="Leave empty to keep the stored one" if isinstance(stored, rx.Var) else "Required")
    return field(label, control, hint="Stored: " + stored.to(str) if isinstance(stored, rx.Var) else "")


def _number_form(form_id: str, row: NumberRow | None) -> rx.Component:
    value = (lambda attr: getattr(row, attr)) if row is not None else (lambda _attr: "")
    return rx.el.form(
        rx.el.input(type="hidden", name="number_id", value=value("id") if row is not None else ""),
        rx.grid(
            field("Phone number ID", rx.input(name="phone_number_id", default_value=value("phone_number_id"),
                                              required=True, width="100%")),
            field("WhatsApp business account ID", rx.input(name="business_account_id", width="100%",
                                                           default_value=value("business_account_id"))),
            field("Display number", rx.input(name="display_phone_number", width="100%",
                                             default_value=value("display_phone_number"))),
            field("Messages per second", rx.input(name="messages_per_second", width="100%",
                                                  default_value=value("messages_per_second"),
                                                  placeholder="80 (Meta's default)")),
            _secret("access_token", "Access token", value("access_token")),
            _secret("app_secret", "App secret", value("app_secret")),
            _secret("verify_token", "Webhook verify token", value("verify_token")),
            columns="2", spacing="3", width="100%",
        ),
        id=form_id, on_submit=lambda _data: WhatsAppState.save(form_id), width="100%",
    )


def _number_card(row: NumberRow) -> rx.Component:
    form_id = "wa-number-" + row.id.to(str)  # type: ignore[attr-defined]
    return rx.card(
        rx.vstack(
            rx.hstack(rx.icon("phone", size=18, color="var(--green-9)"),
                      rx.text(rx.cond(row.display_phone_number != "", row.display_phone_number,
                                      row.phone_number_id), weight="medium"),
                      align="center", spacing="2"),
            _number_form(form_id, row),
            rx.hstack(
                rx.button("Save", type="submit", form=form_id),
                rx.button("Test connection", variant="soft", on_click=WhatsAppState.test_connection(row.id)),
                rx.button("Sync templates", variant="soft", on_click=WhatsAppState.sync_templates(row.id)),
                spacing="3",
            ),
            spacing="3", width="100%",
        ),
        width="100%", max_width="820px", flex_shrink="0",
    )


def _template_row(t: TemplateRow) -> rx.Component:
    return rx.table.row(rx.table.cell(rx.code(t.name)), rx.table.cell(t.language), rx.table.cell(t.category),
                        rx.table.cell(t.source), rx.table.cell(rx.text(t.body, size="1")))


def whatsapp_settings_page() -> rx.Component:
    return settings_frame(
        WhatsAppState, "WhatsApp connection",
        rx.card(rx.vstack(
            field("Cloud API", rx.code(WhatsAppState.api_base, id="whatsapp-api-base"),
                  hint="PKCRM_WHATSAPP_API_BASE and PKCRM_WHATSAPP_API_VERSION; the demo uses the local simulator."),
            field("Webhook callback URL to register at Meta", rx.code(WhatsAppState.webhook_url)),
            spacing="3"), width="100%", max_width="820px", flex_shrink="0"),
        rx.vstack(rx.foreach(WhatsAppState.numbers, _number_card), key=WhatsAppState.form_key, width="100%",
                  spacing="4", flex_shrink="0"),
        rx.card(rx.vstack(
            rx.text("Add a number", weight="medium"),
            _number_form("wa-number-new", None),
            rx.button("Add number", type="submit", form="wa-number-new"),
            spacing="3", width="100%"), width="100%", max_width="820px", flex_shrink="0"),
        rx.heading("Templates", size="4"),
        rx.cond(WhatsAppState.templates.length() > 0,  # type: ignore[attr-defined]
                rx.table.root(rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                    "Name", "Language", "Category", "Source", "Text")])),
                    rx.table.body(rx.foreach(WhatsAppState.templates, _template_row)), width="100%",
                    max_width="820px"),
                rx.text("No approved templates yet: sync them from WhatsApp.", size="2", color_scheme="gray")),
        description="Connect your WhatsApp Business numbers from Meta's developer console. Tokens and secrets are "
                    "stored encrypted and never shown again: only their last characters. Changing one asks for a "
                    "code from your authenticator app.",
        notice_id="whatsapp-notice",
    )
