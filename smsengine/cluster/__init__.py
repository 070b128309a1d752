"""Scale-out on Redis (issue 20): what a daemon node uses when ``[cluster]`` is set.

- :mod:`.tps`: the cluster-wide TPS of a channel (GCRA in Lua, batch takes, shared AIMD cuts);
- :mod:`.leases`: bind-slot leases with fencing tokens (never more binds than slots);
- :mod:`.members`: the live nodes (heartbeats), which spread a channel's slots over them;
- :mod:`.receipts`: receipts relayed to the node that sent the message;
- :mod:`.handoff`: a channel's hand-off stream (not wired into the daemon yet);
- :mod:`.suppression`: the cluster's suppression list and its change log;
- :mod:`.idempotency`: Idempotency-Keys claimed and answered across nodes;
- :mod:`.caps`: frequency caps counted across nodes;
- :mod:`.config`: ``[cluster]`` (:class:`ClusterConfig`);
- :mod:`.errors`: what went wrong and whether retrying helps.

Layer 4, beside the engine: it imports only the engine's config types. See docs/scale-out.md.
"""

from ._redis import connect
from .config import ClusterConfig, default_node_id, redact_url
from .errors import ClusterConfigError, ClusterError, ClusterUnavailable
from .handoff import HandoffEntry, HandoffStream
from .leases import Lease, Leases, LeaseStore
from .members import Members, fair_share
from .receipts import ReceiptRelay, RelayedReceipt
from .tps import ClusterBucket, ClusterTps, Grant, SharedRate, TokenBatcher

__all__ = [
    "ClusterBucket",
    "ClusterConfig",
    "ClusterConfigError",
    "ClusterError",
    "ClusterTps",
    "ClusterUnavailable",
    "Grant",
    "HandoffEntry",
    "HandoffStream",
    "Lease",
    "LeaseStore",
    "Leases",
    "Members",
    "ReceiptRelay",
    "RelayedReceipt",
    "SharedRate",
    "TokenBatcher",
    "connect",
    "default_node_id",
    "fair_share",
    "redact_url",
]
