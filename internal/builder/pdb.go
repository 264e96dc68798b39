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

package builder

import (
	"k8s.io/apimachinery/pkg/util/intstr"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// PodDisruptionBudgetName is the name of the PodDisruptionBudget of ms.
func PodDisruptionBudgetName(ms *msv1.Microservice) string { return ms.Name }

// PodDisruptionBudget is the desired PodDisruptionBudget of ms, or nil when
// ms should have none. It selects the pods of both tracks, so a canary's
// pods count against the same budget as the stable ones. held says that ms
// waits for its dependencies at zero replicas: there is nothing to protect
// then, whatever the spec says.
func PodDisruptionBudget(ms *msv1.Microservice, held bool) *policyv1ac.PodDisruptionBudgetApplyConfiguration {
	if held || !disruptionBudgetEnabled(ms) {
		return nil
	}
	spec := policyv1ac.PodDisruptionBudgetSpec().
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(ServiceSelector(ms)))
	b := ptr.Deref(ms.Spec.DisruptionBudget, msv1.DisruptionBudget{})
	switch {
	case b.MinAvailable != nil:
		spec.WithMinAvailable(*b.MinAvailable)
	case b.MaxUnavailable != nil:
		spec.WithMaxUnavailable(*b.MaxUnavailable)
	default:
		spec.WithMaxUnavailable(intstr.FromInt32(1))
	}
	return policyv1ac.PodDisruptionBudget(PodDisruptionBudgetName(ms), ms.Namespace).
		WithLabels(CommonLabels(ms)).
		WithOwnerReferences(OwnerReference(ms)).
		WithSpec(spec)
}

// disruptionBudgetEnabled applies spec.disruptionBudget.enabled, and without
// it the default: a budget while the service runs at least 2 pods. A budget
// on a single pod would block every node drain.
func disruptionBudgetEnabled(ms *msv1.Microservice) bool {
	if b := ms.Spec.DisruptionBudget; b != nil && b.Enabled != nil {
		return *b.Enabled
	}
	pods := ptr.Deref(ms.Spec.Replicas, 1)
	if a := ms.Spec.Autoscaling; a != nil {
		pods = ptr.Deref(a.MinReplicas, 1)
	}
	return pods >= 2
}
