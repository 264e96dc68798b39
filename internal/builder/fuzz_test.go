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
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
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
	// canary sets the canary strategy and canaryReplicas the canary
	// Deployment's size; weight, the route's, is kept so that the saved
	// corpus still decodes (the routes are fuzzed in internal/traffic).
	canary                 bool
	weight, canaryReplicas int32
	// deps is "[?]name[.namespace][:ENV[:format]]", comma separated; a
	// leading '?' is a dependency that does not exist (yet).
	deps string
	// held holds the service at zero replicas for its dependencies.
	held bool
	// volumes is "name[:kind][@mountPath]", comma separated: spec.pod.volumes
	// of kind e (emptyDir, the default), c (configMap), s (secret), p
	// (projected), v (persistentVolumeClaim) or h (hostPath, which the Pod
	// Security Standards forbid); @mountPath mounts it into the service's
	// container. Every init container and sidecar mounts every volume.
	volumes string
	// containers is "kind[name][+flags]", comma separated: kind i (an init
	// container), n (a native sidecar), s (a sidecar), m (the service's own
	// container, no name) or p (the pod, no name); flags set fields of its
	// security context (see securityContext and podSecurityContextOf).
	containers string
	// labels is "[@]key=value", comma separated: spec.pod.labels, or with a
	// leading @ spec.pod.annotations.
	labels string
	// sched is "kind arg", comma separated: t key[=value] (a toleration), s
	// topologyKey (a spread constraint without a labelSelector), S
	// topologyKey (one with its own) or n key=value (a nodeSelector entry).
	sched string
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
//   - every container (the service's, init containers and sidecars) has
//     the restricted Pod Security Standard defaults in every field its own
//     security context (or, for user and seccomp profile, the pod's) leaves
//     unset, and what the user set as written; with nothing relaxed and no
//     hostPath volume the pods meet the restricted standard, and a hostPath
//     volume is its only violation;
//   - spec.pod is carried as written: volumes, mounts, init containers and
//     sidecars (after the service's container, which is first and named
//     app), tolerations, nodeSelector, labels and annotations; the
//     operator's labels and annotations win, even over keys admission
//     refuses, so the selectors always select the pods; a spread constraint
//     without a labelSelector selects the pods of its own track;
//   - a new pod label is a new revision, the same on both tracks, and the
//     builders never write into the Microservice;
//   - container ports have valid, unique names that the Service's target
//     ports name, and env names are unique (spec.env wins over a dependency);
//   - (the HTTPRoutes are fuzzed beside their router: internal/traffic's
//     FuzzHTTPRoute);
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
		{name: "cache", namespace: "shop", image: "redis:7", ports: "redis=6379", replicas: 2, canary: true, weight: 10, canaryReplicas: 1,
			volumes: "tmp@/tmp,data:e@/data,settings:c@/etc/redis,tls:s,token:p,store:v", containers: "imigrate,nproxy+b,sexporter,m+o",
			labels: "team=payments,@prometheus.io/scrape=true,@prometheus.io/port=9121", sched: "tdedicated=cache,szone,Skubernetes.io/hostname,nkubernetes.io/arch=arm64"},
		{name: "relaxed", namespace: "ns", image: "x", replicas: -1, volumes: "logs:h@/var/log",
			containers: "iinit+wr,nnative+eA,slogger+Pd,m+D,p+Ru", labels: "apps.msvc.dev/track=canary,app.kubernetes.io/name=other,@apps.msvc.dev/config-hash=forged"},
	} {
		f.Add(in.name, in.namespace, in.image, in.ports, in.replicas, in.env, in.autoscale, in.minReplicas, in.maxRe,
			in.route, in.routePort, in.routePath, in.canary, in.weight, in.canaryReplicas, in.deps, in.held,
			in.volumes, in.containers, in.labels, in.sched)
	}
	f.Fuzz(func(t *testing.T, name, namespace, image, ports string, replicas int32, env string, autoscale bool, minReplicas, maxReplicas int32,
		route bool, routePort, routePath string, canary bool, weight, canaryReplicas int32, deps string, held bool,
		volumes, containers, labels, sched string) {
		in := buildInput{name, namespace, image, ports, replicas, env, autoscale, minReplicas, maxReplicas,
			route, routePort, routePath, canary, weight, canaryReplicas, deps, held, volumes, containers, labels, sched}
		for _, s := range []string{name, namespace, image, ports, env, routePort, routePath, deps, volumes, containers, labels, sched} {
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
	if !in.podOptions(ms) {
		return nil, nil, false
	}
	return ms, resolved, true
}

// podOptions sets spec.pod, spec.volumeMounts and the security contexts
// from volumes, containers, labels and sched; false when the CRD's
// validation would refuse them, or the pod's (the builders pass these
// fields as written, and the API server validates them on the Deployment).
func (in buildInput) podOptions(ms *msv1.Microservice) bool {
	s := &ms.Spec
	o := &msv1.PodOptions{}

	names, paths := map[string]bool{}, map[string]bool{}
	for _, entry := range splitList(in.volumes) {
		entry, path, mounted := strings.Cut(entry, "@")
		name, kind, _ := strings.Cut(entry, ":")
		if len(validation.IsDNS1123Label(name)) > 0 || names[name] {
			return false
		}
		names[name] = true
		v := corev1.Volume{Name: name}
		switch kind {
		case "", "e":
			v.EmptyDir = &corev1.EmptyDirVolumeSource{}
		case "c":
			v.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}
		case "s":
			v.Secret = &corev1.SecretVolumeSource{SecretName: name}
		case "p":
			v.Projected = &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{
				ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}
		case "v":
			v.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}
		case "h":
			v.HostPath = &corev1.HostPathVolumeSource{Path: "/var/lib/" + name}
		default:
			return false
		}
		o.Volumes = append(o.Volumes, v)
		if mounted {
			if path == "" || len(path) > 1024 || paths[path] {
				return false // listMapKey=mountPath: paths are keys
			}
			paths[path] = true
			s.VolumeMounts = append(s.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: path})
		}
	}
	if len(o.Volumes) > 64 {
		return false
	}

	containerNames := map[string]bool{}
	for _, entry := range splitList(in.containers) {
		if entry == "" {
			return false
		}
		kind, rest := entry[0], entry[1:]
		name, flags, _ := strings.Cut(rest, "+")
		switch kind {
		case 'm', 'p':
			if name != "" {
				return false
			}
			if kind == 'm' {
				s.SecurityContext = securityContext(flags)
			} else {
				s.PodSecurityContext = podSecurityContextOf(flags)
			}
			continue
		case 'i', 'n', 's':
		default:
			return false
		}
		// Admission refuses an extra container named app, and the
		// Deployment's validation a name shared by two containers.
		if len(validation.IsDNS1123Label(name)) > 0 || name == DefaultContainerName || containerNames[name] {
			return false
		}
		containerNames[name] = true
		c := corev1.Container{Name: name, Image: "ghcr.io/acme/" + name + ":1", SecurityContext: securityContext(flags)}
		for _, v := range o.Volumes {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: v.Name, MountPath: "/v/" + v.Name})
		}
		switch kind {
		case 'i':
			o.InitContainers = append(o.InitContainers, c)
		case 'n':
			c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
			o.InitContainers = append(o.InitContainers, c)
		case 's':
			o.Sidecars = append(o.Sidecars, c)
		}
	}
	if len(o.InitContainers) > 16 || len(o.Sidecars) > 16 {
		return false
	}

	// Admission refuses the operator's own keys (apps.msvc.dev/*,
	// app.kubernetes.io/name and managed-by); they are let through here,
	// to check that the builders never let them break a selector.
	for _, entry := range splitList(in.labels) {
		entry, annotation := strings.CutPrefix(entry, "@")
		k, v, ok := strings.Cut(entry, "=")
		if !ok || len(validation.IsQualifiedName(k)) > 0 {
			return false
		}
		if annotation {
			if _, dup := o.Annotations[k]; dup {
				return false
			}
			o.Annotations = setKey(o.Annotations, k, v)
			continue
		}
		if _, dup := o.Labels[k]; dup || len(validation.IsValidLabelValue(v)) > 0 {
			return false
		}
		o.Labels = setKey(o.Labels, k, v)
	}
	if len(o.Labels) > 64 || len(o.Annotations) > 64 {
		return false
	}

	for _, entry := range splitList(in.sched) {
		if entry == "" {
			return false
		}
		kind, arg := entry[0], entry[1:]
		switch kind {
		case 't':
			key, value, hasValue := strings.Cut(arg, "=")
			tol := corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
			if hasValue {
				tol.Operator, tol.Value = corev1.TolerationOpEqual, value
			}
			if key != "" && len(validation.IsQualifiedName(key)) > 0 || key == "" && hasValue || len(validation.IsValidLabelValue(value)) > 0 {
				return false
			}
			o.Tolerations = append(o.Tolerations, tol)
		case 's', 'S':
			if len(validation.IsQualifiedName(arg)) > 0 {
				return false
			}
			tsc := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: arg, WhenUnsatisfiable: corev1.ScheduleAnyway}
			if kind == 'S' {
				tsc.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}}
			}
			o.TopologySpreadConstraints = append(o.TopologySpreadConstraints, tsc)
		case 'n':
			k, v, ok := strings.Cut(arg, "=")
			if _, dup := o.NodeSelector[k]; !ok || dup || len(validation.IsQualifiedName(k)) > 0 || len(validation.IsValidLabelValue(v)) > 0 {
				return false
			}
			o.NodeSelector = setKey(o.NodeSelector, k, v)
		default:
			return false
		}
	}
	if len(o.Tolerations) > 32 || len(o.TopologySpreadConstraints) > 8 || len(o.NodeSelector) > 32 {
		return false
	}

	if !reflect.DeepEqual(*o, msv1.PodOptions{}) {
		s.Pod = o
	}
	return true
}

// splitList splits a comma-separated list; "" is no entries.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func setKey(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// securityContext is a container's security context with the fields flags
// name: w a writable root filesystem, o a read-only one, e privilege
// escalation, E none, r user 0, R runAsNonRoot false, n runAsNonRoot true,
// P privileged, a NET_ADMIN added, b NET_BIND_SERVICE added, A SYS_ADMIN
// added, d an empty drop list, D only NET_RAW dropped, u the Unconfined
// seccomp profile, L a Localhost one. No flags is no security context.
func securityContext(flags string) *corev1.SecurityContext {
	if flags == "" {
		return nil
	}
	sc := &corev1.SecurityContext{}
	caps := func() *corev1.Capabilities {
		if sc.Capabilities == nil {
			sc.Capabilities = &corev1.Capabilities{}
		}
		return sc.Capabilities
	}
	for _, f := range flags {
		switch f {
		case 'w':
			sc.ReadOnlyRootFilesystem = ptr.To(false)
		case 'o':
			sc.ReadOnlyRootFilesystem = ptr.To(true)
		case 'e':
			sc.AllowPrivilegeEscalation = ptr.To(true)
		case 'E':
			sc.AllowPrivilegeEscalation = ptr.To(false)
		case 'r':
			sc.RunAsUser = ptr.To[int64](0)
		case 'R':
			sc.RunAsNonRoot = ptr.To(false)
		case 'n':
			sc.RunAsNonRoot = ptr.To(true)
		case 'P':
			sc.Privileged = ptr.To(true)
		case 'a':
			caps().Add = append(caps().Add, "NET_ADMIN")
		case 'b':
			caps().Add = append(caps().Add, "NET_BIND_SERVICE")
		case 'A':
			caps().Add = append(caps().Add, "SYS_ADMIN")
		case 'd':
			caps().Drop = []corev1.Capability{}
		case 'D':
			caps().Drop = []corev1.Capability{"NET_RAW"}
		case 'u':
			sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		case 'L':
			sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("profiles/x.json")}
		}
	}
	return sc
}

// podSecurityContextOf is the pod's security context with the fields flags
// name: r user 0, R runAsNonRoot false, n runAsNonRoot true, u the
// Unconfined seccomp profile, L a Localhost one, g fsGroup 2000.
func podSecurityContextOf(flags string) *corev1.PodSecurityContext {
	sc := &corev1.PodSecurityContext{}
	for _, f := range flags {
		switch f {
		case 'r':
			sc.RunAsUser = ptr.To[int64](0)
		case 'R':
			sc.RunAsNonRoot = ptr.To(false)
		case 'n':
			sc.RunAsNonRoot = ptr.To(true)
		case 'u':
			sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		case 'L':
			sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("profiles/x.json")}
		case 'g':
			sc.FSGroup = ptr.To[int64](2000)
		}
	}
	return sc
}

// relaxes reports whether the containers entries relax the restricted
// standard: every flag but the ones that keep it (o, E, n, b, L, g, and w,
// which the standard does not check).
func (in buildInput) relaxes() bool {
	for _, entry := range splitList(in.containers) {
		_, flags, _ := strings.Cut(entry, "+")
		if strings.ContainsFunc(flags, func(f rune) bool { return !strings.ContainsRune("oEnbLgw", f) }) {
			return true
		}
	}
	return false
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
	written := ms.DeepCopy()
	defer func() {
		if !reflect.DeepEqual(ms, written) {
			t.Errorf("the builders wrote into the Microservice:\n%+v\nwas\n%+v", ms.Spec, written.Spec)
		}
	}()
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
	probe := ms.DeepCopy()
	if probe.Spec.Pod == nil {
		probe.Spec.Pod = &msv1.PodOptions{}
	}
	value := "a"
	if probe.Spec.Pod.Labels["msvc-fuzz-probe"] == value {
		value = "b"
	}
	probe.Spec.Pod.Labels = setKey(maps.Clone(probe.Spec.Pod.Labels), "msvc-fuzz-probe", value)
	if Revision(probe, pin) == Revision(ms, pin) {
		t.Errorf("a new pod label is not a new revision")
	}
	checkRestricted(t, stable, in)

	svc := roundTrip[corev1.Service](t, Service(ms, false))
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

	if IsCanary(ms) {
		c := roundTrip[appsv1.Deployment](t, CanaryDeployment(ms, in.canaryReplicas, pin, pin))
		checkMeta(t, ms, "Deployment", &c.ObjectMeta, false)
		checkDeployment(t, ms, c, TrackCanary)
		checkRestricted(t, c, in)
		if c.Annotations[AnnotationRevision] != stable.Annotations[AnnotationRevision] {
			t.Errorf("canary revision %q, stable %q: the same spec must be the same revision", c.Annotations[AnnotationRevision], stable.Annotations[AnnotationRevision])
		}
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
	checkPodSecurityContext(t, d.Name, ms.Spec.PodSecurityContext, pod.SecurityContext)
	o := ptr.Deref(ms.Spec.Pod, msv1.PodOptions{})
	if len(pod.Containers) != 1+len(o.Sidecars) || len(pod.InitContainers) != len(o.InitContainers) {
		t.Fatalf("Deployment %s has %d containers and %d init containers, want 1+%d and %d",
			d.Name, len(pod.Containers), len(pod.InitContainers), len(o.Sidecars), len(o.InitContainers))
	}
	c := pod.Containers[0]
	if c.Name != DefaultContainerName {
		t.Errorf("Deployment %s's first container is %q, want the service's, %q", d.Name, c.Name, DefaultContainerName)
	}
	checkContainerSecurityContext(t, d.Name, &c, ms.Spec.SecurityContext, ms.Spec.PodSecurityContext)
	if c.Image != ms.Spec.Image {
		t.Errorf("Deployment %s runs %q, want %q", d.Name, c.Image, ms.Spec.Image)
	}
	if !equalJSON(c.VolumeMounts, ms.Spec.VolumeMounts) {
		t.Errorf("Deployment %s mounts %+v, want spec.volumeMounts %+v", d.Name, c.VolumeMounts, ms.Spec.VolumeMounts)
	}
	for i, want := range slices.Concat(o.InitContainers, o.Sidecars) {
		got := pod.InitContainers
		if i >= len(o.InitContainers) {
			got, i = pod.Containers[1:], i-len(o.InitContainers)
		}
		checkContainerSecurityContext(t, d.Name, &got[i], want.SecurityContext, ms.Spec.PodSecurityContext)
		// As written, but for the security context.
		g := got[i].DeepCopy()
		g.SecurityContext = want.SecurityContext
		if !equalJSON(g, want) {
			t.Errorf("Deployment %s container %d is %+v, want %+v", d.Name, i, got[i], want)
		}
	}
	if !equalJSON(pod.Volumes, o.Volumes) || !equalJSON(pod.Tolerations, o.Tolerations) || !maps.Equal(pod.NodeSelector, o.NodeSelector) {
		t.Errorf("Deployment %s volumes, tolerations or nodeSelector %+v / %+v / %v, want spec.pod's %+v / %+v / %v",
			d.Name, pod.Volumes, pod.Tolerations, pod.NodeSelector, o.Volumes, o.Tolerations, o.NodeSelector)
	}
	if len(pod.TopologySpreadConstraints) != len(o.TopologySpreadConstraints) {
		t.Errorf("Deployment %s has %d spread constraints, want %d", d.Name, len(pod.TopologySpreadConstraints), len(o.TopologySpreadConstraints))
	}
	for i, tsc := range pod.TopologySpreadConstraints {
		want := o.TopologySpreadConstraints[i].LabelSelector
		if want == nil {
			want = &metav1.LabelSelector{MatchLabels: sel}
		}
		if !equalJSON(tsc.LabelSelector, want) || tsc.TopologyKey != o.TopologySpreadConstraints[i].TopologyKey {
			t.Errorf("Deployment %s spread constraint %d selects %+v by %s, want %+v", d.Name, i, tsc.LabelSelector, tsc.TopologyKey, want)
		}
	}
	// The operator's labels and annotations win; the user's others stay.
	labels, annotations := d.Spec.Template.Labels, d.Spec.Template.Annotations
	if labels[LabelName] != ms.Name || labels[LabelManagedBy] != ManagedByValue || annotations[AnnotationConfigHash] != "abc123" {
		t.Errorf("Deployment %s pod labels %v and annotations %v lack the operator's", d.Name, labels, annotations)
	}
	for k, v := range o.Labels {
		got, present := labels[k]
		switch operator := strings.HasPrefix(k, "apps.msvc.dev/") || k == LabelName || k == LabelManagedBy; {
		case !operator && (!present || got != v):
			t.Errorf("Deployment %s pod label %s=%q, want spec.pod's %q", d.Name, k, got, v)
		case operator && present && k != LabelTrack && k != LabelMicroservice && k != LabelName && k != LabelManagedBy:
			t.Errorf("Deployment %s pod label %s comes from spec.pod: the key is the operator's", d.Name, k)
		}
	}
	for k, v := range o.Annotations {
		got, present := annotations[k]
		switch operator := strings.HasPrefix(k, "apps.msvc.dev/"); {
		case !operator && (!present || got != v):
			t.Errorf("Deployment %s pod annotation %s=%q, want spec.pod's %q", d.Name, k, got, v)
		case operator && present && k != AnnotationConfigHash:
			t.Errorf("Deployment %s pod annotation %s comes from spec.pod: the key is the operator's", d.Name, k)
		}
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

// checkPodSecurityContext checks the pod's security context: the user's,
// with runAsNonRoot (unless the user asks for user 0) and the RuntimeDefault
// seccomp profile where the user leaves them unset.
func checkPodSecurityContext(t *testing.T, what string, user, got *corev1.PodSecurityContext) {
	t.Helper()
	u := ptr.Deref(user, corev1.PodSecurityContext{})
	if got == nil {
		t.Errorf("Deployment %s has no pod security context", what)
		return
	}
	wantNonRoot := u.RunAsNonRoot
	if wantNonRoot == nil && !isRoot(u.RunAsUser) {
		wantNonRoot = ptr.To(true)
	}
	wantSeccomp := u.SeccompProfile
	if wantSeccomp == nil {
		wantSeccomp = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	if !ptr.Equal(got.RunAsNonRoot, wantNonRoot) || !equalJSON(got.SeccompProfile, wantSeccomp) || !ptr.Equal(got.RunAsUser, u.RunAsUser) ||
		!ptr.Equal(got.FSGroup, u.FSGroup) {
		t.Errorf("Deployment %s pod security context %+v, want the user's %+v with the restricted defaults", what, got, user)
	}
}

// checkContainerSecurityContext checks a container's security context field
// by field: what its own security context (user) sets, as set; every other
// field the restricted standard checks at its restricted value, except
// where the API server forbids it (no allowPrivilegeEscalation false on a
// privileged container or one that adds SYS_ADMIN) or the pod's security
// context already decides it (runAsNonRoot and the seccomp profile).
func checkContainerSecurityContext(t *testing.T, what string, c *corev1.Container, user *corev1.SecurityContext, pod *corev1.PodSecurityContext) {
	t.Helper()
	got, u, p := c.SecurityContext, ptr.Deref(user, corev1.SecurityContext{}), ptr.Deref(pod, corev1.PodSecurityContext{})
	if got == nil {
		t.Errorf("Deployment %s container %s has no security context", what, c.Name)
		return
	}
	fail := func(field string, got, want any) {
		t.Errorf("Deployment %s container %s %s = %s, want %s (its own security context %+v, the pod's %+v)",
			what, c.Name, field, show(got), show(want), user, pod)
	}
	want := u.AllowPrivilegeEscalation
	if want == nil && !ptr.Deref(u.Privileged, false) && !addsSysAdmin(user) {
		want = ptr.To(false)
	}
	if !ptr.Equal(got.AllowPrivilegeEscalation, want) {
		fail("allowPrivilegeEscalation", got.AllowPrivilegeEscalation, want)
	}
	if want := cmp.Or(u.ReadOnlyRootFilesystem, ptr.To(true)); !ptr.Equal(got.ReadOnlyRootFilesystem, want) {
		fail("readOnlyRootFilesystem", got.ReadOnlyRootFilesystem, want)
	}
	want = u.RunAsNonRoot
	if want == nil && !isRoot(u.RunAsUser) && p.RunAsNonRoot == nil && !isRoot(p.RunAsUser) {
		want = ptr.To(true)
	}
	if !ptr.Equal(got.RunAsNonRoot, want) {
		fail("runAsNonRoot", got.RunAsNonRoot, want)
	}
	wantCaps := u.Capabilities.DeepCopy()
	if wantCaps == nil || wantCaps.Drop == nil {
		wantCaps = cmp.Or(wantCaps, &corev1.Capabilities{})
		wantCaps.Drop = []corev1.Capability{"ALL"}
	}
	if !equalJSON(got.Capabilities, wantCaps) {
		fail("capabilities", got.Capabilities, wantCaps)
	}
	wantSeccomp := u.SeccompProfile
	if wantSeccomp == nil && p.SeccompProfile == nil {
		wantSeccomp = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	if !equalJSON(got.SeccompProfile, wantSeccomp) {
		fail("seccompProfile", got.SeccompProfile, wantSeccomp)
	}
	if !ptr.Equal(got.Privileged, u.Privileged) || !ptr.Equal(got.RunAsUser, u.RunAsUser) {
		fail("privileged and runAsUser", got, user)
	}
}

// checkRestricted checks a Deployment's pods against the restricted Pod
// Security Standard: with nothing relaxed they meet it, but for a hostPath
// volume, which is then the only violation.
func checkRestricted(t *testing.T, d *appsv1.Deployment, in buildInput) {
	t.Helper()
	if in.relaxes() {
		return
	}
	hostPath := false
	for _, v := range d.Spec.Template.Spec.Volumes {
		hostPath = hostPath || v.HostPath != nil
	}
	got := restrictedViolations(t, &d.Spec.Template)
	switch {
	case hostPath && (len(got) != 1 || !strings.HasPrefix(got[0], "restricted volume types")):
		t.Errorf("Deployment %s with a hostPath volume: restricted violations %q, want only its volume", d.Name, got)
	case !hostPath && len(got) > 0:
		t.Errorf("Deployment %s does not meet the restricted standard with nothing relaxed: %q", d.Name, got)
	}
}

// equalJSON reports whether two values have the same JSON form, which is
// what the API server receives.
func equalJSON(a, b any) bool {
	return show(a) == show(b)
}

func show(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v (%v)", v, err)
	}
	return string(data)
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
