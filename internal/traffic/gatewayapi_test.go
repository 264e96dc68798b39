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

package traffic

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

func routeWithParents(generation int64, parents ...gwv1.RouteParentStatus) *gwv1.HTTPRoute {
	return &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Generation: generation}, Status: gwv1.HTTPRouteStatus{RouteStatus: gwv1.RouteStatus{Parents: parents}}}
}

func parentStatus(name, ns string, status metav1.ConditionStatus, reason string, observed int64) gwv1.RouteParentStatus {
	var nsp *gwv1.Namespace
	if ns != "" {
		nsp = ptr.To(gwv1.Namespace(ns))
	}
	return gwv1.RouteParentStatus{
		ParentRef:  gwv1.ParentReference{Name: gwv1.ObjectName(name), Namespace: nsp},
		Conditions: []metav1.Condition{{Type: "Accepted", Status: status, Reason: reason, Message: "m", ObservedGeneration: observed}},
	}
}

func withResolvedRefs(p gwv1.RouteParentStatus, status metav1.ConditionStatus, reason, message string, observed int64) gwv1.RouteParentStatus {
	p.Conditions = append(p.Conditions, metav1.Condition{Type: "ResolvedRefs", Status: status, Reason: reason, Message: message, ObservedGeneration: observed})
	return p
}

func TestAcceptanceOf(t *testing.T) {
	parents := []msv1.ParentReference{{Name: "public", Namespace: "gateway-system"}, {Name: "internal"}}
	tests := []struct {
		name    string
		parents []msv1.ParentReference
		live    *gwv1.HTTPRoute
		status  metav1.ConditionStatus
		reason  string
		message string
	}{
		{"no parent reported", parents, routeWithParents(1), metav1.ConditionUnknown, ReasonPending, "gateway-system/public, shop/internal"},
		{"one parent of two accepted", parents, routeWithParents(1, parentStatus("public", "gateway-system", "True", "Accepted", 1)),
			metav1.ConditionUnknown, ReasonPending, "shop/internal"},
		{"report for an older generation", parents[:1], routeWithParents(2, parentStatus("public", "gateway-system", "True", "Accepted", 1)),
			metav1.ConditionUnknown, ReasonPending, "gateway-system/public"},
		{"one parent refused", parents, routeWithParents(1,
			parentStatus("public", "gateway-system", "True", "Accepted", 1), parentStatus("internal", "", "False", "NotAllowedByListeners", 1)),
			metav1.ConditionFalse, ReasonNotAccepted, "shop/internal (NotAllowedByListeners: m)"},
		{"same name in another namespace does not count", parents[:1], routeWithParents(1, parentStatus("public", "other", "True", "Accepted", 1)),
			metav1.ConditionUnknown, ReasonPending, "gateway-system/public"},
		{"accepted but a backend unresolved", parents[:1], routeWithParents(1, withResolvedRefs(parentStatus("public", "gateway-system", "True", "Accepted", 1),
			"False", "UnsupportedProtocol", "Cannot load HTTPBackendRef /Service/shop/checkout-stable: unsupported application protocol grpc", 1)),
			metav1.ConditionFalse, ReasonNotAccepted, "gateway-system/public (UnsupportedProtocol: Cannot load HTTPBackendRef /Service/shop/checkout-stable: unsupported application protocol grpc)"},
		{"unresolved for an older generation does not count", parents[:1], routeWithParents(2, withResolvedRefs(parentStatus("public", "gateway-system", "True", "Accepted", 2),
			"False", "UnsupportedProtocol", "old", 1)),
			metav1.ConditionTrue, ReasonAccepted, "1 parent(s)"},
		{"accepted and resolved", parents[:1], routeWithParents(1, withResolvedRefs(parentStatus("public", "gateway-system", "True", "Accepted", 1), "True", "ResolvedRefs", "", 1)),
			metav1.ConditionTrue, ReasonAccepted, "1 parent(s)"},
		{"all accepted", parents, routeWithParents(1,
			parentStatus("public", "gateway-system", "True", "Accepted", 1), parentStatus("internal", "", "True", "Accepted", 1)),
			metav1.ConditionTrue, ReasonAccepted, "2 parent(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop"}, Spec: msv1.MicroserviceSpec{Route: &msv1.Route{ParentRefs: tt.parents}}}
			got := AcceptanceOf(ms, tt.live)
			if got.Status != tt.status || got.Reason != tt.reason || !strings.Contains(got.Message, tt.message) {
				t.Fatalf("AcceptanceOf = %+v, want %s/%s containing %q", got, tt.status, tt.reason, tt.message)
			}
		})
	}
}

// TestApplied follows one route through a change that the router wrote:
// not applied until its parent reports on the new generation and the
// settle time has passed; a change no parent reports on is taken as applied
// after the apply timeout; a route no parent reports on is applied at once.
func TestApplied(t *testing.T) {
	now := time.Unix(1000, 0)
	g := &GatewayAPI{SettleTime: time.Second, ApplyTimeout: 30 * time.Second, Clock: func() time.Time { return now }}
	ctx := context.Background()
	route := routeWithParents(1, parentStatus("public", "", "True", "Accepted", 1))
	route.UID = "r1"
	if !g.applied(ctx, route) {
		t.Fatal("a route its parent reported on, never seen pending, must be applied")
	}

	route.Generation = 2
	g.wrote(route)
	steps := []struct {
		after    time.Duration
		observed int64
		want     bool
	}{
		{100 * time.Millisecond, 1, false}, // the parent has not reported on generation 2
		{100 * time.Millisecond, 2, false}, // reported: the settle time starts now
		{900 * time.Millisecond, 2, false}, // 0.9 s into the settle time
		{100 * time.Millisecond, 2, true},  // settled
		{time.Millisecond, 2, true},        // and it stays applied
	}
	for i, st := range steps {
		now = now.Add(st.after)
		route.Status.Parents[0].Conditions[0].ObservedGeneration = st.observed
		if got := g.applied(ctx, route); got != st.want {
			t.Fatalf("step %d (observed generation %d): applied = %v, want %v", i, st.observed, got, st.want)
		}
	}
	if len(g.pending) != 0 {
		t.Fatalf("an applied route must not stay pending: %v", g.pending)
	}

	// A generation no parent ever reports on.
	route.Generation = 3
	g.wrote(route)
	now = now.Add(29 * time.Second)
	if g.applied(ctx, route) {
		t.Fatal("applied 29 s after the write without a report")
	}
	now = now.Add(time.Second)
	if !g.applied(ctx, route) {
		t.Fatal("not applied once the apply timeout passed")
	}
	now = now.Add(time.Second)
	if !g.applied(ctx, route) {
		t.Fatal("a generation given up on must stay applied, not wait another timeout")
	}

	// A generation seen unreported by Observe (the write was by an earlier
	// manager) waits the same way.
	route.Generation = 4
	if g.applied(ctx, route) {
		t.Fatal("a generation its parent has not reported on must not be applied")
	}
	route.Status.Parents[0].Conditions[0].ObservedGeneration = 4
	if g.applied(ctx, route) {
		t.Fatal("applied before the settle time")
	}
	now = now.Add(time.Second)
	if !g.applied(ctx, route) {
		t.Fatal("not applied after the settle time")
	}

	// Parents that never reported serve nothing of the route, even one
	// this router wrote.
	fresh := routeWithParents(7)
	fresh.UID = "r2"
	g.wrote(fresh)
	if !g.applied(ctx, fresh) {
		t.Fatal("a route no parent reports on must be applied")
	}
	if len(g.pending) != 0 {
		t.Fatalf("a route no parent reports on must not stay pending: %v", g.pending)
	}
}
