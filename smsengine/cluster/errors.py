"""Errors of the cluster layer. Each says whether trying again can help (``retriable``), so
the daemon can map them without knowing Redis: :class:`ClusterUnavailable` is a 503 with
``Retry-After: retry_after``; :class:`ClusterError` with ``retriable = False`` is a bug or a
misconfigured Redis (a 500); :class:`ClusterConfigError` is refused at start-up."""

from __future__ import annotations

__all__ = ["ClusterConfigError", "ClusterError", "ClusterUnavailable"]


class ClusterError(Exception):
    """Redis answered, but not as this code expects (a script error, a wrong type at a key,
    an ACL refusal). Retrying the same call will not help."""

    retriable: bool = False


class ClusterUnavailable(ClusterError):
    """Redis cannot be reached or did not answer in time (refused, reset, timed out, loading,
    a failover in progress). Retrying after ``retry_after`` seconds may help; what a node
    already holds (granted tokens, valid leases) stays usable until it expires."""

    retriable = True

    def __init__(self, message: str, *, retry_after: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ClusterConfigError(ValueError):
    """A ``[cluster]`` value is wrong; ``field`` names it."""

    retriable = False

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"cluster.{field}: {message}")
        self.field = field
        self.message = message
