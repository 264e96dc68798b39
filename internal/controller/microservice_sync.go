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
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	"github.com/msvc-dev/msvc-operator/internal/rollout"
	"github.com/msvc-dev/msvc-operator/internal/ssa"
	"github.com/msvc-dev/msvc-operator/internal/traffic"
)

// syncDeployment applies the stable Deployment. When autoscaling has just been
// turned on, spec.replicas is first handed to a separate field manager so that
// the operator can stop applying it without the pods scaling down to 1.
func (r *MicroserviceReconciler) syncDeployment(ctx context.Context, ms *msv1.Microservice, obs *observation) error {
	live := &appsv1.Deployment{}
	found, err := r.getLive(ctx, ms, builder.DeploymentName(ms), live)
	if err != nil {
		return err
	}
	if found {
		obs.deployment = live
	}
	// A new service waits for its required dependencies at zero replicas.
	obs.held = obs.plan.Hold
	if restore := obs.plan.RestoreStable; found && restore != "" && live.Annotations[builder.AnnotationRevision] != restore {
		// An interrupted promotion: the stable track goes back to the
		// template the promotion replaced.
		return r.restoreStableTemplate(ctx, ms, restore, obs, live)
	}
	if found && !obs.plan.UpdateStable {
		// A canary is being delivered, or a new version waits for
		// dependencies: the stable track keeps its template.
		return r.repairStableReplicas(ctx, ms, live)
	}
	if found && obs.plan.Status.Phase == msv1.RolloutPhasePromoting && live.Annotations[builder.AnnotationHeld] != "true" &&
		live.Annotations[builder.AnnotationRevision] != builder.Revision(ms, obs.podInputs()) {
		// The promotion replaces this template: keep it to go back to.
		if err := r.saveStableTemplate(ctx, ms, live); err != nil {
			return err
		}
	}
	decision := builder.DecideReplicas(ms, obs.held)
	// Handing spec.replicas to the autoscaler keeps the current pods. A
	// Deployment held at zero replicas has none, and its template gets the
	// dependencies' addresses in the apply that releases it: the hand-off
	// comes after that apply, so that no pod starts from the held template.
	handoff := found && builder.NeedsReplicasHandoff(decision, live)
	released := found && live.Annotations[builder.AnnotationHeld] == "true"
	if handoff && !released {
		if err := r.handOffReplicas(ctx, ms, live); err != nil {
			return err
		}
	}
	if _, err := r.applier.Apply(ctx, builder.Deployment(ms, decision, obs.podInputs()), live); err != nil {
		return err
	}
	if handoff && released {
		if err := r.handOffReplicas(ctx, ms, live); err != nil {
			return err
		}
	}
	obs.deployment = live
	return nil
}

func (r *MicroserviceReconciler) handOffReplicas(ctx context.Context, ms *msv1.Microservice, live *appsv1.Deployment) error {
	logf.FromContext(ctx).Info("Handing spec.replicas of the Deployment to the autoscaler", "replicas", live.Spec.Replicas)
	_, err := r.handoff.Apply(ctx, builder.ReplicasHandoff(ms, live), live)
	return err
}

// repairStableReplicas puts back the stable Deployment's replica count when
// someone else changed it while a canary is delivered: the stable track
// carries most of the traffic, and its template must not change before the
// promotion, so only spec.replicas is patched. A count the autoscaler owns
// is the autoscaler's.
func (r *MicroserviceReconciler) repairStableReplicas(ctx context.Context, ms *msv1.Microservice, live *appsv1.Deployment) error {
	want := builder.DecideReplicas(ms, false).Replicas
	if want == nil || live.Annotations[builder.AnnotationHeld] == "true" ||
		live.Annotations[builder.AnnotationReplicasOwner] == builder.ReplicasOwnerAutoscaler ||
		ptr.Deref(live.Spec.Replicas, 1) == *want {
		return nil
	}
	logf.FromContext(ctx).Info("Restoring the replicas of the stable Deployment, changed by someone else during a canary",
		"replicas", live.Spec.Replicas, "want", *want)
	patch := client.MergeFrom(live.DeepCopy())
	live.Spec.Replicas = ptr.To(*want)
	if err := r.Patch(ctx, live, patch, client.FieldOwner(ssa.FieldManager)); err != nil {
		return fmt.Errorf("restoring the replicas of Deployment %s/%s: %w", live.Namespace, live.Name, err)
	}
	return nil
}

// syncService applies the Service that gives ms its stable address, or
// deletes it when ms has no ports (a worker has no address). While a route
// weighs the canary, the Service selects the stable track only.
func (r *MicroserviceReconciler) syncService(ctx context.Context, ms *msv1.Microservice, obs *observation) error {
	live := &corev1.Service{}
	found, err := r.getLive(ctx, ms, builder.ServiceName(ms), live)
	if err != nil {
		return err
	}
	if len(ms.Spec.Ports) == 0 {
		if found {
			return r.deleteIfOwned(ctx, ms, "Service", live)
		}
		return nil
	}
	if found {
		if err := r.removeForeignPorts(ctx, ms, live); err != nil {
			return err
		}
	}
	_, err = r.applier.Apply(ctx, builder.Service(ms, rollout.RoutedByWeight(obs.rollout)), live)
	return err
}

// removeForeignPorts drops ports that are not in the spec from the live
// Service. Service ports are keyed by port number and protocol, so a port
// renumbered by hand is a new entry that server-side apply would keep next
// to the operator's own, and two entries with one name make the Service
// invalid. The operator owns the whole port list of its Service.
func (r *MicroserviceReconciler) removeForeignPorts(ctx context.Context, ms *msv1.Microservice, live *corev1.Service) error {
	desired := builder.ServicePorts(ms)
	want := map[string]bool{}
	for _, p := range desired {
		want[portKey(p.Port, p.Protocol)] = true
	}
	foreign := false
	for _, p := range live.Spec.Ports {
		foreign = foreign || !want[portKey(p.Port, p.Protocol)]
	}
	if !foreign || len(desired) == 0 {
		return nil
	}
	logf.FromContext(ctx).Info("Replacing Service ports that are not in the spec", "service", live.Name)
	base := live.DeepCopy()
	live.Spec.Ports = desired
	if err := r.Patch(ctx, live, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), client.FieldOwner(ssa.FieldManager)); err != nil {
		return fmt.Errorf("removing foreign ports of Service %s/%s: %w", live.Namespace, live.Name, err)
	}
	return nil
}

func portKey(port int32, protocol corev1.Protocol) string {
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	return fmt.Sprintf("%d/%s", port, protocol)
}

// syncAutoscaler applies the HorizontalPodAutoscaler, or deletes it when
// autoscaling has been turned off.
func (r *MicroserviceReconciler) syncAutoscaler(ctx context.Context, ms *msv1.Microservice, obs *observation) error {
	live := &autoscalingv2.HorizontalPodAutoscaler{}
	found, err := r.getLive(ctx, ms, builder.HPAName(ms), live)
	if err != nil {
		return err
	}
	desired := builder.HorizontalPodAutoscaler(ms)
	if obs.held {
		// An HPA does not scale a Deployment at zero replicas: it comes once the service starts.
		desired = nil
	}
	if desired == nil {
		if found {
			return r.deleteIfOwned(ctx, ms, "HorizontalPodAutoscaler", live)
		}
		return nil
	}
	_, err = r.applier.Apply(ctx, desired, live)
	return err
}

// syncRoute applies the route with the planner's weights, or removes it when
// the spec no longer has one. Without the router's provider in the cluster
// (no Gateway API), a Microservice that asks for a route is reported and
// everything else goes on.
func (r *MicroserviceReconciler) syncRoute(ctx context.Context, ms *msv1.Microservice, obs *observation) error {
	// A Microservice that moved to another router leaves nothing behind in
	// the one it left.
	for _, other := range r.routers.Others(ms) {
		if ok, err := other.Available(ctx); err != nil || !ok {
			continue
		}
		if err := other.Remove(ctx, ms); err != nil {
			return err
		}
	}
	router := r.routers.For(ms)
	available, err := router.Available(ctx)
	if err != nil {
		return err
	}
	switch {
	case !available:
		obs.gatewayAPIMissing = ms.Spec.Route != nil || builder.IsMeshRouted(ms)
		return nil
	case ms.Spec.Route == nil && !builder.IsMeshRouted(ms):
		return router.Remove(ctx, ms)
	}
	acceptance, err := router.Apply(ctx, ms, canaryWeight(obs), obs.rollout != nil && obs.plan.CanaryMatches)
	if errors.Is(err, traffic.ErrNotInstalled) {
		obs.gatewayAPIMissing = true
		return nil
	}
	if err != nil {
		return err
	}
	if ms.Spec.Route != nil {
		obs.route = &acceptance
	}
	return nil
}

// canaryWeight is the canary's share of the route's traffic that the planner decided.
func canaryWeight(obs *observation) int32 {
	if obs.rollout == nil {
		return 0
	}
	return obs.plan.RouteWeight
}
