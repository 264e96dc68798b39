#!/usr/bin/env bash
# Builds Traefik, the Gateway API implementation of the local cluster, from its
# Go module, so that nothing has to be downloaded from a release bucket or an
# image registry.
#
# Traefik's go.mod carries replace directives, which apply only when Traefik
# is the main module: so the build runs inside a writable copy of the
# downloaded module. v3.6.12 is pinned: v3.7 depends on a nested module that
# the Go module proxy does not serve.
#
# The binary lands in a git-ignored cache keyed by version:
#   .cache/traefik/v<TRAEFIK_VERSION>/traefik
# and a second run with the same version is a no-op. Cold, on 2 cores, the
# build takes 10 to 15 minutes (about 21 CPU-minutes).
#
# Usage: hack/traefik.sh              (builds if needed, prints the binary's path)
#        hack/traefik.sh --print-path (prints the path, builds nothing)
set -euo pipefail

TRAEFIK_VERSION="${TRAEFIK_VERSION:-3.6.12}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${TRAEFIK_CACHE:-$ROOT/.cache/traefik}"
OUT="$CACHE/v${TRAEFIK_VERSION}"

if [[ "${1:-}" == "--print-path" ]]; then
  echo "$OUT/traefik"
  exit 0
fi

log() { printf '[traefik] %s\n' "$*" >&2; }

if [[ -x "$OUT/traefik" ]]; then
  log "Traefik v${TRAEFIK_VERSION} is cached in $OUT"
  echo "$OUT/traefik"
  exit 0
fi

start=$(date +%s)
mkdir -p "$OUT"
src="$CACHE/src-v${TRAEFIK_VERSION}"
if [[ ! -f "$src/.ready" ]]; then
  log "Downloading github.com/traefik/traefik/v3@v${TRAEFIK_VERSION} (first time only)"
  dir="$(cd "$CACHE" && GOFLAGS=-mod=mod go mod download -json "github.com/traefik/traefik/v3@v${TRAEFIK_VERSION}" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  [[ -d "$dir" ]] || { log "go mod download did not report the module's folder"; exit 1; }
  rm -rf "$src"
  cp -r "$dir" "$src"
  chmod -R u+w "$src"
  log "Downloading Traefik's dependencies"
  (cd "$src" && go mod download >&2)
  touch "$src/.ready"
fi

log "Building Traefik v${TRAEFIK_VERSION} (10-15 minutes cold on 2 cores; progress below)"
(cd "$src" && CGO_ENABLED=0 go build -trimpath -v \
  -ldflags "-X github.com/traefik/traefik/v3/pkg/version.Version=v${TRAEFIK_VERSION}" \
  -o "$OUT/traefik.tmp" ./cmd/traefik 2>&1 |
  awk '{n++; if (n % 200 == 0) { printf "[traefik]   %d packages compiled, now %s\n", n, $0; fflush() } }' >&2)
mv "$OUT/traefik.tmp" "$OUT/traefik"
log "Built Traefik v${TRAEFIK_VERSION} in $(( $(date +%s) - start ))s"
echo "$OUT/traefik"
