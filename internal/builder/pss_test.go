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
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/graph"
)

// The pods the operator creates are checked with the Pod Security Admission
// plugin's own checks, the code kube-apiserver runs to enforce the Pod
// Security Standards, at the restricted level of the newest policy version.

var (
	restricted = api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}
	// evaluator is built once: FuzzBuild checks every input with it.
	evaluator = sync.OnceValues(func() (policy.Evaluator, error) { return policy.NewEvaluator(policy.DefaultChecks(), nil) })
)

// restrictedViolations evaluates a pod template against the restricted
// standard and returns "reason: detail" for each check it fails.
func restrictedViolations(t *testing.T, tmpl *corev1.PodTemplateSpec) []string {
	t.Helper()
	evaluator, err := evaluator()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range evaluator.EvaluatePod(restricted, &tmpl.ObjectMeta, &tmpl.Spec) {
		if !r.Allowed {
			out = append(out, r.ForbiddenReason+": "+r.ForbiddenDetail)
		}
	}
	return out
}

// podTemplates returns the pod template of every builder output that holds
// pods, by object: the stable Deployment always, the canary Deployment when
// the Microservice rolls out as a canary.
func podTemplates(t *testing.T, ms *msv1.Microservice, in PodInputs) map[string]*corev1.PodTemplateSpec {
	t.Helper()
	out := map[string]*corev1.PodTemplateSpec{}
	stable := roundTrip[appsv1.Deployment](t, Deployment(ms, DecideReplicas(ms, false), in))
	out["Deployment/"+stable.Name] = &stable.Spec.Template
	held := roundTrip[appsv1.Deployment](t, Deployment(ms, DecideReplicas(ms, true), in))
	out["Deployment/"+held.Name+" (held)"] = &held.Spec.Template
	if IsCanary(ms) {
		canary := roundTrip[appsv1.Deployment](t, CanaryDeployment(ms, 1, in, in))
		out["Deployment/"+canary.Name] = &canary.Spec.Template
	}
	return out
}

func TestPodsMeetRestrictedPodSecurityStandard(t *testing.T) {
	canary := func(m *msv1.Microservice) {
		m.Spec.Rollout = &msv1.Rollout{
			Strategy: msv1.CanaryStrategy,
			Canary: &msv1.Canary{Steps: []msv1.CanaryStep{
				{SetWeight: ptr.To[int32](10)},
				{Pause: &msv1.PauseStep{}},
				{SetWeight: ptr.To[int32](50)},
			}},
		}
	}
	tests := []struct {
		name   string
		mutate func(*msv1.Microservice)
		in     PodInputs
		// pods is how many pod templates the builders must produce: proof
		// that the canary Deployment is among the outputs checked.
		pods int
	}{
		{name: "plain", mutate: func(*msv1.Microservice) {}, pods: 2},
		{name: "with probes, command and resources", mutate: func(m *msv1.Microservice) {
			m.Spec.Command = []string{"/checkout"}
			m.Spec.Args = []string{"--listen=:8080"}
			m.Spec.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{}}
			m.Spec.Probes = &msv1.Probes{
				Readiness: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}}},
				Liveness:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}},
				Startup:   &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/healthcheck"}}}},
			}
		}, pods: 2},
		{name: "with env, envFrom and dependency env", mutate: func(m *msv1.Microservice) {
			m.Spec.Env = []corev1.EnvVar{
				{Name: "MODE", Value: "prod"},
				{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
				{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			}
			m.Spec.EnvFrom = []corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}},
				{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "api-keys"}}},
			}
			m.Spec.ServiceAccountName = "checkout"
		}, in: PodInputs{
			ConfigHash: "0123456789abcdef",
			DependencyEnv: DependencyEnv([]ResolvedDependency{{
				Dep: msv1.Dependency{Name: "payments"}, Key: graph.Key{Namespace: "shop", Name: "payments"},
				Found: true, Port: 80, Scheme: "http",
			}}),
		}, pods: 2},
		{name: "with autoscaling", mutate: func(m *msv1.Microservice) {
			m.Spec.Autoscaling = &msv1.Autoscaling{MinReplicas: ptr.To[int32](2), MaxReplicas: 10, TargetCPUUtilizationPercentage: ptr.To[int32](70)}
		}, pods: 2},
		{name: "with a canary rollout", mutate: canary, pods: 3},
		{name: "with a canary rollout and autoscaling", mutate: func(m *msv1.Microservice) {
			canary(m)
			m.Spec.Autoscaling = &msv1.Autoscaling{MaxReplicas: 4}
		}, pods: 3},
		{name: "with the user's complete restricted security contexts", mutate: func(m *msv1.Microservice) {
			m.Spec.PodSecurityContext = &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](1000),
				RunAsGroup:     ptr.To[int64](1000),
				FSGroup:        ptr.To[int64](2000),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("profiles/checkout.json")},
			}
			m.Spec.SecurityContext = &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				ReadOnlyRootFilesystem:   ptr.To(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_BIND_SERVICE"}},
			}
		}, pods: 2},
		{name: "with only a pod fsGroup and user from the user", mutate: func(m *msv1.Microservice) {
			m.Spec.PodSecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), FSGroup: ptr.To[int64](2000)}
		}, pods: 2},
		{name: "with only an added NET_BIND_SERVICE capability from the user", mutate: func(m *msv1.Microservice) {
			m.Spec.SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE"}}}
		}, pods: 2},
		{name: "with a writable root filesystem the user opted into", mutate: func(m *msv1.Microservice) {
			m.Spec.SecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(false)}
		}, pods: 2},
		{name: "with every pod field: emptyDir, configMap, secret, projected and PVC volumes, an init container, a native sidecar and a sidecar",
			mutate: withEveryPodField, pods: 2},
		{name: "with every pod field and a canary rollout", mutate: func(m *msv1.Microservice) {
			withEveryPodField(m)
			canary(m)
		}, pods: 3},
		{name: "with every pod field and the user's own restricted security contexts on the extra containers", mutate: func(m *msv1.Microservice) {
			withEveryPodField(m)
			m.Spec.Pod.InitContainers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To[int64](1000), ReadOnlyRootFilesystem: ptr.To(false)}
			m.Spec.Pod.InitContainers[1].SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE"}}}
			m.Spec.Pod.Sidecars[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), RunAsNonRoot: ptr.To(true)}
		}, pods: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := base()
			tt.mutate(ms)
			pods := podTemplates(t, ms, tt.in)
			if len(pods) != tt.pods {
				t.Fatalf("got %d pod templates, want %d: %v", len(pods), tt.pods, pods)
			}
			for name, tmpl := range pods {
				if v := restrictedViolations(t, tmpl); len(v) > 0 {
					t.Errorf("%s does not meet the restricted Pod Security Standard:\n  %s", name, strings.Join(v, "\n  "))
				}
			}
		})
	}
}

// The checker is not vacuous: a pod template without the operator's
// defaults fails it on every field the defaults set.
func TestRestrictedCheckerRejectsAnUnhardenedPod(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "x"}}},
	}
	got := strings.Join(restrictedViolations(t, tmpl), "\n")
	for _, want := range []string{"allowPrivilegeEscalation != false", "unrestricted capabilities", "runAsNonRoot != true", "seccompProfile"} {
		if !strings.Contains(got, want) {
			t.Errorf("violations of a bare pod do not mention %q:\n%s", want, got)
		}
	}
}

// The builder passes every volume source as written: a hostPath volume, which
// the Pod Security Standards forbid, reaches the pod, and the check reports
// it. So the restricted test above passes because of what the pods hold.
func TestRestrictedCheckerReportsAHostPathVolume(t *testing.T) {
	ms := base()
	withEveryPodField(ms)
	ms.Spec.Pod.Volumes = append(ms.Spec.Pod.Volumes, corev1.Volume{Name: "logs",
		VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}})
	for name, tmpl := range podTemplates(t, ms, PodInputs{}) {
		got := restrictedViolations(t, tmpl)
		if len(got) != 1 || !strings.HasPrefix(got[0], "restricted volume types") || !strings.Contains(got[0], `"logs"`) ||
			!strings.Contains(got[0], `"hostPath"`) {
			t.Errorf("%s: violations = %q, want only the hostPath volume logs", name, got)
		}
	}
}

// The check sees the init containers and sidecars: one that allows privilege
// escalation is reported by name, and is the only violation.
func TestRestrictedCheckerSeesEveryContainer(t *testing.T) {
	for _, name := range []string{"migrate", "proxy", "exporter"} {
		t.Run(name, func(t *testing.T) {
			ms := base()
			withEveryPodField(ms)
			for _, list := range [][]corev1.Container{ms.Spec.Pod.InitContainers, ms.Spec.Pod.Sidecars} {
				for i := range list {
					if list[i].Name == name {
						list[i].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(true)}
					}
				}
			}
			d := roundTrip[appsv1.Deployment](t, Deployment(ms, DecideReplicas(ms, false), PodInputs{}))
			got := restrictedViolations(t, &d.Spec.Template)
			if len(got) != 1 || !strings.HasPrefix(got[0], "allowPrivilegeEscalation != false") || !strings.Contains(got[0], `"`+name+`"`) {
				t.Fatalf("restricted violations = %q, want only allowPrivilegeEscalation of %s", got, name)
			}
		})
	}
}

// A user who relaxes one setting gets exactly that setting; every other
// setting of the restricted defaults stays, so relaxing one thing never
// silently relaxes the rest.
func TestSecurityContextOptOutRelaxesOnlyWhatTheUserAsked(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*msv1.Microservice)
		// asked checks the user's setting is in the pod.
		asked func(pod *corev1.PodSpec, c *corev1.SecurityContext) bool
		// violations are the restricted checks the opt-out must fail, and
		// the only ones.
		violations []string
	}{
		{
			name: "writable root filesystem",
			mutate: func(m *msv1.Microservice) {
				m.Spec.SecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(false)}
			},
			asked: func(_ *corev1.PodSpec, c *corev1.SecurityContext) bool {
				return c.ReadOnlyRootFilesystem != nil && !*c.ReadOnlyRootFilesystem
			},
		},
		{
			name: "privilege escalation",
			mutate: func(m *msv1.Microservice) {
				m.Spec.SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(true)}
			},
			asked: func(_ *corev1.PodSpec, c *corev1.SecurityContext) bool {
				return ptr.Deref(c.AllowPrivilegeEscalation, false)
			},
			violations: []string{"allowPrivilegeEscalation != false"},
		},
		{
			name: "an extra capability",
			mutate: func(m *msv1.Microservice) {
				m.Spec.SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}}}
			},
			asked: func(_ *corev1.PodSpec, c *corev1.SecurityContext) bool {
				return c.Capabilities != nil && slices.Equal(c.Capabilities.Add, []corev1.Capability{"NET_ADMIN"})
			},
			violations: []string{"unrestricted capabilities"},
		},
		{
			name: "root in the container",
			mutate: func(m *msv1.Microservice) {
				m.Spec.SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To[int64](0)}
			},
			asked: func(_ *corev1.PodSpec, c *corev1.SecurityContext) bool {
				return c.RunAsUser != nil && *c.RunAsUser == 0 && c.RunAsNonRoot == nil
			},
			violations: []string{"runAsUser=0"},
		},
		{
			name: "root for the pod",
			mutate: func(m *msv1.Microservice) {
				m.Spec.PodSecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(false)}
			},
			asked: func(pod *corev1.PodSpec, c *corev1.SecurityContext) bool {
				// The pod's choice governs: the container does not override it.
				return pod.SecurityContext.RunAsNonRoot != nil && !*pod.SecurityContext.RunAsNonRoot && c.RunAsNonRoot == nil
			},
			violations: []string{"runAsNonRoot != true"},
		},
		{
			name: "an unconfined seccomp profile for the pod",
			mutate: func(m *msv1.Microservice) {
				m.Spec.PodSecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}
			},
			asked: func(pod *corev1.PodSpec, c *corev1.SecurityContext) bool {
				return pod.SecurityContext.SeccompProfile.Type == corev1.SeccompProfileTypeUnconfined && c.SeccompProfile == nil
			},
			violations: []string{"seccompProfile"},
		},
		{
			name:   "a privileged container",
			mutate: func(m *msv1.Microservice) { m.Spec.SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)} },
			asked: func(_ *corev1.PodSpec, c *corev1.SecurityContext) bool {
				// The API server refuses privileged with allowPrivilegeEscalation false.
				return ptr.Deref(c.Privileged, false) && c.AllowPrivilegeEscalation == nil
			},
			violations: []string{"privileged", "allowPrivilegeEscalation != false"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := base()
			tt.mutate(ms)
			d := roundTrip[appsv1.Deployment](t, Deployment(ms, DecideReplicas(ms, false), PodInputs{}))
			pod := &d.Spec.Template.Spec
			c := pod.Containers[0].SecurityContext
			if !tt.asked(pod, c) {
				t.Fatalf("the pod does not have what the user asked for: pod %+v, container %+v", pod.SecurityContext, c)
			}
			got := restrictedViolations(t, &d.Spec.Template)
			if len(got) != len(tt.violations) {
				t.Fatalf("restricted violations = %q, want only %q", got, tt.violations)
			}
			for i, want := range tt.violations {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("violation %d = %q, want %q", i, got[i], want)
				}
			}
			// Whatever the user did not relax keeps the restricted default.
			if ms.Spec.SecurityContext == nil || ms.Spec.SecurityContext.ReadOnlyRootFilesystem == nil {
				if !ptr.Deref(c.ReadOnlyRootFilesystem, false) {
					t.Errorf("the root filesystem became writable: %+v", c)
				}
			}
			if sc := ms.Spec.SecurityContext; sc == nil || sc.Capabilities == nil || sc.Capabilities.Drop == nil {
				if c.Capabilities == nil || !slices.Equal(c.Capabilities.Drop, []corev1.Capability{"ALL"}) {
					t.Errorf("capabilities are no longer all dropped: %+v", c.Capabilities)
				}
			}
		})
	}
}
