"""Issue 16, item 8, in ``smsengine decode``: the PDUs before a bad command_length are printed,
then the framing error is reported."""

from __future__ import annotations

import json

import pytest

from smsengine.cli import main
from smsengine.smpp import SubmitSmResp


def test_decode_prints_the_pdus_before_a_bad_length(capsys: pytest.CaptureFixture[str]) -> None:
    good = SubmitSmResp(sequence_number=7, message_id="abc").encode()
    assert main(["decode", good.hex(), "deadbeef" * 8]) == 1
    out, err = capsys.readouterr()
    (event,) = (json.loads(line) for line in out.splitlines())
    assert (event["command"], event["sequence_number"]) == ("submit_sm_resp", 7)
    assert event["message_id"] == "abc"
    assert "above the maximum" in err
