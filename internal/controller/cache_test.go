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

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	"github.com/msvc-dev/msvc-operator/internal/traffic"
)

func TestTrimCachedKeepsWhatTheOperatorReads(t *testing.T) {
	managed := []metav1.ManagedFieldsEntry{{Manager: "msvc-operator"}}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Name: name, Generation: 3, ResourceVersion: "42", ManagedFields: managed,
			Labels:      map[string]string{builder.LabelManagedBy: builder.ManagedByValue},
			Annotations: map[string]string{"apps.msvc.dev/revision": "abc"},
		}
	}
	ms := &msv1.Microservice{ObjectMeta: meta("cart"), Spec: msv1.MicroserviceSpec{Image: "cart:1"}, Status: msv1.MicroserviceStatus{URL: "http://cart"}}
	ms.Annotations[lastAppliedAnnotation] = `{"spec":{"image":"cart:1"}}`
	canaryMS := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Name: "cart"}}
	route := &gwv1.HTTPRoute{ObjectMeta: meta("cart"), Spec: gwv1.HTTPRouteSpec{Hostnames: []gwv1.Hostname{"shop.example.com"},
		Rules: []gwv1.HTTPRouteRule{{
			Matches: []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Value: ptr.To("/")}}},
			BackendRefs: []gwv1.HTTPBackendRef{
				{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "cart-stable", Port: ptr.To[gwv1.PortNumber](80)}, Weight: ptr.To[int32](70)}},
				{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "cart-canary", Port: ptr.To[gwv1.PortNumber](80)}, Weight: ptr.To[int32](30)}},
			},
		}}},
		Status: gwv1.HTTPRouteStatus{RouteStatus: gwv1.RouteStatus{Parents: []gwv1.RouteParentStatus{{ParentRef: gwv1.ParentReference{Name: "public"}}}}}}
	cases := []struct {
		name string
		in   client.Object
		// kept and dropped hold what must survive and what must go.
		kept, dropped func(client.Object) bool
	}{{
		name: "Microservice: spec and status kept, last-applied dropped",
		in:   ms,
		kept: func(o client.Object) bool {
			m := o.(*msv1.Microservice)
			return m.Spec.Image == "cart:1" && m.Status.URL == "http://cart"
		},
		dropped: func(o client.Object) bool { _, ok := o.GetAnnotations()[lastAppliedAnnotation]; return !ok },
	}, {
		name: "Deployment: replicas and status kept, selector and pod template dropped",
		in: &appsv1.Deployment{ObjectMeta: meta("cart"),
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cart"}},
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "cart:1"}}}}},
			Status: appsv1.DeploymentStatus{ReadyReplicas: 2}},
		kept: func(o client.Object) bool {
			d := o.(*appsv1.Deployment)
			return *d.Spec.Replicas == 2 && d.Status.ReadyReplicas == 2
		},
		dropped: func(o client.Object) bool {
			d := o.(*appsv1.Deployment)
			return d.Spec.Selector == nil && len(d.Spec.Template.Spec.Containers) == 0
		},
	}, {
		name: "Service: ports kept, the rest of the spec dropped",
		in:   &corev1.Service{ObjectMeta: meta("cart"), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}, ClusterIP: "10.0.0.1", Selector: map[string]string{"app": "cart"}}},
		kept: func(o client.Object) bool { return o.(*corev1.Service).Spec.Ports[0].Port == 80 },
		dropped: func(o client.Object) bool {
			s := o.(*corev1.Service)
			return s.Spec.ClusterIP == "" && s.Spec.Selector == nil
		},
	}, {
		name:    "HPA: metadata only",
		in:      &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta("cart"), Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 5}},
		kept:    func(client.Object) bool { return true },
		dropped: func(o client.Object) bool { return o.(*autoscalingv2.HorizontalPodAutoscaler).Spec.MaxReplicas == 0 },
	}, {
		name:    "NetworkPolicy: metadata only",
		in:      &networkingv1.NetworkPolicy{ObjectMeta: meta("cart"), Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}},
		kept:    func(client.Object) bool { return true },
		dropped: func(o client.Object) bool { return o.(*networkingv1.NetworkPolicy).Spec.PolicyTypes == nil },
	}, {
		name: "PodDisruptionBudget: metadata only",
		in: &policyv1.PodDisruptionBudget{ObjectMeta: meta("cart"),
			Spec:   policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cart"}}},
			Status: policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 2, DisruptedPods: map[string]metav1.Time{"cart-1": {}}}},
		kept: func(client.Object) bool { return true },
		dropped: func(o client.Object) bool {
			p := o.(*policyv1.PodDisruptionBudget)
			return p.Spec.Selector == nil && p.Spec.MaxUnavailable == nil && p.Status.CurrentHealthy == 0 && p.Status.DisruptedPods == nil
		},
	}, {
		// The planner reads what the live route sends to the canary: a
		// cache without the weights would tell it 0 whatever the route says.
		name: "HTTPRoute: parents' status and backend weights kept, the rest of the spec dropped",
		in:   route,
		kept: func(o client.Object) bool {
			r := o.(*gwv1.HTTPRoute)
			return r.Status.Parents[0].ParentRef.Name == "public" && traffic.CanaryWeightOf(canaryMS, r) == 30
		},
		dropped: func(o client.Object) bool {
			r := o.(*gwv1.HTTPRoute)
			return r.Spec.Hostnames == nil && r.Spec.Rules[0].Matches == nil && r.Spec.Rules[0].BackendRefs[0].Port == nil
		},
	}, {
		name: "EndpointSlice: the endpoints' conditions kept, addresses, targets and ports dropped",
		in: &discoveryv1.EndpointSlice{ObjectMeta: meta("cart-canary-x7k2p"), AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.0.0.7"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}, TargetRef: &corev1.ObjectReference{Name: "cart-canary-1"}, NodeName: ptr.To("node-1")},
				{Addresses: []string{"10.0.0.8"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
			},
			Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}}},
		kept: func(o client.Object) bool {
			e := o.(*discoveryv1.EndpointSlice).Endpoints
			return len(e) == 2 && *e[0].Conditions.Ready && !*e[1].Conditions.Ready
		},
		dropped: func(o client.Object) bool {
			s := o.(*discoveryv1.EndpointSlice)
			return s.Ports == nil && s.Endpoints[0].Addresses == nil && s.Endpoints[0].TargetRef == nil && s.Endpoints[0].NodeName == nil
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := trimCached(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got := out.(client.Object)
			switch {
			case got.GetManagedFields() != nil:
				t.Errorf("managedFields kept: %+v", got.GetManagedFields())
			case got.GetGeneration() != 3 || got.GetResourceVersion() != "42" || got.GetAnnotations()["apps.msvc.dev/revision"] != "abc" || got.GetLabels()[builder.LabelManagedBy] == "":
				t.Errorf("lost metadata the applier fingerprints: %+v", got)
			case !tc.kept(got):
				t.Errorf("lost what the operator reads: %+v", got)
			case !tc.dropped(got):
				t.Errorf("kept what the operator never reads: %+v", got)
			}
		})
	}
}
