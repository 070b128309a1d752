"""The errors by meaning (link/errors.py), and the protocols' errors standing on them."""

from __future__ import annotations

import pytest

from smsengine import cmpp, link, smpp


def test_each_error_says_whether_a_retry_can_help() -> None:
    assert link.NotSentError("x").retriable
    assert link.SessionStateError("x").retriable  # nothing was queued
    assert not link.OutcomeUnknownError("x").retriable
    assert link.ThrottledError("x", status=8).retriable
    assert not link.AuthenticationError("x", status=3).retriable
    assert link.NotSentError("x").status == link.NO_STATUS
    assert link.OutcomeUnknownError("x", timed_out=True).timed_out


@pytest.mark.parametrize(("error", "meaning"), [
    (smpp.NotSentError("x"), link.NotSentError),
    (smpp.OutcomeUnknownError("x"), link.OutcomeUnknownError),
    (smpp.SessionStateError("x"), link.SessionStateError),
    (smpp.error_for_status(smpp.CommandStatus.ESME_RTHROTTLED), link.ThrottledError),
    (smpp.error_for_status(smpp.CommandStatus.ESME_RMSGQFUL), link.ThrottledError),
    (smpp.error_for_status(smpp.CommandStatus.ESME_RINVPASWD), link.AuthenticationError),
    (smpp.error_for_status(smpp.CommandStatus.ESME_RALYBND), link.AlreadyBoundError),
    (smpp.error_for_status(0x401), link.StatusError),
    (cmpp.CmppNotSentError("x"), link.NotSentError),
    (cmpp.CmppOutcomeUnknownError("x"), link.OutcomeUnknownError),
    (cmpp.error_for_result(8), link.ThrottledError),
    (cmpp.error_for_result(13), link.StatusError),
    (cmpp.error_for_connect_status(3), link.AuthenticationError),
    (cmpp.error_for_connect_status(7), link.StatusError),
])
def test_protocol_errors_are_the_link_ones_by_meaning(error: link.LinkError,
                                                      meaning: type[link.LinkError]) -> None:
    assert isinstance(error, meaning)


def test_protocol_errors_keep_their_wire_status() -> None:
    assert smpp.NotSentError("x").status == smpp.CommandStatus.ESME_RSYSERR
    assert smpp.SessionStateError("x").status == smpp.CommandStatus.ESME_RINVBNDSTS
    assert smpp.error_for_status(0x58).status == 0x58
    assert cmpp.error_for_connect_status(3).status == 3
    assert cmpp.CmppNotSentError("x").status == link.NO_STATUS  # no CMPP code for it


def test_no_cmpp_error_is_an_smpp_one() -> None:
    for error in (cmpp.CmppNotSentError("x"), cmpp.error_for_connect_status(3),
                  cmpp.error_for_result(8)):
        assert not isinstance(error, smpp.SmppError)
