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
	"encoding/json"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/graph"
)

// resolvedDep resolves d as a dependency of base() (namespace shop) whose
// Service exists and listens on port with the given scheme.
func resolvedDep(d msv1.Dependency, port int32, scheme string) ResolvedDependency {
	return ResolvedDependency{
		Dep:    d,
		Key:    DependencyKey(base(), d),
		Found:  true,
		Port:   port,
		Scheme: scheme,
		Ports:  []msv1.ServicePort{{Name: "main", Port: port}},
	}
}

// missingDep is a dependency of base() whose Microservice does not exist.
func missingDep(d msv1.Dependency) ResolvedDependency {
	return ResolvedDependency{Dep: d, Key: DependencyKey(base(), d)}
}

func TestDependencyKey(t *testing.T) {
	ms := base()
	if got := DependencyKey(ms, msv1.Dependency{Name: "payments"}); got != (graph.Key{Namespace: "shop", Name: "payments"}) {
		t.Fatalf("same-namespace key = %v", got)
	}
	if got := DependencyKey(ms, msv1.Dependency{Name: "ledger", Namespace: "billing"}); got != (graph.Key{Namespace: "billing", Name: "ledger"}) {
		t.Fatalf("cross-namespace key = %v", got)
	}
}

func TestDependencyEnv(t *testing.T) {
	tests := []struct {
		name string
		deps []ResolvedDependency
		want []corev1.EnvVar
	}{
		{
			name: "no dependencies, no variables",
			deps: nil,
			want: nil,
		},
		{
			name: "default names are _URL, _HOST and _PORT with the full host",
			deps: []ResolvedDependency{resolvedDep(msv1.Dependency{Name: "payments"}, 8080, "http")},
			want: []corev1.EnvVar{
				{Name: "PAYMENTS_URL", Value: "http://payments.shop.svc.cluster.local:8080"},
				{Name: "PAYMENTS_HOST", Value: "payments.shop.svc.cluster.local"},
				{Name: "PAYMENTS_PORT", Value: "8080"},
			},
		},
		{
			name: "default names turn '-' into '_' and upper-case the name",
			deps: []ResolvedDependency{resolvedDep(msv1.Dependency{Name: "product-catalog"}, 3550, "http")},
			want: []corev1.EnvVar{
				{Name: "PRODUCT_CATALOG_URL", Value: "http://product-catalog.shop.svc.cluster.local:3550"},
				{Name: "PRODUCT_CATALOG_HOST", Value: "product-catalog.shop.svc.cluster.local"},
				{Name: "PRODUCT_CATALOG_PORT", Value: "3550"},
			},
		},
		{
			name: "default names of a cross-namespace dependency use its namespace",
			deps: []ResolvedDependency{resolvedDep(msv1.Dependency{Name: "ledger", Namespace: "billing"}, 9090, "http")},
			want: []corev1.EnvVar{
				{Name: "LEDGER_URL", Value: "http://ledger.billing.svc.cluster.local:9090"},
				{Name: "LEDGER_HOST", Value: "ledger.billing.svc.cluster.local"},
				{Name: "LEDGER_PORT", Value: "9090"},
			},
		},
		{
			name: "https scheme",
			deps: []ResolvedDependency{resolvedDep(msv1.Dependency{Name: "vault"}, 8200, "https")},
			want: []corev1.EnvVar{
				{Name: "VAULT_URL", Value: "https://vault.shop.svc.cluster.local:8200"},
				{Name: "VAULT_HOST", Value: "vault.shop.svc.cluster.local"},
				{Name: "VAULT_PORT", Value: "8200"},
			},
		},
		{
			name: "custom name, URL format",
			deps: []ResolvedDependency{resolvedDep(msv1.Dependency{Name: "catalog", Env: &msv1.DependencyEnv{Name: "CATALOG_ENDPOINT", Format: msv1.AddressURL}}, 3550, "http")},
			want: []corev1.EnvVar{{Name: "CATALOG_ENDPOINT", Value: "http://catalog.shop.svc.cluster.local:3550"}},
		},
		{
			name: "custom name without a format means URL",
			deps: []ResolvedDependency{resolvedDep(msv1.Dependency{Name: "catalog", Env: &msv1.DependencyEnv{Name: "CATALOG_ENDPOINT"}}, 3550, "https")},
			want: []corev1.EnvVar{{Name: "CATALOG_ENDPOINT", Value: "https://catalog.shop.svc.cluster.local:3550"}},
		},
		{
			name: "custom name, short URL",
			deps: []ResolvedDependency{resolvedDep(msv1.Dependency{Name: "catalog", Env: &msv1.DependencyEnv{Name: "CATALOG_ENDPOINT", Format: msv1.AddressURL, Short: true}}, 3550, "http")},
			want: []corev1.EnvVar{{Name: "CATALOG_ENDPOINT", Value: "http://catalog:3550"}},
		},
		{
			name: "custom name, HostPort format",
			deps: []ResolvedDependency{resolvedDep(msv1.Dependency{Name: "catalog", Env: &msv1.DependencyEnv{Name: "PRODUCT_CATALOG_SERVICE_ADDR", Format: msv1.AddressHostPort}}, 3550, "http")},
			want: []corev1.EnvVar{{Name: "PRODUCT_CATALOG_SERVICE_ADDR", Value: "catalog.shop.svc.cluster.local:3550"}},
		},
		{
			name: "custom name, short HostPort",
			deps: []ResolvedDependency{resolvedDep(msv1.Dependency{Name: "catalog", Env: &msv1.DependencyEnv{Name: "PRODUCT_CATALOG_SERVICE_ADDR", Format: msv1.AddressHostPort, Short: true}}, 3550, "http")},
			want: []corev1.EnvVar{{Name: "PRODUCT_CATALOG_SERVICE_ADDR", Value: "catalog:3550"}},
		},
		{
			name: "custom name, Host format",
			deps: []ResolvedDependency{resolvedDep(msv1.Dependency{Name: "redis-cart", Env: &msv1.DependencyEnv{Name: "REDIS_HOST", Format: msv1.AddressHost}}, 6379, "http")},
			want: []corev1.EnvVar{{Name: "REDIS_HOST", Value: "redis-cart.shop.svc.cluster.local"}},
		},
		{
			name: "custom name, short Host",
			deps: []ResolvedDependency{resolvedDep(msv1.Dependency{Name: "redis-cart", Env: &msv1.DependencyEnv{Name: "REDIS_HOST", Format: msv1.AddressHost, Short: true}}, 6379, "http")},
			want: []corev1.EnvVar{{Name: "REDIS_HOST", Value: "redis-cart"}},
		},
		{
			name: "short is ignored for a dependency in another namespace",
			deps: []ResolvedDependency{
				resolvedDep(msv1.Dependency{Name: "ledger", Namespace: "billing", Env: &msv1.DependencyEnv{Name: "LEDGER_ADDR", Format: msv1.AddressHostPort, Short: true}}, 9090, "http"),
				resolvedDep(msv1.Dependency{Name: "fraud", Namespace: "risk", Env: &msv1.DependencyEnv{Name: "FRAUD_URL", Short: true}}, 443, "https"),
			},
			want: []corev1.EnvVar{
				{Name: "LEDGER_ADDR", Value: "ledger.billing.svc.cluster.local:9090"},
				{Name: "FRAUD_URL", Value: "https://fraud.risk.svc.cluster.local:443"},
			},
		},
		{
			name: "a missing dependency gives no variables",
			deps: []ResolvedDependency{
				missingDep(msv1.Dependency{Name: "payments"}),
				missingDep(msv1.Dependency{Name: "ads", Optional: true, Env: &msv1.DependencyEnv{Name: "AD_SERVICE_ADDR", Format: msv1.AddressHostPort, Short: true}}),
			},
			want: nil,
		},
		{
			name: "found dependencies keep their order around missing ones",
			deps: []ResolvedDependency{
				resolvedDep(msv1.Dependency{Name: "cart", Env: &msv1.DependencyEnv{Name: "CART_SERVICE_ADDR", Format: msv1.AddressHostPort, Short: true}}, 7070, "http"),
				missingDep(msv1.Dependency{Name: "ads", Optional: true, Env: &msv1.DependencyEnv{Name: "AD_SERVICE_ADDR", Format: msv1.AddressHostPort, Short: true}}),
				resolvedDep(msv1.Dependency{Name: "currency"}, 7000, "http"),
			},
			want: []corev1.EnvVar{
				{Name: "CART_SERVICE_ADDR", Value: "cart:7070"},
				{Name: "CURRENCY_URL", Value: "http://currency.shop.svc.cluster.local:7000"},
				{Name: "CURRENCY_HOST", Value: "currency.shop.svc.cluster.local"},
				{Name: "CURRENCY_PORT", Value: "7000"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DependencyEnv(tt.deps)
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("DependencyEnv() =\n%s\nwant\n%s", asJSON(t, got), asJSON(t, tt.want))
			}
		})
	}
}

func TestDependencyEnvInPodTemplate(t *testing.T) {
	depEnv := DependencyEnv([]ResolvedDependency{
		resolvedDep(msv1.Dependency{Name: "cart", Env: &msv1.DependencyEnv{Name: "CART_SERVICE_ADDR", Format: msv1.AddressHostPort, Short: true}}, 7070, "http"),
		resolvedDep(msv1.Dependency{Name: "currency", Env: &msv1.DependencyEnv{Name: "CURRENCY_SERVICE_ADDR", Format: msv1.AddressHostPort, Short: true}}, 7000, "http"),
	})

	tests := []struct {
		name    string
		specEnv []corev1.EnvVar
		want    []corev1.EnvVar
	}{
		{
			name: "injected variables only",
			want: []corev1.EnvVar{
				{Name: "CART_SERVICE_ADDR", Value: "cart:7070"},
				{Name: "CURRENCY_SERVICE_ADDR", Value: "currency:7000"},
			},
		},
		{
			name:    "spec.env comes first, injected variables after it",
			specEnv: []corev1.EnvVar{{Name: "PORT", Value: "5050"}},
			want: []corev1.EnvVar{
				{Name: "PORT", Value: "5050"},
				{Name: "CART_SERVICE_ADDR", Value: "cart:7070"},
				{Name: "CURRENCY_SERVICE_ADDR", Value: "currency:7000"},
			},
		},
		{
			name: "a spec.env variable of the same name wins",
			specEnv: []corev1.EnvVar{
				{Name: "PORT", Value: "5050"},
				{Name: "CART_SERVICE_ADDR", Value: "cart.legacy:7070"},
			},
			want: []corev1.EnvVar{
				{Name: "PORT", Value: "5050"},
				{Name: "CART_SERVICE_ADDR", Value: "cart.legacy:7070"},
				{Name: "CURRENCY_SERVICE_ADDR", Value: "currency:7000"},
			},
		},
		{
			name: "a spec.env variable from a Secret wins too",
			specEnv: []corev1.EnvVar{{Name: "CURRENCY_SERVICE_ADDR", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "currency"}, Key: "addr"}}}},
			want: []corev1.EnvVar{
				{Name: "CURRENCY_SERVICE_ADDR", ValueFrom: &corev1.EnvVarSource{
					SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "currency"}, Key: "addr"}}},
				{Name: "CART_SERVICE_ADDR", Value: "cart:7070"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := base()
			ms.Spec.Env = tt.specEnv
			in := PodInputs{DependencyEnv: depEnv}
			for _, d := range []struct {
				track string
				dep   *appsv1.Deployment
			}{
				{TrackStable, roundTrip[appsv1.Deployment](t, Deployment(ms, DecideReplicas(ms, false), in))},
				{TrackCanary, roundTrip[appsv1.Deployment](t, CanaryDeployment(ms, 1, in, in))},
			} {
				got := d.dep.Spec.Template.Spec.Containers[0].Env
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("%s container env =\n%s\nwant\n%s", d.track, asJSON(t, got), asJSON(t, tt.want))
				}
			}
		})
	}
}

func TestDependencyEnvChangesRevision(t *testing.T) {
	ms := base()
	catalog := func(port int32) []corev1.EnvVar {
		return DependencyEnv([]ResolvedDependency{resolvedDep(msv1.Dependency{Name: "catalog"}, port, "http")})
	}
	none := Revision(ms, PodInputs{})
	withCatalog := Revision(ms, PodInputs{DependencyEnv: catalog(3550)})

	if none == withCatalog {
		t.Fatal("injecting a dependency's address must be a new revision")
	}
	if withCatalog != Revision(ms, PodInputs{DependencyEnv: catalog(3550)}) {
		t.Fatal("the same addresses must give the same revision")
	}
	if withCatalog == Revision(ms, PodInputs{DependencyEnv: catalog(3551)}) {
		t.Fatal("a new address must be a new revision")
	}
	if none != Revision(ms, PodInputs{DependencyEnv: DependencyEnv([]ResolvedDependency{missingDep(msv1.Dependency{Name: "catalog"})})}) {
		t.Fatal("a missing dependency injects nothing and must not change the revision")
	}

	// A variable that spec.env shadows never reaches the pod, so it is no
	// part of the revision either.
	ms.Spec.Env = []corev1.EnvVar{{Name: "CATALOG_URL", Value: "http://catalog.legacy:80"}, {Name: "CATALOG_HOST", Value: "catalog.legacy"}, {Name: "CATALOG_PORT", Value: "80"}}
	if Revision(ms, PodInputs{}) != Revision(ms, PodInputs{DependencyEnv: catalog(3550)}) {
		t.Fatal("shadowed dependency variables must not change the revision")
	}
}

func npPort(proto corev1.Protocol, port int32) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: ptr.To(proto), Port: ptr.To(intstr.FromInt32(port))}
}

func npNamespacePeer(ns string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
	}
}

func npMicroservicePeer(ns, name string) networkingv1.NetworkPolicyPeer {
	p := npNamespacePeer(ns)
	p.PodSelector = &metav1.LabelSelector{MatchLabels: map[string]string{LabelMicroservice: name}}
	return p
}

func TestNetworkPolicy(t *testing.T) {
	// base() listens on http 80 (container port 8080) and grpc 9090: the
	// rules name the container ports, which is what NetworkPolicy matches.
	allPorts := []networkingv1.NetworkPolicyPort{npPort(corev1.ProtocolTCP, 8080), npPort(corev1.ProtocolTCP, 9090)}
	ingressOnly := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	dns := networkingv1.NetworkPolicyEgressRule{Ports: []networkingv1.NetworkPolicyPort{
		npPort(corev1.ProtocolUDP, 53), npPort(corev1.ProtocolTCP, 53),
	}}

	tests := []struct {
		name   string
		mutate func(*msv1.Microservice)
		in     NetworkPolicyInputs
		want   networkingv1.NetworkPolicySpec
	}{
		{
			name: "no consumers and no route deny all ingress",
			want: networkingv1.NetworkPolicySpec{PolicyTypes: ingressOnly},
		},
		{
			name: "the monitoring namespace alone does not open ports other than metrics",
			in:   NetworkPolicyInputs{MonitoringNamespace: "monitoring"},
			want: networkingv1.NetworkPolicySpec{PolicyTypes: ingressOnly},
		},
		{
			name: "consumers share one rule on the container ports",
			in: NetworkPolicyInputs{Consumers: []graph.Key{
				{Namespace: "shop", Name: "frontend"},
				{Namespace: "web", Name: "storefront"},
			}},
			want: networkingv1.NetworkPolicySpec{
				PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					Ports: allPorts,
					From:  []networkingv1.NetworkPolicyPeer{npMicroservicePeer("shop", "frontend"), npMicroservicePeer("web", "storefront")},
				}},
			},
		},
		{
			name:   "a service without ports admits nobody",
			mutate: func(m *msv1.Microservice) { m.Spec.Ports = nil },
			in:     NetworkPolicyInputs{Consumers: []graph.Key{{Namespace: "shop", Name: "frontend"}}, MonitoringNamespace: "monitoring"},
			want:   networkingv1.NetworkPolicySpec{PolicyTypes: ingressOnly},
		},
		{
			name: "port protocols are kept",
			mutate: func(m *msv1.Microservice) {
				m.Spec.Ports = []msv1.ServicePort{{Name: "dns", Port: 53, TargetPort: ptr.To[int32](5353), Protocol: corev1.ProtocolUDP}}
			},
			in: NetworkPolicyInputs{Consumers: []graph.Key{{Namespace: "shop", Name: "frontend"}}},
			want: networkingv1.NetworkPolicySpec{
				PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					Ports: []networkingv1.NetworkPolicyPort{npPort(corev1.ProtocolUDP, 5353)},
					From:  []networkingv1.NetworkPolicyPeer{npMicroservicePeer("shop", "frontend")},
				}},
			},
		},
		{
			name: "the route admits its Gateways' namespaces, defaulted and deduplicated",
			mutate: func(m *msv1.Microservice) {
				m.Spec.Route = &msv1.Route{ParentRefs: []msv1.ParentReference{
					{Name: "public", Namespace: "gateway-system"},
					{Name: "internal"},
					{Name: "public", Namespace: "gateway-system", SectionName: "https"},
					{Name: "mesh", Namespace: "shop"},
				}}
			},
			want: networkingv1.NetworkPolicySpec{
				PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					Ports: allPorts,
					From:  []networkingv1.NetworkPolicyPeer{npNamespacePeer("gateway-system"), npNamespacePeer("shop")},
				}},
			},
		},
		{
			name: "consumers, route and monitoring each get their rule",
			mutate: func(m *msv1.Microservice) {
				m.Spec.Ports = append(m.Spec.Ports, msv1.ServicePort{Name: "metrics", Port: 9102, TargetPort: ptr.To[int32](9100)})
				m.Spec.Route = &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public", Namespace: "gateway-system"}}}
			},
			in: NetworkPolicyInputs{
				Consumers:           []graph.Key{{Namespace: "shop", Name: "frontend"}},
				MonitoringNamespace: "monitoring",
			},
			want: networkingv1.NetworkPolicySpec{
				PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{
					{
						Ports: append(append([]networkingv1.NetworkPolicyPort{}, allPorts...), npPort(corev1.ProtocolTCP, 9100)),
						From:  []networkingv1.NetworkPolicyPeer{npMicroservicePeer("shop", "frontend")},
					},
					{
						Ports: append(append([]networkingv1.NetworkPolicyPort{}, allPorts...), npPort(corev1.ProtocolTCP, 9100)),
						From:  []networkingv1.NetworkPolicyPeer{npNamespacePeer("gateway-system")},
					},
					{
						Ports: []networkingv1.NetworkPolicyPort{npPort(corev1.ProtocolTCP, 9100)},
						From:  []networkingv1.NetworkPolicyPeer{npNamespacePeer("monitoring")},
					},
				},
			},
		},
		{
			name: "a metrics port without a monitoring namespace stays closed",
			mutate: func(m *msv1.Microservice) {
				m.Spec.Ports = append(m.Spec.Ports, msv1.ServicePort{Name: "metrics", Port: 9102})
			},
			want: networkingv1.NetworkPolicySpec{PolicyTypes: ingressOnly},
		},
		{
			name: "dependencies leave egress open without restrictEgress",
			mutate: func(m *msv1.Microservice) {
				m.Spec.NetworkPolicy = &msv1.NetworkPolicySpec{Enabled: ptr.To(true)}
			},
			in:   NetworkPolicyInputs{Dependencies: []ResolvedDependency{resolvedDep(msv1.Dependency{Name: "payments"}, 50051, "http")}},
			want: networkingv1.NetworkPolicySpec{PolicyTypes: ingressOnly},
		},
		{
			name: "restrictEgress admits DNS and one rule per found dependency on its ports",
			mutate: func(m *msv1.Microservice) {
				m.Spec.NetworkPolicy = &msv1.NetworkPolicySpec{Enabled: ptr.To(true), RestrictEgress: true}
			},
			in: NetworkPolicyInputs{Dependencies: []ResolvedDependency{
				{
					Dep: msv1.Dependency{Name: "payments"}, Key: graph.Key{Namespace: "shop", Name: "payments"},
					Found: true, Port: 50051, Scheme: "http",
					Ports: []msv1.ServicePort{
						{Name: "grpc", Port: 50051},
						{Name: "http", Port: 80, TargetPort: ptr.To[int32](8080)},
					},
				},
				missingDep(msv1.Dependency{Name: "ads", Optional: true}),
				{
					Dep: msv1.Dependency{Name: "ledger", Namespace: "billing"}, Key: graph.Key{Namespace: "billing", Name: "ledger"},
					Found: true, Port: 9090, Scheme: "http",
					Ports: []msv1.ServicePort{{Name: "grpc", Port: 9090}, {Name: "syslog", Port: 514, Protocol: corev1.ProtocolUDP}},
				},
			}},
			want: networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{
					dns,
					{
						To:    []networkingv1.NetworkPolicyPeer{npMicroservicePeer("shop", "payments")},
						Ports: []networkingv1.NetworkPolicyPort{npPort(corev1.ProtocolTCP, 50051), npPort(corev1.ProtocolTCP, 8080)},
					},
					{
						To:    []networkingv1.NetworkPolicyPeer{npMicroservicePeer("billing", "ledger")},
						Ports: []networkingv1.NetworkPolicyPort{npPort(corev1.ProtocolTCP, 9090), npPort(corev1.ProtocolUDP, 514)},
					},
				},
			},
		},
		{
			name: "restrictEgress without dependencies admits DNS only",
			mutate: func(m *msv1.Microservice) {
				m.Spec.NetworkPolicy = &msv1.NetworkPolicySpec{RestrictEgress: true}
			},
			in: NetworkPolicyInputs{Dependencies: []ResolvedDependency{missingDep(msv1.Dependency{Name: "payments"})}},
			want: networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
				Egress:      []networkingv1.NetworkPolicyEgressRule{dns},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := base()
			if tt.mutate != nil {
				tt.mutate(ms)
			}
			np := roundTrip[networkingv1.NetworkPolicy](t, NetworkPolicy(ms, tt.in))

			if np.Name != "checkout" || np.Namespace != "shop" {
				t.Fatalf("name = %s/%s", np.Namespace, np.Name)
			}
			if np.Labels[LabelManagedBy] != ManagedByValue || np.Labels[LabelMicroservice] != "checkout" {
				t.Fatalf("labels = %v", np.Labels)
			}
			if len(np.OwnerReferences) != 1 || np.OwnerReferences[0].UID != "uid-1" || !ptr.Deref(np.OwnerReferences[0].Controller, false) {
				t.Fatalf("owner references = %+v", np.OwnerReferences)
			}

			want := tt.want
			// Every pod of the service, whatever its track.
			want.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{LabelMicroservice: "checkout"}}
			if !reflect.DeepEqual(np.Spec, want) {
				t.Fatalf("spec =\n%s\nwant\n%s", asJSON(t, np.Spec), asJSON(t, want))
			}
		})
	}
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
