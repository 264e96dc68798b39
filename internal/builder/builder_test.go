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
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

func base() *msv1.Microservice {
	return &msv1.Microservice{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop", UID: "uid-1"},
		Spec: msv1.MicroserviceSpec{
			Image: "ghcr.io/acme/checkout:1.4.2",
			Ports: []msv1.ServicePort{
				{Name: "http", Port: 80, TargetPort: ptr.To[int32](8080)},
				{Name: "grpc", Port: 9090, AppProtocol: ptr.To("grpc")},
			},
		},
	}
}

// roundTrip turns an apply configuration into the typed object it configures.
func roundTrip[T any](t *testing.T, ac any) *T {
	t.Helper()
	data, err := json.Marshal(ac)
	if err != nil {
		t.Fatal(err)
	}
	out := new(T)
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecideReplicas(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(*msv1.Microservice)
		want      *int32
		wantOwner string
	}{
		{"defaults to one replica", func(*msv1.Microservice) {}, ptr.To[int32](1), ReplicasOwnerOperator},
		{"follows spec.replicas", func(m *msv1.Microservice) { m.Spec.Replicas = ptr.To[int32](3) }, ptr.To[int32](3), ReplicasOwnerOperator},
		{"scales to zero", func(m *msv1.Microservice) { m.Spec.Replicas = ptr.To[int32](0) }, ptr.To[int32](0), ReplicasOwnerOperator},
		{"leaves replicas to the autoscaler", func(m *msv1.Microservice) {
			m.Spec.Replicas = ptr.To[int32](3)
			m.Spec.Autoscaling = &msv1.Autoscaling{MaxReplicas: 5}
		}, nil, ReplicasOwnerAutoscaler},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := base()
			tt.mutate(ms)
			got := DecideReplicas(ms, false)
			if !ptr.Equal(got.Replicas, tt.want) || got.Owner != tt.wantOwner {
				t.Fatalf("DecideReplicas() = %v/%s, want %v/%s", ptr.Deref(got.Replicas, -1), got.Owner, ptr.Deref(tt.want, -1), tt.wantOwner)
			}
			d := roundTrip[appsv1.Deployment](t, Deployment(ms, got, PodInputs{}))
			if !ptr.Equal(d.Spec.Replicas, tt.want) {
				t.Fatalf("Deployment spec.replicas = %v, want %v", d.Spec.Replicas, tt.want)
			}
			if d.Annotations[AnnotationReplicasOwner] != tt.wantOwner {
				t.Fatalf("replicas owner annotation = %q, want %q", d.Annotations[AnnotationReplicasOwner], tt.wantOwner)
			}
		})
	}
}

func TestReplicasHandoff(t *testing.T) {
	tests := []struct {
		name     string
		live     *int32
		min, max int32
		want     int32
	}{
		{"keeps the current count", ptr.To[int32](3), 2, 10, 3},
		{"raises to minReplicas", ptr.To[int32](1), 2, 10, 2},
		{"lowers to maxReplicas", ptr.To[int32](12), 2, 10, 10},
		{"treats an unset count as one", nil, 1, 10, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := base()
			ms.Spec.Autoscaling = &msv1.Autoscaling{MinReplicas: ptr.To(tt.min), MaxReplicas: tt.max}
			live := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: tt.live}}
			if !NeedsReplicasHandoff(DecideReplicas(ms, false), live) {
				t.Fatal("a Deployment without the autoscaler annotation needs a hand-off")
			}
			d := roundTrip[appsv1.Deployment](t, ReplicasHandoff(ms, live))
			if got := ptr.Deref(d.Spec.Replicas, -1); got != tt.want {
				t.Fatalf("hand-off replicas = %d, want %d", got, tt.want)
			}
			if d.Spec.Template.Spec.Containers != nil || d.Labels != nil {
				t.Fatal("the hand-off must carry spec.replicas only")
			}
		})
	}
	t.Run("not needed once the autoscaler owns the field", func(t *testing.T) {
		ms := base()
		ms.Spec.Autoscaling = &msv1.Autoscaling{MaxReplicas: 3}
		live := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationReplicasOwner: ReplicasOwnerAutoscaler}}}
		if NeedsReplicasHandoff(DecideReplicas(ms, false), live) {
			t.Fatal("hand-off repeated")
		}
		if NeedsReplicasHandoff(DecideReplicas(base(), false), live) {
			t.Fatal("hand-off without autoscaling")
		}
	})
}

func TestDeployment(t *testing.T) {
	ms := base()
	ms.Spec.Env = []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "debug"}, {Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}}}
	ms.Spec.Probes = &msv1.Probes{Readiness: &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}},
		PeriodSeconds: 5,
	}}
	ms.Spec.ServiceAccountName = "checkout"
	d := roundTrip[appsv1.Deployment](t, Deployment(ms, DecideReplicas(ms, false), PodInputs{}))

	if d.Name != "checkout" || d.Namespace != "shop" {
		t.Fatalf("name = %s/%s", d.Namespace, d.Name)
	}
	if len(d.OwnerReferences) != 1 || d.OwnerReferences[0].UID != "uid-1" || !ptr.Deref(d.OwnerReferences[0].Controller, false) {
		t.Fatalf("owner references = %+v", d.OwnerReferences)
	}
	sel := d.Spec.Selector.MatchLabels
	if sel[LabelMicroservice] != "checkout" || sel[LabelTrack] != TrackStable || len(sel) != 2 {
		t.Fatalf("selector = %v", sel)
	}
	for k, v := range sel {
		if d.Spec.Template.Labels[k] != v {
			t.Fatalf("pod labels %v do not match selector %v", d.Spec.Template.Labels, sel)
		}
	}
	pod := d.Spec.Template.Spec
	if pod.ServiceAccountName != "checkout" {
		t.Fatalf("service account = %q", pod.ServiceAccountName)
	}
	c := pod.Containers[0]
	if c.Ports[0].ContainerPort != 8080 || c.Ports[0].Name != "http" || c.Ports[1].ContainerPort != 9090 {
		t.Fatalf("container ports = %+v", c.Ports)
	}
	if len(c.Env) != 2 || c.Env[1].ValueFrom.SecretKeyRef.Key != "password" {
		t.Fatalf("env = %+v", c.Env)
	}
	if c.ReadinessProbe.HTTPGet.Path != "/ready" || c.ReadinessProbe.PeriodSeconds != 5 {
		t.Fatalf("readiness probe = %+v", c.ReadinessProbe)
	}
}

func TestSecurityContextDefaultsMeetRestrictedStandard(t *testing.T) {
	d := roundTrip[appsv1.Deployment](t, Deployment(base(), DecideReplicas(base(), false), PodInputs{}))
	pod := d.Spec.Template.Spec
	if !ptr.Deref(pod.SecurityContext.RunAsNonRoot, false) || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Fatalf("pod security context = %+v", pod.SecurityContext)
	}
	sc := pod.Containers[0].SecurityContext
	if ptr.Deref(sc.AllowPrivilegeEscalation, true) || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) ||
		len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Fatalf("container security context = %+v", sc)
	}

	ms := base()
	ms.Spec.SecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(false)}
	d = roundTrip[appsv1.Deployment](t, Deployment(ms, DecideReplicas(ms, false), PodInputs{}))
	if got := d.Spec.Template.Spec.Containers[0].SecurityContext; ptr.Deref(got.ReadOnlyRootFilesystem, true) ||
		ptr.Deref(got.AllowPrivilegeEscalation, true) || len(got.Capabilities.Drop) != 1 {
		t.Fatalf("the user's setting must win and the other defaults stay, got %+v", got)
	}
}

func TestService(t *testing.T) {
	s := roundTrip[corev1.Service](t, Service(base()))
	if s.Spec.Type != corev1.ServiceTypeClusterIP || s.Spec.Selector[LabelMicroservice] != "checkout" || len(s.Spec.Selector) != 1 {
		t.Fatalf("service = %+v", s.Spec)
	}
	want := []corev1.ServicePort{
		{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP},
		{Name: "grpc", Port: 9090, TargetPort: intstr.FromString("grpc"), Protocol: corev1.ProtocolTCP, AppProtocol: ptr.To("grpc")},
	}
	if len(s.Spec.Ports) != len(want) {
		t.Fatalf("ports = %+v", s.Spec.Ports)
	}
	for i := range want {
		if s.Spec.Ports[i].Name != want[i].Name || s.Spec.Ports[i].Port != want[i].Port || s.Spec.Ports[i].TargetPort != want[i].TargetPort ||
			s.Spec.Ports[i].Protocol != want[i].Protocol || !ptr.Equal(s.Spec.Ports[i].AppProtocol, want[i].AppProtocol) {
			t.Fatalf("port %d = %+v, want %+v", i, s.Spec.Ports[i], want[i])
		}
	}
}

func TestHorizontalPodAutoscaler(t *testing.T) {
	if HorizontalPodAutoscaler(base()) != nil {
		t.Fatal("no autoscaling must mean no HPA")
	}
	ms := base()
	ms.Spec.Autoscaling = &msv1.Autoscaling{MaxReplicas: 10, TargetCPUUtilizationPercentage: ptr.To[int32](70), TargetMemoryUtilizationPercentage: ptr.To[int32](80)}
	h := roundTrip[autoscalingv2.HorizontalPodAutoscaler](t, HorizontalPodAutoscaler(ms))
	if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != "checkout" {
		t.Fatalf("target = %+v", h.Spec.ScaleTargetRef)
	}
	if ptr.Deref(h.Spec.MinReplicas, 0) != 1 || h.Spec.MaxReplicas != 10 {
		t.Fatalf("bounds = %v..%d", h.Spec.MinReplicas, h.Spec.MaxReplicas)
	}
	if len(h.Spec.Metrics) != 2 || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU ||
		*h.Spec.Metrics[0].Resource.Target.AverageUtilization != 70 || *h.Spec.Metrics[1].Resource.Target.AverageUtilization != 80 {
		t.Fatalf("metrics = %+v", h.Spec.Metrics)
	}
}

func TestHTTPRoute(t *testing.T) {
	if HTTPRoute(base(), 0) != nil {
		t.Fatal("no route must mean no HTTPRoute")
	}
	tests := []struct {
		name     string
		route    msv1.Route
		wantPath string
		wantPort int32
	}{
		{"defaults to / and the first port", msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public"}}}, "/", 80},
		{"uses the named port and prefix", msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public"}}, Port: "grpc", PathPrefix: "/api"}, "/api", 9090},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := base()
			ms.Spec.Route = &tt.route
			r := roundTrip[gwv1.HTTPRoute](t, HTTPRoute(ms, 0))
			rule := r.Spec.Rules[0]
			if got := ptr.Deref(rule.Matches[0].Path.Value, ""); got != tt.wantPath {
				t.Fatalf("path = %q, want %q", got, tt.wantPath)
			}
			if got := ptr.Deref(rule.BackendRefs[0].Port, 0); got != gwv1.PortNumber(tt.wantPort) {
				t.Fatalf("backend port = %d, want %d", got, tt.wantPort)
			}
			if rule.BackendRefs[0].Name != "checkout" {
				t.Fatalf("backend = %s", rule.BackendRefs[0].Name)
			}
		})
	}

	ms := base()
	ms.Spec.Route = &msv1.Route{
		ParentRefs: []msv1.ParentReference{{Name: "public", Namespace: "gateway-system", SectionName: "https"}},
		Hostnames:  []string{"shop.example.com"},
	}
	r := roundTrip[gwv1.HTTPRoute](t, HTTPRoute(ms, 0))
	p := r.Spec.ParentRefs[0]
	if p.Name != "public" || string(ptr.Deref(p.Namespace, "")) != "gateway-system" || string(ptr.Deref(p.SectionName, "")) != "https" {
		t.Fatalf("parentRef = %+v", p)
	}
	if len(r.Spec.Hostnames) != 1 || r.Spec.Hostnames[0] != "shop.example.com" {
		t.Fatalf("hostnames = %v", r.Spec.Hostnames)
	}
}

func TestURL(t *testing.T) {
	ms := base()
	if got := URL(ms); got != "http://checkout.shop.svc.cluster.local:80" {
		t.Fatalf("URL = %q", got)
	}
	ms.Spec.Ports[0].AppProtocol = ptr.To("https")
	if got := URL(ms); got != "https://checkout.shop.svc.cluster.local:80" {
		t.Fatalf("URL = %q", got)
	}
	ms.Spec.Ports = nil
	if got := URL(ms); got != "" {
		t.Fatalf("URL without ports = %q", got)
	}
}

func TestConfigRefsAndHash(t *testing.T) {
	ms := base()
	ms.Spec.Env = []corev1.EnvVar{
		{Name: "A", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "pw"}}},
		{Name: "B", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}, Key: "x"}}},
		{Name: "C", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
	}
	ms.Spec.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}}
	got := ConfigRefs(ms)
	if len(got) != 2 || got[0].String() != "ConfigMap/app" || got[1].String() != "Secret/db" {
		t.Fatalf("ConfigRefs = %v", got)
	}

	if Revision(ms, PodInputs{ConfigHash: "h1"}) == Revision(ms, PodInputs{ConfigHash: "h2"}) {
		t.Fatal("a new config hash must be a new revision")
	}
	if Revision(ms, PodInputs{ConfigHash: "h1"}) != Revision(ms, PodInputs{ConfigHash: "h1"}) {
		t.Fatal("the revision must be stable")
	}
	d := roundTrip[appsv1.Deployment](t, Deployment(ms, DecideReplicas(ms, false), PodInputs{ConfigHash: "h1"}))
	if d.Spec.Template.Annotations[AnnotationConfigHash] != "h1" {
		t.Fatalf("pod template annotations = %v", d.Spec.Template.Annotations)
	}
	if d := roundTrip[appsv1.Deployment](t, Deployment(base(), DecideReplicas(base(), false), PodInputs{})); len(d.Spec.Template.Annotations) != 0 {
		t.Fatalf("no config, no annotation: %v", d.Spec.Template.Annotations)
	}
}
