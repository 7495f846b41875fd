"""Single sign-on with OpenID Connect, configured per organisation."""
