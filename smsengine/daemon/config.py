"""The daemon's configuration: one TOML file with the engine's channels and routes (every key
:class:`~smsengine.engine.EngineConfig` takes, at the top level) plus three sections of its own::

    [server]                 # the HTTP API
    host = "127.0.0.1"
    port = 8080

    [store]                  # the outbox (and the engine's receipt correlation and opt-outs)
    path = "smsengine.db"
    synchronous = "normal"

    [[api_keys]]
    name = "shop"
    key_env = "SMSENGINE_SHOP_KEY"   # or key = "…" (kept out of logs, errors and reprs)
    scopes = ["send", "read"]

A bad value is reported with its path (``server.port``, ``api_keys[1].key_env``); a key's value
never appears in an error or a repr.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Any, Literal

import msgspec

from ..cluster import ClusterConfig, ClusterConfigError
from ..engine import EngineConfig, EngineConfigError, engine_config_from_dict
from ..policy import DEFAULT_OPTOUT_SUFFIX, DEFAULT_RULES, CapRule, QuietHours, QuietHoursError
from .webhooks import EVENT_TYPES, WebhookConfig, secret_key

__all__ = [
    "ApiKeyConfig",
    "DaemonConfig",
    "DaemonConfigError",
    "PolicyConfig",
    "QuietHoursConfig",
    "Scope",
    "ServerConfig",
    "StoreConfig",
    "daemon_config_from_dict",
    "load_daemon_config",
]

Scope = Literal["send", "read", "admin"]
_MIN_KEY = 16  # characters: a shorter key is guessable


class DaemonConfigError(ValueError):
    """A configuration value is wrong; ``field`` names it."""

    retriable = False

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ServerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8080
    max_body: int = 1_048_576  # bytes of a request body; more is 413
    max_batch: int = 1000  # messages in one POST /v1/messages; more is 413
    # On SIGTERM: seconds to let in-flight requests finish, then to let submits in flight get
    # their answers; what is still queued stays in the outbox for the next start.
    shutdown_timeout: float = 10.0
    idempotency_ttl: float = 86400.0  # seconds an Idempotency-Key's first answer is kept
    page_size: int = 100  # GET /v1/messages: default (and maximum: 10 times this) page
    # Limits on the HTTP port (smsengine.daemon.limits; docs/reliability.md), so idle, slow
    # and oversized clients cannot shut the others out or grow the daemon's memory.
    header_timeout: float = 10.0  # seconds from connect (or a request's first byte) to its
    #                               whole head; then 408 and the connection closes
    keepalive_timeout: float = 75.0  # seconds an idle keep-alive connection is kept
    read_timeout: float = 30.0  # seconds without a byte of a body being read; then 408
    max_header_bytes: int = 16384  # a request's head (request line and headers); more is 431
    max_connections: int = 4096  # open at once; when full, the longest idle one is closed
    max_connections_per_address: int = 256  # from one client address; more are closed
    # HTTPS: a PEM certificate chain and its private key (both, or neither for plain HTTP).
    tls_cert: str = ""
    tls_key: str = ""


class StoreConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    path: str = "smsengine.db"
    # What a commit waits for. Every answer 202 comes after its messages' commit.
    #   "normal": the commit is in the WAL, not fsynced: it survives a crash of the daemon
    #             (kill -9, OOM) but an OS crash or power cut may lose the last commits before
    #             a checkpoint (accepted messages lost; messages sent may be sent again).
    #   "full":   fsync per commit (one per loop tick, shared by every request in it): survives
    #             a power cut too; costs an fsync per tick.
    #   "off":    nothing is fsynced, not even checkpoints: a power cut may corrupt the file.
    synchronous: Literal["off", "normal", "full"] = "normal"
    # Messages accepted and not final (queued, scheduled, with a carrier); past it, new
    # requests get 503 with Retry-After.
    max_outbox: int = 1_000_000
    # Messages of one kind handed to the engine ahead of the carrier (its lane's capacity);
    # the rest wait in the outbox, so an OTP never queues behind a campaign in memory.
    feed_ahead: int = 20_000
    retention: float = 7 * 86400.0  # seconds a final message stays queryable
    # The zone of the daily statistics (GET /v1/stats?group_by=day): the operators' own; a
    # query by day in another zone is answered too, from the hourly sums (slower).
    stats_tz: str = "UTC"


class EventsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The event log behind GET /v1/events and the webhooks."""

    # Event types recorded for GET /v1/events (patterns; each webhook's types are recorded
    # too). Default: every final state and MO, not message.submitted (one more per message).
    record: list[str] = msgspec.field(
        default_factory=lambda: [t for t in EVENT_TYPES if t != "message.submitted"])
    retention: float = 7 * 86400.0  # seconds an event delivered everywhere is kept
    max_events: int = 10_000_000  # past it the oldest go (dead-lettered if still owed)


class ApiKeyConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    key: str = ""
    key_env: str = ""  # the environment variable holding the key, instead of ``key``
    scopes: list[Scope] = msgspec.field(default_factory=lambda: ["send", "read"])
    # The shop's signature (【ShopCN】, brackets optional) put on this key's messages that
    # carry none (a template's own sign name comes first); placed as sign_placement says
    # (default: [policy] sign_placement).
    sign_name: str = ""
    sign_placement: Literal["prefix", "suffix"] | None = None

    def __repr__(self) -> str:  # (msgspec's would print the key)
        return (f"ApiKeyConfig(name={self.name!r}, key={'<redacted>' if self.key else ''!r}, "
                f"key_env={self.key_env!r}, scopes={self.scopes!r}, "
                f"sign_name={self.sign_name!r})")

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return [("name", self.name), ("key", "<redacted>" if self.key else ""),
                ("key_env", self.key_env), ("scopes", self.scopes),
                ("sign_name", self.sign_name)]


class QuietHoursConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """[policy.quiet_hours]: marketing accepted inside the window is held until its end."""

    enabled: bool = True
    start: str = "21:00"
    end: str = "08:00"
    zone: str = "Asia/Shanghai"
    kinds: list[str] = msgspec.field(default_factory=lambda: ["marketing"])

    def build(self) -> QuietHours | None:
        if not self.enabled:
            return None
        return QuietHours(self.start, self.end, self.zone, kinds=self.kinds)


def _default_caps() -> dict[str, list[CapRule]]:
    return {kind: list(rules) for kind, rules in DEFAULT_RULES.items()}


class PolicyConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """[policy]: signatures, the opt-out suffix, frequency caps, quiet hours, campaigns.

    Caps are rules per kind, each ``[window_seconds, limit]``: ``caps`` per destination
    number (default: otp 1 a minute, 5 an hour, 10 a day; a kind given replaces its default,
    ``otp = []`` turns the otp caps off), ``api_key_caps`` per API key and ``source_ip_caps``
    per client address (none by default)."""

    sign_placement: Literal["prefix", "suffix"] = "prefix"
    optout_suffix: str = DEFAULT_OPTOUT_SUFFIX  # "" for none
    caps: dict[str, list[CapRule]] = msgspec.field(default_factory=dict)
    api_key_caps: dict[str, list[CapRule]] = msgspec.field(default_factory=dict)
    source_ip_caps: dict[str, list[CapRule]] = msgspec.field(default_factory=dict)
    quiet_hours: QuietHoursConfig = QuietHoursConfig()
    # Codes (secret params) rendered and waiting to be handed to the engine, kept in memory
    # only; past it a send with a secret gets 503 with Retry-After.
    max_secrets: int = 100_000
    campaign_rows: int = 1_000_000  # recipients of one campaign; more rows are refused

    def number_caps(self) -> dict[str, list[CapRule]]:
        return {**_default_caps(), **self.caps}


class DaemonConfig(msgspec.Struct, frozen=True):
    engine: EngineConfig
    server: ServerConfig = ServerConfig()
    store: StoreConfig = StoreConfig()
    api_keys: list[ApiKeyConfig] = msgspec.field(default_factory=list)
    events: EventsConfig = EventsConfig()
    webhooks: list[WebhookConfig] = msgspec.field(default_factory=list)
    policy: PolicyConfig = PolicyConfig()
    # [cluster]: a node of several sharing one Redis (docs/scale-out.md); None = single-node.
    cluster: ClusterConfig | None = None

    def recorded_events(self) -> frozenset[str]:
        """The event types the log keeps: [events] record and every webhook's."""
        patterns = [*self.events.record, *(p for w in self.webhooks for p in w.events)]
        return frozenset(t for t in EVENT_TYPES
                         if any(fnmatch.fnmatchcase(t, p) for p in patterns))

    def webhook_keys(self) -> list[list[bytes]]:
        """Each webhook's signing keys (from its secrets or its environment variable)."""
        out = []
        for i, hook in enumerate(self.webhooks):
            secrets = list(hook.secrets)
            if hook.secret_env:
                value = os.environ.get(hook.secret_env, "")
                if not value:
                    raise DaemonConfigError(f"webhooks[{i}].secret_env",
                                            f"the environment variable {hook.secret_env!r} is "
                                            "not set")
                secrets = value.split()
            keys = []
            for j, secret in enumerate(secrets):
                try:
                    keys.append(secret_key(secret))
                except ValueError as exc:
                    where = (f"webhooks[{i}].secret_env" if hook.secret_env
                             else f"webhooks[{i}].secrets[{j}]")
                    raise DaemonConfigError(where, str(exc)) from None
            out.append(keys)
        return out

    def keys(self) -> dict[str, ApiKeyConfig]:
        """Each key's value (from the file or its environment variable) -> its config."""
        found: dict[str, ApiKeyConfig] = {}
        for i, cfg in enumerate(self.api_keys):
            value = cfg.key or os.environ.get(cfg.key_env, "")
            if not value:
                raise DaemonConfigError(f"api_keys[{i}].key_env",
                                        f"the environment variable {cfg.key_env!r} is not set")
            if len(value) < _MIN_KEY:
                raise DaemonConfigError(f"api_keys[{i}]",
                                        f"the key is shorter than {_MIN_KEY} characters")
            if value in found:
                raise DaemonConfigError(f"api_keys[{i}]", "the same key as another entry")
            found[value] = cfg
        return found


_SECTIONS: dict[str, type[msgspec.Struct]] = {"server": ServerConfig, "store": StoreConfig,
                                               "events": EventsConfig, "policy": PolicyConfig}


def daemon_config_from_dict(data: dict[str, Any], where: str = "", *,
                            base: str | Path | None = None) -> DaemonConfig:
    """Validate the daemon's config given as plain data (the TOML structure)."""
    prefix = f"{where}: " if where else ""
    data = dict(data)
    sections: dict[str, Any] = {}
    for name, kind in _SECTIONS.items():
        raw = data.pop(name, {})
        if not isinstance(raw, dict):
            raise DaemonConfigError(name, f"{prefix}must be a table ([{name}])")
        try:
            sections[name] = msgspec.convert(raw, kind)
        except msgspec.ValidationError as exc:
            raise DaemonConfigError(_field(name, exc), prefix + str(exc)) from None
    raw_keys = data.pop("api_keys", [])
    try:
        keys = msgspec.convert(raw_keys, list[ApiKeyConfig])
    except msgspec.ValidationError as exc:
        raise DaemonConfigError(_field("api_keys", exc), prefix + str(exc)) from None
    raw_hooks = data.pop("webhooks", [])
    try:
        hooks = msgspec.convert(raw_hooks, list[WebhookConfig])
    except msgspec.ValidationError as exc:
        raise DaemonConfigError(_field("webhooks", exc), prefix + str(exc)) from None
    cluster = _cluster(data.pop("cluster", None), prefix)
    _check(sections["server"], sections["store"], keys, prefix)
    server = sections["server"]
    if base is not None and server.tls_cert:  # (relative paths: beside the config file)
        sections["server"] = msgspec.structs.replace(
            server, tls_cert=str(Path(base) / server.tls_cert),
            tls_key=str(Path(base) / server.tls_key))
    _check_webhooks(hooks, sections["events"], prefix)
    _check_policy(sections["policy"], keys, prefix)
    data["store"] = sections["store"].path
    data.setdefault("lane_capacity", sections["store"].feed_ahead)
    try:
        engine = engine_config_from_dict(data, base=base)  # (a route's prefix_file: from base)
    except EngineConfigError as exc:
        raise DaemonConfigError(exc.field, prefix + exc.message) from None
    config = DaemonConfig(engine=engine, server=sections["server"], store=sections["store"],
                          api_keys=keys, events=sections["events"], webhooks=hooks,
                          policy=sections["policy"], cluster=cluster)
    _check_lanes(config, prefix)
    config.webhook_keys()  # (a bad secret is named now, not at the first delivery)
    return config


def load_daemon_config(path: str | Path) -> DaemonConfig:
    where = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DaemonConfigError(where, f"cannot be read ({exc.strerror})") from None
    try:
        data = msgspec.toml.decode(raw)
    except msgspec.DecodeError as exc:
        raise DaemonConfigError(where, f"not valid TOML: {exc}") from None
    except RecursionError:  # (found by the config fuzzing of issue 21)
        raise DaemonConfigError(where, "not valid TOML: nested too deeply") from None
    return daemon_config_from_dict(data, where, base=Path(path).parent)


def _cluster(raw: Any, prefix: str) -> ClusterConfig | None:
    """``[cluster]``, if there is one (its checks name the field: ``cluster.lease_ttl``)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise DaemonConfigError("cluster", f"{prefix}must be a table ([cluster])")
    if "redis_url_env" in raw:  # (the URL, which may hold a password, from the environment)
        raw = dict(raw)
        variable = raw.pop("redis_url_env")
        if "redis_url" in raw:
            raise DaemonConfigError("cluster.redis_url_env",
                                    f"{prefix}give redis_url or redis_url_env, not both")
        if not isinstance(variable, str) or not os.environ.get(variable):
            raise DaemonConfigError("cluster.redis_url_env",
                                    f"{prefix}the environment variable {variable!r} is not set")
        raw["redis_url"] = os.environ[variable]
    try:
        return msgspec.convert(raw, ClusterConfig)
    except ClusterConfigError as exc:
        raise DaemonConfigError(f"cluster.{exc.field}", prefix + exc.message) from None
    except msgspec.ValidationError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ClusterConfigError):
            raise DaemonConfigError(f"cluster.{cause.field}", prefix + cause.message) from None
        raise DaemonConfigError(_field("cluster", exc), prefix + str(exc)) from None


def _field(section: str, exc: msgspec.ValidationError) -> str:
    text = str(exc)
    marker = "at `$"
    if marker in text:
        rest = text.split(marker, 1)[1].split("`", 1)[0]
        return section + rest.replace("$", "")
    return section


def _check_webhooks(hooks: list[WebhookConfig], events: EventsConfig, prefix: str) -> None:
    names: set[str] = set()
    for i, hook in enumerate(hooks):
        where = f"webhooks[{i}]"
        if not hook.name or hook.name in names:
            raise DaemonConfigError(f"{where}.name",
                                    f"{prefix}must be unique and non-empty: {hook.name!r}")
        names.add(hook.name)
        if not hook.url.startswith(("http://", "https://")):
            raise DaemonConfigError(f"{where}.url", f"{prefix}an http:// or https:// URL")
        if hook.secrets and hook.secret_env:
            raise DaemonConfigError(where, f"{prefix}give secrets or secret_env, not both")
        for field in ("batch", "concurrency"):
            if getattr(hook, field) < 1:
                raise DaemonConfigError(f"{where}.{field}", f"{prefix}must be >= 1")
        for field in ("timeout", "horizon", "retry_min", "retry_max"):
            if not getattr(hook, field) > 0:
                raise DaemonConfigError(f"{where}.{field}", f"{prefix}must be > 0")
        for j, pattern in enumerate(hook.events):
            if not any(fnmatch.fnmatchcase(t, pattern) for t in EVENT_TYPES):
                raise DaemonConfigError(f"{where}.events[{j}]",
                                        f"{prefix}{pattern!r} matches no event type "
                                        f"({', '.join(EVENT_TYPES)})")
    for j, pattern in enumerate(events.record):
        if not any(fnmatch.fnmatchcase(t, pattern) for t in EVENT_TYPES):
            raise DaemonConfigError(f"events.record[{j}]",
                                    f"{prefix}{pattern!r} matches no event type")
    if events.max_events < 1 or not events.retention > 0:
        raise DaemonConfigError("events", f"{prefix}max_events >= 1 and retention > 0")


def _check(server: ServerConfig, store: StoreConfig, keys: list[ApiKeyConfig],
           prefix: str) -> None:
    def bad(field: str, message: str) -> DaemonConfigError:
        return DaemonConfigError(field, prefix + message)

    if not 0 <= server.port < 65536:
        raise bad("server.port", f"{server.port} is not a TCP port")
    for field in ("max_body", "max_batch", "page_size", "max_connections",
                  "max_connections_per_address"):
        if getattr(server, field) < 1:
            raise bad(f"server.{field}", "must be >= 1")
    if server.max_header_bytes < 256:
        raise bad("server.max_header_bytes", "must be >= 256")
    for field in ("shutdown_timeout", "idempotency_ttl", "header_timeout",
                  "keepalive_timeout", "read_timeout"):
        if not getattr(server, field) > 0:
            raise bad(f"server.{field}", "must be > 0")
    if bool(server.tls_cert) != bool(server.tls_key):
        raise bad("server.tls_key" if server.tls_cert else "server.tls_cert",
                  "give tls_cert and tls_key together")
    if not store.path:
        raise bad("store.path", "name the outbox's SQLite file")
    for field in ("max_outbox", "feed_ahead"):
        if getattr(store, field) < 1:
            raise bad(f"store.{field}", "must be >= 1")
    if not store.retention > 0:
        raise bad("store.retention", "must be > 0")
    names: set[str] = set()
    for i, key in enumerate(keys):
        if not key.name or key.name in names:
            raise bad(f"api_keys[{i}].name", f"must be unique and non-empty: {key.name!r}")
        names.add(key.name)
        if bool(key.key) == bool(key.key_env):
            raise bad(f"api_keys[{i}]", "give exactly one of key or key_env")
        if not key.scopes:
            raise bad(f"api_keys[{i}].scopes", "give at least one of send, read, admin")


def _check_policy(policy: PolicyConfig, keys: list[ApiKeyConfig], prefix: str) -> None:
    from ..policy import TemplateError, decorate

    try:
        policy.quiet_hours.build()
    except QuietHoursError as exc:
        raise DaemonConfigError(f"policy.quiet_hours.{exc.field}", prefix + str(exc)) from None
    for field in ("max_secrets", "campaign_rows"):
        if getattr(policy, field) < 1:
            raise DaemonConfigError(f"policy.{field}", f"{prefix}must be >= 1")
    for i, key in enumerate(keys):
        if key.sign_name:
            try:
                decorate("x", "notification", signature=key.sign_name)
            except TemplateError as exc:
                raise DaemonConfigError(f"api_keys[{i}].sign_name",
                                        prefix + exc.problem) from None


def _check_lanes(config: DaemonConfig, prefix: str) -> None:
    lanes = {lane.casefold() for lane in config.engine.lanes}
    policy = config.policy
    for name, rules in (("caps", policy.caps), ("api_key_caps", policy.api_key_caps),
                        ("source_ip_caps", policy.source_ip_caps)):
        for kind in rules:
            if kind.casefold() not in lanes:
                raise DaemonConfigError(f"policy.{name}.{kind}",
                                        f"{prefix}{kind!r} is not a lane ("
                                        f"{', '.join(config.engine.lanes)})")
