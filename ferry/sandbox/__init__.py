"""Local Kubernetes clusters built from the official control plane, plus helm and kustomize.

The public surface, for `ferry sandbox` and the test fixtures (the sync engine finds helm and
kustomize through :mod:`ferry.tools`, without importing this package):

* :func:`ferry.sandbox.build.ensure_binaries` / :func:`~ferry.sandbox.build.binary_path`
  build or find ``etcd``, ``kube-apiserver``, ``kube-controller-manager``,
  ``kube-scheduler``, ``kwok``, ``helm`` and ``kustomize`` at the versions in
  :mod:`ferry.sandbox.versions`;
* :func:`ferry.sandbox.cluster.up` / :func:`~ferry.sandbox.cluster.down` /
  :func:`~ferry.sandbox.cluster.status` run named clusters and return a
  :class:`~ferry.sandbox.cluster.Sandbox` (kubeconfig path and one context per cluster).
"""
