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
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

func TestPodDisruptionBudget(t *testing.T) {
	one, half := intstr.FromInt32(1), intstr.FromString("50%")
	tests := []struct {
		name   string
		mutate func(*msv1.Microservice)
		held   bool
		// want is nil when there must be no budget.
		want *policyv1.PodDisruptionBudgetSpec
	}{
		{"on at 2 replicas, one pod down at a time", func(m *msv1.Microservice) { m.Spec.Replicas = ptr.To[int32](2) }, false,
			&policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one}},
		{"off at 1 replica", func(m *msv1.Microservice) { m.Spec.Replicas = ptr.To[int32](1) }, false, nil},
		{"off at the default of 1 replica", func(*msv1.Microservice) {}, false, nil},
		{"off while held at zero for the dependencies", func(m *msv1.Microservice) { m.Spec.Replicas = ptr.To[int32](3) }, true, nil},
		{"off while held, even when enabled", func(m *msv1.Microservice) {
			m.Spec.Replicas = ptr.To[int32](3)
			m.Spec.DisruptionBudget = &msv1.DisruptionBudget{Enabled: ptr.To(true)}
		}, true, nil},
		{"enabled at 1 replica", func(m *msv1.Microservice) {
			m.Spec.DisruptionBudget = &msv1.DisruptionBudget{Enabled: ptr.To(true)}
		}, false, &policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one}},
		{"disabled at 5 replicas", func(m *msv1.Microservice) {
			m.Spec.Replicas = ptr.To[int32](5)
			m.Spec.DisruptionBudget = &msv1.DisruptionBudget{Enabled: ptr.To(false)}
		}, false, nil},
		{"minAvailable as a percentage, and no default maxUnavailable", func(m *msv1.Microservice) {
			m.Spec.Replicas = ptr.To[int32](4)
			m.Spec.DisruptionBudget = &msv1.DisruptionBudget{MinAvailable: &half}
		}, false, &policyv1.PodDisruptionBudgetSpec{MinAvailable: &half}},
		{"maxUnavailable as given", func(m *msv1.Microservice) {
			m.Spec.Replicas = ptr.To[int32](4)
			m.Spec.DisruptionBudget = &msv1.DisruptionBudget{MaxUnavailable: &half}
		}, false, &policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &half}},
		{"autoscaling from 2 pods", func(m *msv1.Microservice) {
			m.Spec.Autoscaling = &msv1.Autoscaling{MinReplicas: ptr.To[int32](2), MaxReplicas: 10}
		}, false, &policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one}},
		{"autoscaling from 1 pod, whatever spec.replicas says", func(m *msv1.Microservice) {
			m.Spec.Replicas = ptr.To[int32](3)
			m.Spec.Autoscaling = &msv1.Autoscaling{MinReplicas: ptr.To[int32](1), MaxReplicas: 10}
		}, false, nil},
		{"autoscaling with the default minReplicas of 1", func(m *msv1.Microservice) {
			m.Spec.Autoscaling = &msv1.Autoscaling{MaxReplicas: 10}
		}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := base()
			tt.mutate(ms)
			ac := PodDisruptionBudget(ms, tt.held)
			if tt.want == nil {
				if ac != nil {
					t.Fatalf("got a budget, want none: %+v", roundTrip[policyv1.PodDisruptionBudget](t, ac).Spec)
				}
				return
			}
			if ac == nil {
				t.Fatal("got no budget, want one")
			}
			got := roundTrip[policyv1.PodDisruptionBudget](t, ac)
			if got.Name != "checkout" || got.Namespace != "shop" {
				t.Errorf("name = %s/%s", got.Namespace, got.Name)
			}
			if got.Labels[LabelManagedBy] != ManagedByValue || got.Labels[LabelMicroservice] != "checkout" {
				t.Errorf("labels = %v", got.Labels)
			}
			if len(got.OwnerReferences) != 1 || !ptr.Deref(got.OwnerReferences[0].Controller, false) || got.OwnerReferences[0].UID != "uid-1" {
				t.Errorf("owner references = %+v", got.OwnerReferences)
			}
			if !equalIntOrString(got.Spec.MinAvailable, tt.want.MinAvailable) || !equalIntOrString(got.Spec.MaxUnavailable, tt.want.MaxUnavailable) {
				t.Errorf("minAvailable = %v, maxUnavailable = %v; want %v, %v",
					got.Spec.MinAvailable, got.Spec.MaxUnavailable, tt.want.MinAvailable, tt.want.MaxUnavailable)
			}
			if got.Spec.Selector == nil || len(got.Spec.Selector.MatchLabels) != 1 || got.Spec.Selector.MatchLabels[LabelMicroservice] != "checkout" {
				t.Errorf("selector = %+v, want the Service's selector", got.Spec.Selector)
			}
		})
	}
}

func TestPodDisruptionBudgetCoversBothTracks(t *testing.T) {
	ms := base()
	ms.Spec.Replicas = ptr.To[int32](3)
	pdb := roundTrip[policyv1.PodDisruptionBudget](t, PodDisruptionBudget(ms, false))
	selector, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*appsv1.Deployment{
		roundTrip[appsv1.Deployment](t, Deployment(ms, DecideReplicas(ms, false), PodInputs{})),
		roundTrip[appsv1.Deployment](t, CanaryDeployment(ms, 1, PodInputs{}, PodInputs{})),
	} {
		if !selector.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("the budget's selector %s does not match the pods of %s (%v)", selector, d.Name, d.Spec.Template.Labels)
		}
	}
	other := base()
	other.Name = "checkout-canary"
	if selector.Matches(labels.Set(roundTrip[appsv1.Deployment](t, Deployment(other, DecideReplicas(other, false), PodInputs{})).Spec.Template.Labels)) {
		t.Error("the budget selects the pods of another Microservice named like the canary")
	}
}

func equalIntOrString(a, b *intstr.IntOrString) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
