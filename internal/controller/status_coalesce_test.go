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
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

func withStatus(dependents []string, observedGeneration int64) *msv1.Microservice {
	return &msv1.Microservice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart"},
		Status:     msv1.MicroserviceStatus{Dependents: dependents, ObservedGeneration: observedGeneration},
	}
}

func TestDependentsCoalescerHoldsAChangeOfDependentsAloneOnce(t *testing.T) {
	var c dependentsCoalescer
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	before, after := withStatus(nil, 1), withStatus([]string{"shop/frontend"}, 1)

	steps := []struct {
		at   time.Duration
		want time.Duration
	}{
		{0, dependentsDelay}, // first seen: wait
		{3 * time.Second, dependentsDelay - 3*time.Second}, // still waiting
		{dependentsDelay, 0},                             // waited long enough: write
		{dependentsDelay + time.Second, dependentsDelay}, // a new change waits afresh
	}
	for i, s := range steps {
		if got := c.hold(before, after, t0.Add(s.at)); got != s.want {
			t.Fatalf("step %d: hold = %v, want %v", i, got, s.want)
		}
	}
}

func TestDependentsCoalescerWritesAtOnceWhenMoreChanged(t *testing.T) {
	tests := map[string]struct {
		before, after *msv1.Microservice
	}{
		"dependents and observedGeneration": {withStatus(nil, 1), withStatus([]string{"shop/frontend"}, 2)},
		"observedGeneration only":           {withStatus(nil, 1), withStatus(nil, 2)},
		"nothing":                           {withStatus([]string{"shop/frontend"}, 1), withStatus([]string{"shop/frontend"}, 1)},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var c dependentsCoalescer
			if got := c.hold(tt.before, tt.after, time.Now()); got != 0 {
				t.Fatalf("hold = %v, want 0", got)
			}
		})
	}
}

func TestDependentsCoalescerForgetsAHeldChangeOnAFullWrite(t *testing.T) {
	var c dependentsCoalescer
	t0 := time.Now()
	c.hold(withStatus(nil, 1), withStatus([]string{"shop/frontend"}, 1), t0)
	c.hold(withStatus(nil, 1), withStatus([]string{"shop/frontend"}, 2), t0.Add(time.Second))
	if got := c.hold(withStatus(nil, 2), withStatus([]string{"shop/frontend", "shop/checkout"}, 2), t0.Add(2*time.Second)); got != dependentsDelay {
		t.Fatalf("hold after a full write = %v, want a fresh %v", got, dependentsDelay)
	}
}
