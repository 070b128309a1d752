"""``smsengine segments``: the counting API on the command line."""

from __future__ import annotations

import json

import pytest

from smsengine.cli import main


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["segments", "--json", *args]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # exactly one JSON object
    result: dict[str, object] = json.loads(out)
    return result


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, {"encoding": "gsm7", "data_coding": 0, "parts": 1, "units": 160,
                     "per_part": [160]}),
        ("a" * 161, {"encoding": "gsm7", "data_coding": 0, "parts": 2, "units": 161,
                     "per_part": [153, 8]}),
        ("中" * 70, {"encoding": "ucs2", "data_coding": 8, "parts": 1, "units": 70,
                    "per_part": [70]}),
        ("中" * 71, {"encoding": "ucs2", "data_coding": 8, "parts": 2, "units": 71,
                    "per_part": [67, 4]}),
        ("€" * 81, {"encoding": "gsm7", "data_coding": 0, "parts": 2, "units": 162,
                    "per_part": [152, 10]}),
        ("Hi 👋", {"encoding": "ucs2", "data_coding": 8, "parts": 1, "units": 5,
                   "per_part": [5]}),
        ("", {"encoding": "gsm7", "data_coding": 0, "parts": 1, "units": 0, "per_part": [0]}),
    ],
)  # fmt: skip
def test_json(capsys: pytest.CaptureFixture[str], text: str, expected: dict[str, object]) -> None:
    assert run_json(capsys, text) == expected
    assert list(run_json(capsys, text)) == ["encoding", "data_coding", "parts", "units", "per_part"]


def test_split_methods(capsys: pytest.CaptureFixture[str]) -> None:
    text = "a" * 161
    assert run_json(capsys, "--udh", "8", text)["per_part"] == [153, 8]
    assert run_json(capsys, "--udh", "16", text)["per_part"] == [152, 9]
    assert run_json(capsys, "--udh", "sar", text)["per_part"] == [152, 9]
    # One message_payload, billed as the SMSC cuts it.
    assert run_json(capsys, "--udh", "payload", "中" * 150)["per_part"] == [67, 67, 16]


def test_human_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["segments", "中" * 71]) == 0
    assert capsys.readouterr().out == (
        "ucs2 (data_coding 8): 71 UTF-16 units in 2 parts [67, 4]; "
        "63 UTF-16 units left in the last part\n"
    )
    assert main(["segments", "Your code is 402113"]) == 0
    assert capsys.readouterr().out == (
        "gsm7 (data_coding 0): 19 septets in 1 part; 141 septets left in the last part\n"
    )


def test_too_long_still_counts_but_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["segments", "--json", "a" * 153 * 256]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["parts"] == 256
    assert "at most 255" in captured.err


def test_bad_udh_choice(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["segments", "--udh", "32", "x"])
    assert "invalid choice" in capsys.readouterr().err
