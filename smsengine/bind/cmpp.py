"""asyncio CMPP connections: the SMPP bind machinery driving a
:class:`~smsengine.cmpp.session.CmppSession` instead of an SMPP session.

The sans-I/O CMPP session has the SMPP session's interface and reports the same events, so
:class:`CmppBind` is :class:`~smsengine.bind.smpp.SmppBind` with another session (and CMPP
Result 8, flow control, as its "throttled" status), and :class:`CmppBindKeeper` is
:class:`~smsengine.bind.smpp.BindKeeper` opening CmppBinds. Everything else — one write per loop
tick, one timer, backpressure, honest outcomes, reconnect back-off, the alarm and long wait
after an authentication failure (CONNECT_RESP Status 2 or 3) — is shared::

    config = CmppSessionConfig("900001", "secret")
    async with await CmppBind.open("127.0.0.1", 7890, config) as bind:
        resp = await bind.send(Submit(...))        # SubmitResp, whatever its Result

The CONNECT Timestamp is taken from ``config.clock``, by default ``time.localtime``: the host's
time zone, which should be China time (section 5 of the CMPP reference); pass a clock that
converts when the host runs on another zone.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from ..cmpp import Request, Response, SubmitResult
from ..cmpp.session import CmppSession, CmppSessionConfig
from ..smpp import SmppError
from .smpp import Backoff, BindKeeper, EventHandler, SmppBind

__all__ = ["CmppBind", "CmppBindKeeper", "CmppMessageHandler", "CmppResultCallback"]

CmppResultCallback = Callable[[Response | None, SmppError | None], None]
CmppMessageHandler = Callable[[Request], None]


class CmppBind(SmppBind):
    """One connection and one CMPP login (CONNECT … TERMINATE). Create with :meth:`open`."""

    throttle_statuses: ClassVar[frozenset[int]] = frozenset({SubmitResult.FLOW_CONTROL})

    def _make_session(self, config: Any, now: float) -> Any:
        return CmppSession(config, now, clock=config.clock or time.localtime)

    if TYPE_CHECKING:
        # The inherited methods under their CMPP types; nothing changes at run time.
        config: CmppSessionConfig  # type: ignore[assignment]
        session: CmppSession  # type: ignore[assignment]

        def __init__(
            self,
            config: CmppSessionConfig,
            *,
            name: str = "",
            on_event: EventHandler | None = None,
            on_message: CmppMessageHandler | None = None,
            max_queued_messages: int = 10_000,
        ) -> None: ...

        @classmethod
        async def open(  # type: ignore[override]
            cls,
            host: str,
            port: int,
            config: CmppSessionConfig,
            *,
            ssl: _ssl.SSLContext | None = None,
            connect_timeout: float = 10.0,
            **kwargs: Any,
        ) -> CmppBind: ...

        async def __aenter__(self) -> CmppBind: ...

        def send_nowait(  # type: ignore[override]
            self, request: Request
        ) -> asyncio.Future[Response]: ...

        def send_callback(  # type: ignore[override]
            self, request: Request, callback: CmppResultCallback
        ) -> None: ...

        async def send(self, request: Request) -> Response: ...  # type: ignore[override]

        def respond(  # type: ignore[override]
            self, request: Request, command_status: int = 0, **fields: Any
        ) -> None: ...

        async def messages(self) -> Request: ...  # type: ignore[override]


class CmppBindKeeper(BindKeeper):
    """Keeps one CMPP connection up for the life of the process (see
    :class:`~smsengine.bind.smpp.BindKeeper`): reconnects with back-off, raises an ``alarm``
    and waits ``auth_failure_delay`` when the ISMG refuses the credentials."""

    def __init__(
        self,
        host: str,
        port: int,
        config: CmppSessionConfig,
        *,
        name: str = "",
        ssl: _ssl.SSLContext | None = None,
        backoff: Backoff | None = None,
        auth_failure_delay: float = 300.0,
        already_bound_delay: float = 30.0,
        connect_timeout: float = 10.0,
        drain_timeout: float = 5.0,
        on_event: EventHandler | None = None,
        on_message: CmppMessageHandler | None = None,
    ) -> None:
        handler: Any = on_message
        super().__init__(
            host, port, config,  # type: ignore[arg-type]
            name=name, ssl=ssl, backoff=backoff, auth_failure_delay=auth_failure_delay,
            already_bound_delay=already_bound_delay, connect_timeout=connect_timeout,
            drain_timeout=drain_timeout, on_event=on_event, on_message=handler,
            bind_class=CmppBind,
        )  # fmt: skip

    if TYPE_CHECKING:
        config: CmppSessionConfig  # type: ignore[assignment]
        bind: CmppBind | None

        async def __aenter__(self) -> CmppBindKeeper: ...

        async def wait_bound(self, timeout: float | None = None) -> CmppBind: ...

        def send_nowait(  # type: ignore[override]
            self, request: Request
        ) -> asyncio.Future[Response]: ...

        async def send(self, request: Request) -> Response: ...  # type: ignore[override]
