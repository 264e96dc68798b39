#!/usr/bin/env bash
# The operator's main job, on a local control plane the project starts itself:
# the boutique application comes up in dependency order, a new version of the
# frontend is delivered as a canary and promoted, and a bad one is rolled back
# on its metrics. Shoppers' requests (a load generator) go through a real
# Gateway (Traefik) to test apps serving on the pods' IPs; the analysis reads
# the success rate that Traefik measured.
#
# Usage: hack/demo.sh          (make demo)
#        hack/demo.sh down     (make demo-down)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.cache/local"
NS=shop
cd "$ROOT"

if [[ "${1:-}" == "down" ]]; then
  exec hack/local-cluster.sh down
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
[[ -t 1 ]] || say() { printf '\n== %s\n' "$*"; }

START=$(date +%s)
say "Starting the local control plane (first run builds Kubernetes from Go modules: several minutes)"
hack/local-cluster.sh up
eval "$(hack/local-cluster.sh env)"
BINS="$(hack/kube-bins.sh --print-dir)"
kubectl() { "$BINS/kubectl" "$@"; }

say "Building and starting the operator and the shoppers (a load generator, 50 requests a second through the Gateway)"
go build -o bin/manager ./cmd
go build -o bin/loadgen ./test/dataplane/loadgen
pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
if ! pid_alive "$STATE/operator.pid"; then
  setsid bin/manager --metrics-bind-address=0 --health-probe-bind-address=127.0.0.1:18081 \
    --default-prometheus-address="$MSVC_PROMETHEUS_URL" --gateway-implementation=traefik >"$STATE/operator.log" 2>&1 &
  echo $! >"$STATE/operator.pid"
fi
echo "operator log: $STATE/operator.log"
# The load generator runs inside the data plane's network namespace, against
# the Gateway's listener there; it stops by itself after 30 minutes.
if ! pid_alive "$STATE/loadgen.pid"; then
  setsid ip netns exec "$MSVC_NETNS" bin/loadgen --url http://127.0.0.1:8000/ --host boutique.example.com \
    --rate 50 --duration 30m >"$STATE/loadgen.log" 2>&1 < /dev/null &
  echo $! >"$STATE/loadgen.pid"
fi
echo "shoppers' log (a line a second): $STATE/loadgen.log"

# The sample as it is, with the analysis pointed at the local Prometheus and
# its timers shortened so that the demo takes minutes, not a quarter hour.
rm -rf "$STATE/boutique"
mkdir -p "$STATE/boutique"
for f in samples/boutique/*.yaml; do
  sed -e "s#http://prometheus.monitoring:9090#$MSVC_PROMETHEUS_URL#" \
      -e 's/duration: 1m/duration: 10s/' -e 's/interval: 1m/interval: 5s/' -e 's/\[2m\]/[20s]/g' \
      "$f" >"$STATE/boutique/$(basename "$f")"
done
SERVICES=$(( $(find "$STATE/boutique" -name '*.yaml' | wc -l) ))
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null

# view prints the Microservices (and, with an argument, that one's rollout).
view() {
  if [[ -t 1 ]]; then printf '\033[H\033[2J'; fi
  printf '%s  (%ss)\n' "$1" "$(( $(date +%s) - START ))"
  kubectl get ms -n "$NS" -o custom-columns='NAME:.metadata.name,READY PODS:.status.readyReplicas,AVAILABLE:.status.conditions[?(@.type=="Available")].status,DEPENDENCIES:.status.conditions[?(@.type=="DependenciesReady")].status,PHASE:.status.rollout.phase,STEP:.status.rollout.currentStep,WEIGHT:.status.rollout.canaryWeight,IMAGE:.spec.image' 2>/dev/null
  if [[ -n "${2:-}" ]]; then
    echo
    kubectl get ms -n "$NS" "$2" -o jsonpath='{.status.rollout.message}{"\n"}{range .status.rollout.analysis.metrics[*]}  analysis: {.name}={.value} ({.phase}){"\n"}{end}' 2>/dev/null
    echo "  route weights: $(kubectl get httproute -n "$NS" "$2" -o jsonpath='{range .spec.rules[0].backendRefs[*]}{.name}={.weight} {end}' 2>/dev/null)"
  fi
  echo "  shoppers, last second (responses by version through the Gateway): $(tail -n 1 "$STATE/loadgen.log" 2>/dev/null)"
}
# wait_for runs view until the command in $2 succeeds, or fails after $3 seconds.
wait_for() {
  local title=$1 check=$2 timeout=$3 focus=${4:-} deadline=$(( $(date +%s) + $3 ))
  while ! eval "$check" >/dev/null 2>&1; do
    view "$title" "$focus"
    if (( $(date +%s) > deadline )); then echo "Timed out after ${timeout}s: $title" >&2; exit 1; fi
    sleep 2
  done
  view "$title" "$focus"
}
all_available() {
  [[ "$(kubectl get ms -n "$NS" -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Available")].status}{"\n"}{end}' | grep -c True)" == "$SERVICES" ]]
}
phase_is() { [[ "$(kubectl get ms -n "$NS" frontend -o jsonpath='{.status.rollout.phase}')" == "$1" ]]; }

say "Applying the $SERVICES services of the boutique at once (the whole of samples/boutique)"
kubectl apply -n "$NS" -f "$STATE/boutique/" >/dev/null
wait_for "The boutique comes up in dependency order (each service waits at 0 pods for what it needs)" all_available 300
UP=$(( $(date +%s) - START ))

say "Delivering frontend v0.10.3 as a canary"
kubectl patch ms -n "$NS" frontend --type merge -p '{"spec":{"image":"us-central1-docker.pkg.dev/google-samples/microservices-demo/frontend:v0.10.3"}}' >/dev/null
wait_for "Canary: 10%, a pause, an analysis of the success rate, 50%, then a manual gate" "phase_is Paused && [[ \$(kubectl get ms -n $NS frontend -o jsonpath='{.status.rollout.currentStep}') == 4 ]]" 300 frontend
echo; echo "Promoting past the manual gate:"
echo "  kubectl annotate ms frontend -n $NS --overwrite rollout.apps.msvc.dev/promote=\$(date +%s)"
kubectl annotate ms -n "$NS" frontend --overwrite "rollout.apps.msvc.dev/promote=$(date +%s)" >/dev/null
wait_for "Promoting: stable rolls out v0.10.3, then traffic moves back to it" "phase_is Succeeded" 300 frontend

say "Delivering a bad version: its canary fails half of its requests"
BAD_FROM=$(wc -l <"$STATE/loadgen.log")
kubectl patch ms -n "$NS" frontend --type merge -p '{"spec":{"image":"us-central1-docker.pkg.dev/google-samples/microservices-demo/frontend:v0.10.4-bad"}}' >/dev/null
wait_for "The analysis fails: traffic goes back to stable, the canary is removed" "phase_is RolledBack" 300 frontend
DEGRADED="$(kubectl get ms -n "$NS" frontend -o jsonpath='{.status.conditions[?(@.type=="Degraded")].message}')"
sleep 3
# The shoppers' failed responses from the bad version's patch to now.
FAILED=$(tail -n +"$((BAD_FROM + 1))" "$STATE/loadgen.log" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^(5xx|errors)=/) { split($i, kv, "="); n += kv[2] }} END {print n + 0}')

say "Summary"
cat <<SUMMARY
- $SERVICES services came up in dependency order in ${UP}s (from the start of this command)
- frontend v0.10.3 was delivered as a canary and promoted
- the bad version was rolled back: $DEGRADED
- shoppers saw $FAILED failed responses from the bad version (of about 50 a second through the Gateway)
- total: $(( $(date +%s) - START ))s

Poke at it:
  export KUBECONFIG=$KUBECONFIG
  $BINS/kubectl get ms -n $NS
  $BINS/kubectl get ms -n $NS frontend -o yaml
  curl -H 'Host: boutique.example.com' $MSVC_GATEWAY_URL/
  operator log: $STATE/operator.log
  shoppers' log: $STATE/loadgen.log
Tear it all down:
  make demo-down
SUMMARY
