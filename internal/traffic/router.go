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

// Package traffic exposes Microservices through a traffic provider and
// splits their requests between the stable and canary tracks. Each provider
// is a Router; the Gateway API is the first.
package traffic

import (
	"context"
	"errors"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// Router exposes a Microservice through one traffic provider.
type Router interface {
	// Available reports whether the provider is installed in the cluster.
	Available(ctx context.Context) (bool, error)
	// Apply makes the route of ms send canaryWeight percent of its requests
	// to the canary track (all to the Service without the canary strategy),
	// and with matches the requests of spec.rollout.canary.matches to the
	// canary whatever the weight, and reports whether the provider accepted
	// the route.
	Apply(ctx context.Context, ms *msv1.Microservice, canaryWeight int32, matches bool) (Acceptance, error)
	// Remove deletes the route of ms, if the router made one.
	Remove(ctx context.Context, ms *msv1.Microservice) error
	// Observe reads what the live route of ms does now: what the provider
	// was last told, whatever the status says (a status write can be lost),
	// and whether the provider has applied it yet.
	Observe(ctx context.Context, ms *msv1.Microservice) (Routed, error)
}

// Routed is what the live route of a Microservice does.
type Routed struct {
	// CanaryWeight is the share of requests the live route sends to the
	// canary track (0 without a route); a rule that sends matching requests
	// to the canary whatever the weight counts as at least 1.
	CanaryWeight int32
	// Applied is false while the provider has not yet applied the live
	// route's latest change: its data plane may still send requests by the
	// route's previous version, so the canary must keep its pods. A router
	// gives up waiting after a bound of its own (a provider that stopped
	// reporting must not hold a rollout forever) and reports true.
	Applied bool
}

// ErrNotInstalled is returned by Apply when the provider went away from the
// cluster (its CRDs were removed); Available reports false from then on
// until it is installed again.
var ErrNotInstalled = errors.New("traffic provider not installed")

// Acceptance is what the provider reports about a route.
type Acceptance struct {
	// Status is True when every parent accepted the route, False when one
	// refused it, Unknown while the provider has not reported.
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}
