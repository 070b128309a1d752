"""Engine configuration: channels (carrier accounts), routes, lanes, receipts, opt-out, store.

TOML, validated by msgspec; a bad field is reported with its path (an over-long one against its
own name). Every channel states its ``password`` (the CMPP shared secret), ``password = ""`` for
an account without one, or ``password_env = "VARIABLE"`` to read it from the environment at load
(``tls_key_password_env`` likewise); no repr or str of a config shows it (nor
``tls_key_password``). A
channel with ``tls = true`` binds over TLS (SMPP, CMPP, SMGP): its CA, client certificate and
key files are read at load, relative to the config file, and a file that cannot serve is
refused naming its field (``channels[0].tls_ca: file not found: …``). Example::

    [[channels]]
    name = "cmcc"
    host = "127.0.0.1"
    port = 2775
    system_id = "shop"
    password = "secret"
    transceivers = 2
    tps = 200
    default_source = "SHOP"

    [[routes]]
    prefixes = ["86"]
    channels = ["cmcc", "backup"]
    mode = "failover"
"""

from __future__ import annotations

import math
import os
import re
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, Literal

import msgspec

from ..bind.tls import TlsFileError, client_context
from ..smpp import BindTransceiver, InvalidPduError
from .prefixes import PrefixTable, PrefixTableError, load_prefix_table

__all__ = [
    "ChannelConfig",
    "EngineConfig",
    "EngineConfigError",
    "OptOutConfig",
    "ReceiptConfig",
    "RouteConfig",
    "engine_config_from_dict",
    "load_engine_config",
]


class EngineConfigError(ValueError):
    """A configuration value is wrong; ``field`` names it."""

    retriable = False

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ChannelConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One carrier account: where, who, how many binds, how fast."""

    name: str
    host: str
    port: int
    system_id: str
    # Required: an account without one is written password = "" (else a forgotten password
    # loads and then fails like a wrong one). Never shown by repr / str (see _shown).
    password: str
    system_type: str = ""
    protocol: Literal["smpp", "cmpp", "sgip", "smgp"] = "smpp"
    transmitters: int = 0  # (SMPP only)
    receivers: int = 0  # (SMPP only)
    transceivers: int = 1  # SMPP transceiver binds; for CMPP, connections (each sends and receives)
    window: int = 0  # requests in flight per bind; 0 = the protocol's default (SMPP 64, CMPP 16)
    tps: float = 0.0  # segments per second; 0 = none (paced only once throttled)
    burst: float = 0.0  # token bucket depth in segments; 0 = one second's worth
    response_timeout: float = 10.0
    enquire_link_interval: float = 30.0
    default_source: str = ""
    source_ton: int = 5
    source_npi: int = 0
    dest_ton: int = 1
    dest_npi: int = 1
    split: Literal["udh8", "udh16", "sar", "payload"] = "udh8"  # CMPP: udh8 or udh16
    # Cheapest first. Empty: the protocol's default, SMPP gsm7 then ucs2, CMPP ascii
    # (Msg_Fmt 0) then ucs2 (8); CMPP also takes gb18030 (Msg_Fmt 15).
    encodings: list[Literal["gsm7", "ascii", "latin1", "ucs2", "gb18030"]] = msgspec.field(
        default_factory=list)
    # How the carrier writes message ids in receipts. Unset, the protocol's default, set when
    # built (__post_init__; the "" default is only that sentinel, never a value read): SMPP
    # and CMPP "auto"; SGIP and SMGP "text", their ids being rendered here from the octets,
    # the same way for the response and the report.
    id_style: Literal["auto", "decimal", "hex", "text"] = ""  # type: ignore[assignment]
    receipt_ttl: float = 72 * 3600.0
    max_retries: int = 3
    retry_delay: float = 1.0
    resend_unknown: bool = False  # resend when a submit's outcome is unknown (may duplicate)
    latency_limit: float = 2.0  # response latency (s) above which flow control backs off
    max_parts: int = 10  # a longer message is refused, naming its count
    # A destination written +CC…: "strip" sends the digits (international, dest_ton 1),
    # "keep" sends it as written, "national" strips +country_code (set dest_ton to match).
    plus: Literal["strip", "keep", "national"] = "strip"
    country_code: str = ""  # digits, for plus = "national"
    # CMPP only (SMPP ignores them). system_id is the SP_Id (Source_Addr), password the shared
    # secret, default_source the Src_Id (service code + extension).
    cmpp_version: Literal["2.0", "3.0"] = "3.0"
    service_id: str = ""
    msg_src: str = ""  # "" = system_id
    fee_user_type: int = 2  # 2 = the SP pays (the usual bulk arrangement)
    fee_type: str = "01"  # free to the user
    fee_code: str = "000000"
    # SGIP only. system_id / password are the Bind's Login Name / Password (also what the SMG's
    # own Bind on the connection back must carry), default_source the SPNumber, service_id the
    # ServiceType, fee_type the FeeType (0-4, as digits).
    sgip_node_id: int = 0  # the SP node id of every sequence number; 0 = 3 + area + CorpId
    corp_id: str = ""  # the 5-digit enterprise code (CorpId)
    listen_host: str = "0.0.0.0"  # where the SMG's connection back (MO and reports) arrives
    listen_port: int = 0  # 0 = no listener (no MO, no reports)
    idle_close: float = 60.0  # seconds an idle client connection stays open (SGIP closes them)
    # SMGP only. system_id is the Login ClientID, password the shared secret, default_source
    # the SrcTermID, service_id the ServiceID; fee_type / fee_code as CMPP's.
    smgp_version: Literal["3.0", "2.0", "1.3"] = "3.0"
    fixed_fee: str = "000000"  # (not sent by 1.3)
    # TLS on the carrier link (SMPP, CMPP, SMGP; SGIP's SMG connects back in plaintext, so
    # not SGIP). The certificate must chain to tls_ca ("" = the system's CAs) and name
    # tls_server_name ("" = host; also the SNI sent) unless tls_verify = false (a test SMSC
    # only). tls_cert / tls_key: a client certificate, if the carrier asks for one (tls_key ""
    # = in tls_cert's file); tls_key_password if the key is encrypted. Paths relative to the
    # config file when loaded from one.
    tls: bool = False
    tls_ca: str = ""
    tls_verify: bool = True
    tls_server_name: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    tls_key_password: str = ""

    def ssl_context(self) -> ssl.SSLContext | None:
        """The context the channel's binds connect with (None without ``tls``); the files are
        read now. Raises TlsFileError (its ``field`` is ca, cert or key: ``tls_`` + it)."""
        if not self.tls:
            return None
        return client_context(ca=self.tls_ca, cert=self.tls_cert, key=self.tls_key,
                              key_password=self.tls_key_password, verify=self.tls_verify)

    def __post_init__(self) -> None:
        if not self.id_style:
            # SGIP's id is the Submit's Sequence Number, SMGP's the MsgID's octets, written by
            # our codecs in one canonical text on both sides: "auto"'s other readings of a
            # receipt's id (hex for decimal and back) can never match, and they cost ~2 us a
            # report that overtakes its response (nearly every SGIP one in the bench: client
            # 18.2-20.3 -> 15.8-18.0 us a message in two series of alternating runs, issue 22).
            style = "text" if self.protocol in ("sgip", "smgp") else "auto"
            msgspec.structs.force_setattr(self, "id_style", style)

    @property
    def window_size(self) -> int:
        return self.window or (64 if self.protocol == "smpp" else 16)

    @property
    def encoding_names(self) -> list[str]:
        if self.encodings:
            return list(self.encodings)
        return ["gsm7", "ucs2"] if self.protocol == "smpp" else ["ascii", "ucs2"]

    # msgspec's own repr (and its __rich_repr__, which rich uses) would print the password;
    # str() falls back to __repr__, and EngineConfig's repr uses this one for its channels.
    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in _shown(self))
        return f"{type(self).__name__}({fields})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return list(_shown(self))


class _Redacted:
    """Stands in for a secret in a repr: prints as <redacted>, never as a string that could be
    mistaken for the value."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<redacted>"


_REDACTED: Final = _Redacted()
#: Fields that hold a secret: the SMPP password, the CMPP shared secret, the TLS key's password.
_SECRET_FIELDS: Final = frozenset({"password", "tls_key_password"})


def _shown(config: msgspec.Struct) -> Iterator[tuple[str, Any]]:
    """A config's fields as a repr shows them: a secret that is set as <redacted>. An empty
    one stays '': that there is none is what someone debugging a refused bind needs to see."""
    for name in config.__struct_fields__:
        value = getattr(config, name)
        yield name, _REDACTED if name in _SECRET_FIELDS and value else value


class RouteConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Which channels a message may take. Empty prefixes/pattern/kinds match everything.

    ``prefixes`` match the destination without its "+"; ``national_prefixes`` only a destination
    written without "+". ``prefix_file`` and ``carrier`` name a carrier of a prefix table (see
    :mod:`smsengine.engine.prefixes`): the loaders add its prefixes to those two lists."""

    channels: list[str]
    prefixes: list[str] = msgspec.field(default_factory=list)
    national_prefixes: list[str] = msgspec.field(default_factory=list)
    prefix_file: str = ""
    carrier: str = ""
    pattern: str = ""
    kinds: list[str] = msgspec.field(default_factory=list)
    mode: Literal["failover", "weighted"] = "failover"
    weights: list[float] = msgspec.field(default_factory=list)


class ReceiptConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    early_receipt_ttl: float = 60.0  # keep a receipt that beat its submit_sm_resp this long
    max_early_receipts: int = 100_000


class OptOutConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    keywords: list[str] = msgspec.field(
        default_factory=lambda: ["T", "TD", "退订", "STOP", "UNSUBSCRIBE"])
    suppressed_kinds: list[str] = msgspec.field(default_factory=lambda: ["marketing"])


class StatusConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How long what became of a message can be asked (Engine.status)."""

    retention: float = 7 * 86400.0  # seconds a final status is kept in the SQLite store
    max_rows: int = 10_000_000  # and at most this many (the oldest go first)
    # Finished messages kept in memory for status(ref) (without a store, all there is besides
    # the ones with a reference). 0 by default: keeping them costs ~0.3 µs a message at volume.
    recent: int = 0


class EngineConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    channels: list[ChannelConfig]
    routes: list[RouteConfig] = msgspec.field(default_factory=list)
    lanes: list[str] = msgspec.field(default_factory=lambda: ["otp", "notification", "marketing"])
    lane_capacity: int = 2_000_000
    lane_min_share: float = 0.05
    receipts: ReceiptConfig = ReceiptConfig()
    optout: OptOutConfig = OptOutConfig()
    store: str = ""  # path of a SQLite file for correlation and opt-outs; "" = in memory
    max_tracked: int = 2_000_000  # handles kept for messages not yet final
    event_queue: int = 100_000
    # Seconds a message of a lane may wait before it is sent, when it gives no validity of its
    # own; past that it ends EXPIRED, never sent. A code that arrives late is worth nothing.
    validity: dict[str, float] = msgspec.field(default_factory=lambda: {"otp": 300.0})
    status: StatusConfig = StatusConfig()

    def __post_init__(self) -> None:
        _check(self)


def _check(cfg: EngineConfig) -> None:
    if not cfg.channels:
        raise EngineConfigError("channels", "configure at least one channel")
    names: set[str] = set()
    for i, ch in enumerate(cfg.channels):
        where = f"channels[{i}]"
        if not ch.name or ch.name in names:
            raise EngineConfigError(f"{where}.name", f"must be unique and non-empty: {ch.name!r}")
        names.add(ch.name)
        if not 0 < ch.port < 65536:
            raise EngineConfigError(f"{where}.port", f"{ch.port} is not a TCP port")
        if ch.transmitters + ch.transceivers < 1:
            raise EngineConfigError(f"{where}.transceivers",
                                    "a channel needs at least one transmitter or transceiver")
        for field in ("transmitters", "receivers", "transceivers"):
            if getattr(ch, field) < 0:
                raise EngineConfigError(f"{where}.{field}", "must be >= 0")
        if ch.window < 0:
            raise EngineConfigError(f"{where}.window", "must be >= 1 (or 0 for the default)")
        for field in ("tps", "burst", "retry_delay"):
            value = getattr(ch, field)
            if not math.isfinite(value) or value < 0:
                raise EngineConfigError(f"{where}.{field}", f"must be >= 0, got {value}")
        for field in ("response_timeout", "enquire_link_interval", "receipt_ttl",
                      "latency_limit"):
            value = getattr(ch, field)
            if not math.isfinite(value) or value <= 0:
                raise EngineConfigError(f"{where}.{field}", f"must be > 0, got {value}")
        if ch.max_parts < 1:
            raise EngineConfigError(f"{where}.max_parts", f"must be >= 1, got {ch.max_parts}")
        if ch.plus == "national" and not (ch.country_code.isdigit()
                                          and ch.country_code.isascii()):
            raise EngineConfigError(f"{where}.country_code",
                                    "plus = \"national\" needs the country code's digits")
        if ch.protocol == "cmpp":
            _check_cmpp(ch, where)
        elif ch.protocol == "sgip":
            _check_sgip(ch, where)
        elif ch.protocol == "smgp":
            _check_smgp(ch, where)
        else:
            _check_smpp_bind(ch, where)
            if "gb18030" in ch.encodings:
                raise EngineConfigError(f"{where}.encodings",
                                        "gb18030 is a CMPP encoding (Msg_Fmt 15); SMPP has none")
        if ch.protocol == "smpp" and len(ch.default_source) > 20:  # (the others': 21)
            raise EngineConfigError(f"{where}.default_source", "at most 20 characters")
        _check_tls(ch, where)
    for i, route in enumerate(cfg.routes):
        where = f"routes[{i}]"
        if not route.channels:
            raise EngineConfigError(f"{where}.channels", "name at least one channel")
        for name in route.channels:
            if name not in names:
                raise EngineConfigError(f"{where}.channels", f"no channel named {name!r}")
        if bool(route.prefix_file) != bool(route.carrier):
            raise EngineConfigError(f"{where}.carrier", "prefix_file and carrier go together: "
                                                        "the table, and which of its carriers")
        if route.prefix_file and not (route.prefixes or route.national_prefixes):
            raise EngineConfigError(f"{where}.prefix_file",
                                    "is read by load_engine_config / engine_config_from_dict; "
                                    "in Python give the prefixes (load_prefix_table)")
        if route.weights and len(route.weights) != len(route.channels):
            raise EngineConfigError(f"{where}.weights", "one weight per channel")
        if any(w < 0 for w in route.weights):
            raise EngineConfigError(f"{where}.weights", "weights must be >= 0")
        if route.pattern:
            try:
                re.compile(route.pattern)
            except re.error as exc:
                raise EngineConfigError(f"{where}.pattern",
                                        f"not a regular expression: {exc}") from None
    if (not cfg.lanes or len({lane.casefold() for lane in cfg.lanes}) != len(cfg.lanes)
            or not all(lane and lane == lane.strip() for lane in cfg.lanes)):
        raise EngineConfigError("lanes", "give distinct lane names (case does not count), "
                                         "highest priority first")
    # The lanes are the kinds a message may have: what names a kind names a lane.
    for where, kinds in ((f"routes[{i}].kinds", r.kinds) for i, r in enumerate(cfg.routes)):
        _check_kinds(cfg, where, kinds)
    _check_kinds(cfg, "optout.suppressed_kinds", cfg.optout.suppressed_kinds)
    _check_kinds(cfg, "validity", list(cfg.validity))
    for lane, seconds in cfg.validity.items():
        if not math.isfinite(seconds) or not 0 < seconds <= 7 * 86400:
            raise EngineConfigError(f"validity.{lane}", f"must be in (0, 7 days], got {seconds}")
    if not 0 <= cfg.lane_min_share <= 0.5:
        raise EngineConfigError("lane_min_share", "must be between 0 and 0.5")
    if not (math.isfinite(cfg.status.retention) and cfg.status.retention > 0):
        raise EngineConfigError("status.retention", "must be > 0 seconds")
    if cfg.status.max_rows < 1 or cfg.status.recent < 0:
        raise EngineConfigError("status.max_rows", "max_rows must be >= 1 and recent >= 0")
    if cfg.lane_capacity < 1 or cfg.max_tracked < 1 or cfg.event_queue < 1:
        raise EngineConfigError("lane_capacity", "capacities must be >= 1")


_TLS_FIELDS: Final = ("tls_ca", "tls_server_name", "tls_cert", "tls_key", "tls_key_password")


def _check_tls(ch: ChannelConfig, where: str) -> None:
    """TLS settings make sense together and the files serve (read now, so that a missing CA
    file is an error at load, not an alarm at the first bind). No message holds a file's
    contents or the key's password."""
    if not ch.tls:
        for field in _TLS_FIELDS:
            if getattr(ch, field):
                raise EngineConfigError(f"{where}.{field}", "is set but tls is not: write "
                                                            "tls = true (or remove it)")
        return
    if ch.protocol == "sgip":
        raise EngineConfigError(f"{where}.tls", "not for SGIP: its SMG opens the connection "
                                                "back (reports, MO) in plaintext")
    name = ch.tls_server_name
    if name and (len(name) > 253 or not name.isascii() or any(c.isspace() for c in name)
                 or name.startswith(".")):
        raise EngineConfigError(f"{where}.tls_server_name",
                                f"not a host name: {name!r} (ASCII, IDNA-encoded)")
    try:
        ch.ssl_context()
    except TlsFileError as exc:
        raise EngineConfigError(f"{where}.tls_{exc.field}", exc.message) from None


def _check_kinds(cfg: EngineConfig, where: str, kinds: list[str]) -> None:
    lanes = {lane.casefold() for lane in cfg.lanes}
    for kind in kinds:
        if kind.strip().casefold() not in lanes:
            raise EngineConfigError(where, f"{kind!r} is not a lane; the lanes (the kinds) "
                                           f"are {', '.join(cfg.lanes)}")


def _check_smpp_bind(ch: ChannelConfig, where: str) -> None:
    """The bind's C-octet strings (SMPP 3.4 section 4.1), checked by building the bind PDU, so
    the limits are the codec's and the error names the field that does not fit. Its message
    states the limit, never the value (a password must not end up in a log)."""
    for name in ("system_id", "password", "system_type"):
        if not isinstance(getattr(ch, name), str):  # (built in Python, not loaded: msgspec checks)
            raise EngineConfigError(f"{where}.{name}", "must be a str")
    try:
        BindTransceiver(system_id=ch.system_id, password=ch.password,
                        system_type=ch.system_type)
    except InvalidPduError as exc:
        raise EngineConfigError(f"{where}.{exc.field}",
                                f"does not fit an SMPP bind: {exc}") from None


def _check_cmpp(ch: ChannelConfig, where: str) -> None:
    """CMPP field sizes (spec sections 4.1 and 4.6): what would not fit is refused here, not at
    the first SUBMIT."""
    for field, width in (("system_id", 6), ("msg_src", 6), ("service_id", 10),
                         ("fee_type", 2), ("fee_code", 6), ("default_source", 21)):
        value = getattr(ch, field)
        if len(value) > width or not value.isascii():
            raise EngineConfigError(f"{where}.{field}",
                                    f"CMPP allows at most {width} ASCII characters, got {value!r}")
    if not ch.system_id:
        raise EngineConfigError(f"{where}.system_id", "CMPP needs the SP_Id (Source_Addr)")
    if not 0 <= ch.fee_user_type <= 3:
        raise EngineConfigError(f"{where}.fee_user_type", "must be 0-3")
    if ch.transmitters or ch.receivers:
        raise EngineConfigError(f"{where}.transmitters",
                                "CMPP connections both send and receive: use transceivers")
    if ch.split not in ("udh8", "udh16"):
        raise EngineConfigError(f"{where}.split",
                                f"CMPP long messages use a UDH (udh8 or udh16), not {ch.split}")
    bad = [e for e in ch.encodings if e not in ("ascii", "ucs2", "gb18030")]
    if bad:
        raise EngineConfigError(f"{where}.encodings",
                                f"CMPP sends ascii (Msg_Fmt 0), ucs2 (8) or gb18030 (15), not "
                                f"{', '.join(bad)}")


def _check_ascii_widths(ch: ChannelConfig, where: str, protocol: str,
                        widths: tuple[tuple[str, int], ...]) -> None:
    for field, width in widths:
        value = getattr(ch, field)
        if len(value) > width or not value.isascii():
            raise EngineConfigError(
                f"{where}.{field}",
                f"{protocol} allows at most {width} ASCII characters, got {value!r}")


def _check_one_connection_kind(ch: ChannelConfig, where: str, protocol: str) -> None:
    if ch.transmitters or ch.receivers:
        raise EngineConfigError(f"{where}.transmitters",
                                f"{protocol} connections: use transceivers")
    if ch.split not in ("udh8", "udh16"):
        raise EngineConfigError(f"{where}.split",
                                f"{protocol} long messages use a UDH (udh8 or udh16), not "
                                f"{ch.split}")


def _check_sgip(ch: ChannelConfig, where: str) -> None:
    """SGIP 1.2 field sizes (Bind, Submit): refused here, not at the first Submit."""
    _check_ascii_widths(ch, where, "SGIP", (
        ("system_id", 16), ("password", 16), ("default_source", 21), ("service_id", 10),
        ("corp_id", 5)))
    if not ch.system_id:
        raise EngineConfigError(f"{where}.system_id", "SGIP needs the Bind's Login Name")
    if ch.corp_id and not ch.corp_id.isdigit():
        raise EngineConfigError(f"{where}.corp_id", "the CorpId is 5 digits")
    if not 0 <= ch.sgip_node_id <= 0xFFFFFFFF:
        raise EngineConfigError(f"{where}.sgip_node_id", "must fit 32 bits")
    if not ch.fee_type.isdigit() or not 0 <= int(ch.fee_type) <= 4:
        raise EngineConfigError(f"{where}.fee_type", "SGIP FeeType is 0-4")
    if not 0 <= ch.listen_port < 65536:
        raise EngineConfigError(f"{where}.listen_port", f"{ch.listen_port} is not a TCP port")
    if not math.isfinite(ch.idle_close) or ch.idle_close <= 0:
        raise EngineConfigError(f"{where}.idle_close", f"must be > 0, got {ch.idle_close}")
    _check_one_connection_kind(ch, where, "SGIP")
    bad = [e for e in ch.encodings if e not in ("ascii", "ucs2", "gb18030")]
    if bad:
        raise EngineConfigError(f"{where}.encodings",
                                f"SGIP sends ascii (MessageCoding 0), ucs2 (8) or gb18030 "
                                f"(15), not {', '.join(bad)}")


def _check_smgp(ch: ChannelConfig, where: str) -> None:
    """SMGP 3.0 field sizes (Login, Submit; spec sections 4.1, 4.3): refused here, not at the
    first Submit. The shared secret is at most 15 octets."""
    _check_ascii_widths(ch, where, "SMGP", (
        ("system_id", 8), ("password", 15), ("default_source", 21), ("service_id", 10),
        ("fee_type", 2), ("fee_code", 6), ("fixed_fee", 6), ("msg_src", 8)))
    if not ch.system_id:
        raise EngineConfigError(f"{where}.system_id", "SMGP needs the Login ClientID")
    if not 0 <= ch.fee_user_type <= 3:
        raise EngineConfigError(f"{where}.fee_user_type", "must be 0-3")
    _check_one_connection_kind(ch, where, "SMGP")
    bad = [e for e in ch.encodings if e not in ("ascii", "ucs2", "gb18030")]
    if bad:
        raise EngineConfigError(f"{where}.encodings",
                                f"SMGP sends ascii (MsgFormat 0), ucs2 (8) or gb18030 (15), "
                                f"not {', '.join(bad)}")


def engine_config_from_dict(data: dict[str, object], *,
                            base: str | Path | None = None) -> EngineConfig:
    """Validate a config given as plain data (the TOML structure). A route's ``prefix_file``
    is read relative to ``base`` (default: the working directory)."""
    data = _secrets_from_env(data)
    _require_passwords(data)
    data = _read_prefix_files(data, Path(base) if base is not None else Path())
    if base is not None:
        data = _resolve_tls_files(data, Path(base))
    try:
        return msgspec.convert(data, EngineConfig)
    except msgspec.ValidationError as exc:
        raise _named(exc) from None


def load_engine_config(path: str | Path) -> EngineConfig:
    where = str(path)
    try:
        data = msgspec.toml.decode(Path(path).read_bytes())
    except msgspec.DecodeError as exc:
        raise EngineConfigError(where, f"not valid TOML: {exc}") from None
    except RecursionError:  # the TOML parser recurses per level (issue 21, fuzzing)
        raise EngineConfigError(where, "arrays or tables nested too deeply to read") from None
    data = _secrets_from_env(data, where)
    _require_passwords(data, where)
    data = _read_prefix_files(data, Path(path).parent, where)
    data = _resolve_tls_files(data, Path(path).parent)
    try:
        return msgspec.convert(data, EngineConfig)
    except msgspec.ValidationError as exc:
        raise _named(exc, where) from None


def _read_prefix_files(data: object, base: Path, where: str = "") -> Any:
    """The data with each route that names a ``prefix_file`` and ``carrier`` given that
    carrier's prefixes (added to its own). The caller's data is not changed; anything of the
    wrong type is left to the conversion to report."""
    routes = data.get("routes") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(routes, list):
        return data
    prefix = f"{where}: " if where else ""
    tables: dict[Path, PrefixTable] = {}
    expanded: list[object] = []
    for i, route in enumerate(routes):
        file = route.get("prefix_file") if isinstance(route, dict) else None
        if not (isinstance(route, dict) and file and isinstance(file, str)):
            expanded.append(route)
            continue
        path = base / file
        try:
            table = tables[path] if path in tables else load_prefix_table(path)
        except PrefixTableError as exc:
            raise EngineConfigError(f"routes[{i}].prefix_file", prefix + str(exc)) from None
        tables[path] = table
        carrier = route.get("carrier")
        if not isinstance(carrier, str) or carrier not in table.carriers:
            raise EngineConfigError(f"routes[{i}].carrier",
                                    f"{prefix}{carrier!r} is not a carrier of {path}: "
                                    f"{', '.join(table.carriers)}")
        own, national = route.get("prefixes", []), route.get("national_prefixes", [])
        if not (isinstance(own, list) and isinstance(national, list)):
            expanded.append(route)
            continue
        expanded.append({**route, "prefixes": own + table.prefixes(carrier),
                         "national_prefixes": national + table.national_prefixes(carrier)})
    return {**data, "routes": expanded}


def _resolve_tls_files(data: object, base: Path) -> Any:
    """The data with each channel's relative TLS file paths made relative to ``base`` (the
    config file's folder), like a route's prefix_file. Anything of the wrong type is left to
    the conversion to report; the caller's data is not changed."""
    channels = data.get("channels") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(channels, list):
        return data
    resolved: list[object] = []
    for ch in channels:
        if isinstance(ch, dict):
            ch = {**ch, **{field: str(base / ch[field]) for field in
                           ("tls_ca", "tls_cert", "tls_key")
                           if isinstance(ch.get(field), str) and ch[field]}}
        resolved.append(ch)
    return {**data, "channels": resolved}


#: A channel's secrets that may be read from the environment instead: ``password_env =
#: "VAR"`` in place of ``password``, ``tls_key_password_env`` in place of ``tls_key_password``.
_ENV_SECRETS: Final = ("password", "tls_key_password")


def _secrets_from_env(data: object, where: str = "") -> Any:
    """The data with each channel's ``<secret>_env`` replaced by the secret it names (read
    from the environment now, so a missing variable is refused at load, naming the field).
    The caller's data is not changed; anything of the wrong type is left to the conversion."""
    channels = data.get("channels") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(channels, list):
        return data
    prefix = f"{where}: " if where else ""
    resolved: list[object] = []
    for i, ch in enumerate(channels):
        if isinstance(ch, dict) and any(f"{name}_env" in ch for name in _ENV_SECRETS):
            ch = dict(ch)
            for name in _ENV_SECRETS:
                if f"{name}_env" not in ch:
                    continue
                field = f"channels[{i}].{name}_env"
                variable = ch.pop(f"{name}_env")
                if name in ch:
                    raise EngineConfigError(field, f"{prefix}give {name} or {name}_env, not both")
                if not isinstance(variable, str) or not variable:
                    raise EngineConfigError(field, f"{prefix}the name of an environment "
                                                   "variable, a non-empty string")
                if variable not in os.environ:
                    raise EngineConfigError(field, f"{prefix}the environment variable "
                                                   f"{variable!r} is not set")
                ch[name] = os.environ[variable]
        resolved.append(ch)
    return {**data, "channels": resolved}


def _require_passwords(data: object, where: str = "") -> None:
    """A channel that does not set its password is refused here, naming the field (msgspec
    would name only the channel): a forgotten password must not load and then fail at the bind
    like a wrong one. Anything else wrong in the data is left to the conversion to report."""
    channels = data.get("channels") if isinstance(data, dict) else None
    if not isinstance(channels, list):
        return
    for i, ch in enumerate(channels):
        if isinstance(ch, dict) and "password" not in ch:
            prefix = f"{where}: " if where else ""
            raise EngineConfigError(
                f"channels[{i}].password",
                prefix + "missing: write the account's password (for CMPP the shared secret), "
                'password_env = "VARIABLE" to read it from the environment, or password = "" if '
                "it has none")


def _named(exc: msgspec.ValidationError, where: str = "") -> EngineConfigError:
    """The error naming the field once: msgspec wraps an EngineConfigError raised by ``_check``
    (whose text already starts with the field) and appends the path of a type error."""
    prefix = f"{where}: " if where else ""
    cause = exc.__cause__
    if isinstance(cause, EngineConfigError):
        return EngineConfigError(cause.field, prefix + cause.message)
    return EngineConfigError(_path(str(exc)), prefix + str(exc))


def _path(message: str) -> str:
    found = re.search(r"at `\$\.?([^`]*)`", message)
    if found:
        return found.group(1) or "config"
    found = re.match(r"([\w\[\]\.]+): ", message)
    return found.group(1) if found else "config"
