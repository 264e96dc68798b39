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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

func configHash(k client.ObjectKey) func() string {
	return func() string {
		d := &appsv1.Deployment{}
		if err := k8sClient.Get(ctx, k, d); err != nil {
			return ""
		}
		return d.Spec.Template.Annotations[builder.AnnotationConfigHash]
	}
}

func readsConfig(ms *msv1.Microservice) *msv1.Microservice {
	ms.Spec.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "checkout-config"}}}}
	ms.Spec.Env = []corev1.EnvVar{{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "checkout-db"}, Key: "password"}}}}
	return ms
}

var _ = Describe("ConfigMaps and Secrets the pods read", func() {
	var (
		ns  string
		cm  *corev1.ConfigMap
		sec *corev1.Secret
	)
	BeforeEach(func() {
		ns = newNamespace()
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "checkout-config", Namespace: ns}, Data: map[string]string{"LOG_LEVEL": "info"}}
		sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "checkout-db", Namespace: ns}, StringData: map[string]string{"password": "s3cret"}}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		Expect(k8sClient.Create(ctx, sec)).To(Succeed())
	})

	It("roll the pods when they change", func() {
		ms := readsConfig(checkout(ns))
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		Eventually(configHash(key(ms)), timeout, interval).ShouldNot(BeEmpty())
		first := configHash(key(ms))()

		cm.Data["LOG_LEVEL"] = "debug"
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		Eventually(configHash(key(ms)), timeout, interval).ShouldNot(Equal(first))
		second := configHash(key(ms))()

		sec.StringData = map[string]string{"password": "rotated"}
		Expect(k8sClient.Update(ctx, sec)).To(Succeed())
		Eventually(configHash(key(ms)), timeout, interval).ShouldNot(Equal(second))

		live := &msv1.Microservice{}
		Expect(k8sClient.Get(ctx, key(ms), live)).To(Succeed())
		for _, c := range live.Status.Conditions {
			Expect(c.Message).NotTo(ContainSubstring("rotated"), "no secret value in status")
		}
	})

	It("start a canary when they change", func() {
		ms := withCanary(withRoute(readsConfig(checkout(ns))), weightStep(20), manualGate())
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		getChild(Default, ms, &appsv1.Deployment{})
		playDeploymentController(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseIdle))
		stableHash := configHash(key(ms))()

		cm.Data["LOG_LEVEL"] = "debug"
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(1)))
		Eventually(configHash(canaryKey(ms)), timeout, interval).ShouldNot(Or(Equal(stableHash), BeEmpty()))
		Expect(configHash(key(ms))()).To(Equal(stableHash), "the stable track keeps the old configuration")
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseProgressing))
	})
})
