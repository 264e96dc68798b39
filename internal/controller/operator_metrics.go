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

package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// Operator metrics about rollouts, served on the manager's metrics endpoint.
var (
	rolloutsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "msvc_rollouts_total",
		Help: "Canary rollouts by outcome: started (including restarts and retries), succeeded, rolled_back, aborted.",
	}, []string{"namespace", "microservice", "outcome"})

	canaryWeightGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "msvc_canary_weight_percent",
		Help: "Percentage of the route's traffic sent to the canary.",
	}, []string{"namespace", "microservice"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(rolloutsTotal, canaryWeightGauge)
}

// outcomeOf maps a rollout event reason to the outcome label it counts as.
var outcomeOf = map[string]string{
	"RolloutStarted":    "started",
	"RolloutRestarted":  "started",
	"RolloutRetried":    "started",
	"RolloutSucceeded":  "succeeded",
	"RolloutRolledBack": "rolled_back",
	"RolloutAborted":    "aborted",
}

func observeRolloutMetrics(ms *msv1.Microservice, reasons []string, weight *int32) {
	for _, r := range reasons {
		if o, ok := outcomeOf[r]; ok {
			rolloutsTotal.WithLabelValues(ms.Namespace, ms.Name, o).Inc()
		}
	}
	if weight != nil {
		canaryWeightGauge.WithLabelValues(ms.Namespace, ms.Name).Set(float64(*weight))
	} else {
		canaryWeightGauge.DeleteLabelValues(ms.Namespace, ms.Name)
	}
}

func forgetRolloutMetrics(namespace, name string) {
	canaryWeightGauge.DeleteLabelValues(namespace, name)
	rolloutsTotal.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "microservice": name})
}
