"""The errors every protocol's session and bind share, by meaning.

A protocol's own errors (:mod:`smsengine.smpp.errors`, :mod:`smsengine.cmpp.errors`) subclass
these as well as their protocol's base, so code above the protocols (the binds, the engine)
branches on the meaning — :class:`NotSentError`, :class:`OutcomeUnknownError`,
:class:`AuthenticationError`, :class:`ThrottledError` — and never needs to know which protocol
raised it.

Every error carries ``status``, the protocol's wire code that describes it (:data:`NO_STATUS`
when there is none, e.g. a CMPP request that was never written), and ``retriable``: whether
sending the same thing again later can succeed.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "NO_STATUS",
    "AlreadyBoundError",
    "AuthenticationError",
    "LinkError",
    "NotSentError",
    "OutcomeUnknownError",
    "SessionStateError",
    "StatusError",
    "ThrottledError",
]

#: ``status`` of an error that has no wire code to carry.
NO_STATUS: Final = -1


class LinkError(Exception):
    """Base of every error a protocol session, codec or bind raises.

    ``status`` is the protocol's code for the failure (an int; :data:`NO_STATUS` when there is
    none); ``retriable`` says whether sending the same thing again later can succeed.
    """

    retriable: bool = False

    def __init__(self, message: str, *, status: int = NO_STATUS) -> None:
        super().__init__(message)
        self.status = status


# --- outcomes of a request that got no response ------------------------------------------------


class NotSentError(LinkError):
    """The request never left this process (no connection, window full, connection lost before
    it was written): nothing reached the peer, so sending it again is safe."""

    retriable = True


class OutcomeUnknownError(LinkError):
    """The request was written but no response came (connection lost, response timeout): the
    peer may or may not have accepted it. Resending blindly can deliver it twice.
    ``timed_out``: no response within the response timeout (rather than a lost connection)."""

    retriable = False

    def __init__(self, message: str, *, status: int = NO_STATUS, timed_out: bool = False) -> None:
        super().__init__(message, status=status)
        self.timed_out = timed_out


class SessionStateError(NotSentError):
    """The request is not allowed in the session's current state (a submit before the login
    completed, on a receive-only bind, after the logout began). Nothing was queued."""


# --- a peer's refusal, in a status code ------------------------------------------------------


class StatusError(LinkError):
    """The peer answered with a non-zero status (``status``); whether a retry can help is the
    protocol's call, set per instance in ``retriable``."""


class ThrottledError(StatusError):
    """The peer wants us slower (SMPP ESME_RTHROTTLED / ESME_RMSGQFUL, CMPP Result 8): flow
    control should act on it, and the same request can go again later."""

    retriable = True


class AuthenticationError(StatusError):
    """The peer refused the login's credentials: retrying soon only annoys the carrier (and can
    lock the account); a bind keeper raises an alarm and waits long."""


class AlreadyBoundError(StatusError):
    """The peer still holds an earlier login of ours (SMPP ESME_RALYBND): wait for it to drop
    that one before binding again."""
