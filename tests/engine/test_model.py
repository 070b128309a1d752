"""The Message value's defaults and validation, MessageRefusedError, and what a handle keeps of
a stored error."""

from __future__ import annotations

import pytest

from smsengine.engine import Message, MessageRefusedError, MessageState
from smsengine.engine.stores import MemoryCorrelationStore
from smsengine.engine.tracker import Tracker
from smsengine.smpp import CommandStatus


def test_message_defaults() -> None:
    msg = Message(destination="8613800138000", text="hello")
    assert msg.kind == "notification"
    assert msg.registered_delivery is True
    assert msg.source is None and msg.reference is None
    with pytest.raises(AttributeError):
        msg.text = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(("fields", "words"), [
    ({"destination": "8613800138000"}, "exactly one of text or data"),
    ({"destination": "8613800138000", "text": "a", "data": b"a"}, "exactly one of text or data"),
    ({"destination": "", "text": "a"}, "destination"),
    ({"destination": "1" * 21, "text": "a"}, "destination"),
    ({"destination": "8613800138000", "text": "a", "validity": 0}, "validity"),
    ({"destination": "8613800138000", "text": "a", "validity": -1}, "validity"),
    ({"destination": "8613800138000", "text": "a", "validity": 8 * 86400}, "validity"),
])
def test_message_validation(fields: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Message(**fields)  # type: ignore[arg-type]


def test_message_binary_and_validity_limits() -> None:
    assert Message(destination="1", data=b"\x00\x01").data == b"\x00\x01"
    assert Message(destination="1" * 20, text="a", validity=7 * 86400).validity == 7 * 86400


def test_refused_error_carries_status_and_retriable() -> None:
    error = MessageRefusedError("opted out", status=CommandStatus.ESME_RX_R_APPN)
    assert error.status == CommandStatus.ESME_RX_R_APPN
    assert error.retriable is False
    busy = MessageRefusedError("queue full", status=CommandStatus.ESME_RMSGQFUL, retriable=True)
    assert busy.retriable is True
    assert MessageRefusedError("x").status == CommandStatus.ESME_RSUBMITFAIL


def test_a_stored_error_lets_go_of_its_traceback_without_changing_what_it_came_from() -> None:
    # A handle is outside the cyclic collector: the error it keeps must not lead, through a
    # traceback's frames, back to it. What the error says stays; the exception it was raised
    # from (which may still be in flight in the caller) keeps its own traceback.
    inner = KeyError("inner")
    try:
        try:
            raise inner
        except KeyError as exc:
            raise MessageRefusedError("refused", status=CommandStatus.ESME_RINVDSTADR,
                                      retriable=True) from exc
    except MessageRefusedError as exc:
        error = exc
    assert error.__traceback__ is not None and error.__cause__ is inner
    tracker = Tracker(MemoryCorrelationStore())
    handle = tracker.refused(Message(destination="8613800000000", text="x"), error, 1.0)
    assert handle.state is MessageState.FAILED and handle.done_at == 1.0
    assert handle.error is error
    assert (error.__traceback__, error.__cause__, error.__context__) == (None, None, None)
    assert inner.__traceback__ is not None
    assert handle.status == CommandStatus.ESME_RINVDSTADR and error.retriable
    assert str(error) == "refused"
