"""The message tracker without sockets or a clock: every row of its transition tables, receipts
before responses, duplicate and stranger receipts, TTL expiry, retries, the roll-up of a
3-part message in any order of events, observers, illegal moves, stop and restart."""

from __future__ import annotations

import itertools
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.engine import tracker as tracker_module
from smsengine.engine.model import Message, MessageExpiredError, MessageHandle, MessageState
from smsengine.engine.stores import CorrelationRecord, MemoryCorrelationStore
from smsengine.engine.tracker import (
    MESSAGE_TRANSITIONS,
    PART_TRANSITIONS,
    Change,
    ChannelTracker,
    Failure,
    IllegalTransition,
    Part,
    Tracker,
    Verdict,
)
from smsengine.smpp import (
    CommandStatus,
    NotSentError,
    OutcomeUnknownError,
    SmppError,
    error_for_status,
)

S = MessageState
Move = tuple[str, S | None, S]  # ("part" | "message", old, new)
_refs = itertools.count(1)


class World:
    """A tracker, one channel's view of it, and every move its observer heard."""

    def __init__(self, **policy: Any) -> None:
        self.store = MemoryCorrelationStore()
        self.tracker = Tracker(self.store, early_ttl=60.0, max_early=policy.pop("max_early", 100))
        self.channel: ChannelTracker = self.tracker.channel(
            "a", error_for=error_for_status, **{"receipt_ttl": 100.0, "max_retries": 2,
                                                 "retry_delay": 1.0, **policy})
        self.moves: list[tuple[str, S | None, S, float, Change]] = []
        self.tracker.observe(self._heard)

    def _heard(self, ref: str, old: S | None, new: S, at: float, change: Change) -> None:
        self.moves.append((ref, old, new, at, change))

    def message(self, parts: int = 1, *, receipt: bool = True) -> MessageHandle:
        handle = MessageHandle(f"m{next(_refs)}", Message(
            destination="8613800000000", text="x", registered_delivery=receipt))
        self.channel.queued(handle, tuple(Part(i, "", S.QUEUED, None, None, handle)
                                          for i in range(parts)))
        return handle

    def send(self, handle: MessageHandle, now: float = 1.0) -> None:
        parts = [p for p in handle.segments if p.state is S.QUEUED]
        self.channel.on_submitted(parts, len(parts), now, now)  # type: ignore[arg-type]

    def seen(self) -> set[Move]:
        return {("message" if c.part is None else "part", old, new)
                for _, old, new, _, c in self.moves if old is not new}

    def message_states(self, ref: str) -> list[S]:
        return [new for r, _, new, _, c in self.moves if r == ref and c.part is None]


def part(handle: MessageHandle, i: int = 0) -> Part:
    p = handle.segments[i]
    assert isinstance(p, Part)
    return p


# --- scenarios: each makes some moves; together they make every row of both tables -----------

def accepted_then_receipt(state: S) -> Callable[[World], None]:
    def run(w: World) -> None:
        h = w.message()
        w.send(h)
        w.channel.on_accepted(part(h), "id1", 2.0)
        assert h.state is S.SUBMITTED and not h.final
        assert len(w.store) == 1
        w.channel.on_receipt("ID1", state, 3.0)
        assert h.state is state and h.final and h.done_at == 3.0
        assert part(h).state is state and part(h).handle is None  # released
        assert h.ref not in w.tracker.tracked and len(w.store) == 0
        assert w.channel.counters["receipts_matched"] == 1
    run.__name__ = f"receipt_{state.name}"
    return run


def no_receipt_asked(w: World) -> None:
    h = w.message(receipt=False)
    w.send(h)
    w.channel.on_accepted(part(h), "x", 2.0)
    assert h.state is S.SUBMITTED and h.final and len(w.store) == 0
    assert h.ref not in w.tracker.tracked


def refused_permanently(w: World) -> None:
    h = w.message()
    w.send(h)
    assert w.channel.on_response(part(h), Verdict.PERMANENT, CommandStatus.ESME_RINVDSTADR,
                                 2.0) is None
    assert h.state is S.FAILED and h.status == CommandStatus.ESME_RINVDSTADR
    assert h.error is not None and not h.error.retriable
    assert w.channel.counters["failed"] == 1


def throttled_then_accepted(w: World) -> None:
    h = w.message()
    w.send(h)
    assert w.channel.on_response(part(h), Verdict.THROTTLED, CommandStatus.ESME_RTHROTTLED,
                                 2.0, 0.25) == 0.25
    assert part(h).state is S.QUEUED and h.attempts == 0  # a throttle is not an attempt
    w.send(h)
    w.channel.on_accepted(part(h), "7", 3.0)
    assert part(h).state is S.SUBMITTED


def retried_until_exhausted(w: World) -> None:
    h = w.message()
    delays = []
    for _ in range(3):
        w.send(h)
        delays.append(w.channel.on_response(part(h), Verdict.RETRIABLE,
                                            CommandStatus.ESME_RSYSERR, 2.0))
    assert delays == [1.0, 2.0, None]  # retry_delay doubling, then max_retries (2) is spent
    assert h.state is S.FAILED and h.attempts == 2 and w.channel.counters["retried"] == 2
    assert h.error is not None and h.error.retriable  # the carrier's word, kept


def not_sent_then_unknown(w: World) -> None:
    h = w.message()
    w.send(h)
    assert w.channel.on_failure(part(h), Failure.NOT_SENT, NotSentError("x"), 2.0) == 0.0
    assert part(h).state is S.QUEUED
    w.send(h)
    assert w.channel.on_failure(part(h), Failure.UNKNOWN, OutcomeUnknownError("y"), 3.0) is None
    assert h.state is S.UNKNOWN and isinstance(h.error, OutcomeUnknownError)
    assert part(h).message_id == "" and w.channel.counters["unknown"] == 1


def opted_out_while_queued(w: World) -> None:
    h = w.message(parts=2)
    w.channel.refuse(h, SmppError("opted out", status=CommandStatus.ESME_RX_R_APPN), 2.0)
    assert h.state is S.FAILED and [p.state for p in h.segments] == [S.FAILED, S.FAILED]
    assert h.ref not in w.tracker.tracked


def failed_part_after_another_submitted(w: World) -> None:
    # Part 0 refused, part 1 accepted: the message is SUBMITTED (nothing left unanswered),
    # and its roll-up is FAILED once part 1's receipt is in.
    h = w.message(parts=2)
    w.send(h)
    w.channel.on_response(part(h, 0), Verdict.PERMANENT, CommandStatus.ESME_RINVDSTADR, 2.0)
    assert h.state is S.QUEUED
    w.channel.on_accepted(part(h, 1), "b1", 2.0)
    assert h.state is S.SUBMITTED
    w.channel.on_receipt("b1", S.DELIVERED, 3.0)
    assert h.state is S.FAILED and h.status == CommandStatus.ESME_RINVDSTADR


def receipt_ttl_expired(w: World) -> None:
    h = w.message()
    w.send(h)
    w.channel.on_accepted(part(h), "t1", 2.0)
    w.tracker.expire(50.0)
    assert h.state is S.SUBMITTED  # not yet: the TTL is 100 s
    w.tracker.expire(102.0)
    assert h.state is S.UNKNOWN and part(h).state is S.UNKNOWN
    w.channel.on_receipt("t1", S.DELIVERED, 103.0)  # too late: a stranger now
    assert h.state is S.UNKNOWN


def expired_while_queued(w: World) -> None:
    # Part 0 left and was accepted; part 1 waited past the validity: it ends EXPIRED unsent,
    # the message is SUBMITTED (what is left is with the carrier) and ends in its worst part.
    h = w.message(parts=2)
    w.channel.on_submitted([part(h, 0)], 1, 1.0, 1.0)
    w.channel.on_accepted(part(h, 0), "e0", 2.0)
    w.channel.lapse(h, 3.0)
    assert part(h, 1).state is S.EXPIRED and h.state is S.SUBMITTED
    assert isinstance(h.error, MessageExpiredError) and "lapsed" in str(h.error)
    w.channel.on_receipt("e0", S.DELIVERED, 4.0)
    assert h.state is S.EXPIRED
    # Nothing of it left: QUEUED -> EXPIRED.
    h = w.message()
    h.expires_at = 5.0
    w.tracker._deadline(h, 5.0)
    w.tracker.expire(4.9)
    assert h.state is S.QUEUED
    w.tracker.expire(5.0)
    assert h.state is S.EXPIRED and part(h).state is S.EXPIRED and not h.error.retriable


def cancelled_while_queued(w: World) -> None:
    # Nothing of it left: cancelled, every part with it. Once a part is with a bind, or the
    # message is final, a cancel changes nothing.
    h = w.message(parts=2)
    assert w.channel.cancel(h, 2.0)
    assert h.state is S.CANCELLED and [p.state for p in h.segments] == [S.CANCELLED] * 2
    assert h.ref not in w.tracker.tracked and not w.channel.cancel(h, 3.0)
    h = w.message(parts=2)
    w.channel.on_submitted([part(h, 0)], 1, 1.0, 1.0)
    assert not w.channel.cancel(h, 2.0)
    assert h.state is S.QUEUED and part(h, 1).state is S.QUEUED


SCENARIOS: list[Callable[[World], None]] = [
    *(accepted_then_receipt(s) for s in
      (S.DELIVERED, S.UNDELIVERABLE, S.EXPIRED, S.REJECTED, S.UNKNOWN)),
    no_receipt_asked, refused_permanently, throttled_then_accepted, retried_until_exhausted,
    not_sent_then_unknown, opted_out_while_queued, failed_part_after_another_submitted,
    receipt_ttl_expired, expired_while_queued, cancelled_while_queued,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_scenario(scenario: Callable[[World], None]) -> None:
    w = World()
    scenario(w)
    legal = ({("part", o, n) for o, ns in PART_TRANSITIONS.items() for n in ns}
             | {("message", o, n) for o, ns in MESSAGE_TRANSITIONS.items() for n in ns})
    assert w.seen() <= legal
    assert w.tracker.illegal == 0


def test_the_scenarios_make_every_row_of_both_tables() -> None:
    seen: set[Move] = set()
    for scenario in SCENARIOS:
        w = World()
        scenario(w)
        seen |= w.seen()
    assert {(o, n) for kind, o, n in seen if kind == "part"} == {
        (o, n) for o, ns in PART_TRANSITIONS.items() for n in ns}
    assert {(o, n) for kind, o, n in seen if kind == "message"} == {
        (o, n) for o, ns in MESSAGE_TRANSITIONS.items() for n in ns}


def test_resend_unknown_sends_again_up_to_max_retries() -> None:
    w = World(resend_unknown=True)
    h = w.message()
    for expected in (0.0, 0.0, None):
        w.send(h)
        assert w.channel.on_failure(part(h), Failure.UNKNOWN, OutcomeUnknownError("x"),
                                    2.0) == expected
    assert h.state is S.UNKNOWN and h.attempts == 2


# --- receipts: early, duplicate, stranger ---------------------------------------------------

def test_a_receipt_before_its_response_waits_and_finishes_the_message() -> None:
    w = World()
    h = w.message()
    w.send(h)
    w.channel.on_receipt("0042", S.DELIVERED, 2.0)  # the SMSC's receipt beat its response
    assert h.state is S.QUEUED and w.channel.early
    w.channel.on_accepted(part(h), "42", 2.5)
    assert h.state is S.DELIVERED and h.final and not w.channel.early
    assert w.channel.counters["receipts_early"] == 1 and len(w.store) == 0
    assert w.message_states(h.ref) == [S.SUBMITTED, S.DELIVERED]


def test_a_receipt_in_decimal_for_a_hex_id_claims_every_reading() -> None:
    w = World()
    h = w.message()
    w.send(h)
    w.channel.on_receipt("255", S.DELIVERED, 2.0)  # decimal of the hex id "ff"
    w.channel.on_accepted(part(h), "FF", 2.5)
    assert h.state is S.DELIVERED and not w.channel.early


def test_a_duplicate_receipt_changes_nothing_and_is_counted_a_stranger() -> None:
    w = World()
    h = w.message()
    w.send(h)
    w.channel.on_accepted(part(h), "d1", 2.0)
    w.channel.on_receipt("d1", S.DELIVERED, 3.0)
    w.channel.on_receipt("d1", S.UNDELIVERABLE, 4.0)
    assert h.state is S.DELIVERED and part(h).state is S.DELIVERED
    w.tracker.expire(4.0 + 61)
    assert w.channel.counters["receipts_unmatched"] == 1 and not w.channel.early


def test_receipts_for_unknown_ids_are_bounded_and_expire_unmatched() -> None:
    w = World(max_early=5)
    for i in range(12):
        w.channel.on_receipt(f"x{i}", S.DELIVERED, 1.0)
    assert len({id(entry) for entry in w.channel.early.values()}) == 5
    assert w.channel.counters["receipts_unmatched"] == 7  # pushed out by the bound
    w.tracker.expire(30.0)
    assert w.channel.counters["receipts_unmatched"] == 7  # not yet: early_ttl is 60 s
    w.tracker.expire(62.0)
    assert w.channel.counters["receipts_unmatched"] == 12 and not w.channel.early


def test_an_intermediate_receipt_changes_nothing() -> None:
    w = World()
    h = w.message()
    w.send(h)
    w.channel.on_accepted(part(h), "i1", 2.0)
    w.channel.on_receipt("i1", None, 3.0)  # ENROUTE / ACCEPTED
    assert h.state is S.SUBMITTED and len(w.store) == 1 and not w.channel.early


def test_a_late_or_duplicate_answer_is_counted_not_applied() -> None:
    w = World()
    h = w.message(parts=2)
    w.send(h)
    p = part(h, 0)
    w.channel.on_accepted(p, "a", 2.0)
    w.channel.on_accepted(p, "b", 2.1)
    assert w.channel.on_response(p, Verdict.PERMANENT, 8, 2.2) is None
    assert w.channel.on_failure(p, Failure.UNKNOWN, None, 2.3) is None
    assert p.message_id == "a" and p.state is S.SUBMITTED
    assert w.channel.counters["late_answers"] == 3 and w.tracker.illegal == 0


# --- the roll-up --------------------------------------------------------------------------------

RANKED = [S.DELIVERED, S.UNKNOWN, S.EXPIRED, S.UNDELIVERABLE, S.REJECTED]


@settings(deadline=None, max_examples=300)
@given(states=st.lists(st.sampled_from(RANKED), min_size=3, max_size=3),
       order=st.permutations([(i, kind) for i in range(3) for kind in ("accept", "receipt")]))
def test_a_three_part_message_ends_in_its_worst_part_whatever_the_order(
        states: list[S], order: list[tuple[int, str]]) -> None:
    w = World()
    h = w.message(parts=3)
    w.send(h)
    for i, kind in order:
        if kind == "accept":
            w.channel.on_accepted(part(h, i), f"p{i}", 2.0)
        else:
            w.channel.on_receipt(f"p{i}", states[i], 2.0)
    worst = max(states, key=RANKED.index)
    assert h.state is worst and h.final
    assert [p.state for p in h.segments] == states
    assert w.message_states(h.ref) == [S.SUBMITTED, worst]  # once each, in that order
    assert all(p.handle is None for p in h.segments)
    assert not w.tracker.tracked and not w.channel.early and len(w.store) == 0
    assert w.tracker.illegal == 0


# --- observers, illegal moves -------------------------------------------------------------------

def test_observers_hear_every_part_and_message_move_with_what_changed() -> None:
    w = World()
    h = w.message()
    w.send(h, now=1.0)
    w.channel.on_accepted(part(h), "abc", 2.0)
    w.channel.on_receipt("abc", S.DELIVERED, 3.0)
    assert [(old, new, at, c.part, c.smsc_id, c.final) for _, old, new, at, c in w.moves] == [
        (S.QUEUED, S.SENDING, 1.0, 0, "", False),
        (S.SENDING, S.SUBMITTED, 2.0, 0, "abc", False),
        (S.QUEUED, S.SUBMITTED, 2.0, None, "", False),
        (S.SUBMITTED, S.DELIVERED, 3.0, 0, "abc", False),
        (S.SUBMITTED, S.DELIVERED, 3.0, None, "", True),
    ]
    assert all(c.handle is h for *_, c in w.moves)


def test_a_failing_observer_is_logged_and_the_message_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    w = World()

    def broken(*_: object) -> None:
        raise RuntimeError("observer bug")

    w.tracker.observe(broken)
    h = w.message()
    w.send(h)
    with caplog.at_level(logging.ERROR, "smsengine.engine.tracker"):
        w.channel.on_accepted(part(h), "o1", 2.0)
    assert h.state is S.SUBMITTED and "observer" in caplog.text
    w.tracker.unobserve(broken)


def test_without_observers_nothing_is_built_for_them() -> None:
    w = World()
    w.tracker.unobserve(w._heard)
    h = w.message()
    w.send(h)
    w.channel.on_accepted(part(h), "n1", 2.0)
    w.channel.on_receipt("n1", S.DELIVERED, 3.0)
    assert h.state is S.DELIVERED and w.moves == []


def test_an_illegal_move_raises_when_strict() -> None:
    assert tracker_module.STRICT  # (tests/conftest.py sets SMSENGINE_STRICT=1)
    w = World()
    h = w.message()
    w.send(h)
    w.channel.on_accepted(part(h), "s1", 2.0)
    with pytest.raises(IllegalTransition, match="SUBMITTED -> FAILED"):
        w.channel.refuse(h, SmppError("late opt-out"), 3.0)  # a part already with the carrier


def test_an_illegal_move_is_counted_logged_and_refused_in_production(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(tracker_module, "STRICT", False)
    w = World()
    h = w.message()
    w.send(h)
    with caplog.at_level(logging.ERROR, "smsengine.engine.tracker"):
        w.channel.on_submitted(list(h.segments), 1, 2.0, 2.0)  # type: ignore[arg-type]
    assert w.tracker.illegal == 1 and part(h).state is S.SENDING
    assert "illegal part move SENDING -> SENDING" in caplog.text


# --- stop, restart, references -------------------------------------------------------------------

def test_settle_ends_what_is_left_by_how_far_it_got_and_cuts_back_references() -> None:
    w = World()
    queued = w.message()
    sending = w.message()
    w.send(sending)
    submitted = w.message(parts=2)
    w.send(submitted)
    w.channel.on_accepted(part(submitted, 0), "s0", 2.0)
    for h in (queued, sending, submitted):
        for p in h.segments:
            p.sink = object()  # type: ignore[attr-defined]
    w.tracker.settle(5.0)
    assert queued.state is S.FAILED and isinstance(queued.error, NotSentError)
    assert queued.error.retriable
    assert sending.state is S.UNKNOWN and isinstance(sending.error, OutcomeUnknownError)
    assert submitted.state is S.UNKNOWN
    assert not w.tracker.tracked
    assert all(p.handle is None and p.sink is None  # type: ignore[attr-defined]
               for h in (queued, sending, submitted) for p in h.segments)
    assert len(w.store) == 1  # the accepted part's record stays for a restarted engine


def test_receipts_after_a_restart_finish_the_message_by_ref() -> None:
    w = World()
    for i in range(2):
        w.store.put(CorrelationRecord("a", f"r{i}", "old-ref", i, 2, 1.0, 1000.0))
    w.channel.on_receipt("r1", S.DELIVERED, 5.0)
    assert [c.final for r, *_, c in w.moves if r == "old-ref"] == [False]
    w.channel.on_receipt("r0", S.EXPIRED, 6.0)
    finals = [(new, c.handle) for r, _, new, _, c in w.moves if r == "old-ref" and c.final]
    assert finals == [(S.EXPIRED, None)]
    assert len(w.store) == 0


def test_a_reference_names_one_message_while_tracked_and_after() -> None:
    store = MemoryCorrelationStore()
    tracker = Tracker(store, remembered_references=2)
    channel = tracker.channel("a", error_for=error_for_status)
    handles = []
    for i in range(3):
        h = MessageHandle(f"h{i}", Message(destination="1", text="x", reference=f"ref{i}",
                                           registered_delivery=False))
        channel.queued(h, (Part(0, "", S.QUEUED, None, None, h),))
        handles.append(h)
        assert tracker.known(f"ref{i}") is h
        channel.on_submitted(list(h.segments), 1, 1.0, 1.0)  # type: ignore[arg-type]
        channel.on_accepted(part(h), f"x{i}", 1.0)
        assert h.final and tracker.known(f"ref{i}") is h
    assert tracker.known("ref0") is None  # the oldest finished reference is forgotten


def test_refused_gives_a_failed_handle_that_is_never_tracked() -> None:
    tracker = Tracker(MemoryCorrelationStore())
    error = error_for_status(CommandStatus.ESME_RTHROTTLED)
    h = tracker.refused(Message(destination="1", text="x"), error, 3.0)
    assert h.state is S.FAILED and h.error is error and h.done_at == 3.0
    assert not tracker.tracked


@settings(deadline=None, max_examples=300)
@given(body=st.text(alphabet="0123456789abcdefABCDEF xyz\0", max_size=12),
       pad=st.sampled_from(["", "0", "00", " ", "\0"]), style=st.sampled_from(["auto", "text"]))
def test_the_inline_auto_id_form_is_normalise_ids(body: str, pad: str, style: Any) -> None:
    # ChannelTracker writes the auto and text styles' normal form inline (on_accepted,
    # on_receipt): a part accepted under one writing of its id is found by a receipt under any
    # other that normalise_id gives the same form, and (text) by no other.
    from smsengine.engine.ids import normalise_id

    submitted, receipted = pad + body, body.upper() + pad
    w = World(id_style=style)
    h = w.message()
    w.send(h)
    w.channel.on_accepted(part(h), submitted, 2.0)
    assert [key for _, key in w.store._records] == [normalise_id(submitted, style)]
    w.channel.on_receipt(receipted, S.DELIVERED, 3.0)
    if normalise_id(receipted, style) == normalise_id(submitted, style):
        assert h.state is S.DELIVERED and len(w.store) == 0
    elif style == "text":
        assert h.state is not S.DELIVERED and len(w.store) == 1
    else:  # (another reading of the id may still match it: then nothing is left either)
        assert (h.state is S.DELIVERED) == (len(w.store) == 0)


# --- found in review ----------------------------------------------------------------------------

def test_a_retry_of_an_earlier_part_leaves_the_dispatch_cursor_where_it_was() -> None:
    # Parts 0 and 1 left, then part 0 was throttled and went again: the next part to hand to
    # a bind is still part 2 (a cursor set back to 1 sent part 1 twice).
    w = World()
    h = w.message(parts=3)
    w.channel.on_submitted([part(h, 0), part(h, 1)], 2, 1.0, 1.0)
    assert h._next == 2
    w.channel.on_response(part(h, 0), Verdict.THROTTLED, CommandStatus.ESME_RTHROTTLED, 2.0)
    w.channel.on_submitted([part(h, 0)], 1, 3.0, 3.0)
    assert h._next == 2 and w.tracker.illegal == 0


def test_a_part_sent_again_after_its_deadline_expires_without_a_dispatcher() -> None:
    # The deadline passed while the part was with the carrier; then it was throttled back to
    # QUEUED. With the link down nothing pops it: the tracker's own clock must end it.
    w = World()
    h = w.message()
    h.expires_at = 5.0
    w.tracker._deadline(h, 5.0)
    w.send(h)
    w.tracker.expire(5.5)  # (due, but the part is SENDING: it goes on)
    assert h.state is S.QUEUED and part(h).state is S.SENDING
    w.channel.on_response(part(h), Verdict.THROTTLED, CommandStatus.ESME_RTHROTTLED, 6.0)
    w.tracker.expire(6.1)
    assert h.state is S.EXPIRED and isinstance(h.error, MessageExpiredError)


def test_receipts_after_a_restart_finish_a_message_one_of_whose_parts_was_final_before() -> None:
    store = MemoryCorrelationStore()
    first = World()
    first.store = store
    first.tracker = Tracker(store)
    first.channel = first.tracker.channel("a", error_for=error_for_status)
    h = first.message(parts=2)
    first.send(h)
    first.channel.on_accepted(part(h, 0), "p0", 2.0)
    first.channel.on_accepted(part(h, 1), "p1", 2.0)
    first.channel.on_receipt("p0", S.DELIVERED, 3.0)
    first.tracker.settle(4.0)  # the engine stops: part 1's receipt is still to come
    assert h.state is S.UNKNOWN and len(store) == 1
    second = Tracker(store)  # the restarted engine's
    heard: list[tuple[S, bool]] = []
    second.observe(lambda ref, old, new, at, change: heard.append((new, change.final)))
    second.channel("a", error_for=error_for_status).on_receipt("p1", S.UNDELIVERABLE, 5.0)
    assert heard[-1] == (S.UNDELIVERABLE, True)  # the worst of DELIVERED and UNDELIVERABLE
    assert store._segments == {}  # (nothing left behind)


def test_the_deadline_heap_stays_within_twice_what_is_tracked() -> None:
    # Finished messages leave their deadline behind (skipped when due); the heap is compacted
    # once those outnumber the live ones, so a day-long validity does not keep a campaign.
    w = World()
    w.tracker.unobserve(w._heard)
    for i in range(5000):
        h = w.message()
        h.expires_at = 86400.0
        w.tracker._deadline(h, 86400.0)
        w.send(h)
        w.channel.on_accepted(part(h), f"d{i}", 2.0)
        w.channel.on_receipt(f"d{i}", S.DELIVERED, 3.0)
        # (checked as a deadline is pushed, while that message is tracked: 2 * 1 + 1024)
        assert len(w.tracker._deadlines) <= 2 + 1024
    assert not w.tracker.tracked


# --- the batch counter (smsengine.metrics) --------------------------------------------------------


class Kept:
    """A Batch that keeps what the tracker appends and counts its flushes."""

    def __init__(self, fail: bool = False) -> None:
        self.submitted: defaultdict[tuple[str, str], list[float]] = defaultdict(list)
        self.parts: dict[str, int] = {}
        self.ended: defaultdict[tuple[str, str, S], list[float]] = defaultdict(list)
        self.flushes = 0
        self.fail = fail

    def flush(self) -> None:
        self.flushes += 1
        if self.fail:
            raise RuntimeError("a counter's bug")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_a_batch_counts_each_message_once_submitted_and_once_ended(
        scenario: Callable[[World], None]) -> None:
    w = World()
    batch = Kept()
    w.tracker.batch = batch
    scenario(w)
    messages = [(old, new, c) for _, old, new, _, c in w.moves
                if c.part is None and c.handle is not None]
    assert {k: len(v) for k, v in batch.ended.items()} == Counter(
        ("a", "notification", new) for _, new, c in messages if c.final)
    submitted = [c.handle for old, new, c in messages if old is S.QUEUED and new is S.SUBMITTED]
    assert {k: len(v) for k, v in batch.submitted.items()} == (
        {("a", "notification"): len(submitted)} if submitted else {})
    # Every part accepted is counted: one with its message's entry, the others in parts.
    accepted = sum(1 for _, old, new, _, c in w.moves
                   if c.part is not None and old is S.SENDING and new is S.SUBMITTED)
    assert len(submitted) + sum(batch.parts.values()) == accepted
    # Spans are measured (>= 0: the World's clocks agree) or -1.0: never submitted, or the
    # message's last answer was a refusal.
    for spans in [*batch.submitted.values(), *batch.ended.values()]:
        assert all(span >= 0 or span == -1.0 for span in spans)
    for (_, _, state), spans in batch.ended.items():
        if state in (S.DELIVERED, S.UNDELIVERABLE, S.REJECTED):
            assert all(span >= 0 for span in spans)


def test_expire_flushes_the_batch_and_survives_its_failure(
        caplog: pytest.LogCaptureFixture) -> None:
    w = World()
    w.tracker.batch = batch = Kept(fail=True)
    h = w.message()
    w.send(h)
    w.channel.on_accepted(part(h), "id1", 2.0)
    w.store.put(CorrelationRecord("a", "x", "gone", 0, 1, 1.0, 3.0))
    with caplog.at_level(logging.ERROR, logger="smsengine.engine.tracker"):
        w.tracker.expire(200.0)  # past the receipt TTL: UNKNOWN, then the flush
    assert batch.flushes == 1 and "batch counter" in caplog.text
    assert h.state is S.UNKNOWN
    assert batch.submitted == {("a", "notification"): [1.0]}  # (accepted at 2.0, sent at 1.0)
    assert batch.ended == {("a", "notification", S.UNKNOWN): [198.0]}
    assert w.channel.counters["receipts_expired"] == 2
