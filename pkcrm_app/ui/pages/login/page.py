"""The login page: a plain form post, so the session secret never passes through the websocket."""

import reflex as rx

from pkcrm_app.ui.browser import post_and_follow
from pkcrm_app.ui.pages.login.state import LoginPageState


def sso_section() -> rx.Component:
    """Single sign-on: the browser goes to /auth/sso/start, which sends it on to the organisation's provider."""
    go = ("const v = document.getElementById('sso-org').value.trim();"
          " if (v) window.location.assign('/auth/sso/start?org=' + encodeURIComponent(v));")
    return rx.el.form(
        rx.vstack(
            rx.separator(size="4"),
            rx.text("Organisation", size="2", weight="medium"),
            rx.input(id="sso-org", name="org", placeholder="your-team", required=True, width="100%", size="3"),
            rx.button("Sign in with single sign-on", type="submit", size="3", width="100%", variant="outline",
                      id="sso-sign-in"),
            spacing="3", width="100%", margin_top="16px",
        ),
        id="sso-form", on_submit=rx.call_script(go),
    )


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
                    rx.hstack(rx.link("Forgot password?", href="/forgot", size="2", id="forgot-link"), rx.spacer(),
                              rx.link("Create an organisation", href="/signup", size="2", id="signup-link"),
                              width="100%"),
                    spacing="3", width="100%",
                ),
                id="login-form", action="/auth/login", method="post",
                on_submit=post_and_follow("/auth/login", "login-form"),
            ),
            sso_section(),
            width="380px", size="4",
        ),
        height="100vh", background="linear-gradient(160deg, var(--green-3), var(--gray-2))",
    )
