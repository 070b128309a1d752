"""A throwaway PKI for the TLS tests, made with trustme in the test's own folder: a CA, the
server certificate the fakes serve (for 127.0.0.1 and smsc.test), a client certificate, and a
second CA that signed none of them (the "wrong CA")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme

__all__ = ["SERVER_NAME", "Pki", "make_pki"]

#: The name besides 127.0.0.1 that the server certificate carries.
SERVER_NAME = "smsc.test"


@dataclass(frozen=True)
class Pki:
    """Paths of PEM files, as a config would name them."""

    ca: str  # the CA that signed the server and client certificates
    other_ca: str  # a CA that signed neither
    server_cert: str  # the server's chain and key, in one file
    server_chain: str  # the same chain alone...
    server_key: str  # ...and its key alone
    client_cert: str
    client_key: str
    authority: trustme.CA


def make_pki(folder: Path) -> Pki:
    ca, other = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1", SERVER_NAME)
    client = ca.issue_cert("client.test")
    paths = {name: folder / f"{name}.pem" for name in (
        "ca", "other_ca", "server_cert", "server_chain", "server_key", "client_cert",
        "client_key")}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    other.cert_pem.write_to_path(str(paths["other_ca"]))
    server.private_key_and_cert_chain_pem.write_to_path(str(paths["server_cert"]))
    paths["server_chain"].write_bytes(b"".join(b.bytes() for b in server.cert_chain_pems))
    server.private_key_pem.write_to_path(str(paths["server_key"]))
    paths["client_cert"].write_bytes(b"".join(b.bytes() for b in client.cert_chain_pems))
    client.private_key_pem.write_to_path(str(paths["client_key"]))
    return Pki(**{name: str(path) for name, path in paths.items()}, authority=ca)
