"""OAuth 2.0 authorization code + PKCE (RFC 7636, S256) and OpenID Connect, the pure parts. No I/O.

Building the authorize URL, the verifier/challenge pair, the ``state`` check of the redirect, the token
requests' form bodies, and reading an id token's claims. Claims are read WITHOUT verifying the token's
signature: they are only shown to the user (``relay whoami``) and never used to decide access; the token
itself came straight from the issuer over TLS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from ..errors import AuthError, UsageError

SCOPE = "openid profile offline_access"
CALLBACK_PATH = "/authorization-code/callback"
LOGOUT_CALLBACK_PATH = "/end-session/callback"


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str
    logout: str


def endpoints(issuer: str) -> Endpoints:
    """Keycloak's endpoints under an issuer URL (the issuer of each Relay environment, ``core.environments``)."""
    base = issuer.rstrip("/") + "/protocol/openid-connect"
    return Endpoints(authorization=f"{base}/auth", token=f"{base}/token", logout=f"{base}/logout")


def new_verifier() -> str:
    """A PKCE code verifier: 64 URL-safe characters (RFC 7636 allows 43-128)."""
    return secrets.token_urlsafe(48)


def challenge(verifier: str) -> str:
    """The S256 code challenge: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_state() -> str:
    return secrets.token_urlsafe(24)


def authorize_url(
    issuer: str, *, client_id: str, redirect_uri: str, state: str, code_challenge: str, scope: str = SCOPE
) -> str:
    params = {
        "client_id": client_id,
        "response_type": "code",
        "scope": scope,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge_method": "S256",
        "code_challenge": code_challenge,
    }
    return f"{endpoints(issuer).authorization}?{urlencode(params)}"


def code_grant(*, client_id: str, code: str, redirect_uri: str, verifier: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }


def refresh_grant(*, client_id: str, refresh_token: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token}


def listen_address(redirect_uri: str, option: str = "auth_redirect_uri") -> tuple[int, str]:
    """(port, path) the loopback listener serves for a redirect URI; it always binds 127.0.0.1."""
    parts = urlsplit(redirect_uri)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "http" or not parts.hostname:
        raise UsageError(f"expected an http:// redirect URI with a port, got {redirect_uri!r}", option=option)
    return (port or 80), (parts.path or "/")


class CallbackError(AuthError):
    """The browser came back without a usable authorization code."""


class WrongState(CallbackError):
    """A request to the listener with a ``state`` that is not this login's: not the issuer's redirect (a stale tab,
    another local process, a web page). It is answered and ignored; it never ends the login."""


def parse_callback(target: str, *, path: str, state: str) -> str | None:
    """The authorization code from the redirect's request target (``/path?code=...&state=...``).

    None when the request is for another path (a favicon): keep waiting. Raises WrongState when the ``state``
    does not match (nothing else of such a request is believed, not even an error it reports), and CallbackError
    when the redirect of this login reports an error from the issuer or carries no code."""
    parts = urlsplit(target)
    if parts.path != path:
        return None
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    if not secrets.compare_digest(query.get("state", "").encode(), state.encode()):
        raise WrongState("the login redirect carried the wrong state (a stale or forged redirect)")
    if query.get("error"):
        detail = query.get("error_description") or query["error"]
        raise CallbackError(f"the login was refused by the issuer: {detail}")
    code = query.get("code")
    if not code:
        raise CallbackError("the login redirect carried no authorization code")
    return code


def jwt_claims(token: str | None) -> dict[str, object]:
    """The claims of a JWT (its middle part), NOT verified; {} when the text is not a JWT."""
    if not token or token.count(".") != 2:
        return {}
    payload = token.split(".")[1]
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def identity(claims: dict[str, object]) -> dict[str, str | None]:
    """name, email and user id (``preferred_username`` is the user's uuid) from id token claims."""
    given = str(claims.get("given_name") or "").strip()
    family = str(claims.get("family_name") or "").strip()
    name = " ".join(p for p in (given, family) if p) or (str(claims["name"]) if claims.get("name") else None)
    return {
        "name": name,
        "email": str(claims["email"]) if claims.get("email") else None,
        "user_id": str(claims["preferred_username"]) if claims.get("preferred_username") else None,
    }
