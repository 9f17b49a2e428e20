"""The keys a profile may set (kept tiny: `relay --help` imports it)."""

#: profile keys: key → (environment variable, description)
PROFILE_KEYS: dict[str, tuple[str | None, str]] = {
    "env": ("RELAY_ENV", "Relay environment: pro or qa"),
    "host": ("RELAY_HOST", "API host name or base URL (overrides env)"),
    "subscriber_id": ("RELAY_SUBSCRIBER_ID", "the Relay account to act on"),
    "auth_method": ("RELAY_AUTH_METHOD", "scheme word of the Authorization header"),
    "auth_client_id": ("RELAY_AUTH_CLIENT_ID", "OpenID client id for `relay login`"),
    "auth_sdk_client_id": ("RELAY_AUTH_SDK_CLIENT_ID", "OpenID client id for SDK tokens"),
    "auth_issuer": ("RELAY_AUTH_ISSUER", "OpenID issuer URL"),
    "auth_redirect_uri": ("RELAY_AUTH_REDIRECT_URI", "redirect URI sent at login"),
}
