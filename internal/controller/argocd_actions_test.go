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
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/argocd"
)

var _ = Describe("Argo CD resource actions", func() {
	It("drive a canary through promote, pause, resume, abort, retry and promote-full, as Argo CD runs them", func() {
		actions, err := argocd.LoadActions(filepath.Join("..", "..", "config", "argocd", "actions"))
		Expect(err).NotTo(HaveOccurred())
		// run is what Argo CD does for an action: discovery on the live
		// object, the action's script, and a merge patch of the difference.
		run := func(ms *msv1.Microservice, name string) {
			live := &msv1.Microservice{}
			Expect(k8sClient.Get(ctx, key(ms), live)).To(Succeed())
			live.SetGroupVersionKind(msv1.GroupVersion.WithKind("Microservice"))
			enabled, err := actions.Discover(live)
			Expect(err).NotTo(HaveOccurred())
			Expect(enabled).To(HaveKeyWithValue(name, true), "Argo CD offers %s in phase %s", name, live.Status.Rollout.Phase)
			out, err := actions.Run(name, live)
			Expect(err).NotTo(HaveOccurred())
			base, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
			Expect(err).NotTo(HaveOccurred())
			changed := &unstructured.Unstructured{Object: out}
			Expect(k8sClient.Patch(ctx, changed, client.MergeFrom(&unstructured.Unstructured{Object: base}))).To(Succeed())
		}
		offered := func(ms *msv1.Microservice) func() map[string]bool {
			return func() map[string]bool {
				live := &msv1.Microservice{}
				Expect(k8sClient.Get(ctx, key(ms), live)).To(Succeed())
				enabled, err := actions.Discover(live)
				Expect(err).NotTo(HaveOccurred())
				return enabled
			}
		}

		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(20), manualGate(), weightStep(50), manualGate(), pauseFor(time.Second))
		startCanaryWithReadyPods(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(HaveField("Phase", msv1.RolloutPhasePaused), HaveField("CurrentStep", HaveValue(Equal(int32(1))))))
		Expect(offered(ms)()).To(And(HaveKeyWithValue("retry", false), HaveKeyWithValue("resume", false)))

		By("promote: past the first gate to 50%")
		run(ms, "promote")
		// The canary's pods become ready (not playWorld: it promotes gates).
		deliverStep := func(step int32) {
			Eventually(func() msv1.RolloutStatus {
				playDeployment(canaryKey(ms))
				return rolloutStatus(ms)()
			}, timeout, interval).Should(And(HaveField("Phase", msv1.RolloutPhasePaused), HaveField("CurrentStep", HaveValue(Equal(step)))))
		}
		deliverStep(3)
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=50/checkout-canary=50"))

		By("pause, then resume")
		run(ms, "pause")
		Eventually(offered(ms), timeout, interval).Should(And(HaveKeyWithValue("resume", true), HaveKeyWithValue("pause", false)))
		run(ms, "resume")
		Eventually(offered(ms), timeout, interval).Should(And(HaveKeyWithValue("resume", false), HaveKeyWithValue("pause", true)))

		By("abort: all traffic back to stable")
		run(ms, "abort")
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseAborted))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))
		Expect(offered(ms)()).To(And(HaveKeyWithValue("retry", true), HaveKeyWithValue("abort", false), HaveKeyWithValue("promote", false)))

		By("retry: the first step again")
		run(ms, "retry")
		deliverStep(1)

		By("promote-full: every remaining step skipped")
		run(ms, "promote-full")
		deliver(ms, msv1.RolloutPhaseSucceeded, func() {})
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))
		Eventually(image(key(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:2.0.0"))
	})
})
