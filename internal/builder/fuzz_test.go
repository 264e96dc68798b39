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
	"maps"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/graph"
)

// buildInput is one fuzz input: a Microservice spec written compactly, so
// that the fuzzer mutates the parts that matter to the builders.
type buildInput struct {
	name, namespace, image string
	// ports is "name=port[>targetPort][/protocol]", comma separated.
	ports string
	// replicas is spec.replicas; -1 leaves it unset.
	replicas int32
	// env is the names of spec.env, comma separated.
	env string
	// autoscale sets spec.autoscaling with min (0: unset) and max replicas.
	autoscale          bool
	minReplicas, maxRe int32
	// route sets spec.route with this port name ("" for the first) and path
	// prefix ("" for /).
	route                bool
	routePort, routePath string
	// canary sets the canary strategy; weight is the route weight the
	// planner decided and canaryReplicas the canary Deployment's size.
	canary                 bool
	weight, canaryReplicas int32
	// deps is "[?]name[.namespace][:ENV[:format]]", comma separated; a
	// leading '?' is a dependency that does not exist (yet).
	deps string
	// held holds the service at zero replicas for its dependencies.
	held bool
}

// FuzzBuild derives a Microservice from the fuzz input, skips any that the
// CRD's validation (OpenAPI markers and CEL rules in api/v1alpha1) would
// refuse, runs every builder on it and checks what the API server and the
// rest of the operator rely on:
//
//   - nothing panics, and every apply configuration decodes into its typed object;
//   - every child is named as its kind requires (Services DNS-1035 labels,
//     the others DNS-1123 labels), lives in the Microservice's namespace and
//     is controlled by it;
//   - every label, selector and pod label is a valid key and value, each
//     Deployment's selector matches its pod template, the Service selects
//     both tracks and a track Service only its own;
//   - spec.replicas is never negative: the spec's count (default 1), zero
//     while held, or left to the HorizontalPodAutoscaler, whose minimum is
//     at least 1 and at most its maximum;
//   - the pod template keeps the restricted Pod Security Standard defaults;
//   - container ports have valid, unique names that the Service's target
//     ports name, and env names are unique (spec.env wins over a dependency);
//   - the HTTPRoute sends everything to the Service, or, with the canary
//     strategy, splits exactly 100 between the stable and canary tracks;
//   - dependency variables have valid names and the NetworkPolicy selects the
//     Microservice's pods and admits only its container ports.
func FuzzBuild(f *testing.F) {
	for _, in := range []buildInput{
		{name: "checkout", namespace: "shop", image: "ghcr.io/acme/checkout:1.4.2", ports: "http=80>8080,grpc=9090", replicas: -1},
		{name: "checkout", namespace: "shop", image: "ghcr.io/acme/checkout:1.4.2", ports: "http=80>8080,metrics=9102", replicas: 3,
			env: "LOG_LEVEL,PAYMENTS_URL", route: true, routePath: "/checkout", canary: true, weight: 20, canaryReplicas: 1,
			deps: "payments,cart.other:CART_ADDR:HostPort,?ads"},
		{name: "frontend", namespace: "default", image: "nginx@sha256:abc", ports: "web=8080/TCP,dns=53/UDP", replicas: 0,
			autoscale: true, minReplicas: 2, maxRe: 10, route: true, routePort: "web", held: true, deps: "a,a.billing"},
		{name: "a2345678901234567890123456789012345678901234567890123456", namespace: "n", image: "x", ports: "p=1", replicas: 10000,
			route: true, canary: true, weight: 100, canaryReplicas: 10000, deps: "b-c:B_C_URL,b.c"},
		{name: "svc", namespace: "ns", image: "r/i:1", replicas: -1, canary: true, weight: 0, deps: "x:X_URL:Host,y:X_URL"},
	} {
		f.Add(in.name, in.namespace, in.image, in.ports, in.replicas, in.env, in.autoscale, in.minReplicas, in.maxRe,
			in.route, in.routePort, in.routePath, in.canary, in.weight, in.canaryReplicas, in.deps, in.held)
	}
	f.Fuzz(func(t *testing.T, name, namespace, image, ports string, replicas int32, env string, autoscale bool, minReplicas, maxReplicas int32,
		route bool, routePort, routePath string, canary bool, weight, canaryReplicas int32, deps string, held bool) {
		in := buildInput{name, namespace, image, ports, replicas, env, autoscale, minReplicas, maxReplicas,
			route, routePort, routePath, canary, weight, canaryReplicas, deps, held}
		for _, s := range []string{name, namespace, image, ports, env, routePort, routePath, deps} {
			if !utf8.ValidString(s) {
				return // the API server's JSON decoding never yields invalid UTF-8
			}
		}
		ms, resolved, ok := in.microservice()
		if !ok {
			return // outside what admission accepts
		}
		checkBuilders(t, ms, resolved, in)
	})
}

// re2Space is what \s matches in the CEL rule on spec.image.
const re2Space = " \t\n\f\r"

var (
	msNameRE   = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	portNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	envNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// microservice builds the Microservice the input describes, and the
// dependencies as the reconciler would resolve them; ok is false when the
// CRD's validation would refuse the object.
func (in buildInput) microservice() (ms *msv1.Microservice, resolved []ResolvedDependency, ok bool) {
	if len(in.name) > 56 || !msNameRE.MatchString(in.name) || len(validation.IsDNS1123Label(in.namespace)) > 0 {
		return nil, nil, false
	}
	if in.image == "" || len(in.image) > 512 || strings.ContainsAny(in.image, re2Space) ||
		strings.HasPrefix(in.image, ":") || strings.HasPrefix(in.image, "@") || strings.HasSuffix(in.image, ":") || strings.HasSuffix(in.image, "@") {
		return nil, nil, false
	}
	ms = &msv1.Microservice{
		ObjectMeta: metav1.ObjectMeta{Name: in.name, Namespace: in.namespace, UID: "uid-1"},
		Spec:       msv1.MicroserviceSpec{Image: in.image},
	}
	s := &ms.Spec

	if in.ports != "" {
		names, numbers := map[string]bool{}, map[int32]bool{}
		for _, entry := range strings.Split(in.ports, ",") {
			p, ok := parsePort(entry)
			if !ok || names[p.Name] || numbers[p.Port] {
				return nil, nil, false
			}
			names[p.Name], numbers[p.Port] = true, true
			s.Ports = append(s.Ports, p)
		}
		if len(s.Ports) > 32 {
			return nil, nil, false
		}
	}

	switch {
	case in.replicas == -1:
	case in.replicas < 0 || in.replicas > 10000:
		return nil, nil, false
	default:
		s.Replicas = ptr.To(in.replicas)
	}

	if in.env != "" {
		seen := map[string]bool{}
		for i, n := range strings.Split(in.env, ",") {
			if n == "" || seen[n] {
				return nil, nil, false // listType=map: names are keys
			}
			seen[n] = true
			s.Env = append(s.Env, corev1.EnvVar{Name: n, Value: strconv.Itoa(i)})
		}
		if len(s.Env) > 256 {
			return nil, nil, false
		}
	}

	if in.autoscale {
		a := &msv1.Autoscaling{MaxReplicas: in.maxRe, TargetCPUUtilizationPercentage: ptr.To[int32](70)}
		if in.minReplicas != 0 {
			a.MinReplicas = ptr.To(in.minReplicas)
		}
		if a.MaxReplicas < 1 || a.MaxReplicas > 10000 || in.minReplicas < 0 || in.minReplicas > a.MaxReplicas {
			return nil, nil, false
		}
		s.Autoscaling = a
	}

	if in.route {
		r := &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public", Namespace: "gateway-system"}}, Port: in.routePort, PathPrefix: in.routePath}
		if len(s.Ports) == 0 || !validPathPrefix(r.PathPrefix) || len(r.Port) > 15 {
			return nil, nil, false
		}
		if r.Port != "" && !hasPort(s.Ports, r.Port) {
			return nil, nil, false
		}
		s.Route = r
	}

	if in.canary {
		if in.weight < 0 || in.weight > 100 || in.canaryReplicas < 0 || in.canaryReplicas > 10000 {
			return nil, nil, false // the planner's range (see the rollout fuzz target)
		}
		s.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{Steps: []msv1.CanaryStep{{SetWeight: ptr.To(in.weight)}}}}
	}

	if in.deps != "" {
		seen := map[graph.Key]bool{}
		for i, entry := range strings.Split(in.deps, ",") {
			missing := strings.HasPrefix(entry, "?")
			d, ok := parseDependency(strings.TrimPrefix(entry, "?"))
			if !ok || seen[graph.Key{Namespace: d.Namespace, Name: d.Name}] || d.Name == ms.Name && d.Namespace == "" {
				return nil, nil, false
			}
			seen[graph.Key{Namespace: d.Namespace, Name: d.Name}] = true
			s.Dependencies = append(s.Dependencies, d)
			r := ResolvedDependency{Dep: d, Key: DependencyKey(ms, d)}
			if !missing {
				port := int32(8000 + i)
				r.Found, r.Port, r.Scheme, r.Ports = true, port, "http", []msv1.ServicePort{{Name: "main", Port: port}}
			}
			resolved = append(resolved, r)
		}
		if len(s.Dependencies) > 64 {
			return nil, nil, false
		}
		s.NetworkPolicy = &msv1.NetworkPolicySpec{RestrictEgress: true}
	}
	return ms, resolved, true
}

func hasPort(ports []msv1.ServicePort, name string) bool {
	for _, p := range ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

// parsePort reads "name=port[>targetPort][/protocol]" as admission checks it.
func parsePort(s string) (msv1.ServicePort, bool) {
	var p msv1.ServicePort
	s, proto, hasProto := strings.Cut(s, "/")
	if hasProto {
		switch corev1.Protocol(proto) {
		case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
			p.Protocol = corev1.Protocol(proto)
		default:
			return p, false
		}
	}
	name, numbers, _ := strings.Cut(s, "=")
	port, target, hasTarget := strings.Cut(numbers, ">")
	if name == "" || len(name) > 15 || !portNameRE.MatchString(name) || !strings.ContainsAny(name, "abcdefghijklmnopqrstuvwxyz") {
		return p, false
	}
	p.Name = name
	n, err := strconv.ParseInt(port, 10, 32)
	if err != nil || n < 1 || n > 65535 {
		return p, false
	}
	p.Port = int32(n)
	if hasTarget {
		n, err := strconv.ParseInt(target, 10, 32)
		if err != nil || n < 1 || n > 65535 {
			return p, false
		}
		p.TargetPort = ptr.To(int32(n))
	}
	return p, true
}

// parseDependency reads "name[.namespace][:ENV[:format]]" as admission checks it.
func parseDependency(s string) (msv1.Dependency, bool) {
	var d msv1.Dependency
	ref, envSpec, hasEnv := strings.Cut(s, ":")
	d.Name, d.Namespace, _ = strings.Cut(ref, ".")
	if d.Name == "" || len(d.Name) > 56 || !msNameRE.MatchString(d.Name) {
		return d, false
	}
	if d.Namespace != "" && (len(d.Namespace) > 63 || !portNameRE.MatchString(d.Namespace)) {
		return d, false
	}
	if hasEnv {
		envName, format, _ := strings.Cut(envSpec, ":")
		if envName == "" || len(envName) > 128 || !envNameRE.MatchString(envName) {
			return d, false
		}
		d.Env = &msv1.DependencyEnv{Name: envName, Format: msv1.AddressFormat(format)}
		switch d.Env.Format {
		case "", msv1.AddressURL, msv1.AddressHostPort, msv1.AddressHost:
		default:
			return d, false
		}
	}
	return d, true
}

// validPathPrefix is the CEL rule on spec.route.pathPrefix.
func validPathPrefix(p string) bool {
	if p == "" {
		return true
	}
	if len(p) > 1024 || !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/..") {
		return false
	}
	for _, bad := range []string{"//", "/./", "/../", "%2f", "%2F", "#"} {
		if strings.Contains(p, bad) {
			return false
		}
	}
	return true
}

func checkBuilders(t *testing.T, ms *msv1.Microservice, resolved []ResolvedDependency, in buildInput) {
	t.Helper()
	depEnv := DependencyEnv(resolved)
	for _, e := range depEnv {
		if !envNameRE.MatchString(e.Name) {
			t.Errorf("dependency variable %q is not a valid variable name", e.Name)
		}
	}
	pin := PodInputs{ConfigHash: "abc123", DependencyEnv: depEnv}
	decision := DecideReplicas(ms, in.held)

	stable := roundTrip[appsv1.Deployment](t, Deployment(ms, decision, pin))
	checkMeta(t, ms, "Deployment", &stable.ObjectMeta, false)
	checkDeployment(t, ms, stable, TrackStable)
	switch want := stable.Spec.Replicas; {
	case in.held:
		if ptr.Deref(want, -1) != 0 {
			t.Errorf("held Deployment has spec.replicas %v, want 0", ptr.Deref(want, -1))
		}
	case ms.Spec.Autoscaling != nil:
		if want != nil {
			t.Errorf("autoscaled Deployment sets spec.replicas %d; it belongs to the HPA", *want)
		}
	case ptr.Deref(want, -1) != ptr.Deref(ms.Spec.Replicas, 1):
		t.Errorf("Deployment spec.replicas = %v, want %d", ptr.Deref(want, -1), ptr.Deref(ms.Spec.Replicas, 1))
	}
	if rev := stable.Annotations[AnnotationRevision]; rev != Revision(ms, pin) || len(rev) != 10 {
		t.Errorf("revision annotation %q, want the 10-character Revision %q", rev, Revision(ms, pin))
	}

	svc := roundTrip[corev1.Service](t, Service(ms))
	checkMeta(t, ms, "Service", &svc.ObjectMeta, true)
	checkService(t, ms, svc, stable)
	if !maps.Equal(svc.Spec.Selector, ServiceSelector(ms)) {
		t.Errorf("Service selector %v, want %v", svc.Spec.Selector, ServiceSelector(ms))
	}

	if hpa := HorizontalPodAutoscaler(ms); (hpa == nil) != (ms.Spec.Autoscaling == nil) {
		t.Errorf("HorizontalPodAutoscaler is %v with autoscaling %v", hpa, ms.Spec.Autoscaling)
	} else if hpa != nil {
		h := roundTrip[autoscalingv2.HorizontalPodAutoscaler](t, hpa)
		checkMeta(t, ms, "HorizontalPodAutoscaler", &h.ObjectMeta, false)
		if lo := ptr.Deref(h.Spec.MinReplicas, 1); lo < 1 || lo > h.Spec.MaxReplicas {
			t.Errorf("HPA replicas %d..%d", lo, h.Spec.MaxReplicas)
		}
		if h.Spec.ScaleTargetRef.Name != stable.Name || h.Spec.ScaleTargetRef.Kind != "Deployment" {
			t.Errorf("HPA scales %s %s, not the Deployment %s", h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name, stable.Name)
		}
	}

	weight := in.weight
	if IsCanary(ms) {
		c := roundTrip[appsv1.Deployment](t, CanaryDeployment(ms, in.canaryReplicas, pin))
		checkMeta(t, ms, "Deployment", &c.ObjectMeta, false)
		checkDeployment(t, ms, c, TrackCanary)
		if r := ptr.Deref(c.Spec.Replicas, -1); r != in.canaryReplicas || r < 0 {
			t.Errorf("canary spec.replicas = %d, want %d", r, in.canaryReplicas)
		}
		if c.Name == stable.Name {
			t.Errorf("canary and stable Deployments share the name %q", c.Name)
		}
		for _, track := range []string{TrackStable, TrackCanary} {
			ts := roundTrip[corev1.Service](t, TrackService(ms, track))
			checkMeta(t, ms, "Service", &ts.ObjectMeta, true)
			d := stable
			if track == TrackCanary {
				d = c
			}
			checkService(t, ms, ts, d)
			if ts.Spec.Selector[LabelTrack] != track {
				t.Errorf("track Service %s selects %v", ts.Name, ts.Spec.Selector)
			}
			if ts.Name == svc.Name {
				t.Errorf("track Service %s has the name of the Service", ts.Name)
			}
		}
	} else {
		weight = 0
	}

	if ac := HTTPRoute(ms, weight); (ac == nil) != (ms.Spec.Route == nil) {
		t.Errorf("HTTPRoute is %v with route %v", ac, ms.Spec.Route)
	} else if ac != nil {
		checkRoute(t, ms, roundTrip[gwv1.HTTPRoute](t, ac), weight)
	}

	np := roundTrip[networkingv1.NetworkPolicy](t, NetworkPolicy(ms, NetworkPolicyInputs{
		Consumers:           []graph.Key{{Namespace: ms.Namespace, Name: "consumer"}},
		Dependencies:        resolved,
		MonitoringNamespace: "monitoring",
	}))
	checkMeta(t, ms, "NetworkPolicy", &np.ObjectMeta, false)
	if !maps.Equal(np.Spec.PodSelector.MatchLabels, ServiceSelector(ms)) {
		t.Errorf("NetworkPolicy selects %v, want the Microservice's pods %v", np.Spec.PodSelector.MatchLabels, ServiceSelector(ms))
	}
	containerPorts := map[int32]bool{}
	for _, p := range stable.Spec.Template.Spec.Containers[0].Ports {
		containerPorts[p.ContainerPort] = true
	}
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			if p.Port == nil || !containerPorts[p.Port.IntVal] {
				t.Errorf("NetworkPolicy admits port %v, which the container does not listen on", p.Port)
			}
		}
	}
}

// checkMeta checks the name, namespace, labels and owner of a child.
func checkMeta(t *testing.T, ms *msv1.Microservice, kind string, m *metav1.ObjectMeta, service bool) {
	t.Helper()
	nameErrs := validation.IsDNS1123Label(m.Name)
	if service {
		nameErrs = validation.IsDNS1035Label(m.Name)
	}
	for _, e := range nameErrs {
		t.Errorf("%s name %q: %s", kind, m.Name, e)
	}
	if m.Namespace != ms.Namespace {
		t.Errorf("%s %s in namespace %q, want %q", kind, m.Name, m.Namespace, ms.Namespace)
	}
	checkLabels(t, kind+" "+m.Name+" labels", m.Labels)
	if m.Labels[LabelManagedBy] != ManagedByValue || m.Labels[LabelMicroservice] != ms.Name {
		t.Errorf("%s %s labels %v lack the managed-by and microservice labels", kind, m.Name, m.Labels)
	}
	if len(m.OwnerReferences) != 1 || m.OwnerReferences[0].Name != ms.Name || !ptr.Deref(m.OwnerReferences[0].Controller, false) {
		t.Errorf("%s %s owner references %+v, want ms as controller", kind, m.Name, m.OwnerReferences)
	}
}

func checkLabels(t *testing.T, what string, labels map[string]string) {
	t.Helper()
	for k, v := range labels {
		for _, e := range validation.IsQualifiedName(k) {
			t.Errorf("%s: key %q: %s", what, k, e)
		}
		for _, e := range validation.IsValidLabelValue(v) {
			t.Errorf("%s: value %q of %s: %s", what, v, k, e)
		}
	}
}

// checkDeployment checks a track's Deployment and its pod template.
func checkDeployment(t *testing.T, ms *msv1.Microservice, d *appsv1.Deployment, track string) {
	t.Helper()
	if r := d.Spec.Replicas; r != nil && *r < 0 {
		t.Errorf("Deployment %s spec.replicas %d is negative", d.Name, *r)
	}
	sel := d.Spec.Selector.MatchLabels
	checkLabels(t, "Deployment "+d.Name+" selector", sel)
	checkLabels(t, "Deployment "+d.Name+" pod labels", d.Spec.Template.Labels)
	if sel[LabelTrack] != track || sel[LabelMicroservice] != ms.Name {
		t.Errorf("Deployment %s selector %v, want track %s of %s", d.Name, sel, track, ms.Name)
	}
	for k, v := range sel {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("Deployment %s selector %v does not match its pod labels %v", d.Name, sel, d.Spec.Template.Labels)
		}
	}

	pod := d.Spec.Template.Spec
	if psc := pod.SecurityContext; psc == nil || !ptr.Deref(psc.RunAsNonRoot, false) ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("Deployment %s pod security context %+v is not restricted", d.Name, psc)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("Deployment %s has %d containers", d.Name, len(pod.Containers))
	}
	c := pod.Containers[0]
	if sc := c.SecurityContext; sc == nil || ptr.Deref(sc.AllowPrivilegeEscalation, true) || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) ||
		!ptr.Deref(sc.RunAsNonRoot, false) || sc.Capabilities == nil || fmt.Sprint(sc.Capabilities.Drop) != "[ALL]" || len(sc.Capabilities.Add) > 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || ptr.Deref(sc.Privileged, false) {
		t.Errorf("Deployment %s container security context %+v is not restricted", d.Name, sc)
	}
	if c.Image != ms.Spec.Image {
		t.Errorf("Deployment %s runs %q, want %q", d.Name, c.Image, ms.Spec.Image)
	}

	portNames := map[string]bool{}
	for _, p := range c.Ports {
		for _, e := range validation.IsValidPortName(p.Name) {
			t.Errorf("Deployment %s container port name %q: %s", d.Name, p.Name, e)
		}
		for _, e := range validation.IsValidPortNum(int(p.ContainerPort)) {
			t.Errorf("Deployment %s container port %d: %s", d.Name, p.ContainerPort, e)
		}
		if portNames[p.Name] {
			t.Errorf("Deployment %s has two container ports named %q", d.Name, p.Name)
		}
		portNames[p.Name] = true
	}

	// spec.env comes first, in order; a dependency's variable of the same
	// name gives way; no name appears twice (server-side apply refuses
	// duplicate keys in the env list).
	envNames := map[string]int{}
	for i, e := range c.Env {
		if j, dup := envNames[e.Name]; dup {
			t.Errorf("Deployment %s sets env %q twice (entries %d and %d)", d.Name, e.Name, j, i)
		}
		envNames[e.Name] = i
	}
	for i, e := range ms.Spec.Env {
		if i >= len(c.Env) || c.Env[i].Name != e.Name || c.Env[i].Value != e.Value {
			t.Errorf("Deployment %s env does not start with spec.env: entry %d is not %s=%s", d.Name, i, e.Name, e.Value)
			break
		}
	}
}

// checkService checks that a Service's selector picks the pods of d and
// that every port targets a named container port of them.
func checkService(t *testing.T, ms *msv1.Microservice, s *corev1.Service, d *appsv1.Deployment) {
	t.Helper()
	checkLabels(t, "Service "+s.Name+" selector", s.Spec.Selector)
	for k, v := range s.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("Service %s selector %v does not select the pods of %s (%v)", s.Name, s.Spec.Selector, d.Name, d.Spec.Template.Labels)
		}
	}
	if len(s.Spec.Ports) != len(ms.Spec.Ports) {
		t.Errorf("Service %s has %d ports, spec %d", s.Name, len(s.Spec.Ports), len(ms.Spec.Ports))
	}
	named := map[string]bool{}
	for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
		named[p.Name] = true
	}
	for _, p := range s.Spec.Ports {
		if !named[p.TargetPort.StrVal] {
			t.Errorf("Service %s port %s targets %q, which no container port is named", s.Name, p.Name, p.TargetPort.String())
		}
	}
}

// checkRoute checks the HTTPRoute's backends and weights.
func checkRoute(t *testing.T, ms *msv1.Microservice, r *gwv1.HTTPRoute, weight int32) {
	t.Helper()
	checkMeta(t, ms, "HTTPRoute", &r.ObjectMeta, false)
	if len(r.Spec.ParentRefs) == 0 || len(r.Spec.Rules) != 1 {
		t.Fatalf("HTTPRoute %s has %d parentRefs and %d rules", r.Name, len(r.Spec.ParentRefs), len(r.Spec.Rules))
	}
	rule := r.Spec.Rules[0]
	if p := ptr.Deref(rule.Matches[0].Path.Value, ""); !validPathPrefix(p) || p == "" {
		t.Errorf("HTTPRoute %s path %q", r.Name, p)
	}
	port, _ := RoutePort(ms)
	want := map[string]int32{ServiceName(ms): 1}
	if IsCanary(ms) {
		want = map[string]int32{TrackServiceName(ms, TrackStable): 100 - weight, TrackServiceName(ms, TrackCanary): weight}
	}
	var sum int32
	for _, b := range rule.BackendRefs {
		w := ptr.Deref(b.Weight, 1)
		if w < 0 {
			t.Errorf("HTTPRoute %s backend %s has negative weight %d", r.Name, b.Name, w)
		}
		if got, ok := want[string(b.Name)]; !ok || got != w {
			t.Errorf("HTTPRoute %s backend %s weight %d, want one of %v", r.Name, b.Name, w, want)
		}
		if ptr.Deref(b.Port, 0) != gwv1.PortNumber(port.Port) {
			t.Errorf("HTTPRoute %s backend %s port %d, want %d", r.Name, b.Name, ptr.Deref(b.Port, 0), port.Port)
		}
		sum += w
	}
	if len(rule.BackendRefs) != len(want) {
		t.Errorf("HTTPRoute %s has %d backends, want %v", r.Name, len(rule.BackendRefs), want)
	}
	if IsCanary(ms) && sum != 100 {
		t.Errorf("HTTPRoute %s weights sum to %d, want 100", r.Name, sum)
	}
	if sum <= 0 {
		t.Errorf("HTTPRoute %s sends no traffic anywhere (weights sum to %d)", r.Name, sum)
	}
}
