#!/usr/bin/env bash
# Installs everything Ferry needs on a fresh Debian 12 machine, idempotently:
# Debian packages, a virtualenv at .venv with Ferry and its dev tools, and
# (through `ferry sandbox build`, once that exists) the Go-built binaries cached
# under ~/.cache/ferry. A second run only checks and returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(git docker-registry buildah skopeo apache2-utils openssh-server ca-certificates busybox-static prometheus postgresql)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    # Debian starts its own Prometheus and node exporter on every interface; Ferry runs
    # its own Prometheus on loopback when it needs one (ferry/devenv/prometheus.py).
    $SUDO systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
  fi
  if [[ " ${missing[*]} " == *" postgresql "* ]] && [ -d /run/systemd/system ]; then
    # Likewise Debian's own cluster (15/main on port 5432): the PostgreSQL tests and a Prefect
    # server on PostgreSQL start their own on a free loopback port (ferry/devenv/postgres.py).
    $SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PY" -m venv .venv
fi
# Reinstall only when the dependency list changed.
stamp=.venv/.ferry-deps-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing Python dependencies"
  # Quiet on success; the whole pip log on failure.
  if ! { .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -e '.[dev]'; } >.venv/pip.log 2>&1; then
    cat .venv/pip.log
    exit 1
  fi
  rm -f .venv/.ferry-deps-*
  touch "$stamp"
fi

# Go-built tools (kube-apiserver, etcd, kwok, helm, kustomize, the Argo Rollouts
# controller) are cached under
# ~/.cache/ferry/bin; building them is a no-op when the pinned versions are there.
if [ "${FERRY_SKIP_TOOLS:-0}" != "1" ] && .venv/bin/python -c "import ferry.sandbox.build" 2>/dev/null; then
  .venv/bin/ferry sandbox build
fi

# The tests' live Go oracles (yaml.v3 and Masterminds semver, the libraries Image Updater
# uses) build offline, GOPROXY=off, from the module cache: put their pinned modules there.
# go.sum pins them; a module already cached costs no network.
if command -v go >/dev/null; then
  for module in tests/writeback/oracle tests/image/oracle; do
    (cd "$module" && GOFLAGS=-mod=readonly GOTOOLCHAIN=local go mod download)
  done
fi
