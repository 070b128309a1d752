"""The Login authenticators (section 6), checked against MD5 computed here by hand from the
spec's formula with hashlib, and against the digests printed in section 14."""

from __future__ import annotations

import hashlib
import time

import pytest

from smsengine.smgp import (
    authenticator_client,
    authenticator_server,
    format_timestamp,
    timestamp_now,
    verify_client,
    verify_server,
)


def md5(data: bytes) -> bytes:
    return hashlib.md5(data).digest()


# ClientID "12345678", secret "secret", TimeStamp 0102030405 (section 14).
CLIENT_INPUT = bytes.fromhex("3132333435363738 00000000000000 736563726574 30313032303330343035")


def test_client_authenticator_from_the_formula() -> None:
    by_hand = md5(b"12345678" + b"\0" * 7 + b"secret" + b"0102030405")
    assert CLIENT_INPUT == b"12345678" + b"\0" * 7 + b"secret" + b"0102030405"
    assert by_hand.hex() == "600ff8891882f26519a877d6137e3706"  # section 14
    assert authenticator_client("12345678", "secret", 102030405) == by_hand
    assert authenticator_client(b"12345678", b"secret", 102030405) == by_hand


def test_server_authenticator_from_the_formula() -> None:
    client = md5(CLIENT_INPUT)
    four = md5(b"\0\0\0\0" + client + b"secret")
    one = md5(b"\0" + client + b"secret")
    assert four.hex() == "d89466040a419920248c1def036a00db"  # section 14, 4-octet form
    assert one.hex() == "9ca68c1b37cd6e744a97e07542b8ea95"  # section 14, 1-octet form
    assert authenticator_server(0, client, "secret") == four
    assert authenticator_server(0, client, "secret", status_width=1) == one
    # A non-zero Status enters big-endian.
    assert authenticator_server(21, client, "secret") == md5(b"\0\0\0\x15" + client + b"secret")
    with pytest.raises(ValueError, match="status_width"):
        authenticator_server(0, client, "secret", status_width=2)


def test_short_client_id_unpadded_and_padded() -> None:
    unpadded = md5(b"sp001" + b"\0" * 7 + b"secret" + b"0102030405")
    padded = md5(b"sp001\0\0\0" + b"\0" * 7 + b"secret" + b"0102030405")
    assert unpadded.hex() == "aea7113c1adf6ad944ebd49d7e785b96"
    assert padded.hex() == "25dd0885ee55957d85d045f68502fbc8"
    assert authenticator_client("sp001", "secret", 102030405) == unpadded
    assert authenticator_client("sp001", "secret", 102030405, pad_client_id=True) == padded


def test_verify_server_accepts_either_width_and_nothing_else() -> None:
    client = md5(CLIENT_INPUT)
    assert verify_server(bytes.fromhex("d89466040a419920248c1def036a00db"), 0, client, "secret")
    assert verify_server(bytes.fromhex("9ca68c1b37cd6e744a97e07542b8ea95"), 0, client, "secret")
    assert not verify_server(authenticator_server(0, client, "other"), 0, client, "secret")
    # go_smgp's fake SMGW sends the literal text "authserver".
    assert not verify_server(b"authserver".ljust(16, b"\0"), 0, client, "secret")
    # A Status too wide for one octet is checked in the 4-octet form only.
    assert verify_server(authenticator_server(300, client, "secret"), 300, client, "secret")


def test_verify_client_takes_both_client_id_forms() -> None:
    for pad in (False, True):
        auth = authenticator_client("sp001", "secret", 102030405, pad_client_id=pad)
        assert verify_client(auth, "sp001", "secret", 102030405)
    assert not verify_client(bytes(16), "sp001", "secret", 102030405)
    assert not verify_client(authenticator_client("sp001", "x", 1), "sp001", "secret", 1)


def test_timestamp_digits() -> None:
    # The spec's example: 03-01 00:00:00 is 301000000 = 0x11F0E540.
    local = time.struct_time((2025, 3, 1, 0, 0, 0, 5, 60, 0))
    assert timestamp_now(local) == 301000000 == 0x11F0E540
    assert format_timestamp(301000000) == "0301000000"
    leap = time.struct_time((2025, 12, 31, 23, 59, 60, 2, 365, 0))
    assert timestamp_now(leap) == 1231235959
    with pytest.raises(ValueError, match="MMDDHHMMSS"):
        format_timestamp(-1)
