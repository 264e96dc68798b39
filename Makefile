# Image of the manager.
IMG ?= ghcr.io/msvc-dev/msvc-operator:latest

# Versions of the tools, pinned so that generated code is reproducible.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.1

LOCALBIN ?= $(shell pwd)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)

# golangci-lint with kube-api-linter compiled in. Both versions are pinned in
# the go.mod of hack/tools/golangci-kal, and the binary is named after them,
# so a new pin builds a new binary and an existing one is reused.
GOLANGCI_KAL_DIR = hack/tools/golangci-kal
GOLANGCI_LINT_VERSION = $(shell awk '$$1 == "github.com/golangci/golangci-lint/v2" { print $$2 }' $(GOLANGCI_KAL_DIR)/go.mod)
KUBE_API_LINTER_VERSION = $(shell awk '$$1 == "sigs.k8s.io/kube-api-linter" { print $$2 }' $(GOLANGCI_KAL_DIR)/go.mod)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-kal-$(GOLANGCI_LINT_VERSION)-$(lastword $(subst -, ,$(KUBE_API_LINTER_VERSION)))
KUBE_BINS = $(shell hack/kube-bins.sh --print-dir)
KUBECTL ?= $(KUBE_BINS)/kubectl

GO_TEST_FLAGS ?=

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: demo
demo: ## The main job on a local cluster the project starts itself, with a real Traefik Gateway and real requests: the boutique up in order, a canary promoted, a bad version rolled back (needs root).
	hack/demo.sh

.PHONY: demo-down
demo-down: ## Stop the demo and its local control plane; nothing is left running.
	hack/demo.sh down

.PHONY: local-up
local-up: ## Start the local control plane (kwok, real controllers, Prometheus) and its data plane (Traefik's Gateway, pods that serve, in a network namespace); kubeconfig in .cache/local/kubeconfig.
	hack/local-cluster.sh up

.PHONY: local-down
local-down: ## Stop the local control plane.
	hack/local-cluster.sh down

.PHONY: local-status
local-status: ## Show what of the local control plane runs.
	hack/local-cluster.sh status

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD and RBAC manifests from the API types and markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./internal/..." paths="./cmd/..." output:crd:artifacts:config=config/crd/bases
	go run ./hack/crdtrim config/crd/bases/apps.msvc.dev_microservices.yaml
	cp config/crd/bases/apps.msvc.dev_microservices.yaml config/crd/bases/apps.msvc.dev_analysistemplates.yaml charts/msvc-operator/crds/
	cp config/crd/bases/apps.msvc.dev_microservices.yaml config/crd/bases/apps.msvc.dev_analysistemplates.yaml pkg/msvctest/crds/
	cp config/rbac/role.yaml charts/msvc-operator/files/manager-role.yaml

.PHONY: generate
generate: controller-gen ## Generate the DeepCopy methods of the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (.golangci.yml) with kube-api-linter on api/; builds the linter first if bin/ lacks it.
	$(GOLANGCI_LINT) run ./...

.PHONY: kube-bins
kube-bins: ## Build kube-apiserver and etcd for envtest from Go modules (cached in .cache/kube-bins).
	hack/kube-bins.sh kube-apiserver etcd

.PHONY: prometheus
prometheus: ## Install Prometheus (Debian's package) for the analysis tests, if it is missing.
	hack/ensure-prometheus.sh >/dev/null

.PHONY: test
test: manifests generate vet kube-bins prometheus ## Run every test: unit tests, envtest suites on a real kube-apiserver and etcd, analysis against a real Prometheus.
	KUBEBUILDER_ASSETS="$(KUBE_BINS)" PROMETHEUS_BIN="$$(hack/ensure-prometheus.sh 2>/dev/null)" go test ./... -timeout 30m $(GO_TEST_FLAGS) -coverprofile cover.out
	cd charts/msvc-operator/test && go test ./... $(GO_TEST_FLAGS)
	$(MAKE) test-fuzz

# go test's default 10-minute timeout is per package binary: the controller
# envtest suite takes about 5 minutes alone and has taken over 10 in CI while
# other packages' envtests shared the 2 cores with it.

# The fast loop: every test that needs neither kube-apiserver and etcd nor a
# Prometheus server. TestControllers (internal/controller) and
# TestShopManifests and TestRefusedManifest (pkg/msvctest) start envtest,
# TestPrometheusIntegration starts Prometheus; the promtool tests skip
# themselves when promtool is missing.
ENVTEST_TESTS = TestControllers|TestShopManifests|TestRefusedManifest|TestAdmission
.PHONY: test-unit
test-unit: ## Run the unit tests alone: no envtest, no Prometheus, no kube binaries needed.
	env -u KUBEBUILDER_ASSETS MSVC_SKIP_PROMETHEUS=1 go test ./... $(GO_TEST_FLAGS) -skip '^($(ENVTEST_TESTS)|TestPrometheusIntegration)$$'

# Each fuzz target runs a fixed number of inputs, about 10 seconds here: a
# count, unlike a duration, cannot end a run in the middle of minimising an
# input, which go test reports as "context deadline exceeded". FUZZTIME=5m
# (or 100000x) overrides it for every target.
FUZZTIME ?=
FUZZ_PARALLEL ?= 1
fuzztime = $(if $(FUZZTIME),$(FUZZTIME),$(1))

.PHONY: test-fuzz
test-fuzz: ## Run each fuzz target briefly (a fixed count of inputs, or FUZZTIME), one at a time; a failing input is saved under the package's testdata/fuzz/ (see docs/fuzzing.md).
	go test ./internal/builder -run '^$$' -fuzz '^FuzzBuild$$' -fuzztime $(call fuzztime,20000x) -parallel $(FUZZ_PARALLEL)
	go test ./internal/traffic -run '^$$' -fuzz '^FuzzHTTPRoute$$' -fuzztime $(call fuzztime,20000x) -parallel $(FUZZ_PARALLEL)
	go test ./internal/rollout -run '^$$' -fuzz '^FuzzPlan$$' -fuzztime $(call fuzztime,10000x) -parallel $(FUZZ_PARALLEL)
	go test ./internal/graph -run '^$$' -fuzz '^FuzzFindCycle$$' -fuzztime $(call fuzztime,50000x) -parallel $(FUZZ_PARALLEL)
	go test ./internal/graph -run '^$$' -fuzz '^FuzzEnvPrefix$$' -fuzztime $(call fuzztime,50000x) -parallel $(FUZZ_PARALLEL)

N ?= 1000

.PHONY: bench
bench: manifests kube-bins ## Measure the operator against the API server's own floor (N=1000; N=5000 and N=12000 work; ROLLOUTS=500 adds the rollout phase, ROLLOUT_ANALYSIS=true its variant with an analysis step on a real Prometheus; FLOOR=false skips the floors); prints a table, writes bench-N.json.
	KUBEBUILDER_ASSETS="$(KUBE_BINS)" $(if $(ROLLOUT_ANALYSIS),PROMETHEUS_BIN="$$(hack/ensure-prometheus.sh)") go run ./test/bench -n $(N) $(if $(MEMORY_LIMIT),-memory-limit $(MEMORY_LIMIT)) $(if $(ROLLOUTS),-rollouts $(ROLLOUTS)) $(if $(ROLLOUT_ANALYSIS),-rollout-analysis=$(ROLLOUT_ANALYSIS)) $(if $(FLOOR),-floor=$(FLOOR))

.PHONY: test-all
test-all: test test-e2e ## The whole test suite: make test, then the end-to-end suite.

.PHONY: test-e2e
test-e2e: ## End-to-end suite: installs the operator on the local control plane (started and stopped by the suite).
	go test -tags e2e ./test/e2e/ -count=1 -timeout 40m -v -args -ginkgo.v

.PHONY: verify
verify: manifests generate lint ## Fail when generated code (CRDs, RBAC, deepcopy) or a go.mod is stale, code is unformatted or make lint finds anything.
	go mod tidy
	cd charts/msvc-operator/test && go mod tidy
	cd $(GOLANGCI_KAL_DIR) && go mod tidy
	@if [ -n "$$(gofmt -l $$(git ls-files '*.go'))" ]; then echo "Unformatted Go files:"; gofmt -l $$(git ls-files '*.go'); exit 1; fi
	@if [ -n "$$(git status --porcelain -- api config charts pkg/msvctest/crds go.mod go.sum $(GOLANGCI_KAL_DIR))" ]; then \
		echo "Generated files are stale; run 'make manifests generate' and 'go mod tidy' and commit the result:"; \
		git status --porcelain -- api config charts pkg/msvctest/crds go.mod go.sum $(GOLANGCI_KAL_DIR); git --no-pager diff -- api config charts pkg/msvctest/crds go.mod go.sum $(GOLANGCI_KAL_DIR) | head -50; exit 1; fi
	@echo "Generated code is up to date"

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager and the kubectl plugin (bin/kubectl-msvc).
	go build -o bin/manager ./cmd
	go build -ldflags "-X main.version=$$(git describe --tags --always --dirty 2>/dev/null || echo dev)" -o bin/kubectl-msvc ./cmd/kubectl-msvc

.PHONY: run
run: manifests generate fmt vet ## Run the manager from source against the cluster KUBECONFIG points at.
	go run ./cmd

.PHONY: docker-build
docker-build: ## Build the manager image (needs a Docker engine).
	docker build -t $(IMG) .

.PHONY: lint-dockerfile
lint-dockerfile: ## Lint the Dockerfile (dockerfilelint, from the npm registry).
	npx --yes dockerfilelint@1 Dockerfile

.PHONY: build-installer
build-installer: manifests generate kustomize ## Write dist/install.yaml: CRDs, RBAC and the manager in one file.
	mkdir -p dist
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default > dist/install.yaml

##@ Deployment

.PHONY: install
install: manifests kustomize ## Install the CRDs into the cluster KUBECONFIG points at.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Remove the CRDs from the cluster KUBECONFIG points at.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator into the cluster KUBECONFIG points at.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator from the cluster KUBECONFIG points at.
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: kubectl
kubectl: ## Build kubectl from Go modules into the cache.
	hack/kube-bins.sh kubectl

##@ Tools

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)
$(GOLANGCI_LINT): $(GOLANGCI_KAL_DIR)/go.mod $(GOLANGCI_KAL_DIR)/go.sum $(GOLANGCI_KAL_DIR)/main.go | $(LOCALBIN)
	cd $(GOLANGCI_KAL_DIR) && go build -trimpath -o $(GOLANGCI_LINT) .

.PHONY: kustomize
kustomize: $(KUSTOMIZE)
$(KUSTOMIZE): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(LOCALBIN)/kustomize $(KUSTOMIZE)
