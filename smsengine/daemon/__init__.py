"""The daemon (layer 5): ``smsengine serve``, an HTTP API over a durable outbox.

- :mod:`.config`: the daemon's TOML (the engine's channels and routes, ``[server]``, ``[store]``,
  ``[[api_keys]]``);
- :mod:`.schema`: the request and response structs, the source of the OpenAPI document;
- :mod:`.outbox`: the SQLite outbox (accepted messages, their states, idempotency keys);
- :mod:`.gateway`: the outbox in front of the engine (accept, feed, schedule, recover, cancel);
- :mod:`.auth`: API keys and scopes;
- :mod:`.app`: the aiohttp routes, thin (validate, call one gateway method, encode);
- :mod:`.server`: the process's lifecycle (start, SIGTERM drain, logs) and ``--demo``.

Nothing below this layer imports it.
"""

from .config import (
    ApiKeyConfig,
    DaemonConfig,
    DaemonConfigError,
    ServerConfig,
    StoreConfig,
    load_daemon_config,
)

__all__ = [
    "ApiKeyConfig",
    "DaemonConfig",
    "DaemonConfigError",
    "ServerConfig",
    "StoreConfig",
    "load_daemon_config",
]
