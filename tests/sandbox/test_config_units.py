"""Pure parts of the sandbox: certificates, kubeconfig, component flags, CRDs, names."""

from __future__ import annotations

import ipaddress
from functools import partial
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ferry.errors import ConfigError
from ferry.sandbox import components
from ferry.sandbox.cluster import up
from ferry.sandbox.components import ClusterLayout, ClusterPorts
from ferry.sandbox.crds import argo_rollout_crd, kruise_rollout_crd
from ferry.sandbox.kubeconfig import KubeconfigEntry, render_kubeconfig, write_kubeconfig
from ferry.sandbox.pki import ADMIN_GROUP, SERVICE_IP, create_cluster_pki


def _verify_signed_by(cert: x509.Certificate, ca: x509.Certificate) -> None:
    public_key = ca.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert cert.signature_hash_algorithm is not None
    public_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))


def test_pki_certificates_chain_to_the_cluster_ca(tmp_path: Path) -> None:
    pki = create_cluster_pki(tmp_path / "pki", "dev")
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    serving = x509.load_pem_x509_certificate(pki.serving_cert.read_bytes())
    admin = x509.load_pem_x509_certificate(pki.admin_cert.read_bytes())
    _verify_signed_by(serving, ca)
    _verify_signed_by(admin, ca)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert ipaddress.ip_address(SERVICE_IP) in sans.get_values_for_type(x509.IPAddress)
    assert "kubernetes.default.svc" in sans.get_values_for_type(x509.DNSName)
    organisation = admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [attribute.value for attribute in organisation] == [ADMIN_GROUP]
    assert pki.admin_key.stat().st_mode & 0o077 == 0, "private keys must not be group/world readable"


def test_each_cluster_gets_its_own_ca(tmp_path: Path) -> None:
    first = create_cluster_pki(tmp_path / "a", "a")
    second = create_cluster_pki(tmp_path / "b", "b")
    assert first.ca_cert.read_bytes() != second.ca_cert.read_bytes()


def test_kubeconfig_has_one_context_per_cluster_and_embeds_credentials(tmp_path: Path) -> None:
    entries = []
    for name, port in (("dev", 6443), ("staging", 6444)):
        pki = create_cluster_pki(tmp_path / name, name)
        entries.append(
            KubeconfigEntry(name, f"https://127.0.0.1:{port}", pki.ca_cert, pki.admin_cert, pki.admin_key)
        )
    path = write_kubeconfig(tmp_path / "kubeconfig", entries)
    document = yaml.safe_load(path.read_text())
    assert document == render_kubeconfig(entries)
    assert [context["name"] for context in document["contexts"]] == ["dev", "staging"]
    assert document["current-context"] == "dev"
    assert document["clusters"][1]["cluster"]["server"] == "https://127.0.0.1:6444"
    assert "client-key-data" in document["users"][0]["user"]
    assert path.stat().st_mode & 0o077 == 0


@pytest.fixture
def layout(tmp_path: Path) -> ClusterLayout:
    pki = create_cluster_pki(tmp_path / "pki", "dev")
    return ClusterLayout("dev", tmp_path, ClusterPorts(2379, 2380, 6443, 10257, 10259, 10247), pki)


@pytest.mark.parametrize(
    ("build", "expected_flags"),
    [
        (components.etcd_command, ["--listen-client-urls=http://127.0.0.1:2379", "--unsafe-no-fsync"]),
        (
            components.apiserver_command,
            ["--secure-port=6443", "--bind-address=127.0.0.1", "--etcd-servers=http://127.0.0.1:2379"],
        ),
        (components.controller_manager_command, ["--secure-port=10257", "--leader-elect=false"]),
        (components.scheduler_command, ["--secure-port=10259", "--leader-elect=false"]),
        (
            partial(components.kwok_command, stages=Path("/cache/kwok-stages.yaml")),
            [
                "--server-address=127.0.0.1:10247",
                "--manage-all-nodes=false",
                "--config=/cache/kwok-stages.yaml",
            ],
        ),
    ],
    ids=["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"],
)
def test_components_listen_on_their_own_loopback_ports(
    build: object, expected_flags: list[str], layout: ClusterLayout
) -> None:
    assert callable(build)
    argv = build(Path("/bin/tool"), layout)
    assert argv[0] == "/bin/tool"
    for flag in expected_flags:
        assert flag in argv
    wildcard = ("=0.0.0.0", "//0.0.0.0", "=[::]", "//[::]")
    assert not any(marker in arg for arg in argv for marker in wildcard), "nothing may listen beyond loopback"


@pytest.mark.parametrize(
    ("crd", "group", "versions", "stored"),
    [
        (kruise_rollout_crd(), "rollouts.kruise.io", ["v1alpha1", "v1beta1"], "v1beta1"),
        (argo_rollout_crd(), "argoproj.io", ["v1alpha1"], "v1alpha1"),
    ],
    ids=["kruise rollout", "argo rollout"],
)
def test_rollout_crds_serve_their_versions_with_a_status_subresource(
    crd: dict[str, object], group: str, versions: list[str], stored: str
) -> None:
    spec = crd["spec"]
    assert isinstance(spec, dict)
    assert spec["group"] == group
    assert crd["metadata"] == {
        "name": f"rollouts.{group}",
        "labels": {"app.kubernetes.io/managed-by": "ferry-sandbox"},
    }
    assert [v["name"] for v in spec["versions"]] == versions
    assert [v["name"] for v in spec["versions"] if v["storage"]] == [stored], "exactly one storage version"
    for served in spec["versions"]:
        assert served["served"]
        assert "status" in served["subresources"]
        properties = served["schema"]["openAPIV3Schema"]["properties"]
        assert properties["spec"]["x-kubernetes-preserve-unknown-fields"]


@pytest.mark.parametrize(
    "names",
    [("Dev",), ("dev", "dev"), ("a" * 40,), ("under_score",), ()],
    ids=["uppercase", "repeated", "too long", "underscore", "empty"],
)
def test_bad_cluster_names_are_refused_before_anything_starts(names: tuple[str, ...], tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        up(names, state_root=tmp_path, bin_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
