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
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	"github.com/msvc-dev/msvc-operator/internal/rollout"
	"github.com/msvc-dev/msvc-operator/internal/traffic"
)

// observation is what one reconcile saw of the children after applying them.
type observation struct {
	// deployment is the stable Deployment, nil when it does not exist.
	deployment *appsv1.Deployment
	// route is what the router reported about the route, nil when none was applied.
	route *traffic.Acceptance
	// gatewayAPIMissing is true when the Microservice asks for a route but the
	// cluster does not serve HTTPRoutes.
	gatewayAPIMissing bool
	// applyErr is the error of a child the API server refused, nil when every
	// child was applied.
	applyErr error
	// plan is the rollout planner's decision (UpdateStable only, without a canary).
	plan rollout.Decision
	// rollout is the new rollout status; nil without the canary strategy.
	rollout *msv1.RolloutStatus
	// configHash identifies the versions of the ConfigMaps and Secrets the pods read.
	configHash string
	// deps is what the reconcile saw of the dependencies and dependents.
	deps dependencies
	// held is true while the new service waits for its dependencies at zero replicas.
	held bool
	// release is the release the Microservice's change belongs to, nil without one.
	release *rollout.ReleaseView
}

func (o *observation) podInputs() builder.PodInputs {
	return builder.PodInputs{ConfigHash: o.configHash, DependencyEnv: o.deps.env}
}

// computeStatus writes the whole status of ms from what a reconcile observed
// that completed, or that stopped at a child the API server refused (a
// verdict that only a spec change alters, so observedGeneration advances).
func computeStatus(ms *msv1.Microservice, obs observation) {
	ms.Status.ObservedGeneration = ms.Generation
	ms.Status.Selector = builder.SelectorString(ms)
	ms.Status.URL = builder.URL(ms)
	if d := obs.deployment; d != nil {
		ms.Status.Replicas = d.Status.Replicas
		ms.Status.ReadyReplicas = d.Status.ReadyReplicas
		ms.Status.UpdatedReplicas = d.Status.UpdatedReplicas
	} else {
		ms.Status.Replicas, ms.Status.ReadyReplicas, ms.Status.UpdatedReplicas = 0, 0, 0
	}

	if obs.applyErr == nil {
		// The planner's new rollout state is true only once every child
		// carries it: a refused child keeps the last one.
		ms.Status.Rollout = obs.rollout
	}

	ms.Status.Dependencies = obs.deps.statuses

	before := slices.Clone(ms.Status.Conditions)
	defer keepTransitionTimes(ms, before)
	setDependenciesReadyCondition(ms, obs.deps)
	setAvailableCondition(ms, obs.deployment, obs.held)
	setRouteAcceptedCondition(ms, obs.route, obs.gatewayAPIMissing)
	setDegradedCondition(ms)
	setStalledCondition(ms, obs.applyErr, obs.gatewayAPIMissing, obs.deps.cycle)
	setReconcilingCondition(ms, obs.deployment, obs.held, obs.plan.Waiting != "", obs.deps)
	setReadyCondition(ms)
	setWaitingCondition(ms)
}

// keepTransitionTimes gives every condition whose status is the one it had
// before the conditions were computed its transition time back: a condition
// that one setter removes and a later one sets again (Reconciling, when the
// Deployment has settled but the Microservice is not Ready) has not
// transitioned, and a new time would make every such reconcile write the
// status again.
func keepTransitionTimes(ms *msv1.Microservice, before []metav1.Condition) {
	for i := range ms.Status.Conditions {
		c := &ms.Status.Conditions[i]
		if was := apimeta.FindStatusCondition(before, c.Type); was != nil && was.Status == c.Status {
			c.LastTransitionTime = was.LastTransitionTime
		}
	}
}

// setWaitingCondition keeps the conditions readable by kstatus (Flux,
// kpt, cli-utils), which knows only Reconciling and Stalled: a Microservice
// that is not Ready is either Stalled or Reconciling, never neither, or a
// kstatus reader would call it Current while Argo CD calls it Progressing.
func setWaitingCondition(ms *msv1.Microservice) {
	if apimeta.IsStatusConditionTrue(ms.Status.Conditions, msv1.ReadyCondition) ||
		apimeta.IsStatusConditionTrue(ms.Status.Conditions, msv1.StalledCondition) ||
		apimeta.IsStatusConditionTrue(ms.Status.Conditions, msv1.ReconcilingCondition) {
		return
	}
	ready := apimeta.FindStatusCondition(ms.Status.Conditions, msv1.ReadyCondition)
	setCondition(ms, msv1.ReconcilingCondition, metav1.ConditionTrue, ready.Reason, "Waiting: "+ready.Message)
}

func setCondition(ms *msv1.Microservice, t string, status metav1.ConditionStatus, reason, msg string) {
	apimeta.SetStatusCondition(&ms.Status.Conditions, metav1.Condition{
		Type:               t,
		Status:             status,
		Reason:             reason,
		Message:            msg,
		ObservedGeneration: ms.Generation,
	})
}

// setAvailableCondition mirrors the Deployment's Available condition: a
// Deployment rolling out a new version stays available on its old pods
// (Reconciling says that it is rolling out).
func setAvailableCondition(ms *msv1.Microservice, d *appsv1.Deployment, held bool) {
	if held {
		// A Deployment at zero replicas reports Available; a service held
		// back for its dependencies is not, or its own dependents would start.
		setCondition(ms, msv1.AvailableCondition, metav1.ConditionFalse, msv1.ReasonDependenciesNotReady,
			"Held at zero replicas until its required dependencies are available")
		return
	}
	if d == nil {
		setCondition(ms, msv1.AvailableCondition, metav1.ConditionFalse, msv1.ReasonDeploymentNotFound,
			fmt.Sprintf("Deployment %s does not exist yet", builder.DeploymentName(ms)))
		return
	}
	want := ptr.Deref(d.Spec.Replicas, 1)
	for _, c := range d.Status.Conditions {
		if c.Type != appsv1.DeploymentAvailable {
			continue
		}
		// A Deployment just scaled up from zero still carries the Available
		// condition of its empty state: without a single available pod the
		// service is not available.
		if c.Status == corev1.ConditionTrue && (want == 0 || d.Status.AvailableReplicas > 0) {
			setCondition(ms, msv1.AvailableCondition, metav1.ConditionTrue, msv1.ReasonSucceeded,
				fmt.Sprintf("%d of %d pods available", d.Status.AvailableReplicas, want))
			return
		}
		setCondition(ms, msv1.AvailableCondition, metav1.ConditionFalse, msv1.ReasonDeploymentUnavailable,
			fmt.Sprintf("%d of %d pods available: %s", d.Status.AvailableReplicas, want, c.Message))
		return
	}
	if d.Status.ObservedGeneration < d.Generation {
		setCondition(ms, msv1.AvailableCondition, metav1.ConditionFalse, msv1.ReasonProgressing,
			fmt.Sprintf("Deployment %s generation %d has not been observed by the Deployment controller yet", d.Name, d.Generation))
		return
	}
	setCondition(ms, msv1.AvailableCondition, metav1.ConditionFalse, msv1.ReasonDeploymentUnavailable,
		fmt.Sprintf("Deployment %s has not reported availability yet", d.Name))
}

// setRouteAcceptedCondition reports whether every parent of the route
// accepted it. The condition is removed when ms has no route.
func setRouteAcceptedCondition(ms *msv1.Microservice, route *traffic.Acceptance, gatewayAPIMissing bool) {
	if ms.Spec.Route == nil {
		apimeta.RemoveStatusCondition(&ms.Status.Conditions, msv1.RouteAcceptedCondition)
		return
	}
	if gatewayAPIMissing {
		setCondition(ms, msv1.RouteAcceptedCondition, metav1.ConditionFalse, msv1.ReasonGatewayAPINotInstalled,
			"The cluster does not serve gateway.networking.k8s.io/v1 HTTPRoute: install the Gateway API CRDs, or remove spec.route")
		return
	}
	if route == nil {
		setCondition(ms, msv1.RouteAcceptedCondition, metav1.ConditionUnknown, msv1.ReasonRoutePending,
			fmt.Sprintf("HTTPRoute %s does not exist yet", builder.HTTPRouteName(ms)))
		return
	}
	setCondition(ms, msv1.RouteAcceptedCondition, route.Status, route.Reason, route.Message)
}

// setStalledCondition is True when the operator cannot go on without a human:
// the API server refused a child, a route is asked for on a cluster without
// the Gateway API, or the last canary was rolled back or aborted.
func setStalledCondition(ms *msv1.Microservice, applyErr error, gatewayAPIMissing bool, cycle string) {
	switch {
	case cycle != "":
		setCondition(ms, msv1.StalledCondition, metav1.ConditionTrue, msv1.ReasonDependencyCycle,
			"The dependencies form a cycle: "+cycle+"; remove one of its edges")
	case applyErr != nil:
		setCondition(ms, msv1.StalledCondition, metav1.ConditionTrue, msv1.ReasonApplyFailed, applyErr.Error())
	case gatewayAPIMissing && ms.Spec.Route == nil:
		setCondition(ms, msv1.StalledCondition, metav1.ConditionTrue, msv1.ReasonGatewayAPINotInstalled,
			"spec.rollout.canary.trafficRouting is Mesh but the cluster does not serve gateway.networking.k8s.io/v1 HTTPRoute: install the Gateway API CRDs and a mesh, or leave trafficRouting out")
	case gatewayAPIMissing:
		setCondition(ms, msv1.StalledCondition, metav1.ConditionTrue, msv1.ReasonGatewayAPINotInstalled,
			"spec.route is set but the cluster does not serve gateway.networking.k8s.io/v1 HTTPRoute")
	case apimeta.IsStatusConditionTrue(ms.Status.Conditions, msv1.DegradedCondition):
		// A rolled-back or aborted canary waits for a new spec or a retry.
		d := apimeta.FindStatusCondition(ms.Status.Conditions, msv1.DegradedCondition)
		setCondition(ms, msv1.StalledCondition, metav1.ConditionTrue, d.Reason,
			d.Message+"; change the spec, or retry the revision with the "+msv1.RetryAnnotation+" annotation")
	default:
		apimeta.RemoveStatusCondition(&ms.Status.Conditions, msv1.StalledCondition)
	}
}

// setReconcilingCondition is True while the Deployment rolls out or scales,
// and absent once it has settled or when the operator is stalled.
func setReconcilingCondition(ms *msv1.Microservice, d *appsv1.Deployment, held, rolloutWaiting bool, deps dependencies) {
	if apimeta.IsStatusConditionTrue(ms.Status.Conditions, msv1.StalledCondition) {
		apimeta.RemoveStatusCondition(&ms.Status.Conditions, msv1.ReconcilingCondition)
		return
	}
	switch {
	case held:
		setCondition(ms, msv1.ReconcilingCondition, metav1.ConditionTrue, msv1.ReasonDependenciesNotReady,
			"Waiting at zero replicas for dependencies: "+strings.Join(deps.notReady, ", "))
		return
	case rolloutWaiting:
		setCondition(ms, msv1.ReconcilingCondition, metav1.ConditionTrue, msv1.ReasonDependenciesNotReady,
			"The new version waits for dependencies: "+strings.Join(deps.gating, ", "))
		return
	}
	if d == nil {
		setCondition(ms, msv1.ReconcilingCondition, metav1.ConditionTrue, msv1.ReasonProgressing, "Creating the Deployment")
		return
	}
	if ro := ms.Status.Rollout; rollout.Active(ro) {
		setCondition(ms, msv1.ReconcilingCondition, metav1.ConditionTrue, msv1.ReasonRolloutInProgress,
			fmt.Sprintf("Canary %s: %s", ro.Phase, ro.Message))
		return
	}
	want := ptr.Deref(d.Spec.Replicas, 1)
	switch {
	case d.Status.ObservedGeneration < d.Generation:
		setCondition(ms, msv1.ReconcilingCondition, metav1.ConditionTrue, msv1.ReasonProgressing,
			"Waiting for the Deployment controller to observe the new generation")
	case d.Status.UpdatedReplicas < want:
		setCondition(ms, msv1.ReconcilingCondition, metav1.ConditionTrue, msv1.ReasonProgressing,
			fmt.Sprintf("Rolling out: %d of %d pods updated", d.Status.UpdatedReplicas, want))
	case d.Status.Replicas > d.Status.UpdatedReplicas:
		setCondition(ms, msv1.ReconcilingCondition, metav1.ConditionTrue, msv1.ReasonProgressing,
			fmt.Sprintf("Rolling out: %d old pods still running", d.Status.Replicas-d.Status.UpdatedReplicas))
	case d.Status.AvailableReplicas < want:
		setCondition(ms, msv1.ReconcilingCondition, metav1.ConditionTrue, msv1.ReasonProgressing,
			fmt.Sprintf("Scaling: %d of %d pods available", d.Status.AvailableReplicas, want))
	default:
		apimeta.RemoveStatusCondition(&ms.Status.Conditions, msv1.ReconcilingCondition)
	}
}

// setDependenciesReadyCondition reports the required dependencies that hold
// the service back; it is absent for a service without dependencies.
func setDependenciesReadyCondition(ms *msv1.Microservice, deps dependencies) {
	switch {
	case len(ms.Spec.Dependencies) == 0:
		apimeta.RemoveStatusCondition(&ms.Status.Conditions, msv1.DependenciesReadyCondition)
	case deps.cycle != "":
		setCondition(ms, msv1.DependenciesReadyCondition, metav1.ConditionFalse, msv1.ReasonDependencyCycle, "Dependency cycle: "+deps.cycle)
	case len(deps.notReady) > 0:
		setCondition(ms, msv1.DependenciesReadyCondition, metav1.ConditionFalse, msv1.ReasonDependenciesNotReady,
			"Required dependencies not ready: "+strings.Join(deps.notReady, ", "))
	default:
		setCondition(ms, msv1.DependenciesReadyCondition, metav1.ConditionTrue, msv1.ReasonSucceeded,
			fmt.Sprintf("%d dependencies, every required one available", len(ms.Spec.Dependencies)))
	}
}

// setDegradedCondition is True while the last canary stands rolled back or
// aborted; its message says which metric values failed.
func setDegradedCondition(ms *msv1.Microservice) {
	ro := ms.Status.Rollout
	switch {
	case ro != nil && ro.Phase == msv1.RolloutPhaseRolledBack:
		setCondition(ms, msv1.DegradedCondition, metav1.ConditionTrue, msv1.ReasonRolledBack, ro.Message)
	case ro != nil && ro.Phase == msv1.RolloutPhaseAborted:
		setCondition(ms, msv1.DegradedCondition, metav1.ConditionTrue, msv1.ReasonAborted, ro.Message)
	default:
		apimeta.RemoveStatusCondition(&ms.Status.Conditions, msv1.DegradedCondition)
	}
}

// setReadyCondition summarises: Ready is True when the workload is available,
// the route (if any) is accepted and the operator is not stalled.
func setReadyCondition(ms *msv1.Microservice) {
	checks := []string{msv1.StalledCondition, msv1.DegradedCondition}
	if len(ms.Spec.Dependencies) > 0 {
		checks = append(checks, msv1.DependenciesReadyCondition)
	}
	checks = append(checks, msv1.AvailableCondition)
	if ms.Spec.Route != nil {
		checks = append(checks, msv1.RouteAcceptedCondition)
	}
	for _, t := range checks {
		c := apimeta.FindStatusCondition(ms.Status.Conditions, t)
		bad := c == nil || c.Status != metav1.ConditionTrue
		if t == msv1.StalledCondition || t == msv1.DegradedCondition {
			bad = c != nil && c.Status == metav1.ConditionTrue
		}
		if !bad {
			continue
		}
		reason, msg := msv1.ReasonNotReady, t+" condition is missing"
		if c != nil {
			reason, msg = c.Reason, c.Message
		}
		setCondition(ms, msv1.ReadyCondition, metav1.ConditionFalse, reason, msg)
		return
	}
	setCondition(ms, msv1.ReadyCondition, metav1.ConditionTrue, msv1.ReasonSucceeded, "Microservice is available")
}
