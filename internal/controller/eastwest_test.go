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
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// selectorsOf records the selector of every version of the Service named
// like ms, until the returned stop is called.
func selectorsOf(ms *msv1.Microservice) (versions func() []string, stop func()) {
	var mu sync.Mutex
	var seen []string
	stop = watchVersions(ms, &corev1.ServiceList{}, func(svc *corev1.Service) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, labels.Set(svc.Spec.Selector).String())
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}, stop
}

var _ = Describe("East-west traffic during a canary", func() {
	stableOnly := func(ms *msv1.Microservice) string {
		return labels.Set{builder.LabelMicroservice: ms.Name, builder.LabelTrack: builder.TrackStable}.String()
	}
	everyPod := func(ms *msv1.Microservice) string {
		return labels.Set{builder.LabelMicroservice: ms.Name}.String()
	}

	It("keeps in-cluster callers on the stable track while a route weighs the canary, whatever the canary's pod count", func() {
		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(20), manualGate(), weightStep(50), pauseFor(time.Second))
		ms.Spec.Replicas = ptr.To[int32](4)
		versions, stop := selectorsOf(ms)
		DeferCleanup(stop)
		startCanary(ms)
		deliver(ms, msv1.RolloutPhaseSucceeded, func() {})
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(0)))
		got := versions()
		GinkgoWriter.Printf("Selectors of Service %s, every version: %v\n", ms.Name, got)
		Expect(got).NotTo(BeEmpty())
		Expect(got).To(HaveEach(stableOnly(ms)), "every version of the Service the dependents call")
	})

	It("splits by pod count, through every pod, when the canary has no route", func() {
		ms := withCanary(checkout(newNamespace()), weightStep(50), manualGate())
		ms.Spec.Replicas = ptr.To[int32](2)
		versions, stop := selectorsOf(ms)
		DeferCleanup(stop)
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		playDeploymentController(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseIdle))
		updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/checkout:2.0.0" })
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(1)))
		playDeployment(canaryKey(ms))
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhasePaused), HaveField("TrafficRouting", "ReplicaRatio")))
		got := versions()
		Expect(got).NotTo(BeEmpty())
		Expect(got).To(HaveEach(everyPod(ms)), fmt.Sprintf("the canary's share is its pods' share: %v", got))
	})
})
