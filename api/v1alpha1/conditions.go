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

package v1alpha1

// Condition types of a Microservice. Ready is the summary; Reconciling and
// Stalled are "abnormal-true" in the kstatus sense: they are present and True
// only while the operator is working or stuck.
const (
	// ReadyCondition is True when the workload is available and, if the service
	// has a route, the route has been accepted by every parent.
	ReadyCondition = "Ready"

	// AvailableCondition mirrors the Deployment's Available condition.
	AvailableCondition = "Available"

	// RouteAcceptedCondition reports whether every parent of the HTTPRoute
	// accepted it. It is absent when the Microservice has no route.
	RouteAcceptedCondition = "RouteAccepted"

	// ReconcilingCondition is True while the children are being brought to the
	// desired state, for example while the Deployment rolls out.
	ReconcilingCondition = "Reconciling"

	// DependenciesReadyCondition is True when every required dependency
	// exists and is available; its message lists the ones that are not.
	DependenciesReadyCondition = "DependenciesReady"

	// DegradedCondition is True when the last canary was rolled back; its
	// message lists the metric values that failed.
	DegradedCondition = "Degraded"

	// StalledCondition is True when the operator cannot make progress without a
	// change by a human, for example when the API server refuses a child.
	StalledCondition = "Stalled"
)

// Reasons used in the conditions above.
const (
	// ReasonSucceeded means the condition's check passed.
	ReasonSucceeded = "Succeeded"

	// ReasonProgressing means the workload is rolling out or scaling.
	ReasonProgressing = "Progressing"

	// ReasonDeploymentNotFound means the Deployment is not in the cache yet.
	ReasonDeploymentNotFound = "DeploymentNotFound"

	// ReasonDeploymentUnavailable means the Deployment reports fewer available
	// pods than it needs.
	ReasonDeploymentUnavailable = "DeploymentUnavailable"

	// ReasonRoutePending means the route exists but no Gateway controller has
	// reported on it yet.
	ReasonRoutePending = "RoutePending"

	// ReasonRouteNotAccepted means at least one parent refused the route.
	ReasonRouteNotAccepted = "RouteNotAccepted"

	// ReasonGatewayAPINotInstalled means the cluster does not serve
	// gateway.networking.k8s.io/v1 HTTPRoute, so no route can be created.
	ReasonGatewayAPINotInstalled = "GatewayAPINotInstalled"

	// ReasonApplyFailed means the API server refused a child object.
	ReasonApplyFailed = "ApplyFailed"

	// ReasonRolloutInProgress means a canary is being delivered.
	ReasonRolloutInProgress = "RolloutInProgress"

	// ReasonRolledBack means the canary's analysis failed and it was removed.
	ReasonRolledBack = "RolledBack"

	// ReasonAborted means a human aborted the canary.
	ReasonAborted = "Aborted"

	// ReasonDependenciesNotReady means a required dependency is missing,
	// unavailable, rolling out or refuses this service.
	ReasonDependenciesNotReady = "DependenciesNotReady"

	// ReasonDependencyCycle means the dependencies form a cycle.
	ReasonDependencyCycle = "DependencyCycle"

	// ReasonNotReady is the Ready reason when a sub-condition is not True.
	ReasonNotReady = "NotReady"

	// ReasonRetrying means the last reconcile failed on an error that may
	// pass (the API server unreachable, a conflict, a timeout) and is retried
	// with backoff. Everything else in the status is what the last complete
	// reconcile observed.
	ReasonRetrying = "Retrying"
)
