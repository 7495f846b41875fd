"""The card every signed-out page uses (sign-in, sign-up, invitation, password reset): one look."""

import reflex as rx


def brand(subtitle: str | rx.Var[str]) -> rx.Component:
    return rx.hstack(
        rx.box(rx.icon("message-circle", size=22, color="white"), background="var(--green-9)",
               border_radius="10px", padding="8px", display="flex"),
        rx.vstack(rx.heading("PK WhatsApp CRM", size="5"), rx.text(subtitle, size="2", color_scheme="gray"),
                  spacing="0"),
        align="center", spacing="3",
    )


def auth_card(*children: rx.Component, width: str = "400px") -> rx.Component:
    """A centred card on the green gradient, as on the login page."""
    return rx.center(
        rx.card(*children, width=width, max_width="94vw", size="4"),
        min_height="100vh", padding_y="24px", background="linear-gradient(160deg, var(--green-3), var(--gray-2))",
    )


def error_callout(message: rx.Var[str] | str, element_id: str) -> rx.Component:
    return rx.cond(message != "", rx.callout(message, icon="triangle-alert", color_scheme="red", size="1",
                                             width="100%", id=element_id))


def field(label: str, *control: rx.Component, hint: str | rx.Var[str] = "") -> rx.Component:
    """A labelled control, with a grey line of help under it when `hint` is given."""
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        *control,
        *([rx.text(hint, size="1", color_scheme="gray")] if isinstance(hint, rx.Var) or hint else []),
        spacing="1", width="100%",
    )


def text_input(name: str, kind: str = "text", complete: str = "", placeholder: str = "",
               required: bool = True) -> rx.Component:
    return rx.input(name=name, type=kind, required=required, width="100%", size="3", auto_complete=complete,
                    placeholder=placeholder, id=f"field-{name}")


def footer_link(text: str, label: str, href: str) -> rx.Component:
    return rx.hstack(rx.text(text, size="2", color_scheme="gray"), rx.link(label, href=href, size="2"),
                     spacing="1", justify="center", width="100%")
