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
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/traffic"
)

func testMS() *msv1.Microservice {
	return &msv1.Microservice{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop", Generation: 3},
		Spec:       msv1.MicroserviceSpec{Image: "x", Ports: []msv1.ServicePort{{Name: "http", Port: 80}}},
	}
}

func deployment(generation, observed int64, replicas, updated, available int32, availableCond corev1.ConditionStatus) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Generation: generation},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(replicas)},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: observed, Replicas: updated, UpdatedReplicas: updated, AvailableReplicas: available, ReadyReplicas: available,
		},
	}
	if availableCond != "" {
		d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: availableCond, Message: "Deployment does not have minimum availability."}}
	}
	return d
}

type wantCond struct {
	status  metav1.ConditionStatus // "" means absent
	reason  string
	message string // substring
}

func checkCond(t *testing.T, ms *msv1.Microservice, typ string, want wantCond) {
	t.Helper()
	c := apimeta.FindStatusCondition(ms.Status.Conditions, typ)
	if want.status == "" {
		if c != nil {
			t.Fatalf("%s = %+v, want absent", typ, c)
		}
		return
	}
	if c == nil {
		t.Fatalf("%s absent, want %s/%s", typ, want.status, want.reason)
	}
	if c.Status != want.status || c.Reason != want.reason || !strings.Contains(c.Message, want.message) {
		t.Fatalf("%s = %s/%s %q, want %s/%s containing %q", typ, c.Status, c.Reason, c.Message, want.status, want.reason, want.message)
	}
	if c.ObservedGeneration != ms.Generation {
		t.Fatalf("%s observedGeneration = %d, want %d", typ, c.ObservedGeneration, ms.Generation)
	}
}

func TestSetAvailableCondition(t *testing.T) {
	tests := []struct {
		name string
		d    *appsv1.Deployment
		want wantCond
	}{
		{"no deployment", nil, wantCond{metav1.ConditionFalse, msv1.ReasonDeploymentNotFound, "does not exist yet"}},
		{"generation not observed, no condition yet", deployment(2, 1, 2, 0, 0, ""), wantCond{metav1.ConditionFalse, msv1.ReasonProgressing, "generation 2"}},
		{"rolling out a new generation on available pods", deployment(2, 1, 2, 2, 2, corev1.ConditionTrue), wantCond{metav1.ConditionTrue, msv1.ReasonSucceeded, "2 of 2 pods available"}},
		{"no condition yet", deployment(1, 1, 2, 0, 0, ""), wantCond{metav1.ConditionFalse, msv1.ReasonDeploymentUnavailable, "not reported availability"}},
		{"unavailable", deployment(1, 1, 3, 3, 1, corev1.ConditionFalse), wantCond{metav1.ConditionFalse, msv1.ReasonDeploymentUnavailable, "1 of 3 pods available"}},
		{"available", deployment(1, 1, 3, 3, 3, corev1.ConditionTrue), wantCond{metav1.ConditionTrue, msv1.ReasonSucceeded, "3 of 3 pods available"}},
		{"just scaled up from zero", deployment(2, 1, 2, 0, 0, corev1.ConditionTrue), wantCond{metav1.ConditionFalse, msv1.ReasonDeploymentUnavailable, "0 of 2 pods available"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := testMS()
			setAvailableCondition(ms, tt.d, false)
			checkCond(t, ms, msv1.AvailableCondition, tt.want)
		})
	}
}

func TestSetAvailableConditionWhileHeld(t *testing.T) {
	ms := testMS()
	// A Deployment at zero replicas is Available as far as Kubernetes goes.
	setAvailableCondition(ms, deployment(1, 1, 0, 0, 0, corev1.ConditionTrue), true)
	checkCond(t, ms, msv1.AvailableCondition, wantCond{metav1.ConditionFalse, msv1.ReasonDependenciesNotReady, "Held at zero replicas"})
}

func TestSetRouteAcceptedCondition(t *testing.T) {
	route := &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public"}}}
	refused := &traffic.Acceptance{Status: metav1.ConditionFalse, Reason: msv1.ReasonRouteNotAccepted, Message: "Route refused by shop/public (NotAllowedByListeners: m)"}
	tests := []struct {
		name       string
		route      *msv1.Route
		acceptance *traffic.Acceptance
		missing    bool
		want       wantCond
	}{
		{"no route asked for", nil, nil, false, wantCond{}},
		{"gateway API missing", route, nil, true, wantCond{metav1.ConditionFalse, msv1.ReasonGatewayAPINotInstalled, "install the Gateway API CRDs"}},
		{"route not applied yet", route, nil, false, wantCond{metav1.ConditionUnknown, msv1.ReasonRoutePending, "does not exist yet"}},
		{"what the router reports", route, refused, false, wantCond{metav1.ConditionFalse, msv1.ReasonRouteNotAccepted, "NotAllowedByListeners"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := testMS()
			ms.Spec.Route = tt.route
			setRouteAcceptedCondition(ms, tt.acceptance, tt.missing)
			checkCond(t, ms, msv1.RouteAcceptedCondition, tt.want)
		})
	}
}

func TestSetStalledCondition(t *testing.T) {
	tests := []struct {
		name    string
		route   *msv1.Route
		err     error
		missing bool
		want    wantCond
	}{
		{"healthy", nil, nil, false, wantCond{}},
		{"child refused", nil, errors.New(`Deployment "checkout" is invalid`), false, wantCond{metav1.ConditionTrue, msv1.ReasonApplyFailed, "is invalid"}},
		{"gateway API missing under a route", &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public"}}}, nil, true,
			wantCond{metav1.ConditionTrue, msv1.ReasonGatewayAPINotInstalled, "spec.route is set"}},
		{"gateway API missing under a mesh canary", nil, nil, true,
			wantCond{metav1.ConditionTrue, msv1.ReasonGatewayAPINotInstalled, "trafficRouting is Mesh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := testMS()
			ms.Spec.Route = tt.route
			setStalledCondition(ms, tt.err, tt.missing, "")
			checkCond(t, ms, msv1.StalledCondition, tt.want)
		})
	}
	t.Run("cleared once fixed", func(t *testing.T) {
		ms := testMS()
		setStalledCondition(ms, errors.New("x"), false, "")
		setStalledCondition(ms, nil, false, "")
		checkCond(t, ms, msv1.StalledCondition, wantCond{})
	})
}

func TestSetReconcilingCondition(t *testing.T) {
	tests := []struct {
		name    string
		d       *appsv1.Deployment
		stalled bool
		want    wantCond
	}{
		{"creating", nil, false, wantCond{metav1.ConditionTrue, msv1.ReasonProgressing, "Creating"}},
		{"new generation", deployment(2, 1, 3, 3, 3, "True"), false, wantCond{metav1.ConditionTrue, msv1.ReasonProgressing, "observe the new generation"}},
		{"rolling out", deployment(2, 2, 3, 1, 3, "True"), false, wantCond{metav1.ConditionTrue, msv1.ReasonProgressing, "1 of 3 pods updated"}},
		{"scaling up", deployment(2, 2, 3, 3, 2, "True"), false, wantCond{metav1.ConditionTrue, msv1.ReasonProgressing, "2 of 3 pods available"}},
		{"settled", deployment(2, 2, 3, 3, 3, "True"), false, wantCond{}},
		{"stalled wins", nil, true, wantCond{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := testMS()
			if tt.stalled {
				setStalledCondition(ms, errors.New("refused"), false, "")
			}
			setReconcilingCondition(ms, tt.d, false, false, dependencies{})
			checkCond(t, ms, msv1.ReconcilingCondition, tt.want)
		})
	}
	t.Run("old pods still running", func(t *testing.T) {
		ms := testMS()
		d := deployment(2, 2, 3, 3, 3, "True")
		d.Status.Replicas = 4
		setReconcilingCondition(ms, d, false, false, dependencies{})
		checkCond(t, ms, msv1.ReconcilingCondition, wantCond{metav1.ConditionTrue, msv1.ReasonProgressing, "1 old pods"})
	})
}

func TestSetReadyCondition(t *testing.T) {
	available := deployment(1, 1, 2, 2, 2, "True")
	accepted := &traffic.Acceptance{Status: metav1.ConditionTrue, Reason: msv1.ReasonSucceeded, Message: "Route accepted by 1 parent(s)"}
	pending := &traffic.Acceptance{Status: metav1.ConditionUnknown, Reason: msv1.ReasonRoutePending, Message: "Waiting for the Gateway controller"}
	tests := []struct {
		name  string
		route bool
		obs   observation
		want  wantCond
	}{
		{"available, no route", false, observation{deployment: available}, wantCond{metav1.ConditionTrue, msv1.ReasonSucceeded, "available"}},
		{"unavailable", false, observation{deployment: deployment(1, 1, 2, 2, 1, "False")}, wantCond{metav1.ConditionFalse, msv1.ReasonDeploymentUnavailable, "1 of 2"}},
		{"route pending", true, observation{deployment: available, route: pending}, wantCond{metav1.ConditionFalse, msv1.ReasonRoutePending, "Waiting"}},
		{"route accepted", true, observation{deployment: available, route: accepted}, wantCond{metav1.ConditionTrue, msv1.ReasonSucceeded, ""}},
		{"stalled", false, observation{deployment: available, applyErr: errors.New("Service is invalid")}, wantCond{metav1.ConditionFalse, msv1.ReasonApplyFailed, "Service is invalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := testMS()
			if tt.route {
				ms.Spec.Route = &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public"}}}
			}
			computeStatus(ms, tt.obs)
			checkCond(t, ms, msv1.ReadyCondition, tt.want)
			if ms.Status.ObservedGeneration != ms.Generation {
				t.Fatalf("observedGeneration = %d", ms.Status.ObservedGeneration)
			}
		})
	}
}

// A Microservice whose Deployment has settled but that is not Ready (its
// route pending) keeps a Reconciling condition that one setter removes and
// another sets again: computed once more, later, nothing may change, or each
// reconcile would write the status with a new transition time.
func TestComputeStatusKeepsTransitionTimes(t *testing.T) {
	ms := testMS()
	ms.Spec.Route = &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public"}}}
	obs := observation{
		deployment: deployment(1, 1, 2, 2, 2, "True"),
		route:      &traffic.Acceptance{Status: metav1.ConditionUnknown, Reason: msv1.ReasonRoutePending, Message: "Waiting for the Gateway controller"},
	}
	computeStatus(ms, obs)
	checkCond(t, ms, msv1.ReconcilingCondition, wantCond{metav1.ConditionTrue, msv1.ReasonRoutePending, "Waiting"})
	// As the API server stores it: whole seconds, an hour ago.
	for i := range ms.Status.Conditions {
		ms.Status.Conditions[i].LastTransitionTime = metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	}
	first := ms.Status.DeepCopy()

	computeStatus(ms, obs)
	if !equality.Semantic.DeepEqual(*first, ms.Status) {
		t.Fatalf("the status changed without a change of what was observed:\nbefore %+v\nafter  %+v", first.Conditions, ms.Status.Conditions)
	}

	// A real transition still gets a new time.
	obs.route = &traffic.Acceptance{Status: metav1.ConditionTrue, Reason: msv1.ReasonSucceeded, Message: "Route accepted by 1 parent(s)"}
	computeStatus(ms, obs)
	ready := apimeta.FindStatusCondition(ms.Status.Conditions, msv1.ReadyCondition)
	if ready.Status != metav1.ConditionTrue || !ready.LastTransitionTime.After(time.Now().Add(-time.Minute)) {
		t.Fatalf("Ready = %s at %v, want True now", ready.Status, ready.LastTransitionTime)
	}
}
