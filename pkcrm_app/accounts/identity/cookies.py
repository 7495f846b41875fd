"""The names of the app's cookies, read by HTTP routes and by the websocket's page states alike."""

SESSION_COOKIE = "pkcrm_session"  # the signed-in session's secret (HttpOnly)
DEVICE_COOKIE = "pkcrm_device"  # a known device's signed token, lets its owner past the new-device alert
STATE_COOKIE = "pkcrm_sso_state"  # single sign-on: binds a provider round trip to the browser that started it
MFA_RESET_COOKIE = "pkcrm_mfa_reset"  # the emailed reset link's token, between its first hop and the confirmation
SIGNUP_COOKIE = "pkcrm_signup"
INVITE_COOKIE = "pkcrm_invite"
RESET_COOKIE = "pkcrm_reset"
BROWSER_COOKIE = "pkcrm_browser"  # the asking browser's random mark, bound to the links it asked for
