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
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

var _ = Describe("Blue-green rollouts", func() {
	// switchWatch records, on every version of the route, the canary's
	// weight: a blue-green sends it 0% or 100%, nothing between.
	type switchWatch struct {
		mu      sync.Mutex
		weights []int32
		stop    func()
	}
	watchSwitch := func(ms *msv1.Microservice) *switchWatch {
		w := &switchWatch{}
		w.stop = watchVersions(ms, &gwv1.HTTPRouteList{}, func(r *gwv1.HTTPRoute) {
			for _, rule := range r.Spec.Rules {
				for _, b := range rule.BackendRefs {
					if string(b.Name) == ms.Name+"-canary" {
						w.mu.Lock()
						if n := len(w.weights); n == 0 || w.weights[n-1] != ptr.Deref(b.Weight, 1) {
							w.weights = append(w.weights, ptr.Deref(b.Weight, 1))
						}
						w.mu.Unlock()
					}
				}
			}
		})
		DeferCleanup(w.stop)
		return w
	}
	seen := func(w *switchWatch) []int32 {
		w.mu.Lock()
		defer w.mu.Unlock()
		return append([]int32(nil), w.weights...)
	}

	It("runs the preview at full size with no traffic, switches all traffic at once on a promote, keeps the old version through the scale-down delay, then promotes", func() {
		ns := newNamespace()
		ms := withRoute(checkout(ns))
		ms.Spec.Replicas = ptr.To[int32](3)
		ms.Spec.Rollout = &msv1.Rollout{Strategy: msv1.BlueGreenStrategy, BlueGreen: &msv1.BlueGreen{
			AutoPromotion:  ptr.To(false),
			ScaleDownDelay: &metav1.Duration{Duration: 3 * time.Second},
		}}
		// The recorder judges the steps the blue-green amounts to.
		guard, rec := guardTraffic(ms), recordRollout(asCanary(ms))
		DeferCleanup(guard.stop)
		DeferCleanup(rec.stop)
		sw := watchSwitch(ms)
		startCanary(ms)

		By("the preview: as many pods as the stable track, its own Service, no traffic")
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(3)))
		playDeployment(canaryKey(ms))
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(HaveField("Phase", msv1.RolloutPhasePaused), HaveField("CurrentStep", ptr.To[int32](0))))
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=100/checkout-canary=0"))
		preview := &corev1.Service{}
		Expect(k8sClient.Get(ctx, canaryKey(ms), preview)).To(Succeed(), "the preview Service checkout-canary")
		Consistently(routeWeights(ms), 2*time.Second, interval).Should(Equal("checkout-stable=100/checkout-canary=0"), "no automatic switch")

		By("a promote switches all traffic at once; the old version keeps its pods through the delay")
		annotate(ms, msv1.PromoteAnnotation, "gate-0")
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=0/checkout-canary=100"))
		Expect(image(key(ms))()).To(Equal("ghcr.io/acme/checkout:1.4.2"))
		Expect(replicas(key(ms))()).To(Equal(int32(3)))
		Expect(rolloutStatus(ms)()).To(And(HaveField("Phase", msv1.RolloutPhasePaused), HaveField("Message", ContainSubstring("pausing for 3s"))))

		By("after the delay the stable track takes the new version, traffic moves back to it, the preview goes")
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhasePromoting))
		playDeploymentController(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseSucceeded))
		Expect(image(key(ms))()).To(Equal("ghcr.io/acme/checkout:2.0.0"))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(0)))
		Expect(seen(sw)).To(Equal([]int32{0, 100, 0}), "every route version sent the preview 0% or 100%")
		guard.Check()
		rec.Check()
	})

	It("switches back at once when aborted during the scale-down delay, to the old version's pods that were kept", func() {
		ns := newNamespace()
		ms := withRoute(checkout(ns))
		ms.Spec.Replicas = ptr.To[int32](2)
		ms.Spec.Rollout = &msv1.Rollout{Strategy: msv1.BlueGreenStrategy, BlueGreen: &msv1.BlueGreen{
			ScaleDownDelay: &metav1.Duration{Duration: 10 * time.Minute},
		}}
		guard := guardTraffic(ms)
		DeferCleanup(guard.stop)
		sw := watchSwitch(ms)
		startCanary(ms)
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(2)))
		Consistently(routeWeights(ms), time.Second, interval).Should(Equal("checkout-stable=100/checkout-canary=0"), "no switch before the preview is ready")
		playDeployment(canaryKey(ms))

		By("autoPromotion (the default): the switch comes once the preview is ready")
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=0/checkout-canary=100"))
		stable := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, key(ms), stable)).To(Succeed())

		By("an abort: all traffic back on the old version at once, nothing waits for a pod")
		abortAt := time.Now()
		annotate(ms, msv1.AbortAnnotation, fmt.Sprint(abortAt.Unix()))
		Eventually(routeWeights(ms), timeout, 20*time.Millisecond).Should(Equal("checkout-stable=100/checkout-canary=0"))
		AddReportEntry("blue-green abort to all traffic on the old version", time.Since(abortAt).String())
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseAborted))
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(0)))
		after := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, key(ms), after)).To(Succeed())
		Expect(after.Generation).To(Equal(stable.Generation), "the old version's Deployment was never touched")
		Expect(seen(sw)).To(Equal([]int32{0, 100, 0}))
		guard.Check()
	})
})
