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
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/graph"
)

// ResolvedDependency is a declared dependency and, when the Microservice it
// names exists, the address of its Service.
type ResolvedDependency struct {
	Dep msv1.Dependency
	Key graph.Key
	// Found is false when the Microservice does not exist (or has no such port).
	Found bool
	Port  int32
	// Scheme is the URL scheme of the port (see Scheme), "" when it has no URL.
	Scheme string
	// Ports are every port of the dependency, for egress rules.
	Ports []msv1.ServicePort
	// Service is the name of the Service to call, when not the
	// dependency's own: its canary track's, for a canary calling the
	// canary of the same release.
	Service string
}

// DependencyKey is the key of the Microservice a dependency of ms names.
func DependencyKey(ms *msv1.Microservice, d msv1.Dependency) graph.Key {
	ns := d.Namespace
	if ns == "" {
		ns = ms.Namespace
	}
	return graph.Key{Namespace: ns, Name: d.Name}
}

// Host is the DNS name of the dependency's Service.
func (r ResolvedDependency) Host(short bool) string {
	name := r.Key.Name
	if r.Service != "" {
		name = r.Service
	}
	if short {
		return name
	}
	return fmt.Sprintf("%s.%s.svc.cluster.local", name, r.Key.Namespace)
}

// Address is the dependency's address in the given format. A port without
// a URL scheme (plain TCP) gets host:port where a URL is asked for.
func (r ResolvedDependency) Address(format msv1.AddressFormat, short bool) string {
	host := r.Host(short)
	switch {
	case format == msv1.AddressHost:
		return host
	case format == msv1.AddressHostPort || r.Scheme == "":
		return host + ":" + strconv.Itoa(int(r.Port))
	}
	return fmt.Sprintf("%s://%s:%d", r.Scheme, host, r.Port)
}

func keyOf(ms *msv1.Microservice) graph.Key { return graph.Key{Namespace: ms.Namespace, Name: ms.Name} }

// DependencyEnv is the environment that tells the pods where their
// dependencies are: <NAME>_URL (for a port with a URL scheme), <NAME>_HOST
// and <NAME>_PORT per dependency,
// or the one variable its env names. Dependencies that do not exist yet get
// no variables.
func DependencyEnv(deps []ResolvedDependency) []corev1.EnvVar {
	var env []corev1.EnvVar
	for _, r := range deps {
		if !r.Found {
			continue
		}
		if e := r.Dep.Env; e != nil {
			format := e.Format
			if format == "" {
				format = msv1.AddressURL
			}
			env = append(env, corev1.EnvVar{Name: e.Name, Value: r.Address(format, e.Short && r.Dep.Namespace == "")})
			continue
		}
		p := graph.EnvPrefix(r.Key.Name)
		if r.Scheme != "" {
			env = append(env, corev1.EnvVar{Name: p + "_URL", Value: r.Address(msv1.AddressURL, false)})
		}
		env = append(env,
			corev1.EnvVar{Name: p + "_HOST", Value: r.Host(false)},
			corev1.EnvVar{Name: p + "_PORT", Value: strconv.Itoa(int(r.Port))},
		)
	}
	return env
}

// NetworkPolicyName is the name of the NetworkPolicy of ms.
func NetworkPolicyName(ms *msv1.Microservice) string { return ms.Name }

// NetworkPolicyInputs is what the NetworkPolicy needs beyond the spec.
type NetworkPolicyInputs struct {
	// Consumers are the Microservices admitted to call ms: those that
	// declare it as a dependency, from its own namespace or from a
	// namespace its spec allows.
	Consumers []graph.Key
	// Dependencies are ms's own dependencies, for egress.
	Dependencies []ResolvedDependency
	// MonitoringNamespace, when set, may scrape the ports named "metrics".
	MonitoringNamespace string
}

// NetworkPolicy admits ingress to ms's pods only from its consumers, the
// namespaces of the Gateways of its route and the monitoring namespace (on
// the metrics port); with restrictEgress, the pods reach only their
// dependencies and DNS.
func NetworkPolicy(ms *msv1.Microservice, in NetworkPolicyInputs) *networkingv1ac.NetworkPolicyApplyConfiguration {
	servicePorts := func(ports []msv1.ServicePort, only string) []*networkingv1ac.NetworkPolicyPortApplyConfiguration {
		var out []*networkingv1ac.NetworkPolicyPortApplyConfiguration
		for _, p := range ports {
			if only != "" && p.Name != only {
				continue
			}
			out = append(out, networkingv1ac.NetworkPolicyPort().
				WithProtocol(Protocol(p)).
				WithPort(intstr.FromInt32(containerPort(p))))
		}
		return out
	}
	peer := func(k graph.Key) *networkingv1ac.NetworkPolicyPeerApplyConfiguration {
		return networkingv1ac.NetworkPolicyPeer().
			WithNamespaceSelector(namespaceSelector(k.Namespace)).
			WithPodSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{LabelMicroservice: k.Name}))
	}

	spec := networkingv1ac.NetworkPolicySpec().
		WithPodSelector(metav1ac.LabelSelector().WithMatchLabels(ServiceSelector(ms))).
		WithPolicyTypes(networkingv1.PolicyTypeIngress)

	ports := servicePorts(ms.Spec.Ports, "")
	if len(in.Consumers) > 0 && len(ports) > 0 {
		rule := networkingv1ac.NetworkPolicyIngressRule().WithPorts(ports...)
		for _, c := range in.Consumers {
			rule.WithFrom(peer(c))
		}
		spec.WithIngress(rule)
	}
	if r := ms.Spec.Route; r != nil && len(ports) > 0 {
		rule := networkingv1ac.NetworkPolicyIngressRule().WithPorts(ports...)
		seen := map[string]bool{}
		for _, p := range r.ParentRefs {
			ns := p.Namespace
			if ns == "" {
				ns = ms.Namespace
			}
			if !seen[ns] {
				seen[ns] = true
				rule.WithFrom(networkingv1ac.NetworkPolicyPeer().WithNamespaceSelector(namespaceSelector(ns)))
			}
		}
		spec.WithIngress(rule)
	}
	if metrics := servicePorts(ms.Spec.Ports, "metrics"); in.MonitoringNamespace != "" && len(metrics) > 0 {
		spec.WithIngress(networkingv1ac.NetworkPolicyIngressRule().
			WithPorts(metrics...).
			WithFrom(networkingv1ac.NetworkPolicyPeer().WithNamespaceSelector(namespaceSelector(in.MonitoringNamespace))))
	}

	if np := ms.Spec.NetworkPolicy; np != nil && np.RestrictEgress {
		spec.WithPolicyTypes(networkingv1.PolicyTypeEgress)
		// DNS, wherever the cluster runs it.
		spec.WithEgress(networkingv1ac.NetworkPolicyEgressRule().WithPorts(
			networkingv1ac.NetworkPolicyPort().WithProtocol(corev1.ProtocolUDP).WithPort(intstr.FromInt32(53)),
			networkingv1ac.NetworkPolicyPort().WithProtocol(corev1.ProtocolTCP).WithPort(intstr.FromInt32(53))))
		for _, d := range in.Dependencies {
			if !d.Found {
				continue
			}
			spec.WithEgress(networkingv1ac.NetworkPolicyEgressRule().
				WithTo(peer(d.Key)).
				WithPorts(servicePorts(d.Ports, "")...))
		}
	}

	return networkingv1ac.NetworkPolicy(NetworkPolicyName(ms), ms.Namespace).
		WithLabels(CommonLabels(ms)).
		WithOwnerReferences(OwnerReference(ms)).
		WithSpec(spec)
}

func namespaceSelector(ns string) *metav1ac.LabelSelectorApplyConfiguration {
	return metav1ac.LabelSelector().WithMatchLabels(map[string]string{"kubernetes.io/metadata.name": ns})
}
