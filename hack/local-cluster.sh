#!/usr/bin/env bash
# A local Kubernetes control plane the project starts itself, with no Docker
# and no kubelet: etcd, kube-apiserver, kube-controller-manager and
# kube-scheduler built from Go modules (hack/kube-bins.sh), kwok for fake
# nodes whose pods become Running and Ready, the Gateway API CRDs and this
# project's CRDs, and a real Prometheus (Debian's package).
#
# The data plane is real too, and lives in a network namespace of its own
# (msvc-<cluster>), so that nothing it does leaves the machine's loopback:
#   - Traefik (hack/traefik.sh), a Gateway API implementation, programs the
#     Gateway gateway-system/public and routes requests by the HTTPRoutes'
#     weights to the pods' IPs;
#   - the pod runner (test/dataplane/podrunner) starts a small HTTP server
#     (test/dataplane/testapp) on the IP and ports of every pod kwok runs; the
#     pod IPs (kwok's node pod CIDRs, 10.0.0.0/16) are local addresses inside
#     the namespace;
#   - socat carries the API server, the Gateway's listener and Traefik's
#     metrics across the namespace boundary through unix sockets: the
#     Gateway answers on 127.0.0.1:$MSVC_GATEWAY_PORT and Prometheus scrapes
#     Traefik's request metrics from 127.0.0.1:$MSVC_TRAEFIK_METRICS_PORT.
#
# up checks every component (API server, controllers, kwok, nodes, Gateway,
# Prometheus) and fails at once, with the failing component's log, when one
# does not work. It needs root (ip netns) and, the first time, builds
# Kubernetes, kwok and Traefik from Go modules.
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
GATEWAY_PORT="${MSVC_GATEWAY_PORT:-18000}"
TRAEFIK_METRICS_PORT="${MSVC_TRAEFIK_METRICS_PORT:-19100}"
NETNS="msvc-$CLUSTER"
# Inside the namespace: the Gateway listener's port (Traefik binds a listener
# to the entry point with the same port number) and Traefik's own port.
NS_GATEWAY_PORT=8000
NS_TRAEFIK_PORT=9100
POD_CIDR=10.0.0.0/16
SOCKETS="$STATE/sockets"
# Every process of the data plane, in the order up starts them.
DATAPLANE=(api-host api-netns traefik gateway-netns gateway-host metrics-netns metrics-host podrunner)
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
  TRAEFIK="$("$ROOT/hack/traefik.sh" | tail -n 1)"
  if ! command -v socat >/dev/null 2>&1; then
    log "Installing socat (Debian's package)"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq socat >&2
  fi
  if [[ "$(id -u)" -ne 0 ]]; then
    log "The data plane runs in a network namespace of its own, which needs root (ip netns)"
    exit 1
  fi
  log "Building the pod runner and the test app (test/dataplane)"
  (cd "$ROOT" && go build -o bin/podrunner ./test/dataplane/podrunner && go build -o bin/testapp ./test/dataplane/testapp)
}

kubectl() { "$BINS/kubectl" "$@"; }

cluster_running() {
  [[ -x "$KWOK_BIN/kwokctl" ]] && kwokctl get clusters 2>/dev/null | grep -qx "$CLUSTER" &&
    [[ -f "$KUBECONFIG" ]] && "$("$ROOT/hack/kube-bins.sh" --print-dir)/kubectl" get --raw /readyz >/dev/null 2>&1
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# fail reports a component that does not work, with the end of its log.
fail() {
  local what=$1 logfile=${2:-}
  log "FAILED: $what"
  if [[ -n "$logfile" && -f "$logfile" ]]; then
    log "last lines of $logfile:"
    tail -n 25 "$logfile" | sed 's/^/    /' >&2
  fi
  exit 1
}

# wait_until runs a command until it succeeds, for up to $1 seconds.
wait_until() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    (( $(date +%s) < deadline )) || return 1
    sleep 0.5
  done
}

# spawn starts a long-lived process of the data plane in its own session and
# records its pid; "netns" as the first argument runs it inside the namespace.
spawn() {
  local name=$1; shift
  local logfile="$STATE/dataplane/$name.log"
  if pid_alive "$STATE/$name.pid"; then return; fi
  if [[ "$1" == netns ]]; then
    shift
    setsid ip netns exec "$NETNS" "$@" >"$logfile" 2>&1 < /dev/null &
  else
    setsid "$@" >"$logfile" 2>&1 < /dev/null &
  fi
  echo $! > "$STATE/$name.pid"
}

stop_pid() {
  local name=$1
  if pid_alive "$STATE/$name.pid"; then
    kill -TERM -- "-$(cat "$STATE/$name.pid")" 2>/dev/null || kill -TERM "$(cat "$STATE/$name.pid")" 2>/dev/null || true
    for _ in $(seq 1 50); do pid_alive "$STATE/$name.pid" || break; sleep 0.1; done
    if pid_alive "$STATE/$name.pid"; then
      kill -KILL -- "-$(cat "$STATE/$name.pid")" 2>/dev/null || kill -KILL "$(cat "$STATE/$name.pid")" 2>/dev/null || true
    fi
  fi
  rm -f "$STATE/$name.pid"
}

api_port() { sed -n 's#^[[:space:]]*server: https://127.0.0.1:\([0-9]*\).*#\1#p' "$KUBECONFIG" | head -n 1; }

# start_dataplane creates the network namespace and starts, in order, the API
# server's forwarder into it, Traefik, the forwarders of the Gateway and of
# Traefik's metrics out of it, and the pod runner.
start_dataplane() {
  mkdir -p "$STATE/dataplane" "$SOCKETS"
  if ! ip netns list | grep -qw "$NETNS"; then
    log "Creating the network namespace $NETNS (pod IPs $POD_CIDR are local inside it)"
    ip netns add "$NETNS"
  fi
  ip -n "$NETNS" link set lo up
  ip -n "$NETNS" route replace local "$POD_CIDR" dev lo

  local port; port="$(api_port)"
  [[ -n "$port" ]] || fail "no API server address in $KUBECONFIG"
  spawn api-host socat "UNIX-LISTEN:$SOCKETS/api.sock,fork,unlink-early" "TCP:127.0.0.1:$port"
  spawn api-netns netns socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$SOCKETS/api.sock"
  wait_until 10 ip netns exec "$NETNS" curl -ksS "https://127.0.0.1:$port/livez" ||
    fail "the API server is not reachable from inside $NETNS" "$STATE/dataplane/api-netns.log"

  log "Starting Traefik $("$TRAEFIK" version 2>/dev/null | sed -n 's/^Version:[[:space:]]*//p') in $NETNS (Gateway listener 127.0.0.1:$GATEWAY_PORT on the host)"
  spawn traefik netns env KUBECONFIG="$KUBECONFIG" "$TRAEFIK" \
    --entryPoints.web.address="127.0.0.1:$NS_GATEWAY_PORT" \
    --entryPoints.traefik.address="127.0.0.1:$NS_TRAEFIK_PORT" \
    --ping=true --ping.entryPoint=traefik \
    --metrics.prometheus=true --metrics.prometheus.entryPoint=traefik \
    --metrics.prometheus.addServicesLabels=true --metrics.prometheus.addRoutersLabels=true \
    --metrics.prometheus.buckets=0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5 \
    --providers.providersThrottleDuration=200ms \
    --providers.kubernetesGateway=true --providers.kubernetesGateway.throttleDuration=200ms \
    --providers.kubernetesGateway.statusAddress.ip=127.0.0.1 \
    --log.level=INFO --global.checkNewVersion=false --global.sendAnonymousUsage=false
  spawn gateway-netns netns socat "UNIX-LISTEN:$SOCKETS/gateway.sock,fork,unlink-early" "TCP:127.0.0.1:$NS_GATEWAY_PORT"
  spawn gateway-host socat "TCP-LISTEN:$GATEWAY_PORT,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$SOCKETS/gateway.sock"
  spawn metrics-netns netns socat "UNIX-LISTEN:$SOCKETS/metrics.sock,fork,unlink-early" "TCP:127.0.0.1:$NS_TRAEFIK_PORT"
  spawn metrics-host socat "TCP-LISTEN:$TRAEFIK_METRICS_PORT,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$SOCKETS/metrics.sock"
  wait_until 30 curl -fsS "http://127.0.0.1:$TRAEFIK_METRICS_PORT/ping" ||
    fail "Traefik does not answer on 127.0.0.1:$TRAEFIK_METRICS_PORT/ping" "$STATE/dataplane/traefik.log"

  spawn podrunner netns env KUBECONFIG="$KUBECONFIG" "$ROOT/bin/podrunner" \
    --testapp "$ROOT/bin/testapp" --log-dir "$STATE/dataplane/pods"
  sleep 1
  pid_alive "$STATE/podrunner.pid" || fail "the pod runner exited" "$STATE/dataplane/podrunner.log"
}

# install_gateway installs Traefik's GatewayClass and the Gateway
# gateway-system/public, and waits until Traefik has programmed it.
install_gateway() {
  kubectl apply --server-side -f - >/dev/null <<YAML
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: traefik
spec:
  controllerName: traefik.io/gateway-controller
---
apiVersion: v1
kind: Namespace
metadata:
  name: gateway-system
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: public
  namespace: gateway-system
spec:
  gatewayClassName: traefik
  listeners:
  - name: http
    protocol: HTTP
    port: $NS_GATEWAY_PORT
    allowedRoutes:
      namespaces:
        from: All
YAML
  wait_until 60 kubectl wait --for=condition=Programmed --timeout=5s -n gateway-system gateway/public ||
    fail "Traefik did not program the Gateway gateway-system/public: $(kubectl get gateway -n gateway-system public -o jsonpath='{.status.conditions}' 2>&1)" "$STATE/dataplane/traefik.log"
}

# check_control_plane fails unless every control-plane component works: the
# API server, kube-controller-manager and kube-scheduler (each renews its
# lease), and kwok (the nodes are Ready).
check_control_plane() {
  local logs="$KWOK_WORKDIR/clusters/$CLUSTER/logs"
  wait_until 30 kubectl get --raw /readyz || fail "kube-apiserver is not ready" "$logs/kube-apiserver.log"
  local c
  for c in kube-controller-manager kube-scheduler; do
    wait_until 60 lease_fresh "$c" || fail "$c holds no fresh lease (is it running?)" "$logs/$c.log"
  done
  # kwok's controller plays every node's kubelet: it must run, renew each
  # node's lease, and have the nodes Ready. A dead one leaves the nodes
  # looking Ready for minutes (until the node monitor's grace period).
  pid_alive "$KWOK_WORKDIR/clusters/$CLUSTER/pids/kwok-controller.pid" || fail "kwok's controller is not running" "$logs/kwok-controller.log"
  wait_until 60 nodes_ready || fail "the fake nodes are not Ready (kwok's controller does not run?): $(kubectl get nodes --no-headers 2>&1 | tr '\n' ';')" "$logs/kwok-controller.log"
  local node
  for node in $(kubectl get nodes -o jsonpath='{.items[*].metadata.name}'); do
    wait_until 60 lease_fresh "$node" kube-node-lease || fail "node $node's lease is not renewed (kwok's controller does not work?)" "$logs/kwok-controller.log"
  done
}

# lease_fresh: the lease $1 (in namespace $2, kube-system by default) was
# renewed in the last 30 seconds.
lease_fresh() {
  local renew
  renew="$(kubectl get lease -n "${2:-kube-system}" "$1" -o jsonpath='{.spec.renewTime}')" || return 1
  [[ -n "$renew" ]] && (( $(date +%s) - $(date -d "$renew" +%s) < 30 ))
}

nodes_ready() {
  local want have
  want="$(kubectl get nodes --no-headers | wc -l)"
  have="$(kubectl get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)"
  [[ "$want" -ge 1 && "$want" == "$have" ]]
}

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
  - job_name: traefik
    static_configs:
      - targets: ["127.0.0.1:$TRAEFIK_METRICS_PORT"]
YAML
  log "Starting Prometheus on http://127.0.0.1:$PROM_PORT"
  setsid "$PROMETHEUS" --config.file="$STATE/prometheus/prometheus.yml" \
    --storage.tsdb.path="$STATE/prometheus/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$STATE/prometheus/prometheus.log" 2>&1 &
  echo $! > "$STATE/prometheus.pid"
  wait_until 20 curl -fsS "http://127.0.0.1:$PROM_PORT/-/ready" ||
    fail "Prometheus did not get ready" "$STATE/prometheus/prometheus.log"
}

# check_scrape fails unless Prometheus scrapes Traefik's metrics.
check_scrape() {
  wait_until 30 bash -c "curl -fsS 'http://127.0.0.1:$PROM_PORT/api/v1/query?query=up%7Bjob%3D%22traefik%22%7D' | grep -q '\"1\"\]'" ||
    fail "Prometheus does not scrape Traefik's metrics on 127.0.0.1:$TRAEFIK_METRICS_PORT" "$STATE/prometheus/prometheus.log"
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
      --extra-args "kube-apiserver=service-cluster-ip-range=10.96.0.0/16" \
      --wait 2m >&2
    # kwok's default node takes 110 pods; the service range above (65k
    # ClusterIPs, not kube-apiserver's default /24) and these nodes fit
    # hundreds of Microservices.
    kwokctl scale node --name "$CLUSTER" --replicas 2 --param '.allocatable.pods=1000' >&2
  fi
  kubectl config use-context "kwok-$CLUSTER" >/dev/null

  log "Installing the Gateway API CRDs and the project's CRDs"
  local gw
  gw="$(cd "$ROOT" && go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)/config/crd/standard"
  # Every standard-channel CRD: Traefik watches GRPCRoutes and
  # BackendTLSPolicies too, and does not program a Gateway without them.
  kubectl apply --server-side -f "$gw" >/dev/null
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

  check_control_plane
  start_dataplane
  install_gateway
  start_prometheus
  check_scrape
  status
}

down() {
  local name i stopping=(operator loadgen prometheus)
  # The data plane in the reverse of the order up starts it.
  for (( i = ${#DATAPLANE[@]} - 1; i >= 0; i-- )); do stopping+=("${DATAPLANE[i]}"); done
  for name in "${stopping[@]}"; do
    if pid_alive "$STATE/$name.pid"; then log "Stopping $name"; fi
    stop_pid "$name"
  done
  if ip netns list 2>/dev/null | grep -qw "$NETNS"; then
    # Whatever still runs inside the namespace (a test app left draining).
    local pids; pids="$(ip netns pids "$NETNS" 2>/dev/null || true)"
    if [[ -n "$pids" ]]; then
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
    fi
    log "Deleting the network namespace $NETNS"
    ip netns delete "$NETNS"
  fi
  rm -rf "$SOCKETS"
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
  for name in traefik podrunner prometheus operator; do
    if pid_alive "$STATE/$name.pid"; then echo "$(printf '%-11s' "$name:") running (pid $(cat "$STATE/$name.pid"))"; else echo "$(printf '%-11s' "$name:") not running"; fi
  done
  echo "kubeconfig: $KUBECONFIG"
  echo "gateway:    http://127.0.0.1:$GATEWAY_PORT (gateway-system/public, Traefik, in network namespace $NETNS)"
  echo "prometheus: http://127.0.0.1:$PROM_PORT"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  env)
    echo "export KUBECONFIG=$KUBECONFIG"
    echo "export MSVC_PROMETHEUS_URL=http://127.0.0.1:$PROM_PORT"
    echo "export MSVC_GATEWAY_URL=http://127.0.0.1:$GATEWAY_PORT"
    echo "export MSVC_NETNS=$NETNS"
    ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
