/*
Copyright 2026 The msvc-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command manager runs the msvc-operator: the Microservice controller, its
// metrics endpoint and its health probes.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/msvc-dev/msvc-operator/internal/analysis"
	mscontroller "github.com/msvc-dev/msvc-operator/internal/controller"
	"github.com/msvc-dev/msvc-operator/internal/memlimit"
	"github.com/msvc-dev/msvc-operator/internal/notify"
	"github.com/msvc-dev/msvc-operator/internal/shard"
)

func main() {
	var (
		metricsAddr             string
		probeAddr               string
		secureMetrics           bool
		enableHTTP2             bool
		leaderElect             bool
		leaderElectionNamespace string
		maxConcurrentReconciles int
		qps                     float64
		burst                   int
		prometheusAddress       string
		prometheusCredentials   analysis.Credentials
		alertProvidersFile      string
		gatewayImplementation   string
		networkIsolation        bool
		monitoringNamespace     string
		watchNamespaces         string
		shards                  int
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "Address of the metrics endpoint (use :8080 with --metrics-secure=false for plain HTTP, 0 to disable).")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, to clients authenticated and authorised by the API server.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false, "Serve metrics over HTTP/2 too (off by default: HTTP/2 rapid-reset and stream cancellation CVEs).")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz probes.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader, so that only one of several manager replicas reconciles.")
	flag.StringVar(&leaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease and the shard Leases (default: the pod's namespace).")
	flag.IntVar(&shards, "shards", 1, "Split the Microservices into this many shards, held with Leases by the manager replicas (each reconciles its fair part of the shards, and takes over those of a replica that stops); 1 turns sharding off. Excludes --leader-elect.")
	flag.IntVar(&maxConcurrentReconciles, "max-concurrent-reconciles", 4, "Microservices reconciled in parallel.")
	flag.Float64Var(&qps, "kube-api-qps", mscontroller.DefaultKubeAPIQPS, "Sustained requests per second to the API server, per resource; negative (the default) turns the client-side limit off and leaves it to the API server's priority and fairness.")
	flag.IntVar(&burst, "kube-api-burst", mscontroller.DefaultKubeAPIBurst, "Burst of requests to the API server, with a --kube-api-qps of 0 or more.")
	flag.StringVar(&gatewayImplementation, "gateway-implementation", string(analysis.DefaultImplementation), "Gateway API implementation or mesh whose metrics the canary metric templates query, unless an analysis names one: traefik, envoy-gateway, istio, linkerd or nginx-gateway-fabric.")
	flag.StringVar(&prometheusAddress, "default-prometheus-address", "", "Prometheus used by canary analyses that name none, for example http://prometheus.monitoring:9090.")
	flag.StringVar(&prometheusCredentials.BearerTokenFile, "default-prometheus-bearer-token-file", "", "File holding a bearer token for --default-prometheus-address (read at every query; sent to no other address).")
	flag.StringVar(&alertProvidersFile, "alert-providers-file", "", "YAML file of the alert receivers (Slack, Microsoft Teams, Discord, generic webhooks) that Microservices may name in spec.rollout.canary.alerts; see docs/alerts.md.")
	flag.StringVar(&prometheusCredentials.CAFile, "default-prometheus-ca-file", "", "PEM file of the certificate authorities that --default-prometheus-address's certificate must chain to.")
	flag.BoolVar(&networkIsolation, "network-isolation", false, "Give every Microservice a NetworkPolicy built from the dependency graph, unless its spec.networkPolicy.enabled is false.")
	flag.StringVar(&monitoringNamespace, "monitoring-namespace", "", "Namespace allowed to scrape the ports named \"metrics\" of isolated Microservices.")
	flag.StringVar(&watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces to manage Microservices in (default: all).")
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")

	impl, err := analysis.ParseImplementation(gatewayImplementation)
	if err != nil {
		log.Error(err, "Invalid --gateway-implementation")
		os.Exit(1)
	}

	limit, from, err := memlimit.Apply(os.Getenv)
	if err != nil {
		log.Error(err, "Unable to set the Go memory limit")
		os.Exit(1)
	}
	if limit > 0 {
		log.Info("Go soft memory limit set", "bytes", limit, "from", from)
	}
	if percent, from := memlimit.GCPercentFromEnv(os.Getenv); percent > 0 {
		log.Info("Go collector target set", "gcPercent", percent, "from", from)
	}

	scheme, err := mscontroller.NewScheme()
	if err != nil {
		log.Error(err, "Unable to build the scheme")
		os.Exit(1)
	}

	cfg := ctrl.GetConfigOrDie()
	cfg.QPS = float32(qps)
	cfg.Burst = burst
	cfg.UserAgent = rest.DefaultKubernetesUserAgent() + " msvc-operator"

	cacheOpts := mscontroller.CacheOptions()
	if watchNamespaces != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range strings.Split(watchNamespaces, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				cacheOpts.DefaultNamespaces[ns] = cache.Config{}
			}
		}
	}

	if shards > 1 && leaderElect {
		log.Error(nil, "--shards and --leader-elect exclude each other: with shards every replica reconciles its part; drop --leader-elect")
		os.Exit(1)
	}
	if shards < 1 {
		log.Error(nil, "--shards must be 1 (no sharding) or more", "shards", shards)
		os.Exit(1)
	}

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         cacheOpts,
		Metrics:                       mscontroller.MetricsOptions(metricsAddr, secureMetrics, enableHTTP2),
		HealthProbeBindAddress:        probeAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              "msvc-operator.apps.msvc.dev",
		LeaderElectionNamespace:       leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		log.Error(err, "Unable to create the manager")
		os.Exit(1)
	}

	r := &mscontroller.MicroserviceReconciler{
		Client:                       mgr.GetClient(),
		APIReader:                    mgr.GetAPIReader(),
		Recorder:                     mgr.GetEventRecorder("msvc-operator"),
		DefaultPrometheusAddress:     prometheusAddress,
		DefaultPrometheusCredentials: prometheusCredentials,
		DefaultGatewayImplementation: string(impl),
		NetworkIsolation:             networkIsolation,
		MonitoringNamespace:          monitoringNamespace,
	}
	if alertProvidersFile != "" {
		providers, err := notify.LoadConfig(alertProvidersFile)
		if err != nil {
			log.Error(err, "Invalid --alert-providers-file")
			os.Exit(1)
		}
		r.Alerts = &notify.Sender{Providers: providers, Client: &http.Client{}, Timeout: 5 * time.Second, Attempts: 3, Log: ctrl.Log.WithName("alerts")}
		if err := mgr.Add(r.Alerts); err != nil {
			log.Error(err, "Unable to add the alert sender")
			os.Exit(1)
		}
		log.Info("Alert receivers loaded", "count", len(providers))
	}
	if shards > 1 {
		coordinator, err := newShardCoordinator(cfg, scheme, leaderElectionNamespace, shards, r.ShardAcquired)
		if err != nil {
			log.Error(err, "Unable to set up sharding")
			os.Exit(1)
		}
		r.Shards = coordinator
		ctrlmetrics.Registry.MustRegister(coordinator.Collectors()...)
		if err := mgr.Add(coordinator); err != nil {
			log.Error(err, "Unable to add the shard coordinator")
			os.Exit(1)
		}
		log.Info("Sharding on", "shards", shards)
	}
	if err := r.SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: maxConcurrentReconciles}); err != nil {
		log.Error(err, "Unable to set up the Microservice controller")
		os.Exit(1)
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "Unable to set up the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "Unable to set up the ready check")
		os.Exit(1)
	}

	log.Info("Starting the manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "Manager stopped with an error")
		os.Exit(1)
	}
}

// newShardCoordinator holds shard Leases in namespace (the pod's namespace
// when empty) under an identity of this process: its host name and a
// random suffix, so that a restarted pod is a new member.
func newShardCoordinator(cfg *rest.Config, scheme *runtime.Scheme, namespace string, shards int, acquired func(context.Context, int)) (*shard.Coordinator, error) {
	if namespace == "" {
		namespace = os.Getenv("POD_NAMESPACE")
	}
	if namespace == "" {
		data, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
		if err != nil {
			return nil, fmt.Errorf("no namespace for the shard Leases: set --leader-election-namespace (%w)", err)
		}
		namespace = strings.TrimSpace(string(data))
	}
	// Leases are read as they are, not cached: a replica watches no Lease.
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	return shard.New(shard.Options{
		Client: c, Namespace: namespace, Name: "msvc-operator", Shards: shards,
		Identity: strings.ToLower(host) + "-" + utilrand.String(5), Acquired: acquired,
	})
}
