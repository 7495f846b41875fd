"""The login page: a plain form post, so the session secret never passes through the websocket."""

import reflex as rx

from pkcrm_app.ui.components.forms import post_and_follow


class LoginPageState(rx.State):
    error: str = ""

    @rx.event
    def read_outcome(self) -> None:
        """on_load: the form post redirects back with ?error=1 (or =locked) after a failed attempt."""
        code = self.router.url.query_parameters.get("error", "")
        self.error = {"1": "Email or password is incorrect.",
                      "locked": "Too many failed sign-ins. Try again in 15 minutes."}.get(code, "")


def login_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.el.form(
                rx.vstack(
                    rx.hstack(
                        rx.box(rx.icon("message-circle", size=22, color="white"), background="var(--green-9)",
                               border_radius="10px", padding="8px", display="flex"),
                        rx.vstack(rx.heading("PK WhatsApp CRM", size="5"),
                                  rx.text("Sign in to your team's board", size="2", color_scheme="gray"),
                                  spacing="0"),
                        align="center", spacing="3",
                    ),
                    rx.cond(LoginPageState.error != "",
                            rx.callout(LoginPageState.error, icon="triangle-alert", color_scheme="red",
                                       size="1", width="100%", id="login-error")),
                    rx.text("Email", size="2", weight="medium"),
                    rx.input(name="email", type="email", placeholder="you@company.com", required=True, width="100%",
                             size="3", auto_complete="username"),
                    rx.text("Password", size="2", weight="medium"),
                    rx.input(name="password", type="password", required=True, width="100%", size="3",
                             auto_complete="current-password"),
                    rx.button("Sign in", type="submit", size="3", width="100%", id="sign-in"),
                    spacing="3", width="100%",
                ),
                id="login-form", action="/auth/login", method="post",
                on_submit=post_and_follow("/auth/login", "login-form"),
            ),
            width="380px", size="4",
        ),
        height="100vh", background="linear-gradient(160deg, var(--green-3), var(--gray-2))",
    )
