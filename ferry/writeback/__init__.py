"""Pure content transforms for Image Updater's write-back targets: bytes in, bytes out.

* :mod:`ferry.writeback.argocd_source` — the default ``.argocd-source-<app>.yaml`` file,
  byte for byte as Image Updater writes it (through :mod:`ferry.writeback.goyaml`).
* :mod:`ferry.writeback.helmvalues` — ``write-back-target: helmvalues[:path]``, and the
  resolution of both target annotations to repo-relative paths.
* :mod:`ferry.writeback.kustomization` — ``write-back-target: kustomization[:path]``.

Nothing here reads or writes files; callers hand in what the repository holds and commit
what comes back when it differs.
"""
