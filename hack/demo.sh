#!/usr/bin/env bash
# The operator's main job, on a local control plane the project starts itself:
# the boutique application comes up in dependency order, a new version of the
# frontend is delivered as a canary and promoted, and a bad one is rolled back
# on its metrics.
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

say "Building and starting the operator and the demo's stand-in data plane"
go build -o bin/manager ./cmd
go build -o bin/demohelper ./test/demohelper
pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
if ! pid_alive "$STATE/demohelper.pid"; then
  setsid bin/demohelper --listen "$MSVC_DEMOHELPER_ADDR" >"$STATE/demohelper.log" 2>&1 &
  echo $! >"$STATE/demohelper.pid"
fi
if ! pid_alive "$STATE/operator.pid"; then
  setsid bin/manager --metrics-bind-address=0 --health-probe-bind-address=127.0.0.1:18081 \
    --default-prometheus-address="$MSVC_PROMETHEUS_URL" >"$STATE/operator.log" 2>&1 &
  echo $! >"$STATE/operator.pid"
fi
echo "operator log: $STATE/operator.log"

ratio() { curl -fsS -X POST "http://$MSVC_DEMOHELPER_ADDR/ratio?namespace=$NS&service=frontend&track=$1&ratio=$2" >/dev/null; }
for _ in $(seq 1 50); do ratio stable 0.999 2>/dev/null && break; sleep 0.1; done
ratio canary 0.999

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
    kubectl get ms -n "$NS" "$2" -o jsonpath='{.status.rollout.message}{"\n"}{range .status.rollout.analysis.metrics[*]}  {.name}={.value} ({.phase}){"\n"}{end}' 2>/dev/null
  fi
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
ratio canary 0.5
kubectl patch ms -n "$NS" frontend --type merge -p '{"spec":{"image":"us-central1-docker.pkg.dev/google-samples/microservices-demo/frontend:v0.10.4-bad"}}' >/dev/null
wait_for "The analysis fails: traffic goes back to stable, the canary is removed" "phase_is RolledBack" 300 frontend
DEGRADED="$(kubectl get ms -n "$NS" frontend -o jsonpath='{.status.conditions[?(@.type=="Degraded")].message}')"

say "Summary"
cat <<SUMMARY
- $SERVICES services came up in dependency order in ${UP}s (from the start of this command)
- frontend v0.10.3 was delivered as a canary and promoted
- the bad version was rolled back: $DEGRADED
- total: $(( $(date +%s) - START ))s

Poke at it:
  export KUBECONFIG=$KUBECONFIG
  $BINS/kubectl get ms -n $NS
  $BINS/kubectl get ms -n $NS frontend -o yaml
  operator log: $STATE/operator.log
Tear it all down:
  make demo-down
SUMMARY
