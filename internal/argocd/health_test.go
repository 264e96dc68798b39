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

package argocd

import (
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

func script(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../config/argocd/health.lua")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func cond(t string, status metav1.ConditionStatus, msg string) metav1.Condition {
	return metav1.Condition{Type: t, Status: status, Reason: "R", Message: msg}
}

func TestHealth(t *testing.T) {
	ready := cond(msv1.ReadyCondition, "True", "Microservice is available")
	tests := []struct {
		name       string
		generation int64
		status     *msv1.MicroserviceStatus
		want       string
		message    string
	}{
		{"no status yet", 1, nil, "Progressing", "Waiting for the msvc-operator"},
		{"generation not observed", 2, &msv1.MicroserviceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{ready}}, "Progressing", "observe generation 2"},
		{"healthy", 1, &msv1.MicroserviceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{ready}}, "Healthy", "available"},
		{"stalled", 1, &msv1.MicroserviceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
			cond(msv1.StalledCondition, "True", "The dependencies form a cycle: a -> b -> a"), ready}}, "Degraded", "cycle"},
		{"rolled back", 1, &msv1.MicroserviceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
			cond(msv1.DegradedCondition, "True", "Analysis failed: success-rate=0.5")}}, "Degraded", "success-rate=0.5"},
		{"manual gate", 1, &msv1.MicroserviceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{ready},
			Rollout: &msv1.RolloutStatus{Phase: msv1.RolloutPhasePaused, Message: "Step 2/3: waiting for a promote"}}, "Suspended", "waiting for a promote"},
		{"canary stepping", 1, &msv1.MicroserviceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{ready},
			Rollout: &msv1.RolloutStatus{Phase: msv1.RolloutPhaseProgressing, Message: "Step 1/3"}}, "Progressing", "Step 1/3"},
		{"promoting", 1, &msv1.MicroserviceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{ready},
			Rollout: &msv1.RolloutStatus{Phase: msv1.RolloutPhasePromoting, Message: "Promoting"}}, "Progressing", "Promoting"},
		{"rolling update", 1, &msv1.MicroserviceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
			cond(msv1.ReconcilingCondition, "True", "Rolling out: 1 of 3 pods updated"), ready}}, "Progressing", "1 of 3"},
		{"succeeded canary", 1, &msv1.MicroserviceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{ready},
			Rollout: &msv1.RolloutStatus{Phase: msv1.RolloutPhaseSucceeded}}, "Healthy", ""},
		{"held for its release", 1, &msv1.MicroserviceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{ready},
			Rollout: &msv1.RolloutStatus{Phase: msv1.RolloutPhasePaused, Release: &msv1.ReleaseMemberStatus{Name: "checkout-v2", State: msv1.ReleasePassed,
				Message: "Passed every step; held for release checkout-v2, waiting for shop/storefront to pass the canary steps"}}}, "Progressing", "Release checkout-v2: Passed every step"},
		{"waiting for its release", 1, &msv1.MicroserviceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{ready},
			Rollout: &msv1.RolloutStatus{Phase: msv1.RolloutPhaseSucceeded, Release: &msv1.ReleaseMemberStatus{Name: "checkout-v2", State: msv1.ReleaseWaiting,
				Message: "Revision abc waits for release checkout-v2: shop/ledger must pass the canary steps first"}}}, "Progressing", "shop/ledger must pass"},
		{"gone back with its release", 1, &msv1.MicroserviceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{ready},
			Rollout: &msv1.RolloutStatus{Phase: msv1.RolloutPhaseRolledBack, Release: &msv1.ReleaseMemberStatus{Name: "checkout-v2", State: msv1.ReleaseRolledBack,
				FailedMember: "shop/checkout", Message: "Rolled back: release checkout-v2 went back after shop/checkout failed"}}}, "Degraded", "went back after shop/checkout failed"},
		{"promoted in its release", 1, &msv1.MicroserviceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{ready},
			Rollout: &msv1.RolloutStatus{Phase: msv1.RolloutPhaseSucceeded, Release: &msv1.ReleaseMemberStatus{Name: "checkout-v2", State: msv1.ReleasePromoted}}}, "Healthy", ""},
		{"not ready yet", 1, &msv1.MicroserviceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
			cond(msv1.ReadyCondition, "False", "Required dependencies not ready: payments (Missing)")}}, "Progressing", "payments (Missing)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Name: "checkout", Generation: tt.generation}}
			if tt.status != nil {
				ms.Status = *tt.status
			}
			var obj any = ms
			if tt.status == nil {
				obj = map[string]any{"metadata": map[string]any{"name": "checkout", "generation": 1}}
			}
			got, err := Evaluate(script(t), obj)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.want || !strings.Contains(got.Message, tt.message) {
				t.Fatalf("health = %s %q, want %s containing %q", got.Status, got.Message, tt.want, tt.message)
			}
		})
	}
}

func TestEvaluateReportsScriptErrors(t *testing.T) {
	if _, err := Evaluate("return 1", map[string]any{}); err == nil {
		t.Fatal("a script that returns no table must be an error")
	}
	if _, err := Evaluate("this is not lua", map[string]any{}); err == nil {
		t.Fatal("a broken script must be an error")
	}
}
