"""API keys: ``Authorization: Bearer <key>``, each key with its scopes (send, read, admin).

Keys are held as SHA-256 digests: a lookup compares digests, never the key, and nothing here
keeps or prints a key's value (a principal is the key's configured name).
"""

from __future__ import annotations

import hashlib
import hmac

from .config import ApiKeyConfig, Scope

__all__ = ["Forbidden", "Keyring", "Principal", "Unauthorized"]


class Unauthorized(Exception):
    """No key, or one we do not know (401)."""


class Forbidden(Exception):
    """A known key without the scope (403)."""


class Principal:
    __slots__ = ("fingerprint_key", "name", "scopes")

    def __init__(self, name: str, scopes: frozenset[str], fingerprint_key: bytes = b"") -> None:
        self.name = name
        self.scopes = scopes
        # Keys the fingerprint of a request body kept for its Idempotency-Key: derived from
        # the API key, held in memory only, so the store holds no plain hash of a body (one
        # carrying a 6-digit code could be found by trying them all).
        self.fingerprint_key = fingerprint_key

    def fingerprint(self, body: bytes) -> bytes:
        return hmac.new(self.fingerprint_key, body, hashlib.sha256).digest()

    def __repr__(self) -> str:
        return f"Principal({self.name!r}, scopes={sorted(self.scopes)})"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class Keyring:
    def __init__(self, keys: dict[str, ApiKeyConfig]) -> None:
        self._by_digest = {
            _digest(value): Principal(cfg.name, frozenset(cfg.scopes),
                                      _digest("idempotency fingerprint\0" + value))
            for value, cfg in keys.items()}

    def __len__(self) -> int:
        return len(self._by_digest)

    def authenticate(self, header: str | None) -> Principal:
        if not header:
            raise Unauthorized("an Authorization: Bearer <API key> header is required")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be: Bearer <API key>")
        principal = self._by_digest.get(_digest(token.strip()))
        if principal is None:
            raise Unauthorized("unknown API key")
        return principal

    @staticmethod
    def require(principal: Principal, scope: Scope) -> None:
        if scope not in principal.scopes and "admin" not in principal.scopes:
            raise Forbidden(f"the API key {principal.name!r} lacks the {scope!r} scope")
