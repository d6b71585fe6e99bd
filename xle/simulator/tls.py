"""A throw-away certificate for the simulator's TLS listener.

Some clients only accept ``wss://`` / ``https://`` endpoints. The simulator makes a
self-signed certificate for ``127.0.0.1`` and ``localhost`` when it starts and writes it
next to its key; a client trusts that one file (``ssl.create_default_context(cafile=…)``,
``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``) and connects unchanged. It is valid for a
day, since it lives only as long as the simulator that made it.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

from xle.errors import ConfigError

__all__ = ["CERT_FILE", "KEY_FILE", "make_certificate", "server_context"]

CERT_FILE = "simulator-cert.pem"
KEY_FILE = "simulator-key.pem"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """Write a fresh self-signed certificate and its key; return (cert path, key path)."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        raise ConfigError(
            "the simulator's TLS listener needs the cryptography package: pip install 'xle[tls]'"
        ) from None
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xle simulator")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / CERT_FILE, directory / KEY_FILE
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context
