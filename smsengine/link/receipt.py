"""What a delivery receipt says about a message, in words every protocol maps into.

SMPP reports a message_state (3.4 section 5.2.28), CMPP a seven-letter Stat (cmpp.md section 8),
SGIP and SMGP their own codes; each protocol package maps its form into :class:`ReceiptState`
and the engine reads only that.

The numbering is SMPP's message_state, the most widely shared list: SMPP's map is then the
identity on values, so its fast receipt path can hand the wire integer up as it is
(``smsengine.smpp.RECEIPT_STATES`` and a test hold it to that).
"""

from __future__ import annotations

import enum

__all__ = ["FINAL_RECEIPT_STATES", "ReceiptState"]


class ReceiptState(enum.IntEnum):
    """A receipt's state of the message."""

    ENROUTE = 1  # intermediate: on its way, a final receipt follows
    DELIVERED = 2
    EXPIRED = 3  # its validity lapsed before delivery
    DELETED = 4  # cancelled or purged by the carrier
    UNDELIVERABLE = 5
    ACCEPTED = 6  # intermediate: taken on the recipient's behalf
    UNKNOWN = 7
    REJECTED = 8

    @property
    def final(self) -> bool:
        """No later receipt is to be expected for the message."""
        return self not in _INTERMEDIATE


_INTERMEDIATE = frozenset({ReceiptState.ENROUTE, ReceiptState.ACCEPTED})

#: The states after which no other receipt is to be expected.
FINAL_RECEIPT_STATES = frozenset(s for s in ReceiptState if s not in _INTERMEDIATE)
