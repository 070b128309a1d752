"""What the HTTP API takes and gives, as msgspec structs: the one source of the request
validation and of the OpenAPI document (:func:`openapi`).

Times are RFC 3339 strings on the way in (``send_at``) and out; durations are seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

__all__ = [
    "Accepted",
    "BatchIn",
    "BatchOut",
    "CampaignIn",
    "CampaignOut",
    "CampaignPage",
    "ErrorOut",
    "EventOut",
    "EventPage",
    "FailedDelivery",
    "FailedPage",
    "FieldError",
    "Health",
    "KeyOut",
    "MessageIn",
    "MessageOut",
    "MessagePage",
    "PartOut",
    "Problem",
    "Progress",
    "ReasonOut",
    "Recipient",
    "Refused",
    "ReplayIn",
    "ReplayOut",
    "RowRefusal",
    "SegmentsIn",
    "SegmentsOut",
    "State",
    "Suppression",
    "SuppressionIn",
    "SuppressionPage",
    "TemplateIn",
    "TemplateOut",
    "TemplatePage",
    "Timestamps",
]

def _utc(epoch: float | None) -> datetime | None:
    """An epoch time as an aware UTC datetime (encoded RFC 3339 with Z)."""
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


State = Literal["scheduled", "queued", "sending", "submitted", "delivered", "undeliverable",
                "expired", "rejected", "failed", "unknown", "cancelled"]
Kind = Annotated[str, Meta(min_length=1, max_length=32, description="a lane: otp, "
                           "notification, marketing, or another the engine configures")]
Number = Annotated[str, Meta(min_length=1, max_length=21, pattern=r"^\+?[0-9]+$",
                             description="digits, with an optional leading +")]
Metadata = dict[Annotated[str, Meta(max_length=64)], str | int | float | bool | None]
Params = dict[Annotated[str, Meta(min_length=1, max_length=64)], str | int]
TemplateName = Annotated[str, Meta(min_length=1, max_length=64,
                                   description="a template's name (GET /v1/templates)")]


class MessageIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One message to send."""

    to: Number
    # exactly one of text, or template with its params
    text: Annotated[str, Meta(min_length=1, max_length=10_000)] | None = None
    template: TemplateName | None = None
    params: Params | None = None
    from_: Annotated[str, Meta(max_length=21)] | None = msgspec.field(default=None, name="from")
    kind: Kind = "notification"
    channel: Annotated[str, Meta(min_length=1, max_length=64)] | None = None
    # RFC 3339 with a zone (Z or ±hh:mm); in the future: scheduled
    send_at: Annotated[datetime, Meta(tz=True)] | None = None
    validity: Annotated[float, Meta(gt=0, le=7 * 86400)] | None = None  # seconds
    out_id: Annotated[str, Meta(min_length=1, max_length=128)] | None = None
    metadata: Metadata | None = None


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    """Up to the server's ``max_batch`` messages (1 000 by default)."""

    messages: list[MessageIn]


class Accepted(msgspec.Struct, kw_only=True, tag_field="status", tag="accepted"):
    """``"status": "accepted"``: committed to the outbox."""

    id: str
    state: Literal["queued", "scheduled"]
    parts: int  # the SMS parts it takes (billed)
    out_id: str | None = None
    # when a scheduled message goes: its send_at, or the end of the quiet hours holding it
    scheduled_for: datetime | None = None


class FieldError(msgspec.Struct, kw_only=True):
    field: str  # its path: "to", "messages[3].to"
    detail: str


class ErrorOut(msgspec.Struct, kw_only=True):
    code: str  # what went wrong, for programs: invalid_field, refused, opted_out, …
    detail: str
    field: str | None = None
    status: int | None = None  # the protocol status, when the engine refused it
    retriable: bool = False
    rule: str | None = None  # capped: the frequency rule ("1 per minute")
    retry_after: int | None = None  # capped: seconds until the number frees


class Refused(msgspec.Struct, kw_only=True, tag_field="status", tag="refused"):
    """``"status": "refused"``: not kept; ``error`` says why, naming the field."""

    error: ErrorOut
    out_id: str | None = None


class BatchOut(msgspec.Struct, kw_only=True):
    accepted: int
    refused: int
    messages: list[Accepted | Refused]  # in the order given


class PartOut(msgspec.Struct, kw_only=True):
    index: int
    smsc_id: str  # the carrier's id, once it has one
    state: State
    submitted_at: datetime | None = None
    done_at: datetime | None = None


class ReasonOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a receipt said of a message not delivered."""

    stat: str
    err: str = ""
    network_type: int | None = None
    network_code: int | None = None


class Timestamps(msgspec.Struct, kw_only=True, omit_defaults=True):
    """When the message reached each state it has been in."""

    accepted: datetime
    scheduled_for: datetime | None = None
    sending: datetime | None = None  # its first part handed to a carrier link
    submitted: datetime | None = None  # every part accepted by the carrier
    done: datetime | None = None  # final


class MessageOut(msgspec.Struct, kw_only=True):
    id: str
    state: State
    final: bool
    to: str
    from_: str | None = msgspec.field(default=None, name="from")
    kind: str
    channel: str | None = None
    text: str
    out_id: str | None = None
    metadata: Metadata | None = None
    parts_count: int
    parts: list[PartOut]
    error: ErrorOut | None = None
    reason: ReasonOut | None = None
    timestamps: Timestamps


class MessagePage(msgspec.Struct, kw_only=True):
    messages: list[MessageOut]
    next_cursor: str | None  # pass as ?cursor= for the next page; null: the last page


class SuppressionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Annotated[str, Meta(max_length=200)] = "manual"


class Suppression(msgspec.Struct, kw_only=True):
    number: str
    reason: str
    at: datetime


class SuppressionPage(msgspec.Struct, kw_only=True):
    suppressions: list[Suppression]
    next_cursor: str | None


class EventOut(msgspec.Struct, kw_only=True):
    """One event, as webhooks send it: ``id`` (evt_<n>: dedup by it), ``type``
    (message.delivered, mo.received, …), ``timestamp`` and ``data``."""

    id: str
    type: str
    timestamp: str
    data: dict[str, Any]


class EventPage(msgspec.Struct, kw_only=True):
    events: list[EventOut]
    next_cursor: str  # pass as ?after= next time (it survives restarts)


class FailedDelivery(msgspec.Struct, kw_only=True):
    endpoint: str
    event_id: str
    seq: int
    type: str
    at: float
    attempts: int
    error: str
    failed_at: float


class FailedPage(msgspec.Struct, kw_only=True):
    failed: list[FailedDelivery]
    next_cursor: str | None


class ReplayIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    endpoint: str


class ReplayOut(msgspec.Struct, kw_only=True):
    endpoint: str
    replayed: int


class Health(msgspec.Struct, kw_only=True):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = msgspec.field(default_factory=dict)


class KeyOut(msgspec.Struct, kw_only=True):
    """The caller's API key: its configured name (never its value) and scopes."""

    name: str
    scopes: list[str]


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None  # each invalid field, by path
    limit: int | None = None  # the limit exceeded (413)
    rule: str | None = None  # the frequency cap that refused (429)
    retry_after: int | None = None  # seconds until it frees (429; also the header)


class TemplateIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A template: ``${var}`` variables in the text (``$$`` is a ``$``), a kind (its lane), an
    optional sign name and per-variable limits. ``${code}`` in an ``otp`` template is secret
    (masked wherever the message is kept) unless ``variables.code.secret`` is false."""

    name: TemplateName
    kind: Kind
    text: Annotated[str, Meta(min_length=1, max_length=1000)]
    sign_name: Annotated[str, Meta(max_length=24)] | None = None
    variables: dict[str, VariableIn] | None = None
    max_parts: Annotated[int, Meta(ge=1, le=255)] | None = None


class VariableIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Limits on one variable's param."""

    max_length: Annotated[int, Meta(ge=1, le=1000)] | None = None
    digits: bool = False  # ASCII 0-9 only
    secret: bool | None = None  # masked at rest (default: code in an otp template)


class TemplateOut(msgspec.Struct, kw_only=True):
    name: str
    kind: str
    text: str
    sign_name: str | None = None
    variables: dict[str, VariableIn]
    max_parts: int | None = None
    version: int
    created_at: datetime | None = None


class TemplatePage(msgspec.Struct, kw_only=True):
    templates: list[TemplateOut]


class SegmentsIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What a text would cost: give text, or template with its params."""

    text: Annotated[str, Meta(min_length=1, max_length=10_000)] | None = None
    template: TemplateName | None = None
    params: Params | None = None
    kind: Kind = "notification"
    channel: Annotated[str, Meta(min_length=1, max_length=64)] | None = None


class SegmentsOut(msgspec.Struct, kw_only=True):
    text: str  # as it would go, signature and opt-out suffix included, secrets masked
    encoding: str
    parts: int
    units: int  # characters (or septets, octets) in all
    per_part: list[int]  # units in each part
    units_left: int  # room left in the last part
    template: str | None = None
    version: int | None = None


class Recipient(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    to: Number
    params: Params | None = None


class CampaignIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A campaign as JSON: a template and its recipients (for more than fit in a body, POST a
    CSV instead: Content-Type text/csv with these fields in the query string, or
    multipart/form-data with them as fields and the CSV as the part ``recipients``)."""

    template: TemplateName
    recipients: list[Recipient]
    name: Annotated[str, Meta(max_length=128)] | None = None
    send_at: Annotated[datetime, Meta(tz=True)] | None = None
    rate: Annotated[float, Meta(gt=0)] | None = None  # messages a second, at most
    from_: Annotated[str, Meta(max_length=21)] | None = msgspec.field(default=None, name="from")


class RowRefusal(msgspec.Struct, kw_only=True):
    line: int  # the CSV's line (1 is the header), or the recipient's index + 1 in JSON
    code: str  # invalid_number, invalid_param, opted_out, capped, …
    detail: str
    field: str | None = None


class Progress(msgspec.Struct, kw_only=True):
    """Where each recipient is. recipients = refused + duplicates + suppressed + capped +
    queued + sending + submitted + delivered + failed + cancelled."""

    recipients: int  # rows read
    refused: int  # bad rows (see refusals)
    duplicates: int  # a number already in the campaign: sent once
    suppressed: int  # opted out
    capped: int  # refused by a frequency cap
    queued: int  # waiting in the outbox
    sending: int  # handed to the engine, no carrier answer yet
    submitted: int  # accepted by the carrier, no receipt yet
    delivered: int
    failed: int  # undeliverable, expired, rejected, failed or unknown
    cancelled: int


class CampaignOut(msgspec.Struct, kw_only=True):
    id: str
    name: str | None = None
    state: Literal["scheduled", "running", "paused", "cancelled", "done"]
    template: str
    version: int
    kind: str
    send_at: datetime | None = None
    rate: float | None = None  # the cap asked for (messages a second)
    created_at: datetime
    progress: Progress
    current_rate: float  # messages a second handed over lately
    eta_seconds: float | None = None  # queued / current rate; null when not moving
    refusals: list[RowRefusal] = msgspec.field(default_factory=list)  # the first 1 000


class CampaignPage(msgspec.Struct, kw_only=True):
    campaigns: list[CampaignOut]


def openapi(routes: list[dict[str, Any]]) -> dict[str, Any]:
    """An OpenAPI 3.1 document for ``routes`` (method, path, summary, scope, request,
    responses: {status: struct type, or a tuple of them for one of several}, query: {name:
    description}), with every struct's schema generated by msgspec."""
    types: list[Any] = [Problem]
    for route in routes:
        request = route.get("request")
        if request is not None:
            types.extend(request if isinstance(request, tuple) else (request,))
        for kind in route["responses"].values():
            if kind is not None:
                types.extend(kind if isinstance(kind, tuple) else (kind,))
    schemas, components = msgspec.json.schema_components(
        list(dict.fromkeys(types)), ref_template="#/components/schemas/{name}")
    refs = dict(zip(dict.fromkeys(types), schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        op: dict[str, Any] = {"summary": route["summary"], "operationId": route["name"]}
        if route.get("scope"):
            op["security"] = [{"bearer": []}]
            op["description"] = f"Needs an API key with the {route['scope']!r} scope."
        elif route.get("auth") == "any":
            op["security"] = [{"bearer": []}]
            op["description"] = "Needs an API key, with any scope."
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                  for n in _path_params(route["path"])]
        params += [{"name": n, "in": "query", "required": False, "description": d,
                    "schema": {"type": "string"}} for n, d in route.get("query", {}).items()]
        if route["name"] == "send":
            params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                           "schema": {"type": "string", "maxLength": 255}})
        if params:
            op["parameters"] = params
        request = route.get("request")
        if request is not None:
            schema = ({"oneOf": [refs[t] for t in request]} if isinstance(request, tuple)
                      else refs[request])
            op["requestBody"] = {"required": not route.get("body_optional"), "content": {
                "application/json": {"schema": schema}}}
            if route.get("csv"):  # (the recipients as a CSV upload, streamed)
                op["requestBody"]["content"]["text/csv"] = {"schema": {
                    "type": "string", "description": route["csv"]}}
                op["requestBody"]["content"]["multipart/form-data"] = {"schema": {
                    "type": "object", "properties": {
                        "recipients": {"type": "string", "format": "binary"},
                        "template": {"type": "string"}, "name": {"type": "string"},
                        "send_at": {"type": "string"}, "rate": {"type": "number"},
                        "from": {"type": "string"}}, "required": ["recipients", "template"]}}
        responses: dict[str, Any] = {}
        for status, kind in route["responses"].items():
            media = "application/problem+json" if kind is Problem else "application/json"
            body: dict[str, Any] = {"description": _DESCRIPTIONS.get(int(status), "")}
            if isinstance(kind, tuple):  # (one of several shapes)
                body["content"] = {media: {"schema": {"oneOf": [refs[t] for t in kind]}}}
            elif kind is not None:
                body["content"] = {media: {"schema": refs[kind]}}
            responses[str(status)] = body
        op["responses"] = responses
        paths.setdefault(route["path"], {})[route["method"].lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "smsengine", "version": "1",
                 "description": "SMS gateway over SMPP and CMPP: durable acceptance, statuses, "
                                "suppressions."},
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


_DESCRIPTIONS = {
    200: "OK", 202: "Accepted: committed to the outbox", 207: "Some accepted, some refused",
    400: "Invalid request", 401: "No or unknown API key", 403: "The key lacks the scope",
    404: "Not found", 409: "Conflict", 413: "Too large",
    429: "A frequency cap refused it (Retry-After)", 503: "Unavailable",
    201: "Created", 204: "No content",
}
