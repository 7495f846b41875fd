"""The project's TOTP construction reproduces RFC 6238 Appendix B (HMAC-SHA1, 8 digits)."""

from __future__ import annotations

import pytest

from pkcrm_app.accounts.identity.mfa import DIGITS, TIME_STEP, totp_for

RFC_SHA1_SECRET = b"12345678901234567890"
RFC_SHA1_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("unix_time", "expected"), RFC_SHA1_VECTORS)
def test_rfc6238_sha1_vectors(unix_time: int, expected: str) -> None:
    assert totp_for(RFC_SHA1_SECRET, digits=8).generate(unix_time).decode() == expected


def test_app_codes_are_the_last_six_digits_of_the_rfc_value() -> None:
    """HOTP truncation: the 6-digit code is the 8-digit value modulo 10^6."""
    assert (DIGITS, TIME_STEP) == (6, 30)
    for unix_time, expected in RFC_SHA1_VECTORS:
        assert totp_for(RFC_SHA1_SECRET).generate(unix_time).decode() == expected[-6:]
