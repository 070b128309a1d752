"""The request bookkeeping both sessions share (link/window.py), without a session: numbering,
the window, output and "written", deadlines, loss."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from smsengine.link import (
    ConnectionDead,
    NotSentError,
    OutcomeUnknownError,
    RequestFailed,
    SessionEvent,
    Window,
)
from smsengine.link.window import BLOCKED


def req(name: str = "submit") -> SimpleNamespace:
    return SimpleNamespace(command_name=name)


def queue(window: Window, request: SimpleNamespace, now: float, token: object = None, *,
          counts: bool = True) -> int:
    seq = window.next_seq()
    return window.add(seq, request, f"<{seq}>".encode(), now, token, counts=counts)


def test_sequence_numbers_wrap_and_skip_those_in_flight_and_the_reserved_one() -> None:
    window = Window(8, 5.0, max_sequence=5)
    assert [queue(window, req(), 0.0) for _ in range(3)] == [1, 2, 3]
    window.reserved = 4  # (e.g. CMPP's ACTIVE_TEST, kept out of pending)
    assert queue(window, req(), 0.0) == 5
    window.take(2)
    assert queue(window, req(), 0.0) == 2  # past the top: 1 still in flight, 2 free again


def test_the_window_counts_only_the_applications_requests() -> None:
    window = Window(2, 5.0, 100)
    queue(window, req("bind"), 0.0, counts=False)
    queue(window, req(), 0.0, "a")
    assert window.free == 1
    window.check_room()
    queue(window, req(), 0.0, "b")
    with pytest.raises(NotSentError, match="window of 2"):
        window.check_room()
    entry = window.take(2)
    assert entry is not None and entry.token == "a" and window.free == 1
    assert window.take(2) is None
    window.take(1)  # (the bind: not counted)
    assert window.free == 1 and len(window.pending) == 1


def test_data_to_send_is_one_write_and_marks_what_was_in_it_written() -> None:
    window = Window(4, 5.0, 100)
    queue(window, req(), 0.0)
    queue(window, req(), 0.0)
    first = window.pending[1].generation
    assert not window.written(first)
    assert window.data_to_send() == b"<1><2>"
    assert window.written(first)
    assert window.data_to_send() == b""
    queue(window, req(), 0.0)
    window.out.append(b"answer")
    assert window.cut(1) == b"answer" and window.data_to_send() == b"<3>"


def test_expire_fails_due_requests_in_order_and_hands_back_the_sessions_own() -> None:
    window = Window(4, 5.0, 100, peer="the ISMG", resp="_RESP")
    queue(window, req("CMPP_SUBMIT"), 0.0, "a")
    queue(window, req("CMPP_TERMINATE"), 1.0, counts=False)
    queue(window, req("CMPP_SUBMIT"), 2.0, "b")
    window.data_to_send()
    assert window.next_deadline() == 5.0
    events: list[SessionEvent] = []
    assert window.expire(4.9, events) is None and events == []
    own = window.expire(6.5, events)
    assert own is not None and own.request.command_name == "CMPP_TERMINATE"
    (failed,) = events
    assert isinstance(failed, RequestFailed) and failed.token == "a"
    assert isinstance(failed.error, OutcomeUnknownError) and failed.error.timed_out
    assert str(failed.error) == "no CMPP_SUBMIT_RESP within 5s"
    assert window.expire(6.5, events) is None and window.next_deadline() == 7.0
    assert window.free == 3


def test_a_due_request_never_written_is_a_dead_peer_and_stays_pending() -> None:
    window = Window(4, 5.0, 100)
    queue(window, req(), 0.0, "a")
    events: list[SessionEvent] = []
    assert window.expire(5.0, events) is BLOCKED
    (dead,) = events
    assert isinstance(dead, ConnectionDead) and "the peer is not reading" in dead.reason
    assert 1 in window.pending  # connection_lost still owes it its RequestFailed


class _NotSent(NotSentError):
    pass


class _Unknown(OutcomeUnknownError):
    pass


def test_fail_all_ends_written_requests_unknown_the_rest_not_sent() -> None:
    window = Window(4, 5.0, 100, not_sent=_NotSent, unknown=_Unknown)
    queue(window, req("bind"), 0.0, counts=False)
    queue(window, req(), 0.0, "written")
    window.data_to_send()
    queue(window, req(), 0.0, "queued")
    events: list[SessionEvent] = []
    window.fail_all("connection lost", events)
    assert [(type(e.error), e.token) for e in events  # type: ignore[attr-defined]
            ] == [(_Unknown, "written"), (_NotSent, "queued")]
    assert str(events[1].error) == "connection lost before submit was written"  # type: ignore[attr-defined]
    assert not window.pending and window.free == 4 and window.data_to_send() == b""


def test_window_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Window(0, 5.0, 100)
