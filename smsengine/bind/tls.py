"""TLS for carrier links: the SSL contexts a bind's client side and a fake server's side use,
built from file paths, and the errors a TLS handshake ends in.

The client context verifies by default (the certificate chains to ``ca``, or to the system's
store when no ``ca`` is given, and carries the name the bind asks for: ``server_hostname``,
which is also what SNI sends); TLS 1.2 at least (:func:`ssl.create_default_context`'s). A
client certificate is optional. An encrypted key is read with the password given, never with
OpenSSL's prompt on the terminal (a daemon has none; a missing password is an error).

A context's file errors are :class:`TlsFileError` naming the argument (``ca``, ``cert``,
``key``) so that a config can name its own field; the message holds the path and OpenSSL's
reason, never what the files hold nor the key's password.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from ..link import NotSentError

__all__ = [
    "TlsError",
    "TlsFileError",
    "TlsHandshakeError",
    "TlsVerificationError",
    "client_context",
    "server_context",
]


class TlsFileError(ValueError):
    """A certificate, key or CA file cannot be used; ``field`` is the argument that named it
    (``ca``, ``cert`` or ``key``)."""

    retriable = False

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TlsError(NotSentError):
    """The TLS handshake of a bind's connection failed: nothing was sent (no login either), so
    what waits for the bind can go once another connection is up."""


class TlsVerificationError(TlsError):
    """The carrier's certificate was refused (an unknown CA, a name that does not match,
    expired): a configuration matter, or someone in the middle. A keeper raises an ``alarm``
    (its channel is skipped by routing) and keeps trying with its usual back-off: a handshake
    costs the carrier nothing and logs in to nothing, and a certificate the carrier renews or
    mends binds at the next try with no restart. (Our own CA and client files are read when
    the channel's keeper is made: a changed one is read at the next start.)"""


class TlsHandshakeError(TlsError):
    """The handshake failed for another reason than the certificate: the peer does not speak
    TLS on that port (a plaintext one), or closed the connection during the handshake. A
    keeper backs off and tries again, as after any failed connection."""


def client_context(*, ca: str = "", cert: str = "", key: str = "", key_password: str = "",
                   verify: bool = True) -> ssl.SSLContext:
    """The context a bind connects with. ``ca``: PEM file of the CAs to trust ("" = the
    system's); ``cert`` / ``key``: a client certificate chain and its key ("" = the key is in
    ``cert``'s file); ``verify=False`` checks nothing (a test SMSC only). Raises
    TlsFileError."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if ca:
        _readable("ca", ca)
        try:
            context.load_verify_locations(cafile=ca)
        except ssl.SSLError as exc:
            raise TlsFileError("ca", f"not a PEM certificate file: {ca} ({_reason(exc)})") \
                from None
    if cert:
        _load_chain(context, cert, key, key_password)
    elif key:
        raise TlsFileError("key", "a key without its certificate: give the certificate too")
    return context


def server_context(*, cert: str, key: str = "", key_password: str = "") -> ssl.SSLContext:
    """The context a fake server listens with: ``cert`` (PEM chain) and its ``key`` ("" = in
    ``cert``'s file); clients are not asked for a certificate. Raises TlsFileError."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    _load_chain(context, cert, key, key_password)
    return context


def _load_chain(context: ssl.SSLContext, cert: str, key: str, key_password: str) -> None:
    _readable("cert", cert)
    if key:
        _readable("key", key)
    # A callable, so OpenSSL never prompts on the terminal for an encrypted key's password.
    password = key_password.encode()
    try:
        context.load_cert_chain(cert, key or None, password=lambda: password)
    except ssl.SSLError as exc:
        # OpenSSL does not say which file it choked on: the key when the certificate reads.
        field = "key" if _holds_certificate(cert) else "cert"
        what = (f"the certificate {cert} and key {key or cert} do not make a pair, or the key "
                "cannot be read (encrypted: is its password right?)" if field == "key"
                else f"no PEM certificate in {cert}")
        raise TlsFileError(field, f"{what} ({_reason(exc)})") from None


def _readable(field: str, path: str) -> None:
    file = Path(path)
    if not file.is_file():
        found = "not a regular file" if file.exists() else "file not found"
        raise TlsFileError(field, f"{found}: {path}")
    try:
        with file.open("rb"):
            pass
    except OSError as exc:
        raise TlsFileError(field, f"cannot be read: {path} ({exc.strerror})") from None


def _holds_certificate(path: str) -> bool:
    try:
        return b"-----BEGIN CERTIFICATE-----" in Path(path).read_bytes()
    except OSError:
        return False


def _reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason in a few words (its library and reason codes), not the whole text."""
    return str(exc.reason or exc.strerror or type(exc).__name__)

