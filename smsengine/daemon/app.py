"""The HTTP API (aiohttp), kept thin: each handler validates, calls one gateway or engine
method, and encodes. Errors are RFC 9457 problem details (``application/problem+json``).

The route table :data:`ROUTES` is the one list of what exists: the aiohttp router and the
OpenAPI document (``GET /openapi.json``) are both made from it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import msgspec
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import Counter, Histogram

from ..cluster import ClusterUnavailable
from ..engine import MessageRefusedError, MessageState, MessageStatus
from ..policy import (
    Template,
    TemplateError,
    TemplateExistsError,
    TemplateNotFoundError,
    Variable,
    preview,
)
from .auth import Forbidden, Keyring, Principal, Unauthorized
from .campaigns import Campaign, CsvError, CsvRows, RowError
from .cluster_state import ClusterKeys, KeyInFlight
from .config import DaemonConfig, Scope
from .console import add_console_routes
from .gateway import Busy, Gateway, StoreUnavailable
from .outbox import BY_NAME, STATE_NAMES, OutboxState, Row
from .schema import (
    Accepted,
    BatchIn,
    BatchOut,
    CampaignIn,
    CampaignOut,
    CampaignPage,
    ErrorOut,
    EventPage,
    FailedDelivery,
    FailedPage,
    FieldError,
    Health,
    KeyOut,
    MessageIn,
    MessageOut,
    MessagePage,
    PartOut,
    Problem,
    Progress,
    ReasonOut,
    Refused,
    ReplayIn,
    ReplayOut,
    RowRefusal,
    SegmentsIn,
    SegmentsOut,
    Suppression,
    SuppressionIn,
    SuppressionPage,
    TemplateIn,
    TemplateOut,
    TemplatePage,
    Timestamps,
    VariableIn,
    _utc,
    openapi,
)
from .stats import StatsPage, parse_group_by

__all__ = ["ROUTES", "make_app"]

log = logging.getLogger("smsengine.http")
_encode = msgspec.json.Encoder().encode
_decode_message = msgspec.json.Decoder(MessageIn).decode
_decode_top = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode
_decode_list = msgspec.json.Decoder(list[msgspec.Raw]).decode
_MESSAGE_FIELDS = frozenset(f.encode_name for f in msgspec.structs.fields(MessageIn))
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_PATH = re.compile(r"at `\$\.?([^`]*)`")
_PROBLEM = "urn:smsengine:problem:"


class ProblemError(Exception):
    """Raised by a handler; the middleware answers it as problem details."""

    def __init__(self, status: int, kind: str, title: str, detail: str, *,
                 errors: list[FieldError] | None = None, limit: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.errors = errors
        self.limit = limit
        self.headers = headers or {}


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encode(body), status=status, content_type="application/json")


def _problem(request: web.Request, exc: ProblemError) -> web.Response:
    body = Problem(type=_PROBLEM + exc.kind, title=exc.title, status=exc.status,
                   detail=exc.detail, instance=request.path,
                   request_id=request.get("request_id"), errors=exc.errors, limit=exc.limit)
    response = web.Response(body=_encode(body), status=exc.status,
                            content_type="application/problem+json")
    response.headers.update(exc.headers)
    return response


def _field_of(error: msgspec.ValidationError, raw: bytes, prefix: str = "") -> str:
    """The path of the field a validation error is about (for the message only: nothing
    branches on it). An unknown field is found by comparing keys, not by reading the text."""
    try:
        keys = _decode_top(raw).keys()
    except (msgspec.DecodeError, msgspec.ValidationError):
        keys = set()  # type: ignore[assignment]
    unknown = sorted(set(keys) - _MESSAGE_FIELDS)
    if unknown:
        return prefix + unknown[0]
    found = _PATH.search(str(error))
    return prefix + (found.group(1) if found else "") if found else prefix.rstrip(".") or "body"


def _malformed(body: bytes, exc: msgspec.DecodeError) -> ProblemError:
    """Malformed JSON, with where (the stdlib parser, on this error path only, gives the
    position as numbers)."""
    try:
        json.loads(body)
        where = ""
    except json.JSONDecodeError as err:
        where = f" at line {err.lineno} column {err.colno} (position {err.pos}): {err.msg}"
    except (UnicodeDecodeError, RecursionError):
        where = ": the body is not UTF-8 JSON"
    return ProblemError(400, "malformed-json", "Malformed JSON",
                        f"the body is not valid JSON{where}")


# --- encoding a message --------------------------------------------------------------------------

def message_out(row: Row, state: OutboxState, status: MessageStatus | None) -> MessageOut:
    parts: list[PartOut]
    if status is not None and status.parts:
        parts = [PartOut(index=p.index, smsc_id=p.smsc_id,
                         state=_part_state(p.state, state), submitted_at=_utc(p.submitted_at),
                         done_at=_utc(p.done_at)) for p in status.parts]
    else:
        parts = [PartOut(index=i, smsc_id="", state=STATE_NAMES[state])  # type: ignore[arg-type]
                 for i in range(row.parts)]
    error = reason = None
    if status is not None and status.error is not None:
        e = status.error
        error = ErrorOut(code=e.type, detail=e.message, status=e.status or None,
                         retriable=e.retriable)
    if status is not None and status.reason is not None:
        r = status.reason
        reason = ReasonOut(stat=r.stat, err=r.err, network_type=r.network_type,
                           network_code=r.network_code)
    submitted = status.submitted_at if status is not None else None
    done = row.done_at if row.done_at is not None else (
        status.done_at if status is not None and status.final else None)
    return MessageOut(
        id=row.id, state=STATE_NAMES[state], final=state.final,  # type: ignore[arg-type]
        to=row.to, from_=row.request.source, kind=row.kind,
        channel=(status.channel if status is not None and status.channel else row.channel),
        text=row.request.text, out_id=row.out_id, metadata=row.request.metadata,
        parts_count=row.parts, parts=parts, error=error, reason=reason,
        timestamps=Timestamps(accepted=_utc(row.accepted_at),  # type: ignore[arg-type]
                              scheduled_for=_utc(row.send_at), sending=_utc(row.sent_at),
                              submitted=_utc(submitted), done=_utc(done) if state.final
                              else None))


def _part_state(state: MessageState, message: OutboxState) -> Any:
    if state is MessageState.QUEUED and message is OutboxState.SCHEDULED:
        return "scheduled"
    return state.value


# --- the handlers --------------------------------------------------------------------------------

class Api:
    def __init__(self, config: DaemonConfig, gateway: Gateway, keyring: Keyring) -> None:
        self.config = config
        self.gateway = gateway
        self.keyring = keyring
        self.draining = False
        self.in_flight = 0
        self._openapi: bytes | None = None

    # (principal, body) for the send route; each handler is given the principal
    async def send(self, request: web.Request, principal: Principal) -> web.Response:
        body = await _body(request)
        key = request.headers.get("Idempotency-Key")
        source_ip = request.remote
        if key is None:
            code, payload = await self._send(body, None, principal.name, source_ip)
            return _answer(code, payload)
        if not _KEY.match(key):
            raise ProblemError(400, "invalid-header", "Invalid Idempotency-Key",
                               "Idempotency-Key must be 1 to 255 visible ASCII characters",
                               errors=[FieldError(field="Idempotency-Key",
                                                  detail="1 to 255 visible ASCII characters")])
        fingerprint = principal.fingerprint(body)
        gateway = self.gateway

        async def answer() -> tuple[bytes, int, bytes]:
            known = gateway.answered(principal.name, key)
            if known is not None:
                return known
            shared = self._cluster_keys()
            if shared is not None:  # (a cluster node: the first node to claim it answers)
                first = await shared.first(principal.name, key, fingerprint)
                if first is not None:
                    return first
            try:
                code, payload = await self._send(body, (principal.name, key, fingerprint),
                                                 principal.name, source_ip)
            except BaseException:
                if shared is not None:
                    await shared.failed(principal.name, key)
                raise
            if shared is not None:
                await shared.answered(principal.name, key, code, payload)
            return fingerprint, code, payload

        first, code, payload = await gateway.once(principal.name, key, answer)
        if first != fingerprint:
            raise ProblemError(409, "idempotency-key-reused", "Idempotency-Key reused",
                               "this Idempotency-Key was used with a different request body")
        response = _answer(code, payload)
        response.headers["Idempotency-Key"] = key
        return response

    def _cluster_keys(self) -> ClusterKeys | None:
        cluster = self.gateway.cluster
        if cluster is None:
            return None
        return cluster.keys or cluster.share_keys(self.config.server.idempotency_ttl)

    async def _send(self, body: bytes, remember: tuple[str, str, bytes] | None,
                    principal: str, source_ip: str | None = None) -> tuple[int, bytes]:
        """Decode, accept, encode: (status, body). With ``remember``, the answer is kept under
        the key, committed with the messages."""
        items, batch = self._decode(body)
        answers = await self.gateway.accept(items, self._keeper(remember, batch), batch=batch,
                                            principal=principal, source_ip=source_ip)
        return _encode_answers(answers, batch)

    def _keeper(self, remember: tuple[str, str, bytes] | None,
                batch: bool) -> Callable[[list[Accepted | Refused]], None] | None:
        if remember is None:
            return None
        principal, key, fingerprint = remember

        def keep(answers: list[Accepted | Refused]) -> None:
            code, payload = _encode_answers(answers, batch)
            self.gateway.remember(principal, key, fingerprint, code, payload)

        return keep

    def _decode(self, body: bytes) -> tuple[list[MessageIn | ErrorOut], bool]:
        # (ValidationError is a DecodeError: it is caught first)
        try:
            top = _decode_top(body)
        except msgspec.ValidationError:
            raise ProblemError(400, "invalid-body", "Invalid request",
                               "the body must be a JSON object: one message, or "
                               '{"messages": [...]}') from None
        except msgspec.DecodeError as exc:
            raise _malformed(body, exc) from None
        if "messages" not in top:
            try:
                return [_decode_message(body)], False
            except msgspec.ValidationError as exc:
                field = _field_of(exc, body)
                raise ProblemError(400, "invalid-field", "Invalid field", f"{field}: {exc}",
                                   errors=[FieldError(field=field, detail=str(exc))]) from None
            except msgspec.DecodeError as exc:  # (bad UTF-8 inside a string)
                raise _malformed(body, exc) from None
        extra = sorted(set(top) - {"messages"})
        if extra:
            raise ProblemError(400, "invalid-field", "Invalid field",
                               f"unknown field {extra[0]!r} beside messages",
                               errors=[FieldError(field=extra[0], detail="unknown field")])
        try:
            raws = _decode_list(top["messages"])
        except msgspec.ValidationError:
            raise ProblemError(400, "invalid-field", "Invalid field",
                               "messages must be a list of messages",
                               errors=[FieldError(field="messages", detail="not a list")]
                               ) from None
        limit = self.config.server.max_batch
        if len(raws) > limit:
            raise ProblemError(413, "batch-too-large", "Batch too large",
                               f"{len(raws)} messages in one request; the limit is {limit}",
                               limit=limit)
        if not raws:
            raise ProblemError(400, "invalid-field", "Invalid field", "messages is empty",
                               errors=[FieldError(field="messages", detail="empty")])
        items: list[MessageIn | ErrorOut] = []
        for i, raw in enumerate(raws):
            try:
                items.append(_decode_message(raw))
            except msgspec.ValidationError as exc:
                field = _field_of(exc, bytes(raw), f"messages[{i}].")
                items.append(ErrorOut(code="invalid_field", detail=str(exc), field=field))
            except msgspec.DecodeError as exc:
                items.append(ErrorOut(code="malformed", detail=f"not valid JSON: {exc}",
                                      field=f"messages[{i}]"))
        return items, True

    async def get_message(self, request: web.Request, principal: Principal) -> web.Response:
        row = self._row(request.match_info["id"])
        state, status = self.gateway.status_of(row)
        return _json(message_out(row, state, status))

    def _row(self, message_id: str) -> Row:
        outbox = self.gateway.outbox
        assert outbox is not None
        seq = outbox.seq_of(message_id)
        row = outbox.row(seq) if seq is not None else None
        if row is None:
            raise ProblemError(404, "not-found", "No such message",
                               f"no message {message_id!r}")
        return row

    async def list_messages(self, request: web.Request, principal: Principal) -> web.Response:
        q = request.query
        unknown = sorted(set(q) - {"to", "out_id", "state", "since", "until", "cursor", "limit"})
        if unknown:
            raise _bad_param(unknown[0], "unknown query parameter")
        state = None
        if "state" in q:
            state = BY_NAME.get(q["state"])
            if state is None:
                raise _bad_param("state", f"one of {', '.join(BY_NAME)}")
        page = self.config.server.page_size
        limit = _int_param(q, "limit", page, 1, 10 * page)
        before = None
        if q.get("cursor"):
            cursor = q["cursor"]
            if not (cursor.isdigit() and cursor.isascii() and len(cursor) <= 18):
                raise _bad_param("cursor", "pass the next_cursor of the previous page")
            before = int(cursor)
        outbox = self.gateway.outbox
        assert outbox is not None
        rows = outbox.page(to=q.get("to"), out_id=q.get("out_id"), state=state,
                           since=_time_param(q, "since"), until=_time_param(q, "until"),
                           before=before, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        messages = [message_out(r, *self.gateway.status_of(r)) for r in rows]
        return _json(MessagePage(messages=messages,
                                 next_cursor=str(rows[-1].seq) if more else None))

    async def cancel(self, request: web.Request, principal: Principal) -> web.Response:
        row = self._row(request.match_info["id"])
        done, state = self.gateway.cancel(row.seq)
        if not done:
            raise ProblemError(409, "not-cancellable", "Too late to cancel",
                               f"message {row.id} is {STATE_NAMES[state]}: only a scheduled "
                               "or queued message can be cancelled")
        await self.gateway.committed()
        row = self._row(row.id)
        return _json(message_out(row, *self.gateway.status_of(row)))

    async def list_suppressions(self, request: web.Request,
                                principal: Principal) -> web.Response:
        q = request.query
        unknown = sorted(set(q) - {"cursor", "limit", "prefix"})
        if unknown:
            raise _bad_param(unknown[0], "unknown query parameter")
        page = self.config.server.page_size
        limit = _int_param(q, "limit", page, 1, 10 * page)
        prefix = q.get("prefix", "").removeprefix("+")
        if prefix and not (prefix.isdigit() and prefix.isascii() and len(prefix) <= 20):
            raise _bad_param("prefix", "the first digits of a number (an optional leading +)")
        outbox = self.gateway.outbox
        assert outbox is not None
        rows = outbox.suppressions(q.get("cursor", ""), limit + 1, prefix)
        more = len(rows) > limit
        rows = rows[:limit]
        return _json(SuppressionPage(
            suppressions=[Suppression(number=n, reason=r, at=_utc(a))  # type: ignore[arg-type]
                          for n, r, a in rows],
            next_cursor=rows[-1][0] if more else None))

    def _number(self, request: web.Request) -> str:
        number = request.match_info["number"]
        digits = number[1:] if number.startswith("+") else number
        if not (digits.isdigit() and digits.isascii() and len(digits) <= 20):
            raise ProblemError(400, "invalid-field", "Invalid number",
                               f"{number!r} is not a phone number",
                               errors=[FieldError(field="number", detail="digits, with an "
                                                  "optional leading +")])
        return digits

    async def get_suppression(self, request: web.Request,
                              principal: Principal) -> web.Response:
        number = self._number(request)
        outbox = self.gateway.outbox
        assert outbox is not None
        found = outbox.suppression(number)
        if found is None:
            raise ProblemError(404, "not-found", "Not suppressed",
                               f"{number} is not on the suppression list")
        return _json(Suppression(number=found[0], reason=found[1],
                                 at=_utc(found[2])))  # type: ignore[arg-type]

    async def put_suppression(self, request: web.Request,
                              principal: Principal) -> web.Response:
        number = self._number(request)
        body = await _body(request)
        reason = "manual"
        if body.strip():
            try:
                reason = msgspec.json.decode(body, type=SuppressionIn).reason
            except msgspec.ValidationError as exc:
                raise ProblemError(400, "invalid-field", "Invalid field", str(exc),
                                   errors=[FieldError(field="reason", detail=str(exc))]
                                   ) from None
            except msgspec.DecodeError as exc:
                raise _malformed(body, exc) from None
        engine = self.gateway.engine
        assert engine is not None
        engine.suppress(number, reason)
        return await self.get_suppression(request, principal)

    async def delete_suppression(self, request: web.Request,
                                 principal: Principal) -> web.Response:
        number = self._number(request)
        engine = self.gateway.engine
        assert engine is not None
        engine.unsuppress(number)
        return web.Response(status=204)

    async def list_events(self, request: web.Request, principal: Principal) -> web.Response:
        """A long poll over the event log: events after ``after``, waiting up to ``wait``
        seconds for one. A key without the admin scope sees its own messages' events and MO."""
        q = request.query
        unknown = sorted(set(q) - {"after", "wait", "limit", "types"})
        if unknown:
            raise _bad_param(unknown[0], "unknown query parameter")
        after = _int_param(q, "after", 0, 0, 10**18)
        wait = _int_param(q, "wait", 0, 0, 60)
        limit = _int_param(q, "limit", 100, 1, 1000)
        types = q["types"].split(",") if q.get("types") else None
        events = self.gateway.events
        assert events is not None
        own = None if "admin" in principal.scopes else principal.name
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        cursor = after
        while True:
            found, read = events.after(cursor, limit * 10, types=types)
            mine = [e for e in found if own is None or e.principal in (None, own)]
            if len(mine) > limit:  # (more than a page: the cursor stops at the page's end)
                mine = mine[:limit]
                cursor = mine[-1].seq
                break
            cursor = read
            if mine:
                break
            if read > after:
                after = read  # everything read was someone else's: read on
                continue
            remaining = deadline - loop.time()
            if remaining <= 0 or self.draining:
                break
            await events.wait(remaining)
        body = (b'{"events":[' + b",".join(e.envelope() for e in mine)
                + b'],"next_cursor":"%d"}' % cursor)
        return web.Response(body=body, content_type="application/json")

    async def failed_webhooks(self, request: web.Request, principal: Principal) -> web.Response:
        q = request.query
        unknown = sorted(set(q) - {"endpoint", "cursor", "limit"})
        if unknown:
            raise _bad_param(unknown[0], "unknown query parameter")
        limit = _int_param(q, "limit", 100, 1, 1000)
        after = _int_param(q, "cursor", 0, 0, 10**18)
        events = self.gateway.events
        assert events is not None
        rows = events.failed(q.get("endpoint"), after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return _json(FailedPage(failed=[FailedDelivery(**r) for r in rows],
                                next_cursor=str(rows[-1]["seq"]) if more else None))

    async def replay_webhooks(self, request: web.Request, principal: Principal) -> web.Response:
        body = await _body(request)
        try:
            wanted = msgspec.json.decode(body, type=ReplayIn)
        except msgspec.ValidationError as exc:
            raise ProblemError(400, "invalid-field", "Invalid field", str(exc), errors=[
                FieldError(field=_PATH.search(str(exc)).group(1)  # type: ignore[union-attr]
                           if _PATH.search(str(exc)) else "endpoint", detail=str(exc))]
                               ) from None
        except msgspec.DecodeError as exc:
            raise _malformed(body, exc) from None
        replayed = self.gateway.replay(wanted.endpoint)
        if replayed is None:
            raise ProblemError(404, "not-found", "No such webhook",
                               f"no webhook named {wanted.endpoint!r}",
                               errors=[FieldError(field="endpoint", detail="unknown")])
        return _json(ReplayOut(endpoint=wanted.endpoint, replayed=replayed))

    # --- templates -----------------------------------------------------------------------------

    def _template_in(self, body: bytes, name: str | None = None) -> Template:
        try:
            raw = msgspec.json.decode(body, type=dict[str, Any])
        except msgspec.ValidationError:
            raise ProblemError(400, "invalid-body", "Invalid request",
                               "the body must be a JSON object: a template") from None
        except msgspec.DecodeError as exc:
            raise _malformed(body, exc) from None
        if name is not None and raw.setdefault("name", name) != name:
            raise _invalid("name", f"the body names {raw['name']!r}, the path {name!r}")
        try:
            given = msgspec.convert(raw, TemplateIn)
        except msgspec.ValidationError as exc:
            found = _PATH.search(str(exc))
            raise _invalid(found.group(1) if found else "body", str(exc)) from None
        try:
            template = Template(
                name=given.name, kind=given.kind, text=given.text, sign_name=given.sign_name,
                variables={k: Variable(max_length=v.max_length, digits=v.digits,
                                       secret=v.secret)
                           for k, v in (given.variables or {}).items()},
                max_parts=given.max_parts)
        except TemplateError as exc:
            raise _invalid(exc.field, str(exc)) from None
        engine = self.gateway.engine
        assert engine is not None
        try:
            engine.lane_of(template.kind)
        except MessageRefusedError as exc:
            raise _invalid("kind", str(exc)) from None
        return template

    async def list_templates(self, request: web.Request, principal: Principal) -> web.Response:
        store = self.gateway.templates
        assert store is not None
        return _json(TemplatePage(templates=[_template_out(t) for t in store.list()]))

    async def create_template(self, request: web.Request,
                              principal: Principal) -> web.Response:
        template = self._template_in(await _body(request))
        store = self.gateway.templates
        assert store is not None
        try:
            stored = store.create(template, self.gateway.now())
        except TemplateExistsError as exc:
            raise ProblemError(409, "template-exists", "Template exists",
                               f"{exc}: PUT /v1/templates/{exc.name} makes a new version",
                               errors=[FieldError(field="name", detail="exists")]) from None
        return _json(_template_out(stored), 201)

    async def get_template(self, request: web.Request, principal: Principal) -> web.Response:
        name = request.match_info["name"]
        version = None
        if "version" in request.query:
            version = _int_param(request.query, "version", 1, 1, 10**9)
        store = self.gateway.templates
        assert store is not None
        found = store.get(name, version)
        if found is None:
            raise ProblemError(404, "not-found", "No such template",
                               f"no template {name!r}" + (f" version {version}" if version
                                                          else ""))
        return _json(_template_out(found))

    async def template_versions(self, request: web.Request,
                                principal: Principal) -> web.Response:
        name = request.match_info["name"]
        store = self.gateway.templates
        assert store is not None
        found = store.versions(name)
        if not found:
            raise ProblemError(404, "not-found", "No such template", f"no template {name!r}")
        return _json(TemplatePage(templates=[_template_out(t) for t in found]))

    async def update_template(self, request: web.Request,
                              principal: Principal) -> web.Response:
        name = request.match_info["name"]
        template = self._template_in(await _body(request), name)
        store = self.gateway.templates
        assert store is not None
        try:
            stored = store.update(template, self.gateway.now())
        except TemplateNotFoundError as exc:
            raise ProblemError(404, "not-found", "No such template", str(exc)) from None
        return _json(_template_out(stored))

    async def delete_template(self, request: web.Request,
                              principal: Principal) -> web.Response:
        store = self.gateway.templates
        assert store is not None
        try:
            store.delete(request.match_info["name"], self.gateway.now())
        except TemplateNotFoundError as exc:
            raise ProblemError(404, "not-found", "No such template", str(exc)) from None
        return web.Response(status=204)

    async def segments(self, request: web.Request, principal: Principal) -> web.Response:
        """What a text, or a template with its params, costs: encoding, parts, units."""
        body = await _body(request)
        try:
            given = msgspec.json.decode(body, type=SegmentsIn)
        except msgspec.ValidationError as exc:
            found = _PATH.search(str(exc))
            raise _invalid(found.group(1) if found else "body", str(exc)) from None
        except msgspec.DecodeError as exc:
            raise _malformed(body, exc) from None
        gateway = self.gateway
        composed = gateway.compose(text=given.text, template=given.template,
                                   params=given.params, kind=given.kind,
                                   channel=given.channel, principal=principal.name)
        if isinstance(composed, ErrorOut):
            raise _invalid(composed.field or "body", composed.detail)
        encodings, method = gateway.encodings(given.channel)
        try:
            counted = preview(composed.text, encodings, method=method)
        except TemplateError as exc:
            raise _invalid("params" if given.template else "text", exc.problem) from None
        return _json(SegmentsOut(text=composed.kept, encoding=counted.encoding.value,
                                 parts=counted.parts, units=counted.units,
                                 per_part=list(counted.per_part),
                                 units_left=counted.units_left, template=composed.template,
                                 version=composed.version))

    # --- campaigns -----------------------------------------------------------------------------

    async def create_campaign(self, request: web.Request,
                              principal: Principal) -> web.Response:
        """A campaign from JSON, a text/csv body (options in the query) or a multipart form
        (options as fields, then the CSV as ``recipients``); the CSV is read as it comes."""
        ctype = request.content_type
        gateway = self.gateway
        if ctype == "application/json":
            body = await _body(request)
            try:
                given = msgspec.json.decode(body, type=CampaignIn)
            except msgspec.ValidationError as exc:
                found = _PATH.search(str(exc))
                raise _invalid(found.group(1) if found else "body", str(exc)) from None
            except msgspec.DecodeError as exc:
                raise _malformed(body, exc) from None
            template = self._campaign_template(given.template)
            campaign = gateway.campaign_create(
                template, name=given.name, rate=given.rate, source=given.from_,
                send_at=given.send_at.timestamp() if given.send_at else None,
                principal=principal.name)
            rows = [(i + 1, r.to, {k: str(v) for k, v in (r.params or {}).items()})
                    for i, r in enumerate(given.recipients)]
            for start in range(0, len(rows), 1000):
                gateway.campaign_rows(campaign, template, rows[start:start + 1000], [])
                await gateway.committed()
        elif ctype == "text/csv":
            options = dict(request.query)
            unknown = sorted(set(options) - _CAMPAIGN_OPTIONS)
            if unknown:
                raise _bad_param(unknown[0], "unknown query parameter")
            campaign = await self._csv_campaign(options, principal, request.content.readany)
        elif ctype == "multipart/form-data":
            reader = await request.multipart()
            options = {}
            while True:
                part = await reader.next()
                if part is None:
                    raise _invalid("recipients", "the form has no part named recipients")
                if not isinstance(part, BodyPartReader):
                    raise _invalid("recipients", "a nested multipart is not read")
                if part.name == "recipients":
                    break
                if part.name not in _CAMPAIGN_OPTIONS:
                    raise _invalid(str(part.name), "unknown field")
                value = b""
                while not part.at_eof():
                    value += await part.read_chunk(4096)
                    if len(value) > 4096:
                        raise _invalid(str(part.name), "a form field holds at most 4 096 bytes")
                options[str(part.name)] = value.decode("utf-8", "replace").strip()

            async def read() -> bytes:
                return await part.read_chunk(1 << 18)

            campaign = await self._csv_campaign(options, principal, read, form=True)
        else:
            raise ProblemError(415, "unsupported-media-type", "Unsupported media type",
                               "send application/json, text/csv or multipart/form-data")
        gateway.campaign_ingested(campaign)
        await gateway.committed()
        return _json(self._campaign_out(campaign), 201)

    def _campaign_template(self, name: str) -> Template:
        found = self.gateway.campaign_template(name)
        if isinstance(found, ErrorOut):
            raise _invalid(found.field or "template", found.detail)
        return found

    async def _csv_campaign(self, options: dict[str, str], principal: Principal,
                            read: Callable[[], Awaitable[bytes]], *,
                            form: bool = False) -> Campaign:
        gateway = self.gateway
        if not options.get("template"):
            raise _invalid("template", "name the template (a form field before the part "
                           "recipients)" if form else "name the template (?template=…)")
        template = self._campaign_template(options["template"])
        send_at = _time_param(options, "send_at")
        rate = None
        if options.get("rate"):
            try:
                rate = float(options["rate"])
            except ValueError:
                rate = -1.0
            if not (rate > 0 and math.isfinite(rate)):
                raise _invalid("rate", "messages a second: a number > 0")
        source = options.get("from") or None
        if source is not None and len(source) > 21:
            raise _invalid("from", "at most 21 characters")
        parser = CsvRows(tuple(template.variables))
        # The header must parse before the campaign exists: a bad one is a 400, nothing kept.
        pending: list[tuple[int, str, dict[str, str]]] = []
        ended = False
        while not parser.header_read:
            chunk = await read()
            try:
                if not chunk:
                    pending = parser.finish()
                    ended = True
                    break
                pending = parser.feed(chunk)
            except CsvError as exc:
                raise _invalid(exc.field, exc.problem) from None
        campaign = gateway.campaign_create(template, name=options.get("name") or None,
                                           send_at=send_at, rate=rate, source=source,
                                           principal=principal.name)
        while True:
            for start in range(0, max(len(pending), 1), 1000):
                gateway.campaign_rows(campaign, template, pending[start:start + 1000],
                                      parser.errors)
                parser.errors.clear()
                await gateway.committed()
            if ended:
                break
            chunk = await read()
            try:
                pending = parser.feed(chunk) if chunk else parser.finish()
            except CsvError as exc:  # (a line too long: the rest is not read)
                gateway.campaign_rows(campaign, template, [], [RowError(
                    line=parser.line + 1, code="malformed", field=exc.field,
                    detail=f"{exc.problem}: the rows after it were not read")])
                await gateway.committed()
                while await read():
                    pass
                break
            ended = not chunk
        return campaign

    def _campaign(self, request: web.Request) -> Campaign:
        raw = request.match_info["id"]
        number = raw.removeprefix("cmp_")
        found = None
        if number.isdigit() and number.isascii() and len(number) < 18:
            found = self.gateway.campaign(int(number))
        if found is None:
            raise ProblemError(404, "not-found", "No such campaign", f"no campaign {raw!r}")
        return found

    def _campaign_out(self, campaign: Campaign) -> CampaignOut:
        now = self.gateway.campaign_progress(campaign)
        return CampaignOut(
            id=f"cmp_{campaign.id}", name=campaign.name, state=now["state"],
            template=campaign.template, version=campaign.version, kind=campaign.kind,
            send_at=_utc(campaign.send_at), rate=campaign.rate,
            created_at=_utc(campaign.created_at),  # type: ignore[arg-type]
            progress=Progress(**now["progress"]), current_rate=round(now["current_rate"], 1),
            eta_seconds=None if now["eta"] is None else round(now["eta"], 1),
            refusals=[RowRefusal(line=r.line, code=r.code, detail=r.detail, field=r.field)
                      for r in campaign.refusals])

    async def get_campaign(self, request: web.Request, principal: Principal) -> web.Response:
        return _json(self._campaign_out(self._campaign(request)))

    async def list_campaigns(self, request: web.Request, principal: Principal) -> web.Response:
        store = self.gateway.campaigns
        assert store is not None
        found = [self.gateway.campaign(c.id) or c for c in store.all()]
        return _json(CampaignPage(campaigns=[self._campaign_out(c) for c in found[-100:]]))

    async def pause_campaign(self, request: web.Request, principal: Principal) -> web.Response:
        return await self._pause(request, True)

    async def resume_campaign(self, request: web.Request,
                              principal: Principal) -> web.Response:
        return await self._pause(request, False)

    async def _pause(self, request: web.Request, paused: bool) -> web.Response:
        campaign = self._campaign(request)
        if not self.gateway.campaign_pause(campaign, paused):
            raise ProblemError(409, "campaign-cancelled", "Campaign cancelled",
                               f"campaign cmp_{campaign.id} is cancelled")
        await self.gateway.committed()
        return _json(self._campaign_out(campaign))

    async def cancel_campaign(self, request: web.Request,
                              principal: Principal) -> web.Response:
        campaign = self._campaign(request)
        if campaign.state != "cancelled":
            self.gateway.campaign_cancel(campaign)
        await self.gateway.committed()
        return _json(self._campaign_out(campaign))

    async def whoami(self, request: web.Request, principal: Principal) -> web.Response:
        return _json(KeyOut(name=principal.name, scopes=sorted(principal.scopes)))

    async def overview(self, request: web.Request, principal: Principal) -> web.Response:
        return _json(self.gateway.overview())

    async def stats(self, request: web.Request, principal: Principal) -> web.Response:
        """Delivery statistics per group, from aggregates kept as messages go (not a scan)."""
        q = request.query
        unknown = sorted(set(q) - {"from", "to", "group_by", "tz"})
        if unknown:
            raise _bad_param(unknown[0], "unknown query parameter")
        now = time.time()
        since = _time_param(q, "from")
        until = _time_param(q, "to")
        since = now - 86400.0 if since is None else since
        until = now + 3600.0 if until is None else until
        if until <= since:
            raise _bad_param("to", "must be after from")
        try:
            group_by = parse_group_by(q.get("group_by"))
        except ValueError as exc:
            raise _bad_param("group_by", str(exc)) from None
        stats = self.gateway.stats
        assert stats is not None
        try:
            page = stats.page(since=since, until=until, group_by=group_by, tz=q.get("tz"))
        except (ValueError, KeyError) as exc:  # (an unknown zone)
            raise _bad_param("tz", f"not a time zone: {exc}") from None
        return _json(page)

    async def metrics(self, request: web.Request) -> web.Response:
        """Prometheus text exposition: the engine's families and the daemon's."""
        assert self.gateway.metrics is not None
        body, content_type = self.gateway.metrics.exposition()
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    async def healthz(self, request: web.Request) -> web.Response:
        return _json(Health(status="ok"))

    async def readyz(self, request: web.Request) -> web.Response:
        problems = self.gateway.ready()
        if self.draining:
            problems["daemon"] = "shutting down"
        if problems:
            return _json(Health(status="unavailable", checks=problems), 503)
        return _json(Health(status="ok"))

    async def openapi(self, request: web.Request) -> web.Response:
        if self._openapi is None:
            self._openapi = _encode(openapi(ROUTES))
        return web.Response(body=self._openapi, content_type="application/json")


def _type(code: int) -> str:
    return "application/problem+json" if code >= 400 else "application/json"


_decode_problem = msgspec.json.Decoder(Problem).decode


def _answer(code: int, payload: bytes) -> web.Response:
    response = web.Response(body=payload, status=code, content_type=_type(code))
    if code == 429:  # (a capped send: when the number frees, as the header says too)
        retry = _decode_problem(payload).retry_after
        response.headers["Retry-After"] = str(retry or 1)
    return response


def _encode_answers(answers: list[Accepted | Refused], batch: bool) -> tuple[int, bytes]:
    if batch:
        accepted = sum(isinstance(a, Accepted) for a in answers)
        return (202 if accepted else 200), _encode(BatchOut(
            accepted=accepted, refused=len(answers) - accepted, messages=answers))
    answer = answers[0]
    if isinstance(answer, Accepted):
        return 202, _encode(answer)
    error = answer.error
    field = error.field or "body"
    if error.code == "capped":
        return 429, _encode(Problem(
            type=_PROBLEM + "capped", title="Frequency cap", status=429, detail=error.detail,
            errors=[FieldError(field=field, detail=error.detail)], rule=error.rule,
            retry_after=error.retry_after))
    return 400, _encode(Problem(
        type=_PROBLEM + error.code.replace("_", "-"), title="Message refused", status=400,
        detail=error.detail, errors=[FieldError(field=field, detail=error.detail)]))


async def _body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        limit = request.app["max_body"]
        raise ProblemError(413, "body-too-large", "Body too large",
                           f"the body is over the limit of {limit} bytes",
                           limit=limit) from None


_CAMPAIGN_OPTIONS = frozenset({"template", "name", "send_at", "rate", "from"})


def _template_out(t: Template) -> TemplateOut:
    return TemplateOut(name=t.name, kind=t.kind, text=t.text, sign_name=t.sign_name,
                       variables={k: VariableIn(max_length=v.max_length, digits=v.digits,
                                                secret=v.secret)
                                  for k, v in t.variables.items()},
                       max_parts=t.max_parts, version=t.version, created_at=_utc(t.created_at))


def _invalid(field: str, detail: str) -> ProblemError:
    return ProblemError(400, "invalid-field", "Invalid field", f"{field}: {detail}",
                        errors=[FieldError(field=field, detail=detail)])


def _bad_param(name: str, detail: str) -> ProblemError:
    return ProblemError(400, "invalid-parameter", "Invalid query parameter",
                        f"{name}: {detail}", errors=[FieldError(field=name, detail=detail)])


def _int_param(q: Any, name: str, default: int, low: int, high: int) -> int:
    raw = q.get(name)
    if raw is None:
        return default
    if not (raw.isdigit() and raw.isascii() and len(raw) <= 18 and low <= int(raw) <= high):
        raise _bad_param(name, f"an integer from {low} to {high}")
    return int(raw)


def _time_param(q: Any, name: str) -> float | None:
    raw = q.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise _bad_param(name, "an RFC 3339 time with a zone, e.g. 2026-12-07T10:00:00Z"
                         ) from None
    if value.tzinfo is None:
        raise _bad_param(name, "give the time zone (Z or +08:00)")
    return value.timestamp()


Handler = Callable[[web.Request, Principal], Awaitable[web.Response]]

#: Every route: the router and the OpenAPI document are made from this list.
ROUTES: list[dict[str, Any]] = [
    {"name": "send", "method": "POST", "path": "/v1/messages", "scope": "send",
     "handler": "send", "summary": "Send one message, or a batch of up to max_batch",
     # (202: one message accepted, or a batch with at least one accepted; 200: a batch with
     # none accepted)
     "request": (MessageIn, BatchIn), "responses": {202: (Accepted, BatchOut), 200: BatchOut,
                                                400: Problem,
                                                401: Problem, 403: Problem, 409: Problem,
                                                413: Problem, 429: Problem, 503: Problem}},
    {"name": "list_messages", "method": "GET", "path": "/v1/messages", "scope": "read",
     "handler": "list_messages", "summary": "Find messages, newest first, a page at a time",
     "query": {"to": "the number", "out_id": "the caller's id", "state": "a state",
               "since": "accepted at or after (RFC 3339)", "until": "accepted before",
               "cursor": "next_cursor of the previous page", "limit": "page size"},
     "responses": {200: MessagePage, 400: Problem, 401: Problem, 403: Problem}},
    {"name": "get_message", "method": "GET", "path": "/v1/messages/{id}", "scope": "read",
     "handler": "get_message", "summary": "A message's state, parts and timestamps",
     "responses": {200: MessageOut, 401: Problem, 403: Problem, 404: Problem}},
    {"name": "cancel", "method": "DELETE", "path": "/v1/messages/{id}", "scope": "send",
     "handler": "cancel", "summary": "Cancel a scheduled or queued message",
     "responses": {200: MessageOut, 401: Problem, 403: Problem, 404: Problem, 409: Problem}},
    {"name": "list_templates", "method": "GET", "path": "/v1/templates", "scope": "read",
     "handler": "list_templates", "summary": "Every live template, its latest version",
     "responses": {200: TemplatePage, 401: Problem, 403: Problem}},
    {"name": "create_template", "method": "POST", "path": "/v1/templates", "scope": "admin",
     "handler": "create_template", "request": TemplateIn,
     "summary": "A new template (version 1); ${var} variables, ${code} in otp is secret",
     "responses": {201: TemplateOut, 400: Problem, 401: Problem, 403: Problem, 409: Problem}},
    {"name": "get_template", "method": "GET", "path": "/v1/templates/{name}", "scope": "read",
     "handler": "get_template", "summary": "A template: its latest version, or ?version=",
     "query": {"version": "a version number (default: the latest)"},
     "responses": {200: TemplateOut, 400: Problem, 401: Problem, 403: Problem, 404: Problem}},
    {"name": "template_versions", "method": "GET", "path": "/v1/templates/{name}/versions",
     "scope": "read", "handler": "template_versions",
     "summary": "Every version kept of a template, oldest first",
     "responses": {200: TemplatePage, 401: Problem, 403: Problem, 404: Problem}},
    {"name": "update_template", "method": "PUT", "path": "/v1/templates/{name}",
     "scope": "admin", "handler": "update_template", "request": TemplateIn,
     "summary": "A new version of a template (messages keep the version they used)",
     "responses": {200: TemplateOut, 400: Problem, 401: Problem, 403: Problem, 404: Problem}},
    {"name": "delete_template", "method": "DELETE", "path": "/v1/templates/{name}",
     "scope": "admin", "handler": "delete_template",
     "summary": "Retire a template (its versions stay readable by number)",
     "responses": {204: None, 401: Problem, 403: Problem, 404: Problem}},
    {"name": "segments", "method": "POST", "path": "/v1/segments", "scope": "send",
     "handler": "segments", "request": SegmentsIn,
     "summary": "What a text or a template with params costs: encoding, parts, units a part",
     "responses": {200: SegmentsOut, 400: Problem, 401: Problem, 403: Problem}},
    {"name": "create_campaign", "method": "POST", "path": "/v1/campaigns", "scope": "send",
     "handler": "create_campaign", "request": CampaignIn,
     "csv": "a header line (to and one column per template variable), then a recipient a line; "
            "options in the query string: template, name, send_at, rate, from",
     "summary": "A campaign: a template to recipients (JSON, or a CSV streamed, up to "
                "[policy] campaign_rows); bad rows refused by line, the rest go",
     "responses": {201: CampaignOut, 400: Problem, 401: Problem, 403: Problem, 415: Problem,
                   503: Problem}},
    {"name": "list_campaigns", "method": "GET", "path": "/v1/campaigns", "scope": "read",
     "handler": "list_campaigns", "summary": "The last 100 campaigns and their progress",
     "responses": {200: CampaignPage, 401: Problem, 403: Problem}},
    {"name": "get_campaign", "method": "GET", "path": "/v1/campaigns/{id}", "scope": "read",
     "handler": "get_campaign", "summary": "A campaign's progress, rate and ETA",
     "responses": {200: CampaignOut, 401: Problem, 403: Problem, 404: Problem}},
    {"name": "pause_campaign", "method": "POST", "path": "/v1/campaigns/{id}/pause",
     "scope": "send", "handler": "pause_campaign",
     "summary": "Hand no more of it to the engine (what the engine holds still goes)",
     "responses": {200: CampaignOut, 401: Problem, 403: Problem, 404: Problem, 409: Problem}},
    {"name": "resume_campaign", "method": "POST", "path": "/v1/campaigns/{id}/resume",
     "scope": "send", "handler": "resume_campaign", "summary": "Go on with a paused campaign",
     "responses": {200: CampaignOut, 401: Problem, 403: Problem, 404: Problem, 409: Problem}},
    {"name": "cancel_campaign", "method": "POST", "path": "/v1/campaigns/{id}/cancel",
     "scope": "send", "handler": "cancel_campaign",
     "summary": "Cancel everything of it not yet with a carrier link",
     "responses": {200: CampaignOut, 401: Problem, 403: Problem, 404: Problem}},
    {"name": "list_suppressions", "method": "GET", "path": "/v1/suppressions", "scope": "read",
     "handler": "list_suppressions", "summary": "The opt-out list, by number",
     "query": {"prefix": "only numbers starting with these digits",
               "cursor": "next_cursor of the previous page", "limit": "page size"},
     "responses": {200: SuppressionPage, 400: Problem, 401: Problem, 403: Problem}},
    {"name": "get_suppression", "method": "GET", "path": "/v1/suppressions/{number}",
     "scope": "read", "handler": "get_suppression", "summary": "Whether a number opted out",
     "responses": {200: Suppression, 400: Problem, 401: Problem, 403: Problem, 404: Problem}},
    {"name": "put_suppression", "method": "PUT", "path": "/v1/suppressions/{number}",
     "scope": "admin", "handler": "put_suppression", "summary": "Put a number on the list",
     "request": SuppressionIn, "body_optional": True,  # (no body: reason "manual")
     "responses": {200: Suppression, 400: Problem, 401: Problem, 403: Problem}},
    {"name": "delete_suppression", "method": "DELETE", "path": "/v1/suppressions/{number}",
     "scope": "admin", "handler": "delete_suppression", "summary": "Take a number off the list",
     "responses": {204: None, 400: Problem, 401: Problem, 403: Problem}},
    {"name": "list_events", "method": "GET", "path": "/v1/events", "scope": "read",
     "handler": "list_events",
     "summary": "Events after a cursor (a long poll with wait=); the cursor survives restarts",
     "query": {"after": "next_cursor of the previous answer (0: from the start)",
               "wait": "seconds to wait for an event (0-60)", "limit": "at most (1-1000)",
               "types": "comma-separated patterns, e.g. message.*,mo.received"},
     "responses": {200: EventPage, 400: Problem, 401: Problem, 403: Problem}},
    {"name": "failed_webhooks", "method": "GET", "path": "/v1/webhooks/failed",
     "scope": "admin", "handler": "failed_webhooks",
     "summary": "Webhook deliveries given up after the horizon (dead letters)",
     "query": {"endpoint": "a webhook's name", "cursor": "next_cursor", "limit": "page size"},
     "responses": {200: FailedPage, 400: Problem, 401: Problem, 403: Problem}},
    {"name": "replay_webhooks", "method": "POST", "path": "/v1/webhooks/replay",
     "scope": "admin", "handler": "replay_webhooks",
     "summary": "Send an endpoint's dead letters again", "request": ReplayIn,
     "responses": {200: ReplayOut, 400: Problem, 401: Problem, 403: Problem, 404: Problem}},
    {"name": "whoami", "method": "GET", "path": "/v1/me", "auth": "any", "handler": "whoami",
     "summary": "The API key's name and scopes (any known key; the console reads it)",
     "responses": {200: KeyOut, 401: Problem}},
    {"name": "overview", "method": "GET", "path": "/v1/overview", "scope": "read",
     "handler": "overview",
     "summary": "Counters, channels, lanes and webhook backlogs now (smsengine top reads it)",
     "responses": {200: dict, 401: Problem, 403: Problem}},
    {"name": "stats", "method": "GET", "path": "/v1/stats", "scope": "read", "handler": "stats",
     "summary": "Submitted, delivered, failed… per day or hour, channel and kind, with the "
                "delivery rate, parts and submit -> delivered p50/p95",
     "query": {"from": "RFC 3339 (default: 24 h ago)", "to": "RFC 3339 (default: now)",
               "group_by": "day or hour, channel, kind (comma-separated)",
               "tz": "the zone of days and hours (default: [store] stats_tz)"},
     "responses": {200: StatsPage, 400: Problem, 401: Problem, 403: Problem}},
    {"name": "metrics", "method": "GET", "path": "/metrics", "handler": "metrics",
     "summary": "Prometheus metrics (text exposition); no label holds a number or an id",
     "responses": {200: None}},
    {"name": "healthz", "method": "GET", "path": "/healthz", "handler": "healthz",
     "summary": "The process is up", "responses": {200: Health}},
    {"name": "readyz", "method": "GET", "path": "/readyz", "handler": "readyz",
     "summary": "The store is writable and every channel has a bind up",
     "responses": {200: Health, 503: Health}},
    {"name": "openapi", "method": "GET", "path": "/openapi.json", "handler": "openapi",
     "summary": "This document", "responses": {200: None}},
]


def make_app(config: DaemonConfig, gateway: Gateway, keyring: Keyring) -> tuple[web.Application,
                                                                                Api]:
    api = Api(config, gateway, keyring)
    registry = gateway.registry
    requests_total = Counter("smsengine_http_requests", "HTTP requests, by route and status",
                             ["route", "code"], registry=registry)
    request_seconds = Histogram("smsengine_http_request_seconds",
                                "HTTP request handling time, by route", ["route"],
                                registry=registry,
                                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5, 1.0, 2.5, 5.0))
    # Request ids: this process's random prefix and a counter (unique, and cheaper than a
    # uuid4 per request).
    prefix = uuid.uuid4().hex[:12] + "-"
    counter = itertools.count(1)

    @web.middleware
    async def middleware(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        given = request.headers.get("X-Request-Id", "")
        request_id = given if _REQUEST_ID.match(given) else f"{prefix}{next(counter):x}"
        request["request_id"] = request_id
        started = time.perf_counter()
        api.in_flight += 1
        response: web.StreamResponse
        try:
            if api.draining and request.path not in ("/healthz", "/readyz"):
                raise ProblemError(503, "shutting-down", "Shutting down",
                                   "the daemon is shutting down; try another node or later",
                                   headers={"Retry-After": "5"})
            response = await handler(request)
        except ProblemError as exc:
            response = _problem(request, exc)
        except Unauthorized as exc:
            response = _problem(request, ProblemError(
                401, "unauthorized", "Unauthorized", str(exc),
                headers={"WWW-Authenticate": 'Bearer realm="smsengine"'}))
        except Forbidden as exc:
            response = _problem(request, ProblemError(403, "forbidden", "Forbidden", str(exc)))
        except Busy as exc:
            response = _problem(request, ProblemError(
                503, "outbox-full", "Outbox full", str(exc),
                headers={"Retry-After": str(exc.retry_after)}))
        except StoreUnavailable as exc:
            response = _problem(request, ProblemError(
                503, "store-unavailable", "Store unavailable", str(exc),
                headers={"Retry-After": "5"}))
        except KeyInFlight as exc:
            response = _problem(request, ProblemError(
                409, "idempotency-key-in-flight", "Idempotency-Key in flight", str(exc),
                headers={"Retry-After": "1"}))
        except ClusterUnavailable as exc:  # (a request that needs Redis, on a cluster node)
            response = _problem(request, ProblemError(
                503, "cluster-unavailable", "Redis unavailable", str(exc),
                headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))}))
        except RecursionError:
            # Only a body's JSON nested deeper than the decoders recurse gets here (found by
            # the fuzzing of issue 21, a 500 before): the request is refused, the daemon goes on.
            log.warning("request %s %s: JSON nested too deeply", request.method, request.path,
                        extra={"request_id": request_id})
            response = _problem(request, ProblemError(
                400, "nested-too-deep", "Malformed JSON",
                "the JSON is nested too deeply to be read"))
        except HttpProcessingError as exc:
            # A body aiohttp cannot parse, e.g. a multipart part's header with a control
            # character (a 500 before; found by schemathesis, issue 21): the client's error.
            response = _problem(request, ProblemError(
                400, "malformed-request", "Malformed request",
                f"the body could not be parsed ({type(exc).__name__})"))
        except web.HTTPException as exc:
            # aiohttp's own (404 for an unknown path, 405): as problem details too.
            # (a 405 keeps its Allow header, which RFC 9110 requires; schemathesis found
            # it dropped, issue 21)
            response = _problem(request, ProblemError(
                exc.status, "http-" + str(exc.status), exc.reason, exc.text or exc.reason,
                headers={k: v for k, v in exc.headers.items() if k.lower() == "allow"}))
        except Exception:
            log.exception("request %s %s failed", request.method, request.path,
                          extra={"request_id": request_id})
            response = _problem(request, ProblemError(
                500, "internal", "Internal error",
                f"an unexpected error; quote request id {request_id}"))
        finally:
            api.in_flight -= 1
        response.headers["X-Request-Id"] = request_id
        elapsed = time.perf_counter() - started
        # The route's template (/v1/messages/{id}), never the path: a bounded set of labels.
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        requests_total.labels(route, str(response.status)).inc()
        request_seconds.labels(route).observe(elapsed)
        log.info("%s %s %d", request.method, request.path, response.status, extra={
            "request_id": request_id, "method": request.method, "path": request.path,
            "status": response.status, "ms": round(elapsed * 1e3, 2),
            "principal": request.get("principal")})
        return response

    app = web.Application(middlewares=[middleware], client_max_size=config.server.max_body)
    app["max_body"] = config.server.max_body
    for route in ROUTES:
        method = getattr(api, route["handler"])
        scope: Scope | None = route.get("scope")
        guarded = scope is not None or route.get("auth") == "any"
        app.router.add_route(route["method"], route["path"],
                             _guarded(method, keyring, scope) if guarded else method)
    add_console_routes(app)
    return app, api


def _guarded(method: Handler, keyring: Keyring,
             scope: Scope | None) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Authenticated, and with ``scope`` unless None (any known key)."""
    async def handler(request: web.Request) -> web.Response:
        principal = keyring.authenticate(request.headers.get("Authorization"))
        request["principal"] = principal.name
        if scope is not None:
            keyring.require(principal, scope)
        return await method(request, principal)

    return handler
