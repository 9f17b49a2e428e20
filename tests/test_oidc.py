"""The pure OAuth/OIDC pieces (relay_cli/core/oidc.py) and the redaction of --verbose (core/redact.py)."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from relay_cli.core import oidc, redact


def test_pkce_challenge_is_rfc_7636_appendix_b() -> None:
    # the example of RFC 7636, Appendix B: a fixed verifier and the S256 challenge the RFC gives for it
    assert (
        oidc.challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_pkce_verifier_is_fresh_and_of_legal_form() -> None:
    verifiers = {oidc.new_verifier() for _ in range(20)}
    assert len(verifiers) == 20
    for verifier in verifiers:
        # RFC 7636 section 4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"
        assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", verifier), verifier
        # and its challenge is unpadded base64url of a SHA-256 digest: 43 characters
        assert re.fullmatch(r"[A-Za-z0-9\-_]{43}", oidc.challenge(verifier))


def test_authorize_url() -> None:
    expected = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    url = oidc.authorize_url(
        "https://auth.relaypro.com/realms/Relay",
        client_id="83756T4P",
        redirect_uri="http://auth-localredirect.relaypro.com:8079/authorization-code/callback",
        state="st",
        code_challenge=expected,
    )
    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}"
        == "https://auth.relaypro.com/realms/Relay/protocol/openid-connect/auth"
    )
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "client_id": "83756T4P",
        "response_type": "code",
        "scope": "openid profile offline_access",
        "redirect_uri": "http://auth-localredirect.relaypro.com:8079/authorization-code/callback",
        "state": "st",
        "code_challenge_method": "S256",
        "code_challenge": expected,
    }
    assert oidc.listen_address("http://auth-localredirect.relaypro.com:8079/authorization-code/callback") == (
        8079,
        "/authorization-code/callback",
    )


def test_parse_callback() -> None:
    path = "/authorization-code/callback"
    assert oidc.parse_callback(f"{path}?code=abc&state=s1", path=path, state="s1") == "abc"
    assert oidc.parse_callback("/favicon.ico", path=path, state="s1") is None
    for target, text in (
        (f"{path}?state=s1", "no authorization code"),
        (f"{path}?error=access_denied&state=s1", "access_denied"),
    ):
        with pytest.raises(oidc.CallbackError, match=text):
            oidc.parse_callback(target, path=path, state="s1")
    # a request that is not this login's: its state, absent, or not even text; its error is not believed either
    for target in (f"{path}?code=abc&state=s2", f"{path}?code=abc", f"{path}?error=x&state=s2", f"{path}?state=%C3%A9"):
        with pytest.raises(oidc.WrongState, match="wrong state"):
            oidc.parse_callback(target, path=path, state="s1")


def test_claims_are_read_unverified() -> None:
    payload = (
        base64.urlsafe_b64encode(
            json.dumps({"preferred_username": "u", "email": "e@x", "given_name": "A", "family_name": "B"}).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    claims = oidc.jwt_claims(f"h.{payload}.sig")
    assert oidc.identity(claims) == {"name": "A B", "email": "e@x", "user_id": "u"}
    assert oidc.jwt_claims("opaque-token") == {} and oidc.jwt_claims("a.!!.c") == {}


def test_redaction() -> None:
    assert redact.header("Authorization", "Bearer abc") == "Bearer ***"
    assert redact.header("X-Api-Key", "abc") == "***" and redact.header("Accept", "x") == "x"
    assert (
        redact.url("https://u:p@h/x?subscriber_id=S&access_token=abc") == "https://h/x?subscriber_id=S&access_token=***"
    )
    assert redact.fields({"a": [{"refresh_token": "x", "name": "n"}], "code": "c"}) == {
        "a": [{"refresh_token": "***", "name": "n"}],
        "code": "***",
    }
