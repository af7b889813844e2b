"""Image Updater v0.18's own ``.argocd-source`` cases (pkg/argocd/update_test.go, Test_MarshalParamsOverride).

Upstream compares ``strings.TrimSpace`` of both sides; so does this table.
"""

from __future__ import annotations

from ferry.writeback.argocd_source import HelmParameter, render_helm_override, render_kustomize_override


def test_valid_kustomize_source() -> None:
    written = render_kustomize_override(b"\nkustomize:\n  images:\n  - baz\n", ["foo", "bar"], source="s")
    assert written.decode().strip() == "kustomize:\n  images:\n  - baz\n  - foo\n  - bar"


def test_merge_images_param() -> None:
    existing = b"\nkustomize:\n  images:\n  - existing:latest\n  - updated:old\n"
    written = render_kustomize_override(existing, ["new", "updated:latest"], source="s")
    assert (
        written.decode().strip() == "kustomize:\n  images:\n  - existing:latest\n  - updated:latest\n  - new"
    )


def test_valid_helm_source() -> None:
    existing = b"\nhelm:\n  parameters:\n  - name: baz\n    value: baz\n    forcestring: false\n"
    written = render_helm_override(
        existing, [HelmParameter("foo", "bar"), HelmParameter("bar", "foo")], source="s"
    )
    assert written.decode().strip() == (
        "helm:\n  parameters:\n  - name: baz\n    value: baz\n    forcestring: false\n"
        "  - name: foo\n    value: bar\n    forcestring: true\n"
        "  - name: bar\n    value: foo\n    forcestring: true"
    )


def test_empty_original_data_with_valid_helm_source() -> None:
    written = render_helm_override(
        None, [HelmParameter("foo", "bar"), HelmParameter("bar", "foo")], source="s"
    )
    assert written.decode().strip() == (
        "helm:\n  parameters:\n  - name: foo\n    value: bar\n    forcestring: true\n"
        "  - name: bar\n    value: foo\n    forcestring: true"
    )
