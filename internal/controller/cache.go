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
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// NewScheme returns a scheme with every type the operator reads or writes.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, msv1.AddToScheme, gwv1.Install} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// DefaultKubeAPIQPS and DefaultKubeAPIBurst are the manager's client-side
// rate limit unless --kube-api-qps and --kube-api-burst say otherwise. A
// negative QPS turns the client-side limit off, as controller-runtime does
// by default: the API server's priority and fairness (GA since Kubernetes
// 1.29) queues and sheds the manager's requests by its own load, and a
// limit in the client (one token bucket per resource's client) only delays
// work the server has room for. The burst applies only with a QPS of 0 or
// more.
const (
	DefaultKubeAPIQPS   = -1
	DefaultKubeAPIBurst = 100
)

// CacheOptions limits the operator's informers to what it manages: every
// Microservice, and of every other kind only the objects labelled as managed
// by the operator. Cached objects keep only what the operator reads: it
// never reads managedFields (often the largest part of an object), and of its
// children it reads little more than metadata, because it applies them whole
// and notices changes by their generation and resourceVersion (see
// internal/ssa). At thousands of Microservices the cache is most of the
// operator's memory.
func CacheOptions() cache.Options {
	managed := labels.SelectorFromSet(labels.Set{builder.LabelManagedBy: builder.ManagedByValue})
	return cache.Options{
		DefaultLabelSelector: managed,
		// One transform for every kind, rather than one per kind: a kind
		// named in ByObject must be served when the cache is built, and the
		// Gateway API may come later.
		DefaultTransform: trimCached,
		ByObject: map[client.Object]cache.ByObject{
			&msv1.Microservice{}:     {Label: labels.Everything()},
			&msv1.AnalysisTemplate{}: {Label: labels.Everything()},
			// The EndpointSlice controller copies a Service's labels to its
			// slices: of them, only the canary track Services' are kept,
			// whose ready endpoints gate a routed canary's weight.
			&discoveryv1.EndpointSlice{}: {Label: labels.SelectorFromSet(labels.Set{
				builder.LabelManagedBy: builder.ManagedByValue,
				builder.LabelTrack:     builder.TrackCanary,
			})},
			// Metadata only: the operator hashes versions, never reads data.
			metadataOf("ConfigMap"): {Label: labels.Everything()},
			metadataOf("Secret"):    {Label: labels.Everything()},
		},
	}
}

// lastAppliedAnnotation is where client-side kubectl apply (and Argo CD,
// by default) keeps a whole copy of the object it applied.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// trimCached drops from an object on its way into the cache what the
// operator never reads:
//   - managedFields, of every kind;
//   - a Microservice's last-applied-configuration, a second copy of its spec;
//   - a Deployment's spec but its replicas: the operator reads its
//     replicas, annotations and status, and notices a change of the pod
//     template by the generation;
//   - a Service's spec but its ports, which the operator keeps to its own;
//   - the spec and status of an HPA, of a NetworkPolicy and of a
//     PodDisruptionBudget;
//   - an HTTPRoute's spec but the kind, name and weight of each rule's
//     backends: the operator reads the weight the route sends to the
//     canary now, and its parents' status;
//   - of an EndpointSlice, everything but its endpoints' conditions: the
//     operator counts the ready ones.
//
// What it keeps shares one copy of the strings that repeat from object to
// object (see internMeta).
func trimCached(obj any) (any, error) {
	obj, err := cache.TransformStripManagedFields()(obj)
	if m, ok := obj.(metav1.Object); ok {
		internMeta(m)
	}
	switch o := obj.(type) {
	case *msv1.Microservice:
		delete(o.Annotations, lastAppliedAnnotation)
		internConditions(o.Status.Conditions)
		for i := range o.Status.Dependencies {
			d := &o.Status.Dependencies[i]
			d.Namespace = cacheStrings.get(d.Namespace)
			d.State = cacheStrings.get(d.State)
		}
	case *appsv1.Deployment:
		o.Spec = appsv1.DeploymentSpec{Replicas: o.Spec.Replicas}
		for i := range o.Status.Conditions {
			c := &o.Status.Conditions[i]
			c.Type = appsv1.DeploymentConditionType(cacheStrings.get(string(c.Type)))
			c.Status = corev1.ConditionStatus(cacheStrings.get(string(c.Status)))
			c.Reason = cacheStrings.get(c.Reason)
		}
	case *corev1.Service:
		o.Spec = corev1.ServiceSpec{Ports: o.Spec.Ports}
		o.Status = corev1.ServiceStatus{}
	case *autoscalingv2.HorizontalPodAutoscaler:
		o.Spec, o.Status = autoscalingv2.HorizontalPodAutoscalerSpec{}, autoscalingv2.HorizontalPodAutoscalerStatus{}
	case *networkingv1.NetworkPolicy:
		o.Spec = networkingv1.NetworkPolicySpec{}
	case *policyv1.PodDisruptionBudget:
		o.Spec, o.Status = policyv1.PodDisruptionBudgetSpec{}, policyv1.PodDisruptionBudgetStatus{}
	case *discoveryv1.EndpointSlice:
		for i, e := range o.Endpoints {
			o.Endpoints[i] = discoveryv1.Endpoint{Conditions: e.Conditions}
		}
		o.Ports = nil
	case *gwv1.HTTPRoute:
		o.Spec = gwv1.HTTPRouteSpec{Rules: backendWeights(o.Spec.Rules)}
		for i := range o.Status.Parents {
			internConditions(o.Status.Parents[i].Conditions)
		}
	}
	return obj, err
}

func metadataOf(kind string) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
	return m
}

// backendWeights keeps of a route's rules only what traffic.CanaryWeightOf
// reads: each backend's kind, name and weight.
func backendWeights(rules []gwv1.HTTPRouteRule) []gwv1.HTTPRouteRule {
	if len(rules) == 0 {
		return nil
	}
	out := make([]gwv1.HTTPRouteRule, len(rules))
	for i, rule := range rules {
		refs := make([]gwv1.HTTPBackendRef, len(rule.BackendRefs))
		for j, b := range rule.BackendRefs {
			refs[j].Kind, refs[j].Name, refs[j].Weight = b.Kind, b.Name, b.Weight
		}
		out[i].BackendRefs = refs
	}
	return out
}
