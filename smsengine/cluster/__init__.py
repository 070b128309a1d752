"""Scale-out on Redis (issue 20): the foundation, not yet wired into the daemon.

- :mod:`.tps`: the cluster-wide TPS of a channel (GCRA in Lua, batch takes, shared AIMD cuts);
- :mod:`.leases`: bind-slot leases with fencing tokens (never more binds than slots);
- :mod:`.config`: ``[cluster]`` (:class:`ClusterConfig`);
- :mod:`.errors`: what went wrong and whether retrying helps.

Layer 4, beside the engine: it imports only the engine's config types. See docs/scale-out.md.
"""

from ._redis import connect
from .config import ClusterConfig, default_node_id, redact_url
from .errors import ClusterConfigError, ClusterError, ClusterUnavailable
from .leases import Lease, Leases, LeaseStore
from .tps import ClusterTps, Grant, SharedRate, TokenBatcher

__all__ = [
    "ClusterConfig",
    "ClusterConfigError",
    "ClusterError",
    "ClusterTps",
    "ClusterUnavailable",
    "Grant",
    "Lease",
    "LeaseStore",
    "Leases",
    "SharedRate",
    "TokenBatcher",
    "connect",
    "default_node_id",
    "redact_url",
]
