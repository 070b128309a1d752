"""What a protocol session looks like from above: the interface the binds in
:mod:`smsengine.bind` drive, whatever the protocol.

A session is sans-I/O (bytes in, events out, bytes to send; ``now`` an argument)::

    events = session.receive_data(data, now)       # bytes in, events out
    seq = session.send_request(request, now, token)
    transport.write(session.data_to_send())         # also marks queued requests as written
    events = session.handle_timer(now)              # at session.next_deadline()
    events = session.connection_lost(reason)

SMPP's :class:`~smsengine.smpp.session.Session` and CMPP's
:class:`~smsengine.cmpp.session.CmppSession` both satisfy :class:`Session`; the events are
those of :mod:`smsengine.link.events`.
"""

from __future__ import annotations

from typing import Any, Protocol

from .events import SessionEvent

__all__ = ["LinkConfig", "Session"]


class LinkConfig(Protocol):
    """What a bind reads from a session's configuration (times are seconds)."""

    @property
    def system_id(self) -> str:
        """The account's login name, for names in logs and events."""

    @property
    def window(self) -> int:
        """How many of the application's requests may be outstanding at once."""

    @property
    def response_timeout(self) -> float:
        """How long a request waits for its response."""

    @property
    def enquire_link_interval(self) -> float:
        """How long a silent link stays before the session tests it."""


class Session(Protocol):
    """One connection's protocol state; see the module docstring."""

    @property
    def config(self) -> LinkConfig: ...

    @property
    def is_bound(self) -> bool:
        """Logged in: traffic may flow."""

    @property
    def can_submit(self) -> bool:
        """The login allows our requests (SMPP: not a receiver bind)."""

    @property
    def window_free(self) -> int:
        """How many more of the application's requests fit in the window now."""

    @property
    def outstanding(self) -> int:
        """Requests sent and not yet answered (ours and the application's)."""

    def bind(self, now: float) -> int:
        """Queue the login (the connection just opened); returns its sequence number."""

    def unbind(self, now: float) -> int | None:
        """Queue the logout (None: not logged in, nothing to do)."""

    def send_request(self, request: Any, now: float, token: Any = None) -> int:
        """Queue one request; raises a SessionStateError or NotSentError with nothing queued."""

    def send_requests(self, requests: list[Any], tokens: list[Any], now: float) -> int:
        """Queue ``requests[i]`` with ``tokens[i]`` while the window has room; how many."""

    def respond(self, request: Any, command_status: int = 0, **fields: Any) -> None:
        """Answer one of the peer's requests (when not auto-acknowledged)."""

    def data_to_send(self) -> bytes:
        """Everything queued since the last call, as one write."""

    def receive_data(self, data: bytes, now: float) -> list[SessionEvent]:
        """Feed received bytes; returns what happened, in order."""

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must next run (None: nothing to wait for)."""

    def handle_timer(self, now: float) -> list[SessionEvent]:
        """Expire requests past their deadline and keep the link alive."""

    def connection_lost(self, reason: str = "connection lost") -> list[SessionEvent]:
        """The transport is gone: every pending request ends, written ones as unknown."""
