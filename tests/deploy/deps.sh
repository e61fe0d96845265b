#!/usr/bin/env bash
# Installs what tests/deploy needs, skipping what is already there (idempotent):
#  - npm packages pinned in package-lock.json (kubernetes-models, @kubernetes-models/keda,
#    @kubernetes-models/prometheus-operator, yaml) into tests/deploy/node_modules
#  - kustomize, pinned, built with `go install` from the Go module proxy into
#    .cache/deploy/bin/kustomize (first time ~40 s on 2 cores; module + build cache in .cache/deploy)
# Prints the path of kustomize on its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
KUSTOMIZE_VERSION=v5.5.0
cache="$root/.cache/deploy"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need node || ! need npm; then
  echo "deps.sh: installing nodejs npm (Debian)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
fi

stamp="$here/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$here/package-lock.json" -nt "$stamp" ]; then
  echo "deps.sh: npm ci (tests/deploy)" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

kustomize="$cache/bin/kustomize"
# `go install` builds report "(devel)" as their version: a stamp file records the pinned one.
if [ ! -x "$kustomize" ] || [ "$(cat "$kustomize.version" 2>/dev/null)" != "$KUSTOMIZE_VERSION" ]; then
  if ! need go; then
    echo "deps.sh: Go >= 1.22 is needed to build kustomize $KUSTOMIZE_VERSION (go install)" >&2
    exit 1
  fi
  echo "deps.sh: go install sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
  mkdir -p "$cache"
  GOBIN="$cache/bin" GOMODCACHE="$cache/gomod" GOCACHE="$cache/gocache" GOFLAGS=-modcacherw \
    go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
  echo "$KUSTOMIZE_VERSION" > "$kustomize.version"
fi
echo "$kustomize"
