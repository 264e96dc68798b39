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
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	"github.com/msvc-dev/msvc-operator/internal/traffic"
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

	It("sends east-west traffic by the canary's weights through a GAMMA HTTPRoute with trafficRouting: Mesh", func() {
		ms := withCanary(checkout(newNamespace()), weightStep(20), manualGate(), weightStep(50), pauseFor(time.Second))
		ms.Spec.Rollout.Canary.TrafficRouting = msv1.MeshTrafficRouting
		ms.Spec.Replicas = ptr.To[int32](4)
		port, ok := builder.RoutePort(ms)
		Expect(ok).To(BeTrue())
		meshKey := client.ObjectKey{Namespace: ms.Namespace, Name: builder.MeshRouteName(ms)}
		var mu sync.Mutex
		var weights []int32
		stopRoutes := watchNamedVersions(ms, meshKey.Name, &gwv1.HTTPRouteList{}, func(r *gwv1.HTTPRoute) {
			mu.Lock()
			defer mu.Unlock()
			weights = append(weights, traffic.CanaryWeightOf(ms, r))
		})
		DeferCleanup(stopRoutes)
		selectors, stop := selectorsOf(ms)
		DeferCleanup(stop)
		meshWeights := func() string {
			r := &gwv1.HTTPRoute{}
			if err := k8sClient.Get(ctx, meshKey, r); err != nil || len(r.Spec.Rules) != 1 {
				return "no mesh route"
			}
			out := []string{}
			for _, b := range r.Spec.Rules[0].BackendRefs {
				out = append(out, fmt.Sprintf("%s:%d=%d", b.Name, ptr.Deref(b.Port, 0), ptr.Deref(b.Weight, 1)))
			}
			return strings.Join(out, "/")
		}
		split := func(canary int32) string {
			return fmt.Sprintf("checkout-stable:%d=%d/checkout-canary:%d=%d", port.Port, 100-canary, port.Port, canary)
		}

		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		playDeploymentController(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseIdle))
		Eventually(meshWeights, timeout, interval).Should(Equal(split(0)))
		By("attaching the route to the Service that dependents call, on its route port")
		route := &gwv1.HTTPRoute{}
		Expect(k8sClient.Get(ctx, meshKey, route)).To(Succeed())
		Expect(route.Spec.ParentRefs).To(ConsistOf(gwv1.ParentReference{
			Group: ptr.To[gwv1.Group](""), Kind: ptr.To[gwv1.Kind]("Service"),
			Name: gwv1.ObjectName(builder.ServiceName(ms)), Port: ptr.To(port.Port),
		}))
		for _, m := range route.Spec.Rules[0].Matches { // the API server's default: every path
			Expect(m.Path).To(HaveValue(HaveField("Value", HaveValue(Equal("/")))), "every request to the Service's port")
			Expect(m.Headers).To(BeEmpty())
		}

		updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/checkout:2.0.0" })
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(BeNumerically(">=", 1))
		playDeployment(canaryKey(ms))
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhasePaused), HaveField("TrafficRouting", "Mesh"), HaveField("CanaryWeight", int32(20))))
		Eventually(meshWeights, timeout, interval).Should(Equal(split(20)))

		annotate(ms, msv1.PromoteAnnotation, "gate-1")
		deliver(ms, msv1.RolloutPhaseSucceeded, func() {})
		Eventually(meshWeights, timeout, interval).Should(Equal(split(0)))
		mu.Lock()
		seen := append([]int32(nil), weights...)
		mu.Unlock()
		GinkgoWriter.Printf("Canary weights of the mesh route, every version: %v\n", seen)
		Expect(seen).To(ContainElements(int32(20), int32(50)), "the mesh route followed the steps")
		Expect(seen).To(HaveEach(BeElementOf(int32(0), int32(20), int32(50))), "only the steps' weights")
		Expect(selectors()).To(HaveEach(stableOnly(ms)), "the Service's own selector keeps callers outside the mesh on the stable track")

		By("removing the mesh route when the spec no longer asks for it")
		updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Rollout.Canary.TrafficRouting = "" })
		Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, meshKey, &gwv1.HTTPRoute{})) }, timeout, interval).Should(BeTrue())
	})
})
