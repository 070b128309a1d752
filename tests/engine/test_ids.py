"""SMSC message id normalisation and the candidates a receipt's id is looked up under."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsengine.engine.ids import normalise_id, receipt_id_candidates


def test_normalise_id_strips_zeros_case_and_padding() -> None:
    assert normalise_id("00ABCdef") == "abcdef"
    assert normalise_id(" 5F3A\0") == "5f3a"
    assert normalise_id("000") == "0"
    assert normalise_id("0042", "decimal") == "42"
    assert normalise_id("2a", "hex") == normalise_id("002A", "hex") == "42"
    assert normalise_id("Msg-01", "text") == "msg-01"


@pytest.mark.parametrize(("submitted", "receipt"), [
    ("5F3A", "24378"),            # hex id, receipt in decimal
    ("5f3a", "0000024378"),       # ... zero-padded to the Appendix B ten digits
    ("1234567890", "499602D2"),   # decimal id, receipt in hex
    ("1234567890", "499602d2"),
    ("305419896", "12345678"),    # decimal id whose hex form is all digits
    ("0000012345", "12345"),      # leading zeros
    ("ABCDEF", "abcdef"),         # case
    ("abcdef", "00ABCDEF"),
    ("8b2c1f0e-4a21-4b3c-a1b2-0123456789ab", "8B2C1F0E-4A21-4B3C-A1B2-0123456789AB"),
])
def test_receipt_finds_its_submit_in_auto_style(submitted: str, receipt: str) -> None:
    assert normalise_id(submitted) in receipt_id_candidates(receipt)


@pytest.mark.parametrize(("style", "submitted", "receipt"), [
    ("decimal", "0042", "42"),
    ("hex", "2A", "002a"),
    ("text", "AbC", "abc"),
])
def test_declared_style_gives_one_candidate(style: str, submitted: str, receipt: str) -> None:
    candidates = receipt_id_candidates(receipt, style)  # type: ignore[arg-type]
    assert candidates == (normalise_id(submitted, style),)  # type: ignore[arg-type]


@given(st.integers(0, 2**64), st.booleans(), st.integers(0, 4))
def test_receipt_id_in_either_base_matches_in_auto_style(n: int, upper: bool, zeros: int) -> None:
    hex_id = f"{n:X}" if upper else f"{n:x}"
    dec_id = str(n)
    pad = "0" * zeros
    assert normalise_id(hex_id) in receipt_id_candidates(pad + dec_id)
    assert normalise_id(dec_id) in receipt_id_candidates(pad + hex_id)
    assert normalise_id(pad + hex_id) in receipt_id_candidates(hex_id.swapcase())
    assert normalise_id(dec_id) in receipt_id_candidates(pad + dec_id)
