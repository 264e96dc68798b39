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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

var _ = Describe("A canary that cannot progress", func() {
	It("is rolled back once its pods are not ready within spec.rollout.canary.progressDeadline, traffic first", func() {
		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(20), weightStep(50), pauseFor(time.Second))
		ms.Spec.Rollout.Canary.ProgressDeadline = &metav1.Duration{Duration: 3 * time.Second}
		ms.Spec.Replicas = ptr.To[int32](4)
		guard := guardTraffic(ms)
		DeferCleanup(guard.stop)
		startCanary(ms)
		playDeployment(canaryKey(ms))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=80/checkout-canary=20"))

		By("never making the second canary pod ready")
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(2)))
		waitingSince := time.Now()
		Eventually(rolloutStatus(ms), 2*timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhaseRolledBack),
			HaveField("Message", ContainSubstring(" of 2 canary pods ready after")),
			HaveField("Message", ContainSubstring("past spec.rollout.canary.progressDeadline (3s)"))))
		GinkgoWriter.Printf("Rolled back %v after the step started waiting (deadline 3s)\n", time.Since(waitingSince))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(0)))
		Eventually(condition(ms, msv1.StalledCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonRolledBack))
		Expect(argoHealth(ms)()).To(Equal("Degraded"))
		guard.Check()
	})

	It("is rolled back at once when its Deployment reports ProgressDeadlineExceeded", func() {
		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(20), manualGate())
		ms.Spec.Replicas = ptr.To[int32](4)
		startCanary(ms)

		By("playing the Deployment controller's verdict on the canary")
		Eventually(func() error {
			d := &appsv1.Deployment{}
			if err := k8sClient.Get(ctx, canaryKey(ms), d); err != nil {
				return err
			}
			d.Status = appsv1.DeploymentStatus{
				ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, UnavailableReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{{
					Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
					Message:        `ReplicaSet "checkout-canary-5d4f" has timed out progressing.`,
					LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now(),
				}},
			}
			return k8sClient.Status().Update(ctx, d)
		}, timeout, interval).Should(Succeed())
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhaseRolledBack),
			HaveField("Message", ContainSubstring(`exceeded its progress deadline: ReplicaSet "checkout-canary-5d4f" has timed out progressing.`))))
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(0)))
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=100/checkout-canary=0"))
	})
})
