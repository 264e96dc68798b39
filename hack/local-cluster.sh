#!/usr/bin/env bash
# A local Kubernetes control plane the project starts itself, with no Docker
# and no kubelet: etcd, kube-apiserver, kube-controller-manager and
# kube-scheduler built from Go modules (hack/kube-bins.sh), kwok for fake
# nodes whose pods become Running and Ready, the Gateway API CRDs and this
# project's CRDs, and a real Prometheus (Debian's package) that scrapes the
# demo's request metrics.
#
# Usage: hack/local-cluster.sh up|down|status|env
#
# Everything lives in .cache/local/; the kubeconfig is .cache/local/kubeconfig
# (the user's own kubeconfig is never touched). Starting twice is harmless;
# down leaves no process behind.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.cache/local"
CLUSTER="${MSVC_CLUSTER_NAME:-msvc}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
KWOK_BIN="$ROOT/.cache/kwok-$KWOK_VERSION"
PROM_PORT="${MSVC_PROMETHEUS_PORT:-19090}"
DEMOHELPER_ADDR="${MSVC_DEMOHELPER_ADDR:-127.0.0.1:19464}"
export KWOK_WORKDIR="$STATE/kwok"
export KUBECONFIG="$STATE/kubeconfig"

log() { printf '[local-cluster] %s\n' "$*" >&2; }

kwokctl() { "$KWOK_BIN/kwokctl" "$@"; }

ensure_tools() {
  BINS="$("$ROOT/hack/kube-bins.sh" etcd kube-apiserver kube-controller-manager kube-scheduler kubectl | tail -n 1)"
  if [[ ! -x "$KWOK_BIN/kwokctl" || ! -x "$KWOK_BIN/kwok" ]]; then
    log "Installing kwok and kwokctl $KWOK_VERSION from the Go module proxy (about 2.5 minutes the first time)"
    GOBIN="$KWOK_BIN" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  fi
  PROMETHEUS="$("$ROOT/hack/ensure-prometheus.sh")"
}

kubectl() { "$BINS/kubectl" "$@"; }

cluster_running() {
  [[ -x "$KWOK_BIN/kwokctl" ]] && kwokctl get clusters 2>/dev/null | grep -qx "$CLUSTER" &&
    [[ -f "$KUBECONFIG" ]] && "$("$ROOT/hack/kube-bins.sh" --print-dir)/kubectl" get --raw /readyz >/dev/null 2>&1
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_prometheus() {
  if pid_alive "$STATE/prometheus.pid"; then
    log "Prometheus already running on http://127.0.0.1:$PROM_PORT"
    return
  fi
  mkdir -p "$STATE/prometheus"
  cat > "$STATE/prometheus/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: demo-traffic
    static_configs:
      - targets: ["$DEMOHELPER_ADDR"]
YAML
  log "Starting Prometheus on http://127.0.0.1:$PROM_PORT"
  setsid "$PROMETHEUS" --config.file="$STATE/prometheus/prometheus.yml" \
    --storage.tsdb.path="$STATE/prometheus/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$STATE/prometheus/prometheus.log" 2>&1 &
  echo $! > "$STATE/prometheus.pid"
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null 2>&1; then return; fi
    sleep 0.1
  done
  log "Prometheus did not get ready; see $STATE/prometheus/prometheus.log"
  exit 1
}

up() {
  mkdir -p "$STATE"
  ensure_tools
  if cluster_running; then
    log "Cluster $CLUSTER is already running"
  else
    log "Creating cluster $CLUSTER (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)"
    kwokctl create cluster --name "$CLUSTER" --runtime binary \
      --kubeconfig "$KUBECONFIG" \
      --etcd-binary "$BINS/etcd" \
      --kube-apiserver-binary "$BINS/kube-apiserver" \
      --kube-controller-manager-binary "$BINS/kube-controller-manager" \
      --kube-scheduler-binary "$BINS/kube-scheduler" \
      --kwok-controller-binary "$KWOK_BIN/kwok" \
      --wait 2m >&2
    kwokctl scale node --name "$CLUSTER" --replicas 2 >&2
  fi
  kubectl config use-context "kwok-$CLUSTER" >/dev/null

  log "Installing the Gateway API CRDs and the project's CRDs"
  local gw
  gw="$(cd "$ROOT" && go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)/config/crd/standard"
  for kind in gatewayclasses gateways httproutes referencegrants; do
    kubectl apply --server-side -f "$gw/gateway.networking.k8s.io_$kind.yaml" >/dev/null
  done
  kubectl apply --server-side -f "$ROOT/config/crd/bases" >/dev/null
  # A CRD created a moment ago may have no status yet, which kubectl wait
  # reports as an error rather than waiting: retry for up to a minute.
  local tries=0
  until kubectl wait --for condition=established --timeout=60s crd/microservices.apps.msvc.dev crd/httproutes.gateway.networking.k8s.io >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [[ $tries -ge 30 ]]; then
      kubectl wait --for condition=established --timeout=5s crd/microservices.apps.msvc.dev crd/httproutes.gateway.networking.k8s.io >/dev/null
    fi
    sleep 2
  done

  start_prometheus
  status
}

down() {
  for name in operator demohelper prometheus; do
    if pid_alive "$STATE/$name.pid"; then
      log "Stopping $name"
      kill -TERM -- "-$(cat "$STATE/$name.pid")" 2>/dev/null || kill -TERM "$(cat "$STATE/$name.pid")" 2>/dev/null || true
      for _ in $(seq 1 50); do pid_alive "$STATE/$name.pid" || break; sleep 0.1; done
      pid_alive "$STATE/$name.pid" && kill -KILL -- "-$(cat "$STATE/$name.pid")" 2>/dev/null || true
    fi
    rm -f "$STATE/$name.pid"
  done
  if [[ -x "$KWOK_BIN/kwokctl" ]] && kwokctl get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    log "Deleting cluster $CLUSTER"
    kwokctl delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG" >&2
  fi
  rm -rf "$STATE/prometheus" "$KUBECONFIG"
  log "Stopped; nothing left running"
}

status() {
  BINS="$("$ROOT/hack/kube-bins.sh" --print-dir)"
  if cluster_running; then
    echo "cluster:    $CLUSTER running ($(kubectl get nodes --no-headers 2>/dev/null | wc -l) fake nodes)"
  else
    echo "cluster:    not running"
  fi
  for name in prometheus demohelper operator; do
    if pid_alive "$STATE/$name.pid"; then echo "$(printf '%-11s' "$name:") running (pid $(cat "$STATE/$name.pid"))"; else echo "$(printf '%-11s' "$name:") not running"; fi
  done
  echo "kubeconfig: $KUBECONFIG"
  echo "prometheus: http://127.0.0.1:$PROM_PORT"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  env)
    echo "export KUBECONFIG=$KUBECONFIG"
    echo "export MSVC_PROMETHEUS_URL=http://127.0.0.1:$PROM_PORT"
    echo "export MSVC_DEMOHELPER_ADDR=$DEMOHELPER_ADDR"
    ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
