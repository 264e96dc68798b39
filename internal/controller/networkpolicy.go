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

	networkingv1 "k8s.io/api/networking/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// syncNetworkPolicy applies the NetworkPolicy of an isolated Microservice,
// or deletes it when isolation is off.
func (r *MicroserviceReconciler) syncNetworkPolicy(ctx context.Context, ms *msv1.Microservice, obs *observation) error {
	live := &networkingv1.NetworkPolicy{}
	found, err := r.getLive(ctx, ms, builder.NetworkPolicyName(ms), live)
	if err != nil {
		return err
	}
	if !r.isolated(ms) {
		if found {
			return r.deleteIfOwned(ctx, ms, "NetworkPolicy", live)
		}
		return nil
	}
	_, err = r.applier.Apply(ctx, builder.NetworkPolicy(ms, builder.NetworkPolicyInputs{
		Consumers:           obs.deps.consumers,
		Dependencies:        obs.deps.resolved,
		MonitoringNamespace: r.MonitoringNamespace,
	}), live)
	return err
}
