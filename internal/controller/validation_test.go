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
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// invalidCase is a Microservice that admission must refuse, and the message
// the user must get.
type invalidCase struct {
	name    string
	mutate  func(*msv1.Microservice)
	message string
}

func port(name string, p int32) msv1.ServicePort { return msv1.ServicePort{Name: name, Port: p} }

var invalidMicroservices = []invalidCase{
	{"empty image", func(m *msv1.Microservice) { m.Spec.Image = "" },
		"spec.image is required: set it to a container image"},
	{"image with whitespace", func(m *msv1.Microservice) { m.Spec.Image = "ghcr.io/acme/checkout :1.0" },
		"spec.image must not contain whitespace"},
	{"image ending in a colon", func(m *msv1.Microservice) { m.Spec.Image = "ghcr.io/acme/checkout:" },
		"spec.image must be a reference such as"},
	{"duplicate port names", func(m *msv1.Microservice) { m.Spec.Ports = []msv1.ServicePort{port("http", 80), port("http", 81)} },
		"Duplicate value"},
	{"duplicate port numbers", func(m *msv1.Microservice) { m.Spec.Ports = []msv1.ServicePort{port("http", 80), port("admin", 80)} },
		"spec.ports[].port must be unique"},
	{"port zero", func(m *msv1.Microservice) { m.Spec.Ports = []msv1.ServicePort{port("http", 0)} },
		"spec.ports[0].port: Invalid value: 0: spec.ports[0].port in body should be greater than or equal to 1"},
	{"port above 65535", func(m *msv1.Microservice) { m.Spec.Ports = []msv1.ServicePort{port("http", 70000)} },
		"should be less than or equal to 65535"},
	{"target port zero", func(m *msv1.Microservice) { m.Spec.Ports[0].TargetPort = ptr.To[int32](0) },
		"spec.ports[0].targetPort in body should be greater than or equal to 1"},
	{"upper-case port name", func(m *msv1.Microservice) { m.Spec.Ports[0].Name = "HTTP" },
		"spec.ports[].name must be lower case letters, digits and '-'"},
	{"port name longer than 15", func(m *msv1.Microservice) { m.Spec.Ports[0].Name = "a-very-long-port-name" },
		"may not be more than 15 bytes"},
	{"unknown port protocol", func(m *msv1.Microservice) { m.Spec.Ports[0].Protocol = "HTTP" },
		`supported values: "TCP", "UDP", "SCTP"`},
	{"negative replicas", func(m *msv1.Microservice) { m.Spec.Replicas = ptr.To[int32](-1) },
		"spec.replicas in body should be greater than or equal to 0"},
	{"minReplicas above maxReplicas", func(m *msv1.Microservice) { withAutoscaling(m, 5, 3) },
		"spec.autoscaling.minReplicas must be less than or equal to spec.autoscaling.maxReplicas"},
	{"maxReplicas zero", func(m *msv1.Microservice) { withAutoscaling(m, 1, 0) },
		"spec.autoscaling.maxReplicas in body should be greater than or equal to 1"},
	{"autoscaling without a target", func(m *msv1.Microservice) {
		m.Spec.Autoscaling = &msv1.Autoscaling{MaxReplicas: 4}
	}, "spec.autoscaling needs targetCPUUtilizationPercentage or targetMemoryUtilizationPercentage"},
	{"CPU target zero", func(m *msv1.Microservice) {
		withAutoscaling(m, 1, 4).Spec.Autoscaling.TargetCPUUtilizationPercentage = ptr.To[int32](0)
	}, "targetCPUUtilizationPercentage in body should be greater than or equal to 1"},
	{"route without parentRefs", func(m *msv1.Microservice) { withRoute(m).Spec.Route.ParentRefs = []msv1.ParentReference{} },
		"spec.route.parentRefs needs at least one entry: name the Gateway"},
	{"route path without a leading slash", func(m *msv1.Microservice) { withRoute(m).Spec.Route.PathPrefix = "checkout" },
		"spec.route.pathPrefix must start with '/'"},
	{"route path climbing up", func(m *msv1.Microservice) { withRoute(m).Spec.Route.PathPrefix = "/shop/../admin" },
		"spec.route.pathPrefix must be a plain path"},
	{"upper-case hostname", func(m *msv1.Microservice) { withRoute(m).Spec.Route.Hostnames = []string{"Shop.Example.com"} },
		"spec.route.hostnames[] must be a lower-case DNS name"},
	{"hostname with a scheme", func(m *msv1.Microservice) { withRoute(m).Spec.Route.Hostnames = []string{"https://shop.example.com"} },
		"spec.route.hostnames[] must be a lower-case DNS name"},
	{"route without ports", func(m *msv1.Microservice) { withRoute(m).Spec.Ports = nil },
		"spec.route needs at least one entry in spec.ports"},
	{"route to an unknown port", func(m *msv1.Microservice) { withRoute(m).Spec.Route.Port = "grpc" },
		"spec.route.port must name one of the entries in spec.ports"},
	{"probe with two handlers", func(m *msv1.Microservice) {
		m.Spec.Probes = &msv1.Probes{Readiness: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
			HTTPGet:   &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")},
			TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")},
		}}}
	}, "spec.probes.readiness needs exactly one of httpGet, grpc, tcpSocket or exec"},
	{"probe without a handler", func(m *msv1.Microservice) {
		m.Spec.Probes = &msv1.Probes{Liveness: &corev1.Probe{PeriodSeconds: 5}}
	}, "spec.probes.liveness needs exactly one of httpGet, grpc, tcpSocket or exec"},
	{"name longer than 56", func(m *msv1.Microservice) { m.Name = strings.Repeat("a", 57) },
		"metadata.name must be at most 56 characters"},
	{"name starting with a digit", func(m *msv1.Microservice) { m.Name = "1checkout" },
		"metadata.name must start with a letter"},
	{"invalid service account name", func(m *msv1.Microservice) { m.Spec.ServiceAccountName = "Checkout_SA" },
		"spec.serviceAccountName in body should match"},
	{"unknown image pull policy", func(m *msv1.Microservice) { m.Spec.ImagePullPolicy = "Sometimes" },
		`supported values: "Always", "IfNotPresent", "Never"`},

	// spec.dependencies
	{"self-dependency", func(m *msv1.Microservice) { m.Spec.Dependencies = []msv1.Dependency{{Name: "checkout"}} },
		"spec.dependencies must not name this Microservice itself"},
	{"duplicate dependency", func(m *msv1.Microservice) {
		m.Spec.Dependencies = []msv1.Dependency{{Name: "payments"}, {Name: "payments"}}
	}, "spec.dependencies must not list the same Microservice twice"},
	{"malformed dependency name", func(m *msv1.Microservice) { m.Spec.Dependencies = []msv1.Dependency{{Name: "Payments_V2"}} },
		"spec.dependencies[].name must be a Microservice name"},
	{"dependency env name that is no variable name", func(m *msv1.Microservice) {
		m.Spec.Dependencies = []msv1.Dependency{{Name: "payments", Env: &msv1.DependencyEnv{Name: "PAYMENTS-ADDR"}}}
	}, "spec.dependencies[0].env.name in body should match"},
	{"unknown address format", func(m *msv1.Microservice) {
		m.Spec.Dependencies = []msv1.Dependency{{Name: "payments", Env: &msv1.DependencyEnv{Name: "PAYMENTS", Format: "DSN"}}}
	}, `supported values: "URL", "HostPort", "Host"`},

	// spec.rollout
	{"canary strategy without canary", func(m *msv1.Microservice) { m.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy} },
		"spec.rollout.canary is required when spec.rollout.strategy is Canary"},
	{"canary steps with rolling update", func(m *msv1.Microservice) {
		withCanary(m, weightStep(10)).Spec.Rollout.Strategy = msv1.RollingUpdateStrategy
	}, "spec.rollout.canary is only allowed with spec.rollout.strategy: Canary"},
	{"no canary steps", func(m *msv1.Microservice) { withCanary(m).Spec.Rollout.Canary.Steps = []msv1.CanaryStep{} },
		"spec.rollout.canary.steps needs at least one step"},
	{"canary steps left out", func(m *msv1.Microservice) { withCanary(m) },
		"spec.rollout.canary.steps: Required value"},
	{"weight above 100", func(m *msv1.Microservice) { withCanary(m, weightStep(150)) },
		"setWeight in body should be less than or equal to 100"},
	{"negative weight", func(m *msv1.Microservice) { withCanary(m, weightStep(-5)) },
		"setWeight in body should be greater than or equal to 0"},
	{"decreasing weights", func(m *msv1.Microservice) { withCanary(m, weightStep(50), manualGate(), weightStep(20)) },
		"spec.rollout.canary.steps[].setWeight must not decrease from one step to the next"},
	{"step with two actions", func(m *msv1.Microservice) {
		withCanary(m, msv1.CanaryStep{SetWeight: ptr.To[int32](10), Pause: &msv1.PauseStep{}})
	}, "each step of spec.rollout.canary.steps needs exactly one of setWeight, pause or analysis"},
	{"empty step", func(m *msv1.Microservice) { withCanary(m, msv1.CanaryStep{}) },
		"each step of spec.rollout.canary.steps needs exactly one of setWeight, pause or analysis"},
	{"too many steps", func(m *msv1.Microservice) {
		steps := make([]msv1.CanaryStep, 65)
		for i := range steps {
			steps[i] = manualGate()
		}
		withCanary(m, steps...)
	}, "Too many: 65: must have at most 64 items"},
	{"analysis step without analysis", func(m *msv1.Microservice) {
		withCanary(m, weightStep(10), msv1.CanaryStep{Analysis: &msv1.AnalysisStep{}})
	}, "spec.rollout.canary.analysis is required when a step runs an analysis"},
	{"metric without min or max", func(m *msv1.Microservice) {
		withAnalysis(m, msv1.Metric{Name: "errors", Query: "sum(x)"})
	}, "successCondition needs min, max or both"},
	{"metric min above max", func(m *msv1.Microservice) {
		withAnalysis(m, msv1.Metric{Name: "errors", Query: "sum(x)", SuccessCondition: msv1.SuccessCondition{Min: ptr.To("2"), Max: ptr.To("1")}})
	}, "successCondition.min must not be above max"},
	{"metric bound that is not a number", func(m *msv1.Microservice) {
		withAnalysis(m, msv1.Metric{Name: "errors", Query: "sum(x)", SuccessCondition: msv1.SuccessCondition{Max: ptr.To("1e3; drop")}})
	}, "successCondition.max must be a decimal number such as 0.5"},
	{"failure limit as large as the count", func(m *msv1.Microservice) {
		withAnalysis(m, msv1.Metric{Name: "errors", Query: "sum(x)", SuccessCondition: msv1.SuccessCondition{Max: ptr.To("1")}})
		m.Spec.Rollout.Canary.Analysis.FailureLimit = ptr.To[int32](3)
	}, "failureLimit must be less than count (default 3)"},
	{"Prometheus address without scheme", func(m *msv1.Microservice) {
		withAnalysis(m, msv1.Metric{Name: "errors", Query: "sum(x)", SuccessCondition: msv1.SuccessCondition{Max: ptr.To("1")}})
		m.Spec.Rollout.Canary.Analysis.Prometheus = &msv1.PrometheusProvider{Address: "prometheus:9090"}
	}, "prometheus.address must be an http or https URL"},
}

// withAnalysis gives m a canary with one analysis step measuring metric.
func withAnalysis(m *msv1.Microservice, metric msv1.Metric) *msv1.Microservice {
	withCanary(m, weightStep(10), msv1.CanaryStep{Analysis: &msv1.AnalysisStep{}})
	m.Spec.Rollout.Canary.Analysis = &msv1.Analysis{Metrics: []msv1.Metric{metric}}
	return m
}

var _ = Describe("Admission of Microservices", func() {
	It("refuses each invalid Microservice with a message that says what to fix, and creates nothing", func() {
		Expect(len(invalidMicroservices)).To(BeNumerically(">=", 15))
		ns := newNamespace()
		for _, tc := range invalidMicroservices {
			ms := checkout(ns)
			tc.mutate(ms)
			err := k8sClient.Create(ctx, ms)
			Expect(err).To(HaveOccurred(), tc.name)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%s: %v", tc.name, err)
			Expect(err.Error()).To(ContainSubstring(tc.message), tc.name)
			GinkgoWriter.Printf("%-36s %s\n", tc.name+":", err.Error())
		}
		list := &msv1.MicroserviceList{}
		Expect(k8sClient.List(ctx, list, client.InNamespace(ns))).To(Succeed())
		Expect(list.Items).To(BeEmpty())
		Consistently(func() ([]appsv1.Deployment, error) {
			deps := &appsv1.DeploymentList{}
			err := k8sClient.List(ctx, deps, client.InNamespace(ns))
			return deps.Items, err
		}, "1s", interval).Should(BeEmpty())
	})

	It("accepts every kind of probe, security contexts and a service account", func() {
		ms := withAutoscaling(withRoute(checkout(newNamespace())), 2, 10)
		ms.Spec.ServiceAccountName = "checkout"
		ms.Spec.Ports = append(ms.Spec.Ports, msv1.ServicePort{Name: "grpc", Port: 9090, AppProtocol: ptr.To("grpc")})
		ms.Spec.Route.Port = "http"
		ms.Spec.Probes = &msv1.Probes{
			Readiness: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/ready", Port: intstr.FromString("http"), HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "1"}},
			}}},
			Liveness: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090}}},
			Startup:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/true"}}}},
		}
		ms.Spec.PodSecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), RunAsNonRoot: ptr.To(true)}
		ms.Spec.SecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(false)}
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())

		d := getChild(Default, ms, &appsv1.Deployment{})
		c := d.Spec.Template.Spec.Containers[0]
		Expect(c.ReadinessProbe.HTTPGet.HTTPHeaders).To(HaveLen(1))
		Expect(c.LivenessProbe.GRPC.Port).To(Equal(int32(9090)))
		Expect(c.StartupProbe.Exec.Command).To(Equal([]string{"/bin/true"}))
		Expect(d.Spec.Template.Spec.ServiceAccountName).To(Equal("checkout"))
		Expect(d.Spec.Template.Spec.SecurityContext.RunAsUser).To(Equal(ptr.To[int64](1000)))
		Expect(c.SecurityContext.ReadOnlyRootFilesystem).To(Equal(ptr.To(false)))
	})
})
