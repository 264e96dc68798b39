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
	"maps"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

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
	s := roundTrip[corev1.Service](t, Service(base(), false))
	if s.Spec.Type != corev1.ServiceTypeClusterIP || s.Spec.Selector[LabelMicroservice] != "checkout" || len(s.Spec.Selector) != 1 {
		t.Fatalf("service = %+v", s.Spec)
	}
	stable := roundTrip[corev1.Service](t, Service(base(), true))
	if stable.Spec.Selector[LabelMicroservice] != "checkout" || stable.Spec.Selector[LabelTrack] != TrackStable || len(stable.Spec.Selector) != 2 {
		t.Fatalf("selector while a route weighs the canary = %v, want the stable track only", stable.Spec.Selector)
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
	if first, again := Revision(ms, PodInputs{ConfigHash: "h1"}), Revision(ms, PodInputs{ConfigHash: "h1"}); first != again {
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

// withEveryPodField sets every pod-template field of the API beyond the
// container basics: the main container's volume mounts, lifecycle and
// working directory, and every field of spec.pod, with the volume sources a
// restricted pod may use, an init container, a native sidecar and a sidecar.
func withEveryPodField(m *msv1.Microservice) {
	m.Spec.WorkingDir = "/srv"
	m.Spec.VolumeMounts = []corev1.VolumeMount{
		{Name: "tmp", MountPath: "/tmp"},
		{Name: "cache", MountPath: "/var/cache/checkout"},
		{Name: "settings", MountPath: "/etc/checkout", ReadOnly: true},
	}
	m.Spec.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}}
	m.Spec.Pod = &msv1.PodOptions{
		Labels:      map[string]string{"team": "payments", "sidecar.istio.io/inject": "false"},
		Annotations: map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9102"},
		Volumes: []corev1.Volume{
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
			{Name: "settings", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "checkout-settings"}}}},
			{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "checkout-tls"}}},
			{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{
				ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: "vault", Path: "token"}}}}}},
			{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "checkout-data"}}},
		},
		InitContainers: []corev1.Container{
			{Name: "migrate", Image: "ghcr.io/acme/checkout-migrate:1.4.2", Args: []string{"up"}},
			{Name: "proxy", Image: "ghcr.io/acme/proxy:2", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
				Ports: []corev1.ContainerPort{{Name: "proxy", ContainerPort: 15001}}},
		},
		Sidecars: []corev1.Container{{
			Name: "exporter", Image: "ghcr.io/acme/exporter:0.9",
			Ports:        []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9102}},
			VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
		}},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "registry"}},
		NodeSelector:     map[string]string{"kubernetes.io/arch": "arm64"},
		Tolerations:      []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "shop", Effect: corev1.TaintEffectNoSchedule}},
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: "topology.kubernetes.io/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a", "b"}}}}}}}},
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{
			{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway},
			{MaxSkew: 2, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.DoNotSchedule,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}}},
		},
		PriorityClassName:             "shop-critical",
		TerminationGracePeriodSeconds: ptr.To[int64](45),
		RuntimeClassName:              ptr.To("gvisor"),
		SchedulerName:                 "bin-packer",
		HostAliases:                   []corev1.HostAlias{{IP: "10.0.0.7", Hostnames: []string{"legacy.internal"}}},
		DNSPolicy:                     corev1.DNSNone,
		DNSConfig:                     &corev1.PodDNSConfig{Nameservers: []string{"10.0.0.10"}, Searches: []string{"shop.svc.cluster.local"}},
		EnableServiceLinks:            ptr.To(false),
		AutomountServiceAccountToken:  ptr.To(false),
		ShareProcessNamespace:         ptr.To(true),
	}
}

// podOptionCases set each pod-template field of the API alone, and say
// where in the stable Deployment it must land.
var podOptionCases = []struct {
	name   string
	mutate func(*msv1.Microservice)
	landed func(d *appsv1.Deployment) bool
}{
	{"volumeMounts on the service's container", func(m *msv1.Microservice) {
		m.Spec.VolumeMounts = []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp", SubPath: "app"}}
	}, func(d *appsv1.Deployment) bool {
		vm := d.Spec.Template.Spec.Containers[0].VolumeMounts
		return len(vm) == 1 && vm[0].Name == "tmp" && vm[0].MountPath == "/tmp" && vm[0].SubPath == "app"
	}},
	{"lifecycle on the service's container", func(m *msv1.Microservice) {
		m.Spec.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}}
	}, func(d *appsv1.Deployment) bool {
		l := d.Spec.Template.Spec.Containers[0].Lifecycle
		return l != nil && l.PreStop != nil && l.PreStop.Sleep != nil && l.PreStop.Sleep.Seconds == 5
	}},
	{"workingDir on the service's container", func(m *msv1.Microservice) { m.Spec.WorkingDir = "/srv" },
		func(d *appsv1.Deployment) bool { return d.Spec.Template.Spec.Containers[0].WorkingDir == "/srv" }},
	{"pod labels", func(m *msv1.Microservice) {
		m.Spec.Pod = &msv1.PodOptions{Labels: map[string]string{"team": "payments"}}
	},
		func(d *appsv1.Deployment) bool { return d.Spec.Template.Labels["team"] == "payments" }},
	{"pod annotations", func(m *msv1.Microservice) {
		m.Spec.Pod = &msv1.PodOptions{Annotations: map[string]string{"prometheus.io/scrape": "true"}}
	}, func(d *appsv1.Deployment) bool { return d.Spec.Template.Annotations["prometheus.io/scrape"] == "true" }},
	{"volumes", func(m *msv1.Microservice) {
		m.Spec.Pod = &msv1.PodOptions{Volumes: []corev1.Volume{
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
		}}
	}, func(d *appsv1.Deployment) bool {
		v := d.Spec.Template.Spec.Volumes
		return len(v) == 2 && v[0].Name == "tmp" && v[0].EmptyDir != nil && v[1].PersistentVolumeClaim != nil && v[1].PersistentVolumeClaim.ClaimName == "data"
	}},
	{"init containers, a native sidecar among them", func(m *msv1.Microservice) {
		m.Spec.Pod = &msv1.PodOptions{InitContainers: []corev1.Container{
			{Name: "migrate", Image: "migrate:1", Args: []string{"up"}},
			{Name: "proxy", Image: "proxy:2", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)},
		}}
	}, func(d *appsv1.Deployment) bool {
		ic := d.Spec.Template.Spec.InitContainers
		return len(ic) == 2 && ic[0].Name == "migrate" && ic[0].Image == "migrate:1" && slices.Equal(ic[0].Args, []string{"up"}) &&
			ic[0].RestartPolicy == nil && ic[1].Name == "proxy" && ptr.Deref(ic[1].RestartPolicy, "") == corev1.ContainerRestartPolicyAlways &&
			len(d.Spec.Template.Spec.Containers) == 1
	}},
	{"sidecars after the service's container", func(m *msv1.Microservice) {
		m.Spec.Pod = &msv1.PodOptions{Sidecars: []corev1.Container{{Name: "exporter", Image: "exporter:1",
			Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9102}}}}}
	}, func(d *appsv1.Deployment) bool {
		c := d.Spec.Template.Spec.Containers
		return len(c) == 2 && c[0].Name == DefaultContainerName && c[1].Name == "exporter" && c[1].Image == "exporter:1" &&
			len(c[1].Ports) == 1 && c[1].Ports[0].ContainerPort == 9102
	}},
	{"imagePullSecrets", func(m *msv1.Microservice) {
		m.Spec.Pod = &msv1.PodOptions{ImagePullSecrets: []corev1.LocalObjectReference{{Name: "registry"}}}
	}, func(d *appsv1.Deployment) bool {
		s := d.Spec.Template.Spec.ImagePullSecrets
		return len(s) == 1 && s[0].Name == "registry"
	}},
	{"nodeSelector", func(m *msv1.Microservice) {
		m.Spec.Pod = &msv1.PodOptions{NodeSelector: map[string]string{"kubernetes.io/arch": "arm64"}}
	}, func(d *appsv1.Deployment) bool {
		return d.Spec.Template.Spec.NodeSelector["kubernetes.io/arch"] == "arm64"
	}},
	{"tolerations", func(m *msv1.Microservice) {
		m.Spec.Pod = &msv1.PodOptions{Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}}
	}, func(d *appsv1.Deployment) bool {
		tl := d.Spec.Template.Spec.Tolerations
		return len(tl) == 1 && tl[0].Key == "dedicated" && tl[0].Operator == corev1.TolerationOpExists && tl[0].Effect == corev1.TaintEffectNoSchedule
	}},
	{"affinity", func(m *msv1.Microservice) {
		m.Spec.Pod = &msv1.PodOptions{Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 10, PodAffinityTerm: corev1.PodAffinityTerm{
				TopologyKey: "kubernetes.io/hostname", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}}}}}}
	}, func(d *appsv1.Deployment) bool {
		a := d.Spec.Template.Spec.Affinity
		return a != nil && a.PodAntiAffinity != nil && len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 1 &&
			a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.LabelSelector.MatchLabels["app"] == "db"
	}},
	{"topologySpreadConstraints", func(m *msv1.Microservice) {
		m.Spec.Pod = &msv1.PodOptions{TopologySpreadConstraints: []corev1.TopologySpreadConstraint{
			{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway},
		}}
	}, func(d *appsv1.Deployment) bool {
		tsc := d.Spec.Template.Spec.TopologySpreadConstraints
		return len(tsc) == 1 && tsc[0].MaxSkew == 1 && tsc[0].TopologyKey == "topology.kubernetes.io/zone" && tsc[0].WhenUnsatisfiable == corev1.ScheduleAnyway
	}},
	{"priorityClassName", func(m *msv1.Microservice) { m.Spec.Pod = &msv1.PodOptions{PriorityClassName: "shop-critical"} },
		func(d *appsv1.Deployment) bool { return d.Spec.Template.Spec.PriorityClassName == "shop-critical" }},
	{"terminationGracePeriodSeconds", func(m *msv1.Microservice) {
		m.Spec.Pod = &msv1.PodOptions{TerminationGracePeriodSeconds: ptr.To[int64](45)}
	}, func(d *appsv1.Deployment) bool {
		return ptr.Deref(d.Spec.Template.Spec.TerminationGracePeriodSeconds, 0) == 45
	}},
	{"terminationGracePeriodSeconds of zero", func(m *msv1.Microservice) {
		m.Spec.Pod = &msv1.PodOptions{TerminationGracePeriodSeconds: ptr.To[int64](0)}
	}, func(d *appsv1.Deployment) bool {
		return ptr.Deref(d.Spec.Template.Spec.TerminationGracePeriodSeconds, -1) == 0
	}},
	{"runtimeClassName", func(m *msv1.Microservice) { m.Spec.Pod = &msv1.PodOptions{RuntimeClassName: ptr.To("gvisor")} },
		func(d *appsv1.Deployment) bool {
			return ptr.Deref(d.Spec.Template.Spec.RuntimeClassName, "") == "gvisor"
		}},
	{"schedulerName", func(m *msv1.Microservice) { m.Spec.Pod = &msv1.PodOptions{SchedulerName: "bin-packer"} },
		func(d *appsv1.Deployment) bool { return d.Spec.Template.Spec.SchedulerName == "bin-packer" }},
	{"hostAliases", func(m *msv1.Microservice) {
		m.Spec.Pod = &msv1.PodOptions{HostAliases: []corev1.HostAlias{{IP: "10.0.0.7", Hostnames: []string{"legacy.internal"}}}}
	}, func(d *appsv1.Deployment) bool {
		h := d.Spec.Template.Spec.HostAliases
		return len(h) == 1 && h[0].IP == "10.0.0.7" && slices.Equal(h[0].Hostnames, []string{"legacy.internal"})
	}},
	{"dnsPolicy", func(m *msv1.Microservice) { m.Spec.Pod = &msv1.PodOptions{DNSPolicy: corev1.DNSDefault} },
		func(d *appsv1.Deployment) bool { return d.Spec.Template.Spec.DNSPolicy == corev1.DNSDefault }},
	{"dnsConfig", func(m *msv1.Microservice) {
		m.Spec.Pod = &msv1.PodOptions{DNSConfig: &corev1.PodDNSConfig{Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}}}}
	}, func(d *appsv1.Deployment) bool {
		c := d.Spec.Template.Spec.DNSConfig
		return c != nil && len(c.Options) == 1 && c.Options[0].Name == "ndots" && ptr.Deref(c.Options[0].Value, "") == "2"
	}},
	{"enableServiceLinks", func(m *msv1.Microservice) { m.Spec.Pod = &msv1.PodOptions{EnableServiceLinks: ptr.To(false)} },
		func(d *appsv1.Deployment) bool { return !ptr.Deref(d.Spec.Template.Spec.EnableServiceLinks, true) }},
	{"automountServiceAccountToken", func(m *msv1.Microservice) { m.Spec.Pod = &msv1.PodOptions{AutomountServiceAccountToken: ptr.To(false)} },
		func(d *appsv1.Deployment) bool {
			return !ptr.Deref(d.Spec.Template.Spec.AutomountServiceAccountToken, true)
		}},
	{"shareProcessNamespace", func(m *msv1.Microservice) { m.Spec.Pod = &msv1.PodOptions{ShareProcessNamespace: ptr.To(true)} },
		func(d *appsv1.Deployment) bool { return ptr.Deref(d.Spec.Template.Spec.ShareProcessNamespace, false) }},
}

func TestPodTemplateCarriesEveryPodField(t *testing.T) {
	for _, tt := range podOptionCases {
		t.Run(tt.name, func(t *testing.T) {
			ms := base()
			tt.mutate(ms)
			if d := roundTrip[appsv1.Deployment](t, Deployment(ms, DecideReplicas(ms, false), PodInputs{})); !tt.landed(d) {
				t.Fatalf("the stable Deployment does not carry it: %+v", d.Spec.Template)
			}
			ms.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{Steps: []msv1.CanaryStep{{SetWeight: ptr.To[int32](10)}}}}
			if d := roundTrip[appsv1.Deployment](t, CanaryDeployment(ms, 1, PodInputs{}, PodInputs{})); !tt.landed(d) {
				t.Fatalf("the canary Deployment does not carry it: %+v", d.Spec.Template)
			}
		})
	}
	t.Run("none of them unset", func(t *testing.T) {
		pod := roundTrip[appsv1.Deployment](t, Deployment(base(), DecideReplicas(base(), false), PodInputs{})).Spec.Template.Spec
		if len(pod.Volumes)+len(pod.InitContainers)+len(pod.Tolerations)+len(pod.TopologySpreadConstraints) > 0 || len(pod.Containers) != 1 ||
			pod.Affinity != nil || pod.TerminationGracePeriodSeconds != nil || pod.DNSPolicy != "" || pod.EnableServiceLinks != nil {
			t.Fatalf("a Microservice without spec.pod sets pod fields: %+v", pod)
		}
		if c := pod.Containers[0]; c.VolumeMounts != nil || c.Lifecycle != nil || c.WorkingDir != "" {
			t.Fatalf("a Microservice without mounts, lifecycle or working directory sets them: %+v", c)
		}
	})
	t.Run("all together", func(t *testing.T) {
		ms := base()
		withEveryPodField(ms)
		d := roundTrip[appsv1.Deployment](t, Deployment(ms, DecideReplicas(ms, false), PodInputs{ConfigHash: "h1"}))
		pod := d.Spec.Template.Spec
		if len(pod.Volumes) != 6 || len(pod.InitContainers) != 2 || len(pod.Containers) != 2 || pod.Containers[0].Name != DefaultContainerName ||
			len(pod.Containers[0].VolumeMounts) != 3 || len(pod.TopologySpreadConstraints) != 2 || pod.DNSConfig == nil {
			t.Fatalf("pod = %+v", pod)
		}
		if d.Spec.Template.Annotations[AnnotationConfigHash] != "h1" || d.Spec.Template.Annotations["prometheus.io/port"] != "9102" {
			t.Fatalf("annotations = %v", d.Spec.Template.Annotations)
		}
	})
}

// A topology spread constraint without a labelSelector spreads the pods of
// one track: stable and canary pods spread independently. One with a
// selector keeps it.
func TestTopologySpreadDefaultsToTheTrackSelector(t *testing.T) {
	ms := base()
	withEveryPodField(ms)
	ms.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{Steps: []msv1.CanaryStep{{SetWeight: ptr.To[int32](10)}}}}
	for track, ac := range map[string]*appsv1.Deployment{
		TrackStable: roundTrip[appsv1.Deployment](t, Deployment(ms, DecideReplicas(ms, false), PodInputs{})),
		TrackCanary: roundTrip[appsv1.Deployment](t, CanaryDeployment(ms, 1, PodInputs{}, PodInputs{})),
	} {
		tsc := ac.Spec.Template.Spec.TopologySpreadConstraints
		want := map[string]string{LabelMicroservice: "checkout", LabelTrack: track}
		if sel := tsc[0].LabelSelector; sel == nil || !maps.Equal(sel.MatchLabels, want) || len(sel.MatchExpressions) > 0 {
			t.Errorf("%s: constraint without a selector got %+v, want %v", track, sel, want)
		}
		if !maps.Equal(tsc[0].LabelSelector.MatchLabels, ac.Spec.Selector.MatchLabels) {
			t.Errorf("%s: spread selector %v is not the Deployment's %v", track, tsc[0].LabelSelector.MatchLabels, ac.Spec.Selector.MatchLabels)
		}
		if sel := tsc[1].LabelSelector; !maps.Equal(sel.MatchLabels, map[string]string{"team": "payments"}) {
			t.Errorf("%s: the user's selector became %v", track, sel.MatchLabels)
		}
	}
	if ms.Spec.Pod.TopologySpreadConstraints[0].LabelSelector != nil {
		t.Fatal("the builder wrote into the Microservice")
	}
}

// The restricted defaults apply to every container, from its own security
// context, field by field.
func TestEveryContainerGetsTheRestrictedDefaults(t *testing.T) {
	restrictedContainer := func(t *testing.T, c *corev1.Container) {
		t.Helper()
		sc := c.SecurityContext
		if sc == nil || ptr.Deref(sc.AllowPrivilegeEscalation, true) || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) ||
			!ptr.Deref(sc.RunAsNonRoot, false) || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
			sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("container %s security context %+v lacks a restricted default", c.Name, sc)
		}
	}
	ms := base()
	withEveryPodField(ms)
	pod := roundTrip[appsv1.Deployment](t, Deployment(ms, DecideReplicas(ms, false), PodInputs{})).Spec.Template.Spec
	for _, c := range slices.Concat(pod.InitContainers, pod.Containers) {
		restrictedContainer(t, &c)
	}

	tests := []struct {
		name string
		sc   *corev1.SecurityContext
		// relaxed checks the one field the user relaxed; every other
		// default must stay.
		relaxed func(sc *corev1.SecurityContext) bool
		keep    func(sc *corev1.SecurityContext) bool
	}{
		{"writable root filesystem", &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(false)},
			func(sc *corev1.SecurityContext) bool { return !ptr.Deref(sc.ReadOnlyRootFilesystem, true) },
			func(sc *corev1.SecurityContext) bool {
				return !ptr.Deref(sc.AllowPrivilegeEscalation, true) && ptr.Deref(sc.RunAsNonRoot, false) && sc.SeccompProfile != nil &&
					slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"})
			}},
		{"privilege escalation", &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(true)},
			func(sc *corev1.SecurityContext) bool { return ptr.Deref(sc.AllowPrivilegeEscalation, false) },
			func(sc *corev1.SecurityContext) bool {
				return ptr.Deref(sc.ReadOnlyRootFilesystem, false) && ptr.Deref(sc.RunAsNonRoot, false) && sc.SeccompProfile != nil &&
					slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"})
			}},
		{"root", &corev1.SecurityContext{RunAsUser: ptr.To[int64](0)},
			func(sc *corev1.SecurityContext) bool {
				return sc.RunAsNonRoot == nil && ptr.Deref(sc.RunAsUser, -1) == 0
			},
			func(sc *corev1.SecurityContext) bool {
				return ptr.Deref(sc.ReadOnlyRootFilesystem, false) && !ptr.Deref(sc.AllowPrivilegeEscalation, true) && sc.SeccompProfile != nil &&
					slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"})
			}},
		{"an explicit empty drop list and an added capability", &corev1.SecurityContext{Capabilities: &corev1.Capabilities{
			Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{}}},
			func(sc *corev1.SecurityContext) bool {
				return len(sc.Capabilities.Drop) == 0 && slices.Equal(sc.Capabilities.Add, []corev1.Capability{"NET_ADMIN"})
			},
			func(sc *corev1.SecurityContext) bool {
				return ptr.Deref(sc.ReadOnlyRootFilesystem, false) && !ptr.Deref(sc.AllowPrivilegeEscalation, true) && ptr.Deref(sc.RunAsNonRoot, false) &&
					sc.SeccompProfile != nil
			}},
		{"an unconfined seccomp profile", &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}},
			func(sc *corev1.SecurityContext) bool {
				return sc.SeccompProfile.Type == corev1.SeccompProfileTypeUnconfined
			},
			func(sc *corev1.SecurityContext) bool {
				return ptr.Deref(sc.ReadOnlyRootFilesystem, false) && !ptr.Deref(sc.AllowPrivilegeEscalation, true) && ptr.Deref(sc.RunAsNonRoot, false) &&
					slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"})
			}},
		{"privileged", &corev1.SecurityContext{Privileged: ptr.To(true)},
			// The API server refuses allowPrivilegeEscalation false with privileged.
			func(sc *corev1.SecurityContext) bool {
				return ptr.Deref(sc.Privileged, false) && sc.AllowPrivilegeEscalation == nil
			},
			func(sc *corev1.SecurityContext) bool {
				return ptr.Deref(sc.ReadOnlyRootFilesystem, false) && ptr.Deref(sc.RunAsNonRoot, false) && sc.SeccompProfile != nil &&
					slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"})
			}},
	}
	// Each of the three kinds of extra container relaxes one field in turn;
	// the relaxation stays on that container.
	for _, where := range []string{"migrate", "proxy", "exporter"} {
		for _, tt := range tests {
			t.Run(where+": "+tt.name, func(t *testing.T) {
				ms := base()
				withEveryPodField(ms)
				for _, list := range [][]corev1.Container{ms.Spec.Pod.InitContainers, ms.Spec.Pod.Sidecars} {
					for i := range list {
						if list[i].Name == where {
							list[i].SecurityContext = tt.sc.DeepCopy()
						}
					}
				}
				pod := roundTrip[appsv1.Deployment](t, Deployment(ms, DecideReplicas(ms, false), PodInputs{})).Spec.Template.Spec
				for _, c := range slices.Concat(pod.InitContainers, pod.Containers) {
					if c.Name != where {
						restrictedContainer(t, &c)
						continue
					}
					if !tt.relaxed(c.SecurityContext) {
						t.Errorf("container %s does not have what the user asked: %+v", c.Name, c.SecurityContext)
					}
					if !tt.keep(c.SecurityContext) {
						t.Errorf("container %s lost another default: %+v", c.Name, c.SecurityContext)
					}
				}
			})
		}
	}

	t.Run("the pod's user and seccomp profile govern every container", func(t *testing.T) {
		ms := base()
		withEveryPodField(ms)
		ms.Spec.PodSecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(false),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("p.json")}}
		pod := roundTrip[appsv1.Deployment](t, Deployment(ms, DecideReplicas(ms, false), PodInputs{})).Spec.Template.Spec
		for _, c := range slices.Concat(pod.InitContainers, pod.Containers) {
			if sc := c.SecurityContext; sc.RunAsNonRoot != nil || sc.SeccompProfile != nil || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) {
				t.Errorf("container %s overrides the pod: %+v", c.Name, sc)
			}
		}
	})
}

// spec.pod.labels and annotations never take the operator's keys: the
// selectors keep selecting the pods whatever the user writes, even past
// admission.
func TestPodLabelsCannotBreakTheSelector(t *testing.T) {
	ms := base()
	ms.Spec.Pod = &msv1.PodOptions{
		Labels: map[string]string{LabelMicroservice: "other", LabelTrack: TrackCanary, LabelName: "other", LabelManagedBy: "someone",
			"apps.msvc.dev/extra": "x", "team": "payments"},
		Annotations: map[string]string{AnnotationConfigHash: "forged", "apps.msvc.dev/extra": "x", "prometheus.io/scrape": "true"},
	}
	ms.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{Steps: []msv1.CanaryStep{{SetWeight: ptr.To[int32](10)}}}}
	for _, in := range []PodInputs{{ConfigHash: "h1"}, {}} {
		for _, d := range []*appsv1.Deployment{
			roundTrip[appsv1.Deployment](t, Deployment(ms, DecideReplicas(ms, false), in)),
			roundTrip[appsv1.Deployment](t, CanaryDeployment(ms, 1, in, in)),
		} {
			labels := d.Spec.Template.Labels
			for k, v := range d.Spec.Selector.MatchLabels {
				if labels[k] != v {
					t.Errorf("%s: pod labels %v do not match the selector %v", d.Name, labels, d.Spec.Selector.MatchLabels)
				}
			}
			want := CommonLabels(ms)
			want[LabelTrack] = d.Spec.Selector.MatchLabels[LabelTrack]
			want["team"] = "payments"
			if !maps.Equal(labels, want) {
				t.Errorf("%s: pod labels %v, want %v", d.Name, labels, want)
			}
			ann := d.Spec.Template.Annotations
			if ann["prometheus.io/scrape"] != "true" || ann["apps.msvc.dev/extra"] != "" || ann[AnnotationConfigHash] != in.ConfigHash {
				t.Errorf("%s: pod annotations %v, want the user's own and the config hash %q", d.Name, ann, in.ConfigHash)
			}
		}
	}
}

// A change to any pod-template field is a new revision, and the revision
// is the same for both tracks.
func TestRevisionChangesWithEveryPodField(t *testing.T) {
	before := Revision(base(), PodInputs{})
	for _, tt := range podOptionCases {
		t.Run(tt.name, func(t *testing.T) {
			ms := base()
			tt.mutate(ms)
			if Revision(ms, PodInputs{}) == before {
				t.Fatal("setting it is not a new revision")
			}
		})
	}
	edits := []struct {
		name string
		edit func(*msv1.Microservice)
	}{
		{"a volume's source", func(m *msv1.Microservice) { m.Spec.Pod.Volumes[1].EmptyDir.Medium = "" }},
		{"a mount's path", func(m *msv1.Microservice) { m.Spec.VolumeMounts[0].MountPath = "/scratch" }},
		{"an init container's image", func(m *msv1.Microservice) { m.Spec.Pod.InitContainers[0].Image = "migrate:2" }},
		{"a native sidecar's restart policy", func(m *msv1.Microservice) { m.Spec.Pod.InitContainers[1].RestartPolicy = nil }},
		{"a sidecar's security context", func(m *msv1.Microservice) {
			m.Spec.Pod.Sidecars[0].SecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(false)}
		}},
		{"a pod label", func(m *msv1.Microservice) { m.Spec.Pod.Labels["team"] = "search" }},
		{"a pod annotation", func(m *msv1.Microservice) { m.Spec.Pod.Annotations["prometheus.io/port"] = "9103" }},
		{"a toleration", func(m *msv1.Microservice) { m.Spec.Pod.Tolerations[0].Value = "search" }},
		{"a spread constraint", func(m *msv1.Microservice) { m.Spec.Pod.TopologySpreadConstraints[0].MaxSkew = 2 }},
		{"the grace period", func(m *msv1.Microservice) { m.Spec.Pod.TerminationGracePeriodSeconds = ptr.To[int64](46) }},
		{"the preStop hook", func(m *msv1.Microservice) { m.Spec.Lifecycle.PreStop.Sleep.Seconds = 6 }},
	}
	all := base()
	withEveryPodField(all)
	rev := Revision(all, PodInputs{})
	for _, tt := range edits {
		t.Run("editing "+tt.name, func(t *testing.T) {
			ms := base()
			withEveryPodField(ms)
			if Revision(ms, PodInputs{}) != rev {
				t.Fatal("the revision is not stable")
			}
			tt.edit(ms)
			if Revision(ms, PodInputs{}) == rev {
				t.Fatal("the edit is not a new revision")
			}
		})
	}
	t.Run("the same on both tracks", func(t *testing.T) {
		all.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{Steps: []msv1.CanaryStep{{SetWeight: ptr.To[int32](10)}}}}
		s := roundTrip[appsv1.Deployment](t, Deployment(all, DecideReplicas(all, false), PodInputs{}))
		c := roundTrip[appsv1.Deployment](t, CanaryDeployment(all, 1, PodInputs{}, PodInputs{}))
		if s.Annotations[AnnotationRevision] != c.Annotations[AnnotationRevision] {
			t.Fatalf("stable revision %s, canary %s", s.Annotations[AnnotationRevision], c.Annotations[AnnotationRevision])
		}
	})
}
