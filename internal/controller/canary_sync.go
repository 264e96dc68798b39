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

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// syncCanary applies the canary Deployment and the track Services of the
// canary strategy. Those of a Microservice that no longer asks for them are
// deleted by removeCanary, after the route has moved off them.
func (r *MicroserviceReconciler) syncCanary(ctx context.Context, ms *msv1.Microservice, obs *observation) error {
	if !builder.IsCanary(ms) {
		return nil
	}
	canary := &appsv1.Deployment{}
	if _, err := r.getLive(ctx, ms, builder.CanaryDeploymentName(ms), canary); err != nil {
		return err
	}
	if _, err := r.applier.Apply(ctx, builder.CanaryDeployment(ms, obs.plan.CanaryReplicas, obs.podInputs(), obs.canaryPodInputs()), canary); err != nil {
		return err
	}
	if !hasTrackServices(ms) {
		return nil
	}
	for _, track := range []string{builder.TrackStable, builder.TrackCanary} {
		svc := &corev1.Service{}
		if _, err := r.getLive(ctx, ms, builder.TrackServiceName(ms, track), svc); err != nil {
			return err
		}
		if _, err := r.applier.Apply(ctx, builder.TrackService(ms, track), svc); err != nil {
			return err
		}
	}
	return nil
}

// removeCanary deletes the canary Deployment and the track Services that the
// spec no longer asks for. It runs after syncRoute: a Microservice switched
// from Canary to RollingUpdate in the middle of a canary keeps its canary
// pods and their Services until the route sends nothing to them.
func (r *MicroserviceReconciler) removeCanary(ctx context.Context, ms *msv1.Microservice, _ *observation) error {
	if !builder.IsCanary(ms) {
		canary := &appsv1.Deployment{}
		found, err := r.getLive(ctx, ms, builder.CanaryDeploymentName(ms), canary)
		if err != nil {
			return err
		}
		if found {
			if err := r.deleteIfOwned(ctx, ms, "Deployment", canary); err != nil {
				return err
			}
		}
	}
	if hasTrackServices(ms) {
		return nil
	}
	for _, track := range []string{builder.TrackStable, builder.TrackCanary} {
		svc := &corev1.Service{}
		found, err := r.getLive(ctx, ms, builder.TrackServiceName(ms, track), svc)
		if err != nil {
			return err
		}
		if found {
			if err := r.deleteIfOwned(ctx, ms, "Service", svc); err != nil {
				return err
			}
		}
	}
	return nil
}

// hasTrackServices is true when the canary strategy needs a Service per
// track: the route weighs them, so a worker without ports has none.
func hasTrackServices(ms *msv1.Microservice) bool {
	return builder.IsCanary(ms) && len(ms.Spec.Ports) > 0
}

// asCanary is builder.AsCanary: a blue-green written as its canary.
func asCanary(ms *msv1.Microservice) *msv1.Microservice { return builder.AsCanary(ms) }
