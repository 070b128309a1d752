"""link/'s public surface, and the protocols' old names for what moved there."""

from __future__ import annotations

from smsengine import link
from smsengine.bind import BindMode
from smsengine.cmpp import STAT_RECEIPT_STATES
from smsengine.smpp import RECEIPT_STATES
from smsengine.smpp import session as smpp_session


def test_link_all_is_exactly_the_public_names() -> None:
    public = {n for n in dir(link) if not n.startswith("_")}
    modules = {"errors", "events", "receipt", "session", "window"}
    assert set(link.__all__) == public - modules
    assert len(link.__all__) == len(set(link.__all__))


def test_the_smpp_session_names_are_the_link_events() -> None:
    for name in ("BindFailed", "BindMode", "Bound", "ConnectionDead", "IncomingRequest",
                 "ProtocolError", "ReceiptReceived", "RequestFailed", "ResponseReceived",
                 "SessionEvent", "Unbound"):
        assert getattr(smpp_session, name) is getattr(link, name)
    assert BindMode is link.BindMode


def test_receipt_states_say_which_are_final() -> None:
    assert not link.ReceiptState.ENROUTE.final and not link.ReceiptState.ACCEPTED.final
    assert link.ReceiptState.DELETED.final
    assert {s for s in link.ReceiptState if s.final} == link.FINAL_RECEIPT_STATES


def test_both_protocols_map_into_every_final_state() -> None:
    assert set(RECEIPT_STATES.values()) == set(link.ReceiptState)
    assert set(STAT_RECEIPT_STATES.values()) == set(link.ReceiptState) - {link.ReceiptState.ENROUTE}
