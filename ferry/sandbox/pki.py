"""Certificates and keys for one sandbox cluster.

Each cluster gets its own CA, so a credential for ``dev`` is refused by
``staging``: the clusters are as independent as real ones. ECDSA P-256 keys
keep generation in the milliseconds (RSA-2048 costs ~100 ms per key on this
machine class) and every component here accepts them, including the
service-account token signer (ES256).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The in-cluster address of the ``kubernetes`` Service for ``10.0.0.0/24``;
#: the apiserver certificate must name it or in-cluster clients reject it.
SERVICE_IP = "10.0.0.1"
#: Admin identity: ``system:masters`` is bound to cluster-admin by the default RBAC policy.
ADMIN_USER = "ferry-admin"
ADMIN_GROUP = "system:masters"

_VALIDITY = dt.timedelta(days=365)


@dataclass(frozen=True, slots=True)
class ClusterPki:
    """Paths of the PEM files of one cluster (all under ``<state>/pki``)."""

    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    service_account_key: Path
    service_account_public: Path

    @classmethod
    def in_directory(cls, directory: Path) -> ClusterPki:
        """Return the file layout under ``directory`` (nothing is created)."""
        return cls(
            ca_cert=directory / "ca.crt",
            ca_key=directory / "ca.key",
            serving_cert=directory / "apiserver.crt",
            serving_key=directory / "apiserver.key",
            admin_cert=directory / "admin.crt",
            admin_key=directory / "admin.key",
            service_account_key=directory / "sa.key",
            service_account_public=directory / "sa.pub",
        )


def create_cluster_pki(directory: Path, cluster_name: str) -> ClusterPki:
    """Write a CA, an apiserver serving cert, an admin client cert and a service-account key pair.

    Args:
        directory: Where the PEM files go; created with mode 0700.
        cluster_name: Goes into the CA's common name, to tell clusters apart.

    Returns:
        The paths of the written files.
    """
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    pki = ClusterPki.in_directory(directory)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # tolerate small clock skew

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"ferry-sandbox-{cluster_name}-ca")])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(pki.ca_key, ca_key)
    _write_cert(pki.ca_cert, ca_cert)

    serving_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [
        x509.DNSName(dns)
        for dns in (
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        )
    ]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", SERVICE_IP)]
    serving_cert = (
        _leaf(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]), serving_key, now)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .issuer_name(ca_name)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(pki.serving_key, serving_key)
    _write_cert(pki.serving_cert, serving_cert)

    admin_key = ec.generate_private_key(ec.SECP256R1())
    admin_subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ADMIN_GROUP),
            x509.NameAttribute(NameOID.COMMON_NAME, ADMIN_USER),
        ]
    )
    admin_cert = (
        _leaf(admin_subject, admin_key, now)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .issuer_name(ca_name)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(pki.admin_key, admin_key)
    _write_cert(pki.admin_cert, admin_cert)

    service_account_key = ec.generate_private_key(ec.SECP256R1())
    _write_key(pki.service_account_key, service_account_key)
    pki.service_account_public.write_bytes(
        service_account_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pki


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: dt.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
    )


def _leaf(subject: x509.Name, key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.CertificateBuilder:
    # The caller sets the issuer: it is the CA's name, which this helper does not know.
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    # Create with 0600 from the start so the key is never world-readable, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
