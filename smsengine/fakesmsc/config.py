"""Configuration of the fake SMSC: TOML, validated by msgspec.

A bad field is reported with its path (``$.accounts[0].tps``) and what was expected; checks that
types cannot express (a rate above 1, an unknown status name) raise :class:`ConfigError` naming
the field too.

Example::

    max_connections = 64
    max_connections_per_address = 16
    pre_bind_timeout = 10.0
    message_id_style = "hex"

    [[accounts]]
    system_id = "shop"
    password = "secret"
    bind_modes = ["transceiver"]
    max_binds = 2
    tps = 100
    window = 50

    [receipts]
    delay = { kind = "uniform", low = 0.05, high = 0.5 }
    statuses = { DELIVRD = 0.9, UNDELIV = 0.1 }
    profile = "standard"

The same file drives the fake CMPP ISMG with ``protocol = "cmpp"``: an account's ``system_id`` is
then the CONNECT Source_Addr (at most 6 characters) and its ``password`` the shared secret;
``errors`` names SUBMIT_RESP Results (``SERVICE_ID_ERROR = 0.01``, or a number such as
``"101" = 0.01`` for a vendor code) and a throttled SUBMIT gets Result 8 (flow control)::

    protocol = "cmpp"

    [cmpp]
    version = "3.0"
    gateway_code = 1001
    short_reports = false          # true: 60-octet status reports on 3.0 connections too
    active_test_interval = 180.0   # idle seconds before the ISMG sends ACTIVE_TEST; 0 = never

    [[accounts]]
    system_id = "900001"
    password = "888888"
    tps = 100
"""

from __future__ import annotations

import math
import re
import ssl
from pathlib import Path
from typing import Literal

import msgspec

from ..bind.tls import TlsFileError, server_context
from ..cmpp import SubmitResult
from ..smpp import CommandStatus

__all__ = [
    "Account",
    "CmppConfig",
    "Config",
    "ConfigError",
    "Delay",
    "FaultSchedule",
    "ReceiptConfig",
    "SgipConfig",
    "SmgpConfig",
    "cmpp_result_code",
    "config_from_dict",
    "load_config",
    "result_code",
]

BindMode = Literal["transmitter", "receiver", "transceiver"]
IdStyle = Literal["decimal", "hex", "HEX", "uuid"]
ReceiptProfile = Literal["standard", "upper", "long_dates", "other_base"]
ThrottleStatus = Literal["ESME_RTHROTTLED", "ESME_RMSGQFUL"]
Protocol = Literal["smpp", "cmpp", "sgip", "smgp"]
CmppVersionName = Literal["3.0", "2.0"]

RECEIPT_STATS = ("DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "ACCEPTD", "UNKNOWN", "DELETED")


class ConfigError(ValueError):
    """A configuration value is wrong; ``field`` names it."""

    retriable = False

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Delay(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A random delay in seconds: fixed ``value``, uniform ``low``..``high``, or lognormal with
    ``median`` and ``sigma`` (capped at ``high`` when that is set)."""

    kind: Literal["fixed", "uniform", "lognormal"] = "fixed"
    value: float = 0.0
    low: float = 0.0
    high: float = 0.0
    median: float = 0.0
    sigma: float = 0.5

    def check(self, field: str) -> None:
        for name in ("value", "low", "high", "median", "sigma"):
            number = getattr(self, name)
            if not math.isfinite(number) or number < 0:
                raise ConfigError(f"{field}.{name}", f"must be a finite number >= 0, got {number}")
        if self.kind == "uniform" and self.high < self.low:
            raise ConfigError(f"{field}.high", f"{self.high} is below low {self.low}")
        if self.kind == "lognormal" and self.median <= 0:
            raise ConfigError(f"{field}.median", "a lognormal delay needs median > 0")

    @property
    def is_zero(self) -> bool:
        return self.kind == "fixed" and self.value == 0.0


class Account(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One ESME account the SMSC accepts."""

    system_id: str
    password: str = ""
    bind_modes: list[BindMode] = msgspec.field(
        default_factory=lambda: ["transmitter", "receiver", "transceiver"]
    )
    max_binds: int = 4
    tps: float = 0.0  # 0 = unlimited; counted per account, in submit_sm per second
    window: int = 0  # 0 = unlimited; unanswered requests allowed per bind
    throttle_status: ThrottleStatus = "ESME_RTHROTTLED"


class ReceiptConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Delivery receipts for submit_sm with registered_delivery set."""

    delay: Delay = Delay()
    statuses: dict[str, float] = msgspec.field(default_factory=lambda: {"DELIVRD": 1.0})
    err_codes: dict[str, str] = msgspec.field(default_factory=dict)  # stat -> err field
    tlvs: bool = True  # receipted_message_id and message_state TLVs
    profile: ReceiptProfile = "standard"
    retry_after: float = 5.0  # resend a deliver_sm nobody answered after this many seconds
    max_attempts: int = 3
    max_pending: int = 1_000_000  # receipts waiting for their time or for a receiver bind


class FaultSchedule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Faults that happen by themselves, for soak tests. 0 disables each."""

    drop_after_pdus: int = 0  # close each connection after it sent this many PDUs
    drop_every: float = 0.0  # close every connection every T seconds
    refuse_binds_for: float = 0.0  # from start, answer binds with ESME_RBINDFAIL this long


class SgipConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What only the SGIP SMG uses (``protocol = "sgip"``): its node id, and where and how it
    connects back to the SP to deliver Reports and MO (SGIP's second connection)."""

    node_id: int = 101001  # the SMG's node id (1AAAAX) in the Sequence Numbers it originates
    sp_host: str = "127.0.0.1"  # the SP's listener for the connection back
    sp_port: int = 0  # 0 = none configured (FakeSMG.connect_back can give one)
    login_name: str = ""  # the Bind back (Login Type 2); "" = the account's own system_id
    login_password: str = ""  # "" = the account's own password
    idle_close: float = 0.0  # Unbind a connection back idle this long; 0 = never


class CmppConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What only the CMPP ISMG uses (``protocol = "cmpp"``)."""

    version: CmppVersionName = "3.0"  # the highest version the ISMG speaks
    gateway_code: int = 1001  # the ISMG code in every Msg_Id (22 bits)
    short_reports: bool = False  # 60-octet (2.0-layout) status reports on 3.0 connections too
    active_test_interval: float = 180.0  # send ACTIVE_TEST after this long idle; 0 = never
    active_test_timeout: float = 60.0  # wait this long for its response before trying again
    active_test_max_misses: int = 3  # drop the connection after this many unanswered tests
    service_id: str = ""  # Service_Id of MO DELIVERs (reports copy the SUBMIT's)

    @property
    def version_octet(self) -> int:
        return 0x30 if self.version == "3.0" else 0x20


class SmgpConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What only the SMGP SMGW uses (``protocol = "smgp"``)."""

    version: Literal["3.0", "2.0", "1.3"] = "3.0"  # the highest version the SMGW speaks
    smgw_code: str = "010061"  # the 6 digits (area, device type 06, index) of every MsgID
    report_style: Literal["spec", "smsgate"] = "spec"  # the 122-octet layout, or SMSGate's
    active_test_interval: float = 180.0  # send Active_Test after this long idle; 0 = never
    active_test_timeout: float = 60.0  # wait this long for its response before trying again
    active_test_max_misses: int = 3  # drop the connection after this many unanswered tests

    @property
    def version_octet(self) -> int:
        return {"3.0": 0x30, "2.0": 0x20, "1.3": 0x13}[self.version]


class Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The whole fake SMSC configuration. With no accounts it runs in open mode."""

    protocol: Protocol = "smpp"
    accounts: list[Account] = msgspec.field(default_factory=list)
    system_id: str = "fakesmsc"  # what bind_*_resp carries
    # Limits on clients (see smsengine.fakesmsc._common): at max_connections in all, or
    # max_connections_per_address from one address, a newcomer evicts the oldest connection
    # there that has not bound yet (refused only when all there are bound).
    max_connections: int = 256
    max_connections_per_address: int = 128
    pre_bind_timeout: float = 10.0  # close a connection not bound this long; 0 = never
    read_timeout: float = 10.0  # close one whose PDU has been incomplete this long; 0 = never
    max_pdu_length: int = 70_000
    output_buffer_limit: int = 4 * 1024 * 1024  # stop reading a client whose replies pile up
    message_id_style: IdStyle = "hex"
    latency: Delay = Delay()  # response latency model
    errors: dict[str, float] = msgspec.field(default_factory=dict)  # status name -> rate
    receipts: ReceiptConfig = ReceiptConfig()
    faults: FaultSchedule = FaultSchedule()
    ledger_limit: int = 2_000_000  # oldest entries are dropped (and counted) beyond this
    # The idle timeout: close a connection no whole PDU came from this long; 0 = never. Above
    # cmpp.active_test_interval, so that a CMPP client answering ACTIVE_TEST stays.
    enquire_link_timeout: float = 300.0
    seed: int | None = None  # for reproducible random draws
    sgip: SgipConfig = SgipConfig()
    cmpp: CmppConfig = CmppConfig()
    smgp: SmgpConfig = SmgpConfig()
    # Serve TLS (issue 21): the certificate chain (PEM) and its key ("" = in tls_cert's file),
    # read when the config is checked; paths relative to the working directory. The
    # handshake must end within pre_bind_timeout.
    tls_cert: str = ""
    tls_key: str = ""

    def __post_init__(self) -> None:
        _check(self)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The context the server listens with (None without ``tls_cert``); raises
        TlsFileError (its ``field``: cert or key)."""
        if not self.tls_cert:
            return None
        return server_context(cert=self.tls_cert, key=self.tls_key)

    @property
    def open_mode(self) -> bool:
        return not self.accounts


def _positive(field: str, value: float, *, allow_zero: bool = True) -> None:
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(field, f"must be {'>= 0' if allow_zero else '> 0'}, got {value}")


def _rates(field: str, rates: dict[str, float], names: tuple[str, ...] | None) -> None:
    for name, rate in rates.items():
        if names is not None and name not in names:
            raise ConfigError(f"{field}.{name}", f"unknown; expected one of {', '.join(names)}")
        if not math.isfinite(rate) or not 0 <= rate <= 1:
            raise ConfigError(f"{field}.{name}", f"rate must be between 0 and 1, got {rate}")


def cmpp_result_code(name: str) -> int:
    """A CMPP SUBMIT_RESP Result named in ``errors``: a SubmitResult name or a number 1..255
    (vendor codes 100-199 have no names). ValueError for anything else."""
    if name.isdigit() and 1 <= int(name) <= 255:
        return int(name)
    try:
        code = SubmitResult[name]
    except KeyError:
        raise ValueError(name) from None
    if code == SubmitResult.OK:
        raise ValueError(name)
    return int(code)


#: SGIP and SMGP: the widths of an account's name and secret, and what the name is.
_LOGIN_WIDTHS: dict[str, tuple[int, int, str]] = {
    "sgip": (16, 16, "SGIP Bind Login Name"),
    "smgp": (8, 15, "SMGP Login ClientID"),
}


def result_code(protocol: str, name: str) -> int:
    """An SGIP Result or SMGP Status named in ``errors``: the protocol's status enum name or a
    number 1..255. ValueError for anything else (and for success)."""
    if name.isdigit() and 1 <= int(name) <= 255:
        return int(name)
    if protocol == "sgip":
        from ..sgip import Result as table
    else:
        from ..smgp import Status as table  # type: ignore[assignment]
    try:
        code = int(table[name])
    except KeyError:
        raise ValueError(name) from None
    if code == 0:
        raise ValueError(name)
    return code


def _check_account_names(cfg: Config, where: str, acct: Account) -> None:
    if cfg.protocol == "cmpp":
        if not acct.system_id or len(acct.system_id) > 6 or not acct.system_id.isascii():
            raise ConfigError(f"{where}.system_id",
                              "must be 1..6 ASCII characters (CMPP Source_Addr)")
        if len(acct.password) > 64 or not acct.password.isascii():
            raise ConfigError(f"{where}.password", "at most 64 ASCII characters (CMPP secret)")
        return
    if cfg.protocol in _LOGIN_WIDTHS:
        name_width, secret_width, what = _LOGIN_WIDTHS[cfg.protocol]
        if (not acct.system_id or len(acct.system_id) > name_width
                or not acct.system_id.isascii()):
            raise ConfigError(f"{where}.system_id",
                              f"must be 1..{name_width} ASCII characters ({what})")
        if len(acct.password) > secret_width or not acct.password.isascii():
            raise ConfigError(f"{where}.password",
                              f"at most {secret_width} ASCII characters")
        return
    if not acct.system_id or len(acct.system_id) > 15:
        raise ConfigError(f"{where}.system_id", "must be 1..15 characters (SMPP C-string 16)")
    if len(acct.password) > 8:
        raise ConfigError(f"{where}.password", "at most 8 characters (SMPP C-string 9)")


def _check_cmpp(cfg: Config) -> None:
    c = cfg.cmpp
    if not 0 <= c.gateway_code < 1 << 22:
        raise ConfigError("cmpp.gateway_code", f"must be 0..{(1 << 22) - 1}, got {c.gateway_code}")
    _positive("cmpp.active_test_interval", c.active_test_interval)
    _positive("cmpp.active_test_timeout", c.active_test_timeout, allow_zero=False)
    if c.active_test_max_misses < 1:
        raise ConfigError("cmpp.active_test_max_misses", "must be >= 1")
    if len(c.service_id) > 10 or not c.service_id.isascii():
        raise ConfigError("cmpp.service_id", "at most 10 ASCII characters")


def _check_smgp(cfg: Config) -> None:
    c = cfg.smgp
    if len(c.smgw_code) != 6 or not (c.smgw_code.isdigit() and c.smgw_code.isascii()):
        raise ConfigError("smgp.smgw_code", f"must be 6 digits, got {c.smgw_code!r}")
    _positive("smgp.active_test_interval", c.active_test_interval)
    _positive("smgp.active_test_timeout", c.active_test_timeout, allow_zero=False)
    if c.active_test_max_misses < 1:
        raise ConfigError("smgp.active_test_max_misses", "must be >= 1")


def _check_sgip(cfg: Config) -> None:
    c = cfg.sgip
    if not 0 <= c.node_id <= 0xFFFFFFFF:
        raise ConfigError("sgip.node_id", "must fit 32 bits")
    if not 0 <= c.sp_port < 65536:
        raise ConfigError("sgip.sp_port", f"{c.sp_port} is not a TCP port")
    for name in ("login_name", "login_password"):
        value = getattr(c, name)
        if len(value) > 16 or not value.isascii():
            raise ConfigError(f"sgip.{name}", "at most 16 ASCII characters")
    _positive("sgip.idle_close", c.idle_close)


def _check(cfg: Config) -> None:
    seen: set[str] = set()
    for i, acct in enumerate(cfg.accounts):
        where = f"accounts[{i}]"
        _check_account_names(cfg, where, acct)
        if acct.system_id in seen:
            raise ConfigError(f"{where}.system_id", f"{acct.system_id!r} is listed twice")
        seen.add(acct.system_id)
        if not acct.bind_modes:
            raise ConfigError(f"{where}.bind_modes", "allow at least one bind mode")
        if acct.max_binds < 1:
            raise ConfigError(f"{where}.max_binds", f"must be >= 1, got {acct.max_binds}")
        _positive(f"{where}.tps", acct.tps)
        if acct.window < 0:
            raise ConfigError(f"{where}.window", f"must be >= 0, got {acct.window}")
    if len(cfg.system_id) > 15:
        raise ConfigError("system_id", "at most 15 characters (SMPP C-string 16)")
    if cfg.max_connections < 1:
        raise ConfigError("max_connections", f"must be >= 1, got {cfg.max_connections}")
    if cfg.max_connections_per_address < 1:
        raise ConfigError("max_connections_per_address",
                          f"must be >= 1, got {cfg.max_connections_per_address}")
    if not 16 <= cfg.max_pdu_length <= 16 * 1024 * 1024:
        raise ConfigError("max_pdu_length", f"must be 16..16777216, got {cfg.max_pdu_length}")
    if cfg.output_buffer_limit < 1024:
        raise ConfigError("output_buffer_limit", "must be at least 1024 octets")
    if cfg.ledger_limit < 1:
        raise ConfigError("ledger_limit", "must be >= 1")
    cfg.latency.check("latency")
    cfg.receipts.delay.check("receipts.delay")
    if cfg.protocol == "sgip":
        _check_sgip(cfg)
    if cfg.protocol == "smgp":
        _check_smgp(cfg)
    if cfg.protocol == "cmpp":
        _check_cmpp(cfg)
        for name in cfg.errors:
            try:
                cmpp_result_code(name)
            except ValueError:
                raise ConfigError(
                    f"errors.{name}", "not a CMPP SUBMIT_RESP Result: give a SubmitResult name "
                    "(e.g. SERVICE_ID_ERROR) or a number 1..255") from None
        _rates("errors", cfg.errors, None)
    elif cfg.protocol in _LOGIN_WIDTHS:
        for name in cfg.errors:
            try:
                result_code(cfg.protocol, name)
            except ValueError:
                raise ConfigError(
                    f"errors.{name}", f"not a {cfg.protocol.upper()} response status: give "
                    "its name or a number 1..255") from None
        _rates("errors", cfg.errors, None)
    else:
        status_names = tuple(s.name for s in CommandStatus if s != CommandStatus.ESME_ROK)
        _rates("errors", cfg.errors, status_names)
    if sum(cfg.errors.values()) > 1:
        raise ConfigError("errors", "the rates add up to more than 1")
    _rates("receipts.statuses", cfg.receipts.statuses, RECEIPT_STATS)
    if not cfg.receipts.statuses or sum(cfg.receipts.statuses.values()) <= 0:
        raise ConfigError("receipts.statuses", "give at least one status a weight above 0")
    for stat in cfg.receipts.err_codes:
        if stat not in RECEIPT_STATS:
            raise ConfigError(f"receipts.err_codes.{stat}", "not a receipt status")
    _positive("receipts.retry_after", cfg.receipts.retry_after, allow_zero=False)
    if cfg.receipts.max_attempts < 1:
        raise ConfigError("receipts.max_attempts", "must be >= 1")
    if cfg.receipts.max_pending < 1:
        raise ConfigError("receipts.max_pending", "must be >= 1")
    _positive("faults.drop_every", cfg.faults.drop_every)
    _positive("faults.refuse_binds_for", cfg.faults.refuse_binds_for)
    if cfg.faults.drop_after_pdus < 0:
        raise ConfigError("faults.drop_after_pdus", "must be >= 0")
    _positive("enquire_link_timeout", cfg.enquire_link_timeout)
    _positive("pre_bind_timeout", cfg.pre_bind_timeout)
    _positive("read_timeout", cfg.read_timeout)
    if cfg.tls_key and not cfg.tls_cert:
        raise ConfigError("tls_key", "a key without its certificate: give tls_cert too")
    try:
        cfg.ssl_context()
    except TlsFileError as exc:
        raise ConfigError(f"tls_{exc.field}", exc.message) from None


_AT_PATH = re.compile(r" - at `\$\.?([^`]*)`$")


def _named(exc: msgspec.ValidationError, where: str = "") -> ConfigError:
    """The ConfigError for a msgspec error, with ``field`` naming the field either way: msgspec
    wraps a ConfigError raised by ``_check`` (it is a ValueError) and puts the path of a type
    error (``$.accounts[0].tps``) at the end of its message."""
    prefix = f"{where}: " if where else ""
    if isinstance(exc.__cause__, ConfigError):
        return ConfigError(exc.__cause__.field, prefix + exc.__cause__.message)
    found = _AT_PATH.search(str(exc))
    return ConfigError(found.group(1) if found and found.group(1) else "config",
                       prefix + str(exc))


def config_from_dict(data: dict[str, object]) -> Config:
    """Validate a config given as plain data (the TOML structure), e.g. in tests."""
    try:
        return msgspec.convert(data, Config)
    except msgspec.ValidationError as exc:
        raise _named(exc) from None


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config; errors name the file and the field."""
    data = Path(path).read_bytes()
    try:
        return msgspec.toml.decode(data, type=Config)
    except msgspec.ValidationError as exc:
        raise _named(exc, str(path)) from None
    except msgspec.DecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}") from None
    except RecursionError:  # the TOML parser recurses per level (issue 21, fuzzing)
        raise ConfigError(str(path), "arrays or tables nested too deeply to read") from None
