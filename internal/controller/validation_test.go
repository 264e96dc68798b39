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
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// Invalid Microservices, and the messages their authors get, are in the
// bad input catalogue (badinput_test.go).
var _ = Describe("Admission of Microservices", func() {
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
