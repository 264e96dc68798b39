#!/usr/bin/env bash
# Builds the Kubernetes control-plane binaries the tests need (kube-apiserver and
# etcd, optionally kube-controller-manager, kube-scheduler and kubectl) from Go
# modules, so that nothing has to be downloaded from a release bucket.
#
# The binaries land in a git-ignored cache keyed by version:
#   .cache/kube-bins/k8s-v<K8S_VERSION>-etcd-v<ETCD_VERSION>/
# and a second run with the same versions is a no-op.
#
# Usage: hack/kube-bins.sh [component ...]     (default: kube-apiserver etcd)
#        hack/kube-bins.sh --print-dir         (prints the cache folder, builds nothing)
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${KUBE_BINS_CACHE:-$ROOT/.cache/kube-bins}"
OUT="$CACHE/k8s-v${K8S_VERSION}-etcd-v${ETCD_VERSION}"

if [[ "${1:-}" == "--print-dir" ]]; then
  echo "$OUT"
  exit 0
fi

components=("$@")
[[ ${#components[@]} -gt 0 ]] || components=(kube-apiserver etcd)

log() { printf '[kube-bins] %s\n' "$*" >&2; }
mkdir -p "$OUT"

# The staging repositories k8s.io/kubernetes points at ./staging/... are published
# as k8s.io/<repo> v0.<minor>.<patch>; a tools module replaces each with that version.
k8s_tools_module() {
  local dir="$CACHE/src/k8s-v${K8S_VERSION}"
  if [[ -f "$dir/.ready" ]]; then echo "$dir"; return; fi
  mkdir -p "$dir"
  log "Resolving k8s.io/kubernetes v${K8S_VERSION} (first time only)"
  local gomod
  gomod="$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
  local staging_version="v0.${K8S_VERSION#1.}"
  {
    echo "module msvc.dev/kube-bins"
    echo
    echo "go 1.26"
    echo
    echo "require k8s.io/kubernetes v${K8S_VERSION}"
    echo
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod" | sort -u | while read -r m; do
      echo "	$m => $m $staging_version"
    done
    echo ")"
  } > "$dir/go.mod"
  cat > "$dir/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  log "Resolving the dependency graph of the control plane (go mod tidy)"
  (cd "$dir" && go mod tidy >&2)
  touch "$dir/.ready"
  echo "$dir"
}

etcd_module() {
  local dir="$CACHE/src/etcd-v${ETCD_VERSION}"
  if [[ -f "$dir/.ready" ]]; then echo "$dir"; return; fi
  mkdir -p "$dir"
  cat > "$dir/go.mod" <<GOMOD
module msvc.dev/etcd-bin

go 1.26

require go.etcd.io/etcd/server/v3 v${ETCD_VERSION}
GOMOD
  cat > "$dir/main.go" <<'GO'
// Command etcd is etcd's own main, built from its Go module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  log "Resolving etcd v${ETCD_VERSION} (go mod tidy)"
  (cd "$dir" && go mod tidy >&2)
  touch "$dir/.ready"
  echo "$dir"
}

version_ldflags() {
  local minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
  local flags="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=v${K8S_VERSION} -X $pkg.gitMajor=${K8S_VERSION%%.*} -X $pkg.gitMinor=${minor}"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$flags"
}

for c in "${components[@]}"; do
  if [[ -x "$OUT/$c" ]]; then
    log "$c is cached in $OUT"
    continue
  fi
  start=$(date +%s)
  case "$c" in
    etcd)
      dir="$(etcd_module)"
      log "Building etcd v${ETCD_VERSION} (about a minute cold)"
      (cd "$dir" && CGO_ENABLED=0 go build -trimpath -o "$OUT/etcd.tmp" .)
      ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl)
      dir="$(k8s_tools_module)"
      log "Building $c v${K8S_VERSION} (several minutes cold on 2 cores; progress below)"
      # Stamp the release version, as Kubernetes' own release builds do: without
      # it kube-apiserver reports v0.0.0-master+$Format:%H$, which kubectl
      # version cannot parse and which clients that check the server refuse.
      (cd "$dir" && CGO_ENABLED=0 go build -trimpath -v -ldflags "$(version_ldflags)" -o "$OUT/$c.tmp" "k8s.io/kubernetes/cmd/$c" 2>&1 \
        | awk '{n++; if (n % 200 == 0) { printf "[kube-bins]   %d packages compiled, now %s\n", n, $0; fflush() } }' >&2)
      ;;
    *)
      log "Unknown component $c (want kube-apiserver, kube-controller-manager, kube-scheduler, kubectl or etcd)"
      exit 2
      ;;
  esac
  mv "$OUT/$c.tmp" "$OUT/$c"
  log "Built $c in $(( $(date +%s) - start ))s"
done
echo "$OUT"
