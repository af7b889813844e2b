"""Ferry: GitOps CI/CD for Argo CD Applications, driven by Prefect.

This package is the pure core and its adapters. It never imports ``prefect``:
the Prefect glue lives in the top-level ``tasks``, ``flows`` and ``blocks``
packages, and an import-linter contract keeps it that way.
"""

__version__ = "0.1.0"
