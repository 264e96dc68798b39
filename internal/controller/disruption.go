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

	policyv1 "k8s.io/api/policy/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch;delete

// syncDisruptionBudget applies the PodDisruptionBudget, or deletes it when
// the service no longer wants one: turned off, down to a single pod, or held
// at zero replicas for its dependencies.
func (r *MicroserviceReconciler) syncDisruptionBudget(ctx context.Context, ms *msv1.Microservice, obs *observation) error {
	live := &policyv1.PodDisruptionBudget{}
	found, err := r.getLive(ctx, ms, builder.PodDisruptionBudgetName(ms), live)
	if err != nil {
		return err
	}
	desired := builder.PodDisruptionBudget(ms, obs.held)
	if desired == nil {
		if found {
			return r.deleteIfOwned(ctx, ms, "PodDisruptionBudget", live)
		}
		return nil
	}
	_, err = r.applier.Apply(ctx, desired, live)
	return err
}
